package android.content;

import androidx.annotation.NonNull;

public abstract class Context {
    public abstract android.content.res.AssetManager getAssets();
    public abstract Context getApplicationContext();
    public abstract ContentResolver getContentResolver();
    @NonNull public final String getString(int resId) { return ""; }
    @NonNull public final String getString(int resId, Object... formatArgs) { return ""; }
}
