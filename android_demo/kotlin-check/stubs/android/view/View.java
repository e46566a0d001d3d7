package android.view;

import androidx.annotation.NonNull;
import androidx.annotation.Nullable;

public class View {
    public static final int VISIBLE = 0;
    public static final int INVISIBLE = 4;
    public static final int GONE = 8;

    public interface OnClickListener {
        void onClick(View v);
    }

    public View(android.content.Context context, @Nullable android.util.AttributeSet attrs) {}
    public void setVisibility(int visibility) {}
    public int getVisibility() { return 0; }
    public void setEnabled(boolean enabled) {}
    public boolean isEnabled() { return true; }
    public void setOnClickListener(@Nullable OnClickListener l) {}
    public boolean post(Runnable action) { return true; }
    public void invalidate() {}
    public final int getWidth() { return 0; }
    public final int getHeight() { return 0; }
    protected void onDraw(@NonNull android.graphics.Canvas canvas) {}
}
