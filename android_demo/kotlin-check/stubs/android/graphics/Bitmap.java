package android.graphics;

import androidx.annotation.NonNull;

public final class Bitmap {
    public enum Config { ALPHA_8, RGB_565, ARGB_4444, ARGB_8888, RGBA_F16, HARDWARE, RGBA_1010102 }
    public int getWidth() { return 0; }
    public int getHeight() { return 0; }
    public void getPixels(@NonNull int[] pixels, int offset, int stride, int x, int y, int width, int height) {}
    public void recycle() {}
    public static Bitmap createBitmap(@NonNull int[] colors, int width, int height, Config config) { return null; }
}
