// Plain Java, no Android dependency: the app uses it as a module, and android_demo/test.sh compiles and
// tests the same sources with javac + the JUnit 5 console launcher (no Gradle needed).
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

dependencies {
    testImplementation("org.junit.jupiter:junit-jupiter:5.9.2")
    testRuntimeOnly("org.junit.platform:junit-platform-launcher:1.9.2")
}

tasks.test {
    useJUnitPlatform()
}
