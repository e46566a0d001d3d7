package androidx.activity.result.contract

import android.net.Uri

/**
 * The two contracts the app uses, with activity 1.9's types: GetContent delivers `Uri?` (null when the user
 * backs out of the picker), RequestPermission a non-null Boolean.
 */
class ActivityResultContracts private constructor() {
    open class GetContent : ActivityResultContract<String, Uri?>()
    class RequestPermission : ActivityResultContract<String, Boolean>()
}
