package androidx.activity.result

/** As in activity 1.9 (Kotlin): launch takes the contract's input type, non-null for GetContent's String. */
abstract class ActivityResultLauncher<I> {
    fun launch(input: I) {}
}
