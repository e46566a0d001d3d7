package android.graphics;

import androidx.annotation.NonNull;

public class Canvas {
    public void drawRect(float left, float top, float right, float bottom, @NonNull Paint paint) {}
}
