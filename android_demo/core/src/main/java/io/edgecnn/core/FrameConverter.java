package io.edgecnn.core;

/**
 * Camera frame (RGBA_8888, sensor orientation) → the upright RGB pixels the model classifies, in one pass
 * and into a buffer reused from frame to frame (frames come 30 times a second; allocating a frame-sized
 * array each time keeps the garbage collector busy on a phone). Only the part that is classified is read:
 * the largest region of the model's aspect ratio centred in the visible crop rectangle (CameraX's
 * {@code ImageProxy.getCropRect()}, which with a ViewPort is exactly what the preview shows).
 */
public final class FrameConverter {
    private byte[] buffer = new byte[0];

    /**
     * The classified region of one frame, turned upright. The returned image shares this converter's
     * buffer: it is valid until the next call (the app classifies each frame before taking the next).
     */
    public PixelImage convert(byte[] plane, int width, int height, int rowStride, int pixelStride, Region visible,
                              int rotationDegrees, int aspectWidth, int aspectHeight) throws CoreException {
        if (width < 1 || height < 1 || pixelStride < 3 || rowStride < width * pixelStride) {
            throw new CoreException("bad RGBA layout: " + width + "x" + height + ", row stride " + rowStride
                    + ", pixel stride " + pixelStride);
        }
        if (plane.length < (long) (height - 1) * rowStride + (long) (width - 1) * pixelStride + 3) {
            throw new CoreException("RGBA frame too short: " + plane.length + " bytes for " + width + "x" + height);
        }
        if (!visible.fitsIn(width, height)) {
            throw new CoreException("crop " + visible + " is outside the " + width + "x" + height + " frame");
        }
        int d = ((rotationDegrees % 360) + 360) % 360;
        if (d % 90 != 0) {
            throw new CoreException("rotation must be a multiple of 90 degrees, got " + rotationDegrees);
        }
        boolean sideways = d == 90 || d == 270;
        // The model's aspect as it lies in the sensor's (unrotated) frame.
        Region inVisible = sideways ? Region.centered(visible.width, visible.height, aspectHeight, aspectWidth)
                : Region.centered(visible.width, visible.height, aspectWidth, aspectHeight);
        int left = visible.left + inVisible.left;
        int top = visible.top + inVisible.top;
        int rw = inVisible.width;
        int rh = inVisible.height;
        int w2 = sideways ? rh : rw;
        int h2 = sideways ? rw : rh;
        if (buffer.length != w2 * h2 * 3) {
            buffer = new byte[w2 * h2 * 3];
        }
        int o = 0;
        for (int y = 0; y < h2; y++) {
            for (int x = 0; x < w2; x++) {
                int sy;
                int sx;
                switch (d) { // which pixel of the region lands at (y, x) once turned clockwise by d
                    case 90: sy = rh - 1 - x; sx = y; break;
                    case 180: sy = rh - 1 - y; sx = rw - 1 - x; break;
                    case 270: sy = x; sx = rw - 1 - y; break;
                    default: sy = y; sx = x; break;
                }
                int p = (top + sy) * rowStride + (left + sx) * pixelStride;
                buffer[o++] = plane[p];
                buffer[o++] = plane[p + 1];
                buffer[o++] = plane[p + 2];
            }
        }
        return new PixelImage(w2, h2, 3, buffer);
    }
}
