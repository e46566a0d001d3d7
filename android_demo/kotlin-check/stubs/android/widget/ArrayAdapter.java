package android.widget;

import androidx.annotation.NonNull;

public class ArrayAdapter<T> extends BaseAdapter {
    public ArrayAdapter(@NonNull android.content.Context context, int resource, @NonNull java.util.List<T> objects) {}
    public void setDropDownViewResource(int resource) {}
    public int getCount() { return 0; }
}
