package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class FrameConverterTest {
    /** A 4-wide, 2-high RGBA frame, rows padded to 20 bytes; pixel (y, x) has R = 10y + x + 1, G = R + 100, B = 7. */
    private static byte[] frame() {
        byte[] plane = new byte[40];
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 4; x++) {
                int p = y * 20 + x * 4;
                plane[p] = (byte) (10 * y + x + 1);
                plane[p + 1] = (byte) (10 * y + x + 101);
                plane[p + 2] = 7;
                plane[p + 3] = (byte) 255;
            }
        }
        return plane;
    }

    private static byte[] reds(PixelImage img) {
        byte[] r = new byte[img.width * img.height];
        for (int i = 0; i < r.length; i++) {
            r[i] = img.data[3 * i];
        }
        return r;
    }

    @Test
    void centralSquareTurnedUpright() throws CoreException {
        FrameConverter c = new FrameConverter();
        Region all = new Region(0, 0, 4, 2);
        // The central 2x2 of 1 2 3 4 / 11 12 13 14 is 2 3 / 12 13; turned clockwise by hand:
        assertArrayEquals(new byte[] {2, 3, 12, 13}, reds(c.convert(frame(), 4, 2, 20, 4, all, 0, 1, 1)));
        assertArrayEquals(new byte[] {12, 2, 13, 3}, reds(c.convert(frame(), 4, 2, 20, 4, all, 90, 1, 1)));
        assertArrayEquals(new byte[] {13, 12, 3, 2}, reds(c.convert(frame(), 4, 2, 20, 4, all, 180, 1, 1)));
        assertArrayEquals(new byte[] {3, 13, 2, 12}, reds(c.convert(frame(), 4, 2, 20, 4, all, 270, 1, 1)));
        PixelImage img = c.convert(frame(), 4, 2, 20, 4, all, 0, 1, 1);
        assertArrayEquals(new byte[] {2, 102, 7, 3, 103, 7, 12, 112, 7, 13, 113, 7}, img.data);
    }

    @Test
    void visibleCropAndModelAspect() throws CoreException {
        FrameConverter c = new FrameConverter();
        // Only columns 2-3 are visible (a ViewPort's crop rect).
        assertArrayEquals(new byte[] {3, 4, 13, 14},
                reds(c.convert(frame(), 4, 2, 20, 4, new Region(2, 0, 2, 2), 0, 1, 1)));
        // A model twice as tall as wide, frame turned by 90: the whole 4x2 frame, 2 wide and 4 tall upright.
        PixelImage tall = c.convert(frame(), 4, 2, 20, 4, new Region(0, 0, 4, 2), 90, 1, 2);
        assertEquals(2, tall.width);
        assertEquals(4, tall.height);
        assertArrayEquals(new byte[] {11, 1, 12, 2, 13, 3, 14, 4}, reds(tall));
    }

    @Test
    void reusesItsBufferAndRejectsBadFrames() throws CoreException {
        FrameConverter c = new FrameConverter();
        Region all = new Region(0, 0, 4, 2);
        PixelImage first = c.convert(frame(), 4, 2, 20, 4, all, 0, 1, 1);
        PixelImage second = c.convert(frame(), 4, 2, 20, 4, all, 90, 1, 1);
        assertSame(first.data, second.data);
        assertThrows(CoreException.class, () -> c.convert(new byte[10], 4, 2, 20, 4, all, 0, 1, 1));
        assertThrows(CoreException.class, () -> c.convert(frame(), 4, 2, 12, 4, all, 0, 1, 1));
        assertThrows(CoreException.class, () -> c.convert(frame(), 4, 2, 20, 4, new Region(1, 0, 4, 2), 0, 1, 1));
        assertThrows(CoreException.class, () -> c.convert(frame(), 4, 2, 20, 4, all, 45, 1, 1));
    }
}
