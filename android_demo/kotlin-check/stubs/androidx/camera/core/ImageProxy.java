package androidx.camera.core;

import androidx.annotation.NonNull;

public interface ImageProxy extends AutoCloseable {
    @Override
    void close();
    int getWidth();
    int getHeight();
    @NonNull android.graphics.Rect getCropRect();
    @NonNull PlaneProxy[] getPlanes();
    @NonNull ImageInfo getImageInfo();

    interface PlaneProxy {
        int getRowStride();
        int getPixelStride();
        @NonNull java.nio.ByteBuffer getBuffer();
    }
}
