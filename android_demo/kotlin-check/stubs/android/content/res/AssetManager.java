package android.content.res;
public final class AssetManager { public java.io.InputStream open(String n) throws java.io.IOException { return null; } public AssetFileDescriptor openFd(String n) throws java.io.IOException { return null; } }
