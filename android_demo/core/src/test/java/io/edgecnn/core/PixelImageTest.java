package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class PixelImageTest {
    @Test
    void fromArgbDropsAlpha() throws CoreException {
        PixelImage p = PixelImage.fromArgb(new int[] {0x80112233, 0xFFFFFFFF}, 2, 1);
        assertArrayEquals(new byte[] {0x11, 0x22, 0x33, -1, -1, -1}, p.data);
        assertEquals(3, p.channels);
    }

    @Test
    void fromRgbaHonoursStrides() throws CoreException {
        // 2x2 RGBA with rows padded to 12 bytes.
        byte[] plane = {1, 2, 3, 9, 4, 5, 6, 9, 0, 0, 0, 0, 7, 8, 9, 9, 10, 11, 12, 9};
        PixelImage p = PixelImage.fromRgba(plane, 2, 2, 12, 4);
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, p.data);
        assertThrows(CoreException.class, () -> PixelImage.fromRgba(new byte[10], 2, 2, 12, 4));
        assertThrows(CoreException.class, () -> PixelImage.fromRgba(plane, 4, 2, 12, 4));
    }

    @Test
    void rotatesClockwise() throws CoreException {
        // 3 wide, 2 high: 1 2 3 / 4 5 6
        PixelImage p = new PixelImage(3, 2, 1, new byte[] {1, 2, 3, 4, 5, 6});
        PixelImage r90 = p.rotate(90);
        assertEquals(2, r90.width);
        assertEquals(3, r90.height);
        assertArrayEquals(new byte[] {4, 1, 5, 2, 6, 3}, r90.data);
        assertArrayEquals(new byte[] {6, 5, 4, 3, 2, 1}, p.rotate(180).data);
        assertArrayEquals(new byte[] {3, 6, 2, 5, 1, 4}, p.rotate(270).data);
        assertArrayEquals(p.data, p.rotate(90).rotate(270).data);
        assertThrows(CoreException.class, () -> p.rotate(45));
    }

    @Test
    void centreSquare() throws CoreException {
        PixelImage p = new PixelImage(4, 2, 1, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        assertArrayEquals(new byte[] {2, 3, 6, 7}, p.centerSquare().data);
    }

    @Test
    void rejectsBadShapes() {
        assertThrows(CoreException.class, () -> new PixelImage(2, 2, 1, new byte[3]));
        assertThrows(CoreException.class, () -> new PixelImage(0, 2, 1, new byte[0]));
        assertThrows(CoreException.class, () -> new PixelImage(1, 1, 4, new byte[4]));
    }

    // EXIF 2.3, tag Orientation: which stored row/column a viewer shows at the top/left. Written out by hand
    // for a 3-wide, 2-high image A B C / D E F (the same table as tests/test_load_image.py).
    private static final byte A = 10, B = 20, C = 30, D = 40, E = 50, F = 60;
    private static final Object[][] SHOWN = {
        {1, 3, 2, new byte[] {A, B, C, D, E, F}},
        {2, 3, 2, new byte[] {C, B, A, F, E, D}},
        {3, 3, 2, new byte[] {F, E, D, C, B, A}},
        {4, 3, 2, new byte[] {D, E, F, A, B, C}},
        {5, 2, 3, new byte[] {A, D, B, E, C, F}},
        {6, 2, 3, new byte[] {D, A, E, B, F, C}},
        {7, 2, 3, new byte[] {F, C, E, B, D, A}},
        {8, 2, 3, new byte[] {C, F, B, E, A, D}},
    };

    @Test
    void exifOrientationsAsAViewerShowsThem() throws CoreException {
        PixelImage stored = new PixelImage(3, 2, 1, new byte[] {A, B, C, D, E, F});
        for (Object[] row : SHOWN) {
            PixelImage shown = stored.orient((Integer) row[0]);
            assertEquals(row[1], shown.width, "orientation " + row[0]);
            assertEquals(row[2], shown.height, "orientation " + row[0]);
            assertArrayEquals((byte[]) row[3], shown.data, "orientation " + row[0]);
        }
        for (int unknown : new int[] {0, 9, -1, 65535}) {
            assertSame(stored, stored.orient(unknown));
        }
        // Channels travel together.
        PixelImage rgb = new PixelImage(2, 1, 3, new byte[] {1, 2, 3, 4, 5, 6});
        assertArrayEquals(new byte[] {4, 5, 6, 1, 2, 3}, rgb.orient(2).data);
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6}, rgb.orient(6).data); // 1 wide, 2 high
        assertEquals(1, rgb.orient(6).width);
    }

    @Test
    void cropsARegion() throws CoreException {
        PixelImage p = new PixelImage(4, 3, 1, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
        assertArrayEquals(new byte[] {6, 7, 10, 11}, p.crop(new Region(1, 1, 2, 2)).data);
        assertSame(p, p.crop(new Region(0, 0, 4, 3)));
        assertThrows(CoreException.class, () -> p.crop(new Region(3, 0, 2, 1)));
        assertThrows(CoreException.class, () -> p.crop(new Region(0, 0, 0, 1)));
    }

    @Test
    void argbRowsIntoOneRgbArray() {
        byte[] rgb = new byte[9];
        PixelImage.argbToRgb(new int[] {0xFF010203, 0x00040506}, 2, rgb, 0);
        PixelImage.argbToRgb(new int[] {0x7F070809, 0xFFFFFFFF}, 1, rgb, 6);
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, rgb);
    }

    @Test
    void displayPixelsAreOpaqueAndBounded() throws CoreException {
        PixelImage grey = new PixelImage(4, 2, 1, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        PixelImage.Display d = grey.toDisplay(2);
        assertEquals(2, d.width);
        assertEquals(1, d.height);
        // Nearest with pixel centres: row (2*0+1)*2/2 = 1, columns 1 and 3.
        assertArrayEquals(new int[] {0xFF060606, 0xFF080808}, d.argb);
        PixelImage rgb = new PixelImage(1, 1, 3, new byte[] {1, 2, (byte) 200});
        assertArrayEquals(new int[] {0xFF0102C8}, rgb.toDisplay(10).argb);
    }
}
