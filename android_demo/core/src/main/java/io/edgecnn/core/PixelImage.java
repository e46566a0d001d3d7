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

    /**
     * Copies a run of {@code Bitmap.getPixels} ARGB ints into packed RGB bytes at {@code offset} (alpha
     * dropped, as edgecnn drops it), so a large bitmap can be read a band of rows at a time into one array.
     */
    public static void argbToRgb(int[] argb, int count, byte[] rgb, int offset) {
        for (int i = 0; i < count; i++) {
            int p = argb[i];
            int o = offset + 3 * i;
            rgb[o] = (byte) (p >>> 16);
            rgb[o + 1] = (byte) (p >>> 8);
            rgb[o + 2] = (byte) p;
        }
    }

    /** Turned clockwise by 0, 90, 180 or 270 degrees (camera frames come in sensor orientation). */
    public PixelImage rotate(int degrees) throws CoreException {
        int d = ((degrees % 360) + 360) % 360;
        if (d % 90 != 0) {
            throw new CoreException("rotation must be a multiple of 90 degrees, got " + degrees);
        }
        return orient(d == 90 ? 6 : d == 180 ? 3 : d == 270 ? 8 : 1);
    }

    /**
     * Shown as a viewer shows it for an EXIF Orientation tag (1-8; any other value leaves the image as
     * stored, as Pillow's {@code exif_transpose} and Android's ExifInterface do): 2 mirrors left-right,
     * 3 turns 180 degrees, 4 mirrors top-bottom, 5 transposes, 6 turns 90 degrees clockwise, 7 transverses,
     * 8 turns 90 degrees counter-clockwise.
     */
    public PixelImage orient(int exifOrientation) throws CoreException {
        if (exifOrientation < 2 || exifOrientation > 8) {
            return this;
        }
        boolean swap = exifOrientation >= 5;
        int w2 = swap ? height : width;
        int h2 = swap ? width : height;
        byte[] out = new byte[data.length];
        for (int y = 0; y < h2; y++) {
            for (int x = 0; x < w2; x++) {
                int sy;
                int sx;
                switch (exifOrientation) {
                    case 2: sy = y; sx = width - 1 - x; break;
                    case 3: sy = height - 1 - y; sx = width - 1 - x; break;
                    case 4: sy = height - 1 - y; sx = x; break;
                    case 5: sy = x; sx = y; break;
                    case 6: sy = height - 1 - x; sx = y; break;
                    case 7: sy = height - 1 - x; sx = width - 1 - y; break;
                    default: sy = x; sx = width - 1 - y; break; // 8
                }
                System.arraycopy(data, (sy * width + sx) * channels, out, (y * w2 + x) * channels, channels);
            }
        }
        return new PixelImage(w2, h2, channels, out);
    }

    /** The pixels of {@code region}, which must lie inside the image. */
    public PixelImage crop(Region region) throws CoreException {
        if (!region.fitsIn(width, height)) {
            throw new CoreException("crop " + region + " is outside the " + width + "x" + height + " image");
        }
        if (region.width == width && region.height == height) {
            return this;
        }
        byte[] out = new byte[region.width * region.height * channels];
        for (int y = 0; y < region.height; y++) {
            System.arraycopy(data, ((region.top + y) * width + region.left) * channels, out,
                    y * region.width * channels, region.width * channels);
        }
        return new PixelImage(region.width, region.height, channels, out);
    }

    /** The central square (camera frames are wider than tall; a square crop is what the preview shows). */
    public PixelImage centerSquare() throws CoreException {
        return crop(Region.centered(width, height, 1, 1));
    }

    /**
     * Opaque ARGB ints for showing the image on screen ({@code Bitmap.createBitmap(argb, w, h, ARGB_8888)}
     * makes a premultiplied bitmap of them), shrunk by nearest so the longer side is at most
     * {@code maxSide}: a picked photo is shown as the model sees it (alpha dropped), without a second
     * full-size bitmap.
     */
    public Display toDisplay(int maxSide) {
        int longer = Math.max(width, height);
        int w = width;
        int h = height;
        if (longer > maxSide) {
            w = Math.max(1, (int) ((long) width * maxSide / longer));
            h = Math.max(1, (int) ((long) height * maxSide / longer));
        }
        int[] rows = Preprocessor.nearestIndex(h, height);
        int[] cols = Preprocessor.nearestIndex(w, width);
        int[] argb = new int[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = (rows[y] * width + cols[x]) * channels;
                int r = data[i] & 0xFF;
                int g = channels == 3 ? data[i + 1] & 0xFF : r;
                int b = channels == 3 ? data[i + 2] & 0xFF : r;
                argb[y * w + x] = 0xFF000000 | (r << 16) | (g << 8) | b;
            }
        }
        return new Display(w, h, argb);
    }

    /** Pixels for the screen: opaque ARGB, row by row. */
    public static final class Display {
        public final int width;
        public final int height;
        public final int[] argb;

        Display(int width, int height, int[] argb) {
            this.width = width;
            this.height = height;
            this.argb = argb;
        }
    }
}
