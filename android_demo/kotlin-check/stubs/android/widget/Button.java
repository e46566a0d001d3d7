package android.widget;

public class Button extends TextView {
    public Button(android.content.Context context, android.util.AttributeSet attrs) { super(context, attrs); }
}
