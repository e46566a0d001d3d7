package android.app;
public class Activity extends android.content.Context {
  public android.content.res.AssetManager getAssets() { return null; } public android.content.Context getApplicationContext() { return null; } public android.content.ContentResolver getContentResolver() { return null; }
  public <T extends android.view.View> T findViewById(int id) { return null; } public final void runOnUiThread(Runnable r) {} public void setContentView(int id) {}
  protected void onCreate(android.os.Bundle b) {} protected void onDestroy() {} }
