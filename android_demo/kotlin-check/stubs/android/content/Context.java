package android.content;
public abstract class Context { public abstract android.content.res.AssetManager getAssets(); public abstract Context getApplicationContext(); public abstract ContentResolver getContentResolver(); public final String getString(int id) { return ""; } }
