// The edgecnn Android demo: open this folder (android_demo/) in Android Studio.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "edgecnn-android-demo"
include(":core") // plain Java: preprocessing, labels, preprocess.json, top-k (unit-tested without Android)
include(":app")  // the thin Android layer: CameraX, gallery picker, LiteRT interpreter, UI
