package android.widget;

public class TextView extends android.view.View {
    public TextView(android.content.Context context, android.util.AttributeSet attrs) { super(context, attrs); }
    public final void setText(CharSequence text) {}
    public CharSequence getText() { return ""; }
}
