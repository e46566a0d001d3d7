#!/usr/bin/env bash
# Proof that the Raspberry Pi path works on aarch64: build a 64-bit (arm64) Debian 12 chroot under
# qemu user-mode emulation, install edgecnn's base package (a wheel of this checkout, no TensorFlow)
# in a venv there with pip, and run `edgecnn profile` and `edgecnn inspect` on a model from tests/data.
#
#   sudo tools/pi_emulation.sh [MODEL.tflite]      # default: the first tests/data/*int8*.tflite
#
# Needs root on an x86-64 Debian/Ubuntu machine (apt, debootstrap, chroot, binfmt_misc) and network
# access to the Debian mirror and PyPI. The first run takes 10-60 min depending on the host's load
# (debootstrap's emulated second stage is most of it; measured: 24 min for debootstrap + 12 min for pip on
# a loaded 2-core machine); the chroot is kept in $PI_ROOT and reused. Not wired into CI.
#
# The qemu pitfall (../docs/DEPLOY.md): ai-edge-litert 2.3.0 crashes under Debian 12's qemu 7.2,
# and runs under qemu 10 from bookworm-backports. So we take qemu-user-static from backports when the
# host is bookworm; if backports is unreachable we fall back to qemu 7.2 and ai-edge-litert 2.1.6 (the
# newest that runs there), installing edgecnn with --no-deps and saying so. Timings under emulation mean
# nothing: the check is that the install and the profiler work on aarch64.
set -euo pipefail

# Filesystems mounted at or below $1 (deepest first): our proc/dev/sys binds, or debootstrap's own, left
# behind when an earlier run was killed. findmnt -r writes a space as \x20; printf %b decodes it.
mounts_under() {
  local root=$1 target
  findmnt -rn -o TARGET | while IFS= read -r target; do
    target=$(printf '%b' "$target")
    [[ "$target" == "$root" || "$target" == "$root/"* ]] && printf '%s\n' "$target"
  done | sort -r
}

# Delete a chroot, but never through a mount: `rm -rf` into a bind of the host's /dev or /sys deletes the
# host's files. Unmount what is mounted inside, check, refuse if anything is left; --one-file-system is a
# second guard.
remove_chroot() {
  local root target
  root=$(realpath -m -- "$1")
  [[ "$root" != / && -n "$root" ]] || { echo "pi_emulation: refusing to delete '$1'" >&2; return 1; }
  [ -e "$root" ] || return 0
  while IFS= read -r target; do
    [ -n "$target" ] && { umount -- "$target" 2>/dev/null || umount -l -- "$target" 2>/dev/null || true; }
  done < <(mounts_under "$root")
  if [ -n "$(mounts_under "$root")" ]; then
    echo "pi_emulation: refusing to delete $root: filesystems are still mounted inside it:" >&2
    mounts_under "$root" >&2
    echo "unmount them (umount -R $root) and run again" >&2
    return 1
  fi
  rm -rf --one-file-system -- "$root"
}

# `source tools/pi_emulation.sh` gives the functions above without running anything (tests use it).
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0

cd "$(dirname "$0")/.."
REPO=$(pwd)
PI_ROOT=${PI_ROOT:-/var/tmp/edgecnn-pi-arm64}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MODEL=${1:-}
log() { printf '\n== %s ==\n' "$*"; }

