package android.widget;
public class Spinner extends AdapterView<Object> {}
