package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** Hand-computed cases of each step; the golden test covers whole images against Python. */
class PreprocessorTest {
    private static PixelImage img(int w, int h, int c, int... v) throws CoreException {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return new PixelImage(w, h, c, b);
    }

    private static int[] values(PixelImage p) {
        int[] out = new int[p.data.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = p.data[i] & 0xFF;
        }
        return out;
    }

    private static PreprocessSpec spec(int h, int w, int c, PreprocessSpec.Resize r, double scale, double offset,
                                       DType dtype, Quantization q) throws CoreException {
        return new PreprocessSpec(h, w, c, r, scale, offset, "labels.txt", dtype, q);
    }

    @Test
    void luma() throws CoreException {
        // (299*R + 587*G + 114*B + 500) / 1000: pure red 76.745 → 76; white stays 255; a grey stays itself.
        PixelImage rgb = img(4, 1, 3, 255, 0, 0, 0, 255, 0, 255, 255, 255, 77, 77, 77);
        assertArrayEquals(new int[] {76, 150, 255, 77}, values(Preprocessor.convertChannels(rgb, 1)));
        assertArrayEquals(new int[] {9, 9, 9, 200, 200, 200}, values(Preprocessor.convertChannels(img(2, 1, 1, 9, 200), 3)));
    }

    @Test
    void nearestUsesPixelCentres() {
        assertArrayEquals(new int[] {1, 3, 5}, Preprocessor.nearestIndex(3, 6)); // (2i+1)*6/6
        assertArrayEquals(new int[] {0, 0, 1, 1, 2, 2}, Preprocessor.nearestIndex(6, 3));
        assertArrayEquals(new int[] {1}, Preprocessor.nearestIndex(1, 3));
    }

    @Test
    void bilinearHalfPixelCentres() throws CoreException {
        // 2 → 4 columns: positions -0.25→0 (clamped), 0.25, 0.75, 1.25→1: 0, 25, 75, 100.
        PixelImage row = img(2, 1, 1, 0, 100);
        assertArrayEquals(new int[] {0, 25, 75, 100}, values(Preprocessor.resizeBilinear(row, 1, 4)));
        // floor(v + 0.5): 0.25*0 + 0.75*1... → 0.5 rounds up to 1 (not to even).
        PixelImage two = img(2, 1, 1, 0, 2);
        assertArrayEquals(new int[] {0, 1, 2}, values(Preprocessor.resizeBilinear(two, 1, 3)));
    }

    @Test
    void padCentresOrShrinks() throws CoreException {
        PixelImage one = img(1, 1, 1, 7);
        // 1x1 into 3x4: top (3-1)/2 = 1, left (4-1)/2 = 1.
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0}, values(Preprocessor.resizePad(one, 3, 4)));
        // 4x2 (w x h) into 2x2: f = min(2/2, 2/4) = 0.5 → 1 row x 2 columns by nearest (row 1, columns 1
        // and 3), placed at top (2-1)/2 = 0. (Values checked against edgecnn.preprocess.resize_pad.)
        PixelImage wide = img(4, 2, 1, 1, 2, 3, 4, 5, 6, 7, 8);
        assertArrayEquals(new int[] {6, 8, 0, 0}, values(Preprocessor.resizePad(wide, 2, 2)));
    }

    @Test
    void adaptSkipsResizeWhenTheSizeFits() throws CoreException {
        PixelImage g = img(2, 2, 1, 1, 2, 3, 4);
        assertSame(g, Preprocessor.adapt(g, spec(2, 2, 1, PreprocessSpec.Resize.BILINEAR, 1, 0, DType.FLOAT32, null)));
    }

    @Test
    void scaleInFloat32() throws CoreException {
        PreprocessSpec s = spec(1, 2, 1, PreprocessSpec.Resize.PAD, 1.0 / 127.5, -1.0, DType.FLOAT32, null);
        byte[] b = Preprocessor.toInputBytes(img(2, 1, 1, 0, 255), s);
        ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(-1.0f, buf.getFloat(0));
        assertEquals(255f * (float) (1.0 / 127.5) - 1f, buf.getFloat(4));
        assertEquals(8, b.length);
    }

    @Test
    void quantiseRoundsHalfToEvenAndClips() throws CoreException {
        Quantization q = new Quantization(1.0, 0);
        byte[] i8 = Preprocessor.quantize(new float[] {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 200f, -200f}, q, DType.INT8);
        assertArrayEquals(new byte[] {0, 2, 2, 0, -2, 127, -128}, i8);
        byte[] u8 = Preprocessor.quantize(new float[] {-3f, 254.5f, 255.5f, 300f}, new Quantization(1.0, 0), DType.UINT8);
        assertArrayEquals(new int[] {0, 254, 255, 255}, values(new PixelImage(4, 1, 1, u8)));
        // 1/255-scaled pixel 255 with an int8 model's input quantisation → 127.
        float x = 255f * (float) (1.0 / 255.0);
        assertEquals(127, Preprocessor.quantize(new float[] {x}, new Quantization(0.003921568859368563, -128), DType.INT8)[0]);
    }

    @Test
    void quantisedInputNeedsQuantisation() throws CoreException {
        PreprocessSpec s = spec(1, 1, 1, PreprocessSpec.Resize.PAD, 1, 0, DType.INT8, null);
        assertThrows(CoreException.class, () -> Preprocessor.toInputBytes(img(1, 1, 1, 3), s));
        assertThrows(CoreException.class, () -> Preprocessor.quantize(new float[1], new Quantization(1, 0), DType.FLOAT32));
    }
}
