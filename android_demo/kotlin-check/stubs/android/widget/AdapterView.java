package android.widget;

import androidx.annotation.Nullable;

public abstract class AdapterView<T extends Adapter> extends android.view.View {
    public interface OnItemSelectedListener {
        void onItemSelected(AdapterView<?> parent, android.view.View view, int position, long id);
        void onNothingSelected(AdapterView<?> parent);
    }

    public AdapterView(android.content.Context context, android.util.AttributeSet attrs) { super(context, attrs); }
    public abstract T getAdapter();
    public abstract void setAdapter(T adapter);
    public int getSelectedItemPosition() { return 0; }
    public Object getSelectedItem() { return null; }
    public void setSelection(int position) {}
    public void setOnItemSelectedListener(@Nullable OnItemSelectedListener listener) {}
    @Nullable public final OnItemSelectedListener getOnItemSelectedListener() { return null; }
}
