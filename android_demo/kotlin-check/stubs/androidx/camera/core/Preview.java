package androidx.camera.core;

import androidx.annotation.NonNull;
import androidx.annotation.Nullable;

public final class Preview extends UseCase {
    public interface SurfaceProvider {}

    public void setSurfaceProvider(@Nullable SurfaceProvider surfaceProvider) {}

    public static final class Builder {
        @NonNull public Preview build() { return null; }
    }
}
