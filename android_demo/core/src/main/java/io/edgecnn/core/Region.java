package io.edgecnn.core;

/**
 * A rectangle of pixels: {@code width x height} at ({@code left}, {@code top}). Used for the part of a
 * camera frame that is classified and for the same part drawn on the preview.
 */
public final class Region {
    public final int left;
    public final int top;
    public final int width;
    public final int height;

    public Region(int left, int top, int width, int height) {
        this.left = left;
        this.top = top;
        this.width = width;
        this.height = height;
    }

    /**
     * The largest region of aspect {@code aspectWidth:aspectHeight} centred in a {@code width x height}
     * area (for a square model, the central square). Offsets round down, as the crop of the frame does,
     * so the square drawn on the preview and the pixels classified are the same part of the picture.
     */
    public static Region centered(int width, int height, int aspectWidth, int aspectHeight) {
        if (width < 1 || height < 1 || aspectWidth < 1 || aspectHeight < 1) {
            throw new IllegalArgumentException("empty area or aspect: " + width + "x" + height + ", "
                    + aspectWidth + ":" + aspectHeight);
        }
        long w;
        long h;
        if ((long) width * aspectHeight > (long) height * aspectWidth) { // wider than the aspect
            h = height;
            w = Math.max(1, (long) height * aspectWidth / aspectHeight);
        } else {
            w = width;
            h = Math.max(1, (long) width * aspectHeight / aspectWidth);
        }
        return new Region((int) ((width - w) / 2), (int) ((height - h) / 2), (int) w, (int) h);
    }

    /** True when the region is non-empty and lies inside a {@code width x height} image. */
    public boolean fitsIn(int width, int height) {
        return this.width > 0 && this.height > 0 && left >= 0 && top >= 0
                && (long) left + this.width <= width && (long) top + this.height <= height;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Region)) {
            return false;
        }
        Region r = (Region) o;
        return r.left == left && r.top == top && r.width == width && r.height == height;
    }

    @Override
    public int hashCode() {
        return ((left * 31 + top) * 31 + width) * 31 + height;
    }

    @Override
    public String toString() {
        return width + "x" + height + "+" + left + "+" + top;
    }
}
