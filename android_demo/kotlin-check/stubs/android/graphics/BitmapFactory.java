package android.graphics;
public class BitmapFactory { public static class Options { public boolean inJustDecodeBounds; public int outWidth; public int outHeight; public Bitmap.Config inPreferredConfig; public boolean inPremultiplied; public int inSampleSize; }
  public static Bitmap decodeStream(java.io.InputStream is, Rect outPadding, Options opts) { return null; } }
