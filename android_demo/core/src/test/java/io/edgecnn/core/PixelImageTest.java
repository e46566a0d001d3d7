package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
