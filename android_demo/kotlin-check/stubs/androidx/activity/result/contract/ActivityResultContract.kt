package androidx.activity.result.contract

/** As in activity 1.9 (Kotlin): the output type says whether a result can be missing. */
abstract class ActivityResultContract<I, O>
