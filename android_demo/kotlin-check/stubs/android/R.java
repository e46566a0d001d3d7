package android;

/** The framework resources the app names (android.R in android.jar). */
public final class R {
    public static final class layout {
        public static final int simple_spinner_item = 0x01090008;
        public static final int simple_spinner_dropdown_item = 0x01090009;
    }
}
