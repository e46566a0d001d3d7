package androidx.activity.result;

/** A Kotlin `fun interface` in activity 1.9; a Java interface here for Kotlin 1.3's lambda conversion. */
public interface ActivityResultCallback<O> {
    void onActivityResult(O result);
}
