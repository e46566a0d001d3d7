package android.graphics;

import androidx.annotation.Nullable;

public class BitmapFactory {
    public static class Options {
        public boolean inJustDecodeBounds;
        public int inSampleSize;
        public Bitmap.Config inPreferredConfig;
        public boolean inPremultiplied;
        public int outWidth;
        public int outHeight;
    }

    /** Null when the data cannot be decoded (and always with inJustDecodeBounds). */
    @Nullable
    public static Bitmap decodeStream(@Nullable java.io.InputStream is, @Nullable Rect outPadding, @Nullable Options opts) {
        return null;
    }
}
