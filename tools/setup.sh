#!/usr/bin/env bash
# Set up edgecnn on a fresh Debian/Ubuntu machine: system packages, then a venv at .venv with the
# training and test extras. Idempotent: a second run only checks. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  dataset-fashion-mnist        # the default data set, offline (/usr/share/datasets/fashion-mnist)
  openssh-server               # the Raspberry Pi path is tested against a real sshd on loopback
  default-jdk-headless junit5 junit4 kotlin  # android_demo: Java core (JUnit 5), Kotlin app type check
  android-sdk-build-tools android-framework-res  # aapt2 links the app's manifest and resources
)
if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${apt_packages[@]}"; do
    [[ "$p" == \#* ]] && continue
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]})); then
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
else
  echo "setup: no apt-get; install Fashion-MNIST yourself (see README) or set EDGECNN_DATA" >&2
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[train,dev]'
echo "setup: ready (.venv/bin/edgecnn)"