[ "$(id -u)" -eq 0 ] || { echo "pi_emulation: run as root (debootstrap, chroot, binfmt_misc)" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || echo "pi_emulation: host is $(uname -m), not x86_64; continuing" >&2

BUILD_ONLY=${PI_BUILD_ONLY:-0}   # 1: build the chroot and venv (with the runtime deps) and stop
if [ -z "$MODEL" ]; then
  MODEL=$(ls tests/data/*int8*.tflite 2>/dev/null | head -n1 || true)
  [ -n "$MODEL" ] || MODEL=$(ls tests/data/*.tflite 2>/dev/null | head -n1 || true)
fi
[ "$BUILD_ONLY" = 1 ] || [ -f "$MODEL" ] || { echo "pi_emulation: no model given and none in tests/data/*.tflite" >&2; exit 1; }

# --- 1. qemu-user-static (10.x from bookworm-backports if we can), binfmt-support, debootstrap --------
log "host packages"
export DEBIAN_FRONTEND=noninteractive
codename=$(. /etc/os-release; echo "${VERSION_CODENAME:-}")
litert_pin=""
if [ "$codename" = bookworm ]; then
  if curl -fsS -m 20 -o /dev/null "$MIRROR/dists/bookworm-backports/Release"; then
    bp=/etc/apt/sources.list.d/edgecnn-bookworm-backports.sources
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$MIRROR" > "$bp"
      echo "added $bp (qemu 10 for ai-edge-litert 2.3)"
    fi
    apt-get update -qq
    apt-get install -y -qq -t bookworm-backports qemu-user-static >/dev/null
  else
    echo "bookworm-backports unreachable: using qemu 7.2, so ai-edge-litert is pinned to 2.1.6 in the chroot"
    apt-get update -qq
    apt-get install -y -qq qemu-user-static >/dev/null
    litert_pin="ai-edge-litert==2.1.6"
  fi
else
  apt-get update -qq
  apt-get install -y -qq qemu-user-static >/dev/null
fi
apt-get install -y -qq binfmt-support debootstrap >/dev/null
dpkg-query -W -f='qemu-user-static ${Version}\n' qemu-user-static

# Register the aarch64 interpreter with the kernel (containers often have binfmt_misc unmounted and no
# systemd to do it at boot).
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  conf=$(ls /usr/lib/binfmt.d/qemu-aarch64*.conf 2>/dev/null | head -n1 || true)
  [ -n "$conf" ] && grep -v '^#' "$conf" > /proc/sys/fs/binfmt_misc/register
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || { echo "pi_emulation: could not register qemu-aarch64 with binfmt_misc" >&2; exit 1; }
grep -E '^(interpreter|flags)' /proc/sys/fs/binfmt_misc/qemu-aarch64

# --- 2. arm64 Debian 12 chroot (kept and reused) --------------------------------------------------------
if [ ! -e "$PI_ROOT/.debootstrap-done" ]; then
  log "debootstrap arm64 bookworm into $PI_ROOT"
  remove_chroot "$PI_ROOT"  # a half-built chroot from an interrupted run; never with mounts inside
  time debootstrap --arch=arm64 --variant=minbase --include=ca-certificates,python3,python3-venv \
    bookworm "$PI_ROOT" "$MIRROR" >/tmp/edgecnn-debootstrap.log 2>&1 \
    || { tail -n 20 /tmp/edgecnn-debootstrap.log; exit 1; }
  touch "$PI_ROOT/.debootstrap-done"
else
  log "reusing the arm64 chroot in $PI_ROOT"
fi

mounts=()
cleanup() { for m in "${mounts[@]}"; do umount -l "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
for m in proc dev sys; do
  mountpoint -q "$PI_ROOT/$m" || { mount --bind "/$m" "$PI_ROOT/$m"; mounts+=("$PI_ROOT/$m"); }
done
cp /etc/resolv.conf "$PI_ROOT/etc/resolv.conf"
# Egress through a TLS-inspecting proxy needs the host's extra CAs inside the chroot too.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  changed=0
  for crt in /usr/local/share/ca-certificates/*.crt; do
    cmp -s "$crt" "$PI_ROOT/usr/local/share/ca-certificates/$(basename "$crt")" && continue
    cp "$crt" "$PI_ROOT/usr/local/share/ca-certificates/"; changed=1
  done
  [ "$changed" = 0 ] || chroot "$PI_ROOT" update-ca-certificates >/dev/null 2>&1  # ~5 min emulated
fi
in_pi() { chroot "$PI_ROOT" /usr/bin/env -i HOME=/root PATH=/opt/edgecnn/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt "$@"; }

log "the emulated machine"
in_pi /bin/sh -c 'uname -m; grep -m1 PRETTY_NAME /etc/os-release; python3 --version'

# --- 3. the base install from a wheel of this checkout -----------------------------------------------------
if [ "$BUILD_ONLY" = 1 ]; then
  log "runtime deps only (PI_BUILD_ONLY=1)"
  [ -x "$PI_ROOT/opt/edgecnn/bin/python" ] || in_pi python3 -m venv /opt/edgecnn
  time in_pi pip install -q "${litert_pin:-ai-edge-litert>=2.3,<2.4}" 'numpy>=1.23' 'click>=8.1' 'rich>=13' 'pillow>=9'
  in_pi python -c 'import ai_edge_litert.interpreter as i, numpy; print("ai-edge-litert imports on", __import__("platform").machine())'
  exit 0
fi

log "build the edgecnn wheel (host)"
wheel_dir=$(mktemp -d)
# build from a clean copy: a stale build/ folder in the checkout could leak old files into the wheel
src_copy="$wheel_dir/src"
mkdir -p "$src_copy"
cp -r "$REPO/pyproject.toml" "$REPO/edgecnn" "$src_copy/"
[ -f "$REPO/README.md" ] && cp "$REPO/README.md" "$src_copy/"
find "$src_copy" -name __pycache__ -prune -exec rm -rf {} +
python_host=${PYTHON:-$( [ -x /work/venv/bin/python ] && echo /work/venv/bin/python || echo python3 )}
"$python_host" -m pip wheel -q --no-deps --no-build-isolation -w "$wheel_dir" "$src_copy" 2>/dev/null \
  || "$python_host" -m pip wheel -q --no-deps -w "$wheel_dir" "$src_copy"
wheel=$(ls "$wheel_dir"/edgecnn-*.whl)
mkdir -p "$PI_ROOT/tmp/edgecnn"
cp "$wheel" "$MODEL" "$PI_ROOT/tmp/edgecnn/"
ls tests/data/*.tflite >/dev/null 2>&1 && cp tests/data/*.tflite "$PI_ROOT/tmp/edgecnn/"
rm -rf "$wheel_dir"

log "pip install edgecnn (base, no TensorFlow) in a venv on arm64"
[ -x "$PI_ROOT/opt/edgecnn/bin/python" ] || in_pi python3 -m venv /opt/edgecnn
wname=$(basename "$wheel")
if [ -n "$litert_pin" ]; then
  in_pi pip install -q "$litert_pin" 'numpy>=1.23' 'click>=8.1' 'rich>=13' 'pillow>=9'
  in_pi pip install -q --force-reinstall --no-deps "/tmp/edgecnn/$wname"
else
  # dependencies once (ai-edge-litert's aarch64 wheel), then always this checkout's edgecnn
  time in_pi pip install -q "/tmp/edgecnn/$wname"
  in_pi pip install -q --force-reinstall --no-deps "/tmp/edgecnn/$wname"
fi
in_pi pip list 2>/dev/null | grep -i -E '^(edgecnn|ai-edge-litert|numpy|tensorflow) '
in_pi python -c 'import sys; import edgecnn; assert "tensorflow" not in sys.modules; print("edgecnn", edgecnn.__version__, "imports without TensorFlow")'

# --- 4. profile and inspect on aarch64 -------------------------------------------------------------------------
mname=$(basename "$MODEL")
log "edgecnn inspect $mname (aarch64)"
in_pi edgecnn inspect "/tmp/edgecnn/$mname"
log "edgecnn inspect --target coral $mname (aarch64)"
in_pi edgecnn inspect --target coral "/tmp/edgecnn/$mname" || echo "(inspect --target coral exited $?)"
log "edgecnn profile $mname (aarch64; emulated timings mean nothing)"
in_pi edgecnn profile "/tmp/edgecnn/$mname"
log "edgecnn profile --json $mname (aarch64)"
in_pi edgecnn profile --json "/tmp/edgecnn/$mname" | head -c 1500; echo
log "done: the base install, inspect and profile work on arm64 ($PI_ROOT)"
