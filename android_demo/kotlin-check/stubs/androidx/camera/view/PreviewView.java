package androidx.camera.view;

import androidx.annotation.NonNull;
import androidx.annotation.Nullable;

public final class PreviewView extends android.view.View {
    public PreviewView(android.content.Context context, android.util.AttributeSet attrs) { super(context, attrs); }
    @NonNull public androidx.camera.core.Preview.SurfaceProvider getSurfaceProvider() { return null; }
    /** Null until the view is attached to a display (laid out). */
    @Nullable public androidx.camera.core.ViewPort getViewPort() { return null; }
}
