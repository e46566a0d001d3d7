plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "io.edgecnn.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "io.edgecnn.demo"
        minSdk = 24
        targetSdk = 34
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }
    androidResources {
        // Stored uncompressed, the model can be memory-mapped straight from the APK.
        noCompress += "tflite"
    }
}

dependencies {
    implementation(project(":core"))

    // LiteRT (successor of org.tensorflow:tensorflow-lite; same org.tensorflow.lite.Interpreter API).
    val litert = "1.4.0"
    implementation("com.google.ai.edge.litert:litert:$litert")
    implementation("com.google.ai.edge.litert:litert-gpu:$litert")
    implementation("com.google.ai.edge.litert:litert-gpu-api:$litert")

    val camerax = "1.3.4"
    implementation("androidx.camera:camera-core:$camerax")
    implementation("androidx.camera:camera-camera2:$camerax")
    implementation("androidx.camera:camera-lifecycle:$camerax")
    implementation("androidx.camera:camera-view:$camerax")

    implementation("androidx.activity:activity-ktx:1.9.2")
    implementation("androidx.core:core-ktx:1.13.1")
    // Reads the EXIF orientation of picked pictures (JPEG, PNG, WebP, HEIF) on every API level.
    implementation("androidx.exifinterface:exifinterface:1.3.7")
}
