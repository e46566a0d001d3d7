package io.edgecnn.core;

/**
 * How much to subsample a picked image while decoding ({@code BitmapFactory.Options.inSampleSize}) so that
 * it fits in memory: a 50-megapixel photo is a 200 MB bitmap, more than most apps may use. Images within
 * the budget are decoded whole, so they are classified exactly as {@code edgecnn predict} classifies the file.
 */
public final class DecodeBudget {
    private DecodeBudget() {
    }

    /**
     * The smallest power of two (1, 2, 4, ...) at which a {@code width x height} image, at
     * {@code bytesPerPixel} bytes for every decoded pixel, fits in {@code budgetBytes}. The decoder rounds
     * the sample size down to a power of two and the decoded size up, so this counts {@code ceil(side / s)}.
     */
    public static int sampleSize(int width, int height, long budgetBytes, int bytesPerPixel) {
        if (width < 1 || height < 1 || bytesPerPixel < 1) {
            throw new IllegalArgumentException("bad image size " + width + "x" + height);
        }
        int s = 1;
        while (s < Math.max(width, height)) {
            long w = (width + (long) s - 1) / s;
            long h = (height + (long) s - 1) / s;
            if (w * h * bytesPerPixel <= budgetBytes) {
                break;
            }
            s *= 2;
        }
        return s;
    }
}
