package android.content;

import androidx.annotation.NonNull;
import androidx.annotation.Nullable;

public abstract class ContentResolver {
    /** Null when the provider crashed (android.jar: @Nullable). */
    @Nullable
    public final java.io.InputStream openInputStream(@NonNull android.net.Uri uri) throws java.io.FileNotFoundException {
        return null;
    }
}
