package android.widget;
public abstract class AdapterView<T> extends android.view.View {
  public interface OnItemSelectedListener { void onItemSelected(AdapterView<?> parent, android.view.View view, int position, long id); void onNothingSelected(AdapterView<?> parent); }
  public int getSelectedItemPosition() { return 0; } public Object getSelectedItem() { return null; } public void setSelection(int p) {} public final void setOnItemSelectedListener(OnItemSelectedListener l) {} public final OnItemSelectedListener getOnItemSelectedListener() { return null; } }
