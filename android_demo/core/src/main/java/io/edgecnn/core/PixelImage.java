package io.edgecnn.core;

/**
 * A packed uint8 image: {@code height * width * channels} bytes, row by row, channels interleaved
 * (1 = grey, 3 = RGB). This is what the Android layer hands to core, whatever the source (camera frame,
 * gallery bitmap); the bytes are read as unsigned 0-255.
 */
public final class PixelImage {
    public final int width;
    public final int height;
    public final int channels;
    public final byte[] data;

    public PixelImage(int width, int height, int channels, byte[] data) throws CoreException {
        if (width < 1 || height < 1) {
            throw new CoreException("image has no pixels (" + width + "x" + height + ")");
        }
        if (channels != 1 && channels != 3) {
            throw new CoreException("image must have 1 or 3 channels, got " + channels);
        }
        if (data.length != width * height * channels) {
            throw new CoreException("image data has " + data.length + " bytes, expected "
                    + (width * height * channels) + " for " + width + "x" + height + "x" + channels);
        }
        this.width = width;
        this.height = height;
        this.channels = channels;
        this.data = data;
    }

    /** The value (0-255) of channel {@code c} at row {@code y}, column {@code x}. */
    public int get(int y, int x, int c) {
        return data[(y * width + x) * channels + c] & 0xFF;
    }

    /**
     * From Android's {@code Bitmap.getPixels} (ARGB ints, row stride = width): RGB, alpha dropped, as
     * edgecnn drops alpha. A grey PNG decodes to R=G=B, so the RGB→grey luma gives the grey value back.
     */
    public static PixelImage fromArgb(int[] argb, int width, int height) throws CoreException {
        if (argb.length < width * height) {
            throw new CoreException("bitmap has " + argb.length + " pixels, expected " + (width * height));
        }
        byte[] out = new byte[width * height * 3];
        for (int i = 0; i < width * height; i++) {
            int p = argb[i];
            out[3 * i] = (byte) (p >>> 16);
            out[3 * i + 1] = (byte) (p >>> 8);
            out[3 * i + 2] = (byte) p;
        }
        return new PixelImage(width, height, 3, out);
    }

    /**
     * From one plane of a camera frame in RGBA_8888 (CameraX {@code OUTPUT_IMAGE_FORMAT_RGBA_8888}), whose
     * rows may be padded ({@code rowStride} bytes each, {@code pixelStride} bytes per pixel).
     */
    public static PixelImage fromRgba(byte[] plane, int width, int height, int rowStride, int pixelStride)
            throws CoreException {
        if (pixelStride < 3 || rowStride < width * pixelStride) {
            throw new CoreException("bad RGBA layout: row stride " + rowStride + ", pixel stride " + pixelStride);
        }
        if (plane.length < (long) (height - 1) * rowStride + (long) (width - 1) * pixelStride + 3) {
            throw new CoreException("RGBA frame too short: " + plane.length + " bytes for " + width + "x" + height);
        }
        byte[] out = new byte[width * height * 3];
        int o = 0;
        for (int y = 0; y < height; y++) {
            int row = y * rowStride;
            for (int x = 0; x < width; x++) {
                int p = row + x * pixelStride;
                out[o++] = plane[p];
                out[o++] = plane[p + 1];
                out[o++] = plane[p + 2];
            }
        }
        return new PixelImage(width, height, 3, out);
    }

    /** Turned clockwise by 0, 90, 180 or 270 degrees (camera frames come in sensor orientation). */
    public PixelImage rotate(int degrees) throws CoreException {
        int d = ((degrees % 360) + 360) % 360;
        if (d == 0) {
            return this;
        }
        if (d % 90 != 0) {
            throw new CoreException("rotation must be a multiple of 90 degrees, got " + degrees);
        }
        int w2 = d == 180 ? width : height;
        int h2 = d == 180 ? height : width;
        byte[] out = new byte[data.length];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int ny;
                int nx;
                if (d == 90) {
                    ny = x;
                    nx = height - 1 - y;
                } else if (d == 180) {
                    ny = height - 1 - y;
                    nx = width - 1 - x;
                } else {
                    ny = width - 1 - x;
                    nx = y;
                }
                System.arraycopy(data, (y * width + x) * channels, out, (ny * w2 + nx) * channels, channels);
            }
        }
        return new PixelImage(w2, h2, channels, out);
    }

    /** The central square (camera frames are wider than tall; a square crop is what the preview shows). */
    public PixelImage centerSquare() throws CoreException {
        int side = Math.min(width, height);
        if (side == width && side == height) {
            return this;
        }
        int top = (height - side) / 2;
        int left = (width - side) / 2;
        byte[] out = new byte[side * side * channels];
        for (int y = 0; y < side; y++) {
            System.arraycopy(data, ((top + y) * width + left) * channels, out, y * side * channels, side * channels);
        }
        return new PixelImage(side, side, channels, out);
    }
}
