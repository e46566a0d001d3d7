package android.app;

import androidx.annotation.Nullable;

public class Activity extends android.content.Context {
    public android.content.res.AssetManager getAssets() { return null; }
    public android.content.Context getApplicationContext() { return null; }
    public android.content.ContentResolver getContentResolver() { return null; }
    // android.jar leaves findViewById unannotated for Kotlin (a platform type), so no annotation here.
    public <T extends android.view.View> T findViewById(int id) { return null; }
    public final void runOnUiThread(Runnable action) {}
    public void setContentView(int layoutResID) {}
    protected void onCreate(@Nullable android.os.Bundle savedInstanceState) {}
    protected void onDestroy() {}
}
