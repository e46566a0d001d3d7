package androidx.camera.lifecycle;
import androidx.camera.core.*;
public final class ProcessCameraProvider { public static com.google.common.util.concurrent.ListenableFuture<ProcessCameraProvider> getInstance(android.content.Context c) { return null; }
  public void unbindAll() {} public Camera bindToLifecycle(androidx.lifecycle.LifecycleOwner o, CameraSelector s, UseCase... u) { return null; } }
