package androidx.exifinterface.media;

import androidx.annotation.NonNull;

public class ExifInterface {
    public static final String TAG_ORIENTATION = "Orientation";
    public static final int ORIENTATION_NORMAL = 1;

    public ExifInterface(@NonNull java.io.InputStream inputStream) throws java.io.IOException {}
    public int getAttributeInt(@NonNull String tag, int defaultValue) { return defaultValue; }
}
