package androidx.camera.lifecycle;

import androidx.annotation.NonNull;
import androidx.camera.core.Camera;
import androidx.camera.core.CameraSelector;
import androidx.camera.core.UseCase;
import androidx.camera.core.UseCaseGroup;

public final class ProcessCameraProvider {
    @NonNull
    public static com.google.common.util.concurrent.ListenableFuture<ProcessCameraProvider> getInstance(
            @NonNull android.content.Context context) {
        return null;
    }

    public void unbindAll() {}

    @NonNull
    public Camera bindToLifecycle(@NonNull androidx.lifecycle.LifecycleOwner lifecycleOwner,
            @NonNull CameraSelector cameraSelector, @NonNull UseCase... useCases) {
        return null;
    }

    @NonNull
    public Camera bindToLifecycle(@NonNull androidx.lifecycle.LifecycleOwner lifecycleOwner,
            @NonNull CameraSelector cameraSelector, @NonNull UseCaseGroup useCaseGroup) {
        return null;
    }
}
