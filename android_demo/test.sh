#!/usr/bin/env bash
# Checks what can be checked of the Android demo without Gradle (Maven is unreachable in CI):
#   core    compiles android_demo/core (plain Java 17) with javac, warnings as errors, and runs its JUnit 5
#           tests (the cross-language golden test among them) with the console launcher;
#   app     compiles and links the app's AndroidManifest.xml and res/ with aapt2 against framework-res.apk;
#   kotlin  type-checks the app's Kotlin with kotlinc against core, the R class aapt2 generated and
#           kotlin-check/stubs (the Android/AndroidX/CameraX/LiteRT signatures the app calls, with their
#           nullability). Runs by default when kotlinc is installed (Debian package `kotlin`); with
#           EDGECNN_REQUIRE_ALL=1 (set by .ci/run) a missing kotlinc is an error, not a skip.
# Exits non-zero on any failure. Writes only to android_demo/build/ (git-ignored) or $ANDROID_DEMO_BUILD.
#   bash android_demo/test.sh              # core, app and kotlin (kotlin skipped, with a notice, without kotlinc)
#   bash android_demo/test.sh core         # only the named steps
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${ANDROID_DEMO_BUILD:-$here/build/test-sh}"
junit="${JUNIT_CONSOLE_JAR:-/usr/share/java/junit-platform-console-standalone.jar}"
framework="${ANDROID_FRAMEWORK_RES:-/usr/share/android-framework-res/framework-res.apk}"

if (($#)); then
  steps=" $* "
else
  steps=" core app "
  if command -v kotlinc >/dev/null; then
    steps+="kotlin "
  elif [[ "${EDGECNN_REQUIRE_ALL:-}" == 1 ]]; then
    echo "test.sh: kotlinc not installed and EDGECNN_REQUIRE_ALL=1: the kotlin step cannot be skipped (apt-get install kotlin)" >&2
    exit 2
  else
    echo "test.sh: kotlinc not installed: SKIPPING the kotlin step (apt-get install kotlin)"
  fi
fi
for s in $steps; do
  [[ "$s" == core || "$s" == app || "$s" == kotlin ]] || { echo "test.sh: unknown step '$s' (core, app, kotlin)" >&2; exit 2; }
done
has() { [[ "$steps" == *" $1 "* ]]; }

need() {  # command or file, and the Debian package that provides it
  if [[ "$1" == /* ]]; then [[ -f "$1" ]] && return 0; else command -v "$1" >/dev/null && return 0; fi
  echo "test.sh: $1 not found (apt-get install $2)" >&2
  exit 2
}
need javac default-jdk-headless
need java default-jdk-headless
if has core; then need "$junit" junit5; fi
if has app || has kotlin; then need aapt2 android-sdk-build-tools; need "$framework" android-framework-res; fi
if has kotlin; then need kotlinc kotlin; fi

rm -rf "$build"
mkdir -p "$build"

compile_core() {
  mapfile -t main_src < <(find "$here/core/src/main/java" -name '*.java' | sort)
  javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d "$build/core-main" "${main_src[@]}"
}

if has core; then
  echo "== core: javac"
  compile_core
  mapfile -t test_src < <(find "$here/core/src/test/java" -name '*.java' | sort)
  javac --release 17 -Xlint:all,-serial -encoding UTF-8 -d "$build/core-test" -cp "$build/core-main:$junit" "${test_src[@]}"

  echo "== core: JUnit 5"
  # --fail-if-no-tests: a run that finds nothing must not pass. edgecnn.appAssets: AppAssetsTest also
  # parses the app's shipped preprocess.json and labels.txt.
  java -Dedgecnn.appAssets="$here/app/src/main/assets" -jar "$junit" --disable-banner --details=summary \
    --fail-if-no-tests -cp "$build/core-main:$build/core-test:$here/core/src/test/resources" \
    --select-package io.edgecnn.core --reports-dir "$build/junit-reports"
fi

if has app || has kotlin; then
  echo "== app: aapt2 compile + link (manifest and resources)"
  app="$here/app/src/main"
  # AGP takes the package from build.gradle.kts' namespace; aapt2 alone needs it in the manifest.
  namespace="$(sed -n 's/^ *namespace *= *"\([^"]*\)".*/\1/p' "$here/app/build.gradle.kts")"
  min_sdk="$(sed -n 's/^ *minSdk *= *\([0-9]*\).*/\1/p' "$here/app/build.gradle.kts")"
  [[ -n "$namespace" && -n "$min_sdk" ]] || { echo "test.sh: no namespace/minSdk in app/build.gradle.kts" >&2; exit 1; }
  # framework-res.apk here is API 29, so its aapt2 does not know <uses-native-library> (API 31): those
  # one-line elements are left out of the copy that is linked; everything else is validated as written.
  sed -e "s|<manifest |<manifest package=\"$namespace\" |" -e '/<uses-native-library .*\/>/d' \
    "$app/AndroidManifest.xml" > "$build/AndroidManifest.xml"
  grep -q "package=\"$namespace\"" "$build/AndroidManifest.xml"
  aapt2 compile --dir "$app/res" -o "$build/res.zip"
  # Resources are linked against API 29: they may use nothing newer.
  aapt2 link -o "$build/app-resources.apk" -I "$framework" --manifest "$build/AndroidManifest.xml" \
    --min-sdk-version "$min_sdk" --target-sdk-version 29 --java "$build/gen" --auto-add-overlay \
    "$build/res.zip"
  test -s "$build/gen/${namespace//.//}/R.java"
fi

if has kotlin; then
  echo "== app: kotlinc type check (against core, R and kotlin-check/stubs)"
  [[ -d "$build/core-main" ]] || compile_core
  # One kotlinc run over the app, the stubs (Java and Kotlin sources: kotlinc reads Java sources for their
  # types) and R.java. The stubs are only read, never compiled into anything.
  mapfile -t sources < <(find "$here/app/src/main/java" "$here/kotlin-check/stubs" -name '*.kt' -o -name '*.java' | sort)
  # Debian's kotlinc (1.3) warns about the JVM it runs on; an error leaves no MainActivity.class.
  kotlinc -nowarn -cp "$build/core-main" -d "$build/kotlin" "${sources[@]}" "$build/gen/${namespace//.//}/R.java" 2>&1 \
    | grep -v -e 'Xverify:none' -e 'unable to find kotlin-stdlib' || true
  test -s "$build/kotlin/io/edgecnn/demo/MainActivity.class"
fi
echo "test.sh: all checks passed"
