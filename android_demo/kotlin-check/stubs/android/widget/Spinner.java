package android.widget;

public class Spinner extends AdapterView<SpinnerAdapter> {
    public Spinner(android.content.Context context, android.util.AttributeSet attrs) { super(context, attrs); }
    public SpinnerAdapter getAdapter() { return null; }
    public void setAdapter(SpinnerAdapter adapter) {}
}
