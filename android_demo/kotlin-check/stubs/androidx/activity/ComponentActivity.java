package androidx.activity;

import androidx.activity.result.ActivityResultCallback;
import androidx.activity.result.ActivityResultLauncher;
import androidx.activity.result.contract.ActivityResultContract;
import androidx.annotation.NonNull;

/**
 * activity 1.9 declares this in Kotlin with the same types; it is Java here because Kotlin 1.3 turns a
 * lambda into ActivityResultCallback only for a Java method (Kotlin 1.4+ does it for Kotlin ones too).
 */
public class ComponentActivity extends android.app.Activity implements androidx.lifecycle.LifecycleOwner {
    @NonNull
    public final <I, O> ActivityResultLauncher<I> registerForActivityResult(
            @NonNull ActivityResultContract<I, O> contract, @NonNull ActivityResultCallback<O> callback) {
        return null;
    }
}
