package androidx.core.content;

import androidx.annotation.NonNull;

public class ContextCompat {
    public static int checkSelfPermission(@NonNull android.content.Context context, @NonNull String permission) {
        return 0;
    }

    @NonNull
    public static java.util.concurrent.Executor getMainExecutor(@NonNull android.content.Context context) {
        return null;
    }
}
