#!/usr/bin/env bash
# Checks what can be checked of the Android demo without Gradle (Maven is unreachable in CI):
#   1. compiles android_demo/core (plain Java 17) with javac, warnings as errors;
#   2. runs its JUnit 5 tests, the cross-language golden test included, with the console launcher;
#   3. compiles and links the app's AndroidManifest.xml and res/ with aapt2 against framework-res.apk.
# Exits non-zero on any failure. Writes only to android_demo/build/ (git-ignored) or $ANDROID_DEMO_BUILD.
#   bash android_demo/test.sh            # everything
#   bash android_demo/test.sh core       # only 1-2;  `app` only 3
set -euo pipefail
steps="${*:-core app}"
for s in $steps; do [[ "$s" == core || "$s" == app ]] || { echo "test.sh: unknown step '$s' (core, app)" >&2; exit 2; }; done
here="$(cd "$(dirname "$0")" && pwd)"
build="${ANDROID_DEMO_BUILD:-$here/build/test-sh}"
junit="${JUNIT_CONSOLE_JAR:-/usr/share/java/junit-platform-console-standalone.jar}"
framework="${ANDROID_FRAMEWORK_RES:-/usr/share/android-framework-res/framework-res.apk}"

need() {  # command or file, and the Debian package that provides it
  if [[ "$1" == /* ]]; then [[ -f "$1" ]] && return 0; else command -v "$1" >/dev/null && return 0; fi
  echo "test.sh: $1 not found (apt-get install $2)" >&2
  exit 2
}
need javac default-jdk-headless
need java default-jdk-headless
need "$junit" junit5
need aapt2 android-sdk-build-tools
need "$framework" android-framework-res

rm -rf "$build"
mkdir -p "$build"

if [[ " $steps " == *" core "* ]]; then
echo "== core: javac"
mapfile -t main_src < <(find "$here/core/src/main/java" -name '*.java' | sort)
mapfile -t test_src < <(find "$here/core/src/test/java" -name '*.java' | sort)
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d "$build/core-main" "${main_src[@]}"
javac --release 17 -Xlint:all,-serial -encoding UTF-8 -d "$build/core-test" -cp "$build/core-main:$junit" "${test_src[@]}"

echo "== core: JUnit 5"
# --fail-if-no-tests: a test run that finds nothing must not pass.
# edgecnn.appAssets: AppAssetsTest also parses the app's shipped preprocess.json and labels.txt.
java -Dedgecnn.appAssets="$here/app/src/main/assets" -jar "$junit" --disable-banner --details=summary --fail-if-no-tests \
  -cp "$build/core-main:$build/core-test:$here/core/src/test/resources" \
  --select-package io.edgecnn.core --reports-dir "$build/junit-reports"

fi

if [[ " $steps " == *" app "* ]]; then
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
echo "test.sh: all checks passed"
