package androidx.camera.view;
public final class PreviewView extends android.view.View { public androidx.camera.core.Preview.SurfaceProvider getSurfaceProvider() { return null; } }
