package android.widget;

public class ImageView extends android.view.View {
    public ImageView(android.content.Context context, android.util.AttributeSet attrs) { super(context, attrs); }
    public void setImageBitmap(android.graphics.Bitmap bm) {}
}
