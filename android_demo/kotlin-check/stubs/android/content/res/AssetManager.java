package android.content.res;

import androidx.annotation.NonNull;
import androidx.annotation.Nullable;

public final class AssetManager implements AutoCloseable {
    @NonNull public java.io.InputStream open(@NonNull String fileName) throws java.io.IOException { return null; }
    @NonNull public AssetFileDescriptor openFd(@NonNull String fileName) throws java.io.IOException { return null; }
    /** Null when the path is not a folder of the APK's assets. */
    @Nullable public String[] list(@NonNull String path) throws java.io.IOException { return null; }
    public void close() {}
}
