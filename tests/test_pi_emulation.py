"""tools/pi_emulation.sh deletes a half-built chroot only with nothing mounted inside it (a bind of the host's
/dev or /sys under `rm -rf` deletes the host's files). Real bind mounts; needs root, which CI runs as."""
from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "pi_emulation.sh"


@pytest.fixture
def chroot_with_a_bind(tmp_path):
    """tmp/chroot/proc is a bind mount of tmp/host (standing in for the host's /proc) with a file in it."""
    if os.geteuid() != 0:
        pytest.skip("bind-mounting needs root (CI runs as root)")
    host, root = tmp_path / "host", tmp_path / "chroot"
    host.mkdir()
    (host / "precious").write_text("the host's file")
    (root / "proc").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_text("ID=debian\n")
    subprocess.run(["mount", "--bind", str(host), str(root / "proc")], check=True)
    yield host, root
    subprocess.run(["umount", "-l", str(root / "proc")], capture_output=True)


def _remove(root: Path, prelude: str = "") -> subprocess.CompletedProcess:
    code = f"source {shlex.quote(str(SCRIPT))}; {prelude} remove_chroot {shlex.quote(str(root))}"
    return subprocess.run(["bash", "-c", code], capture_output=True, text=True, timeout=60)


def test_mounts_are_unmounted_before_the_chroot_is_deleted(chroot_with_a_bind):
    host, root = chroot_with_a_bind
    proc = _remove(root)
    assert proc.returncode == 0, proc.stderr
    assert not root.exists()
    assert (host / "precious").read_text() == "the host's file"


def test_refuses_when_a_mount_stays(chroot_with_a_bind):
    host, root = chroot_with_a_bind
    proc = _remove(root, prelude="umount() { return 1; };")  # an unmount that fails (busy, no permission)
    assert proc.returncode == 1
    assert f"refusing to delete {root}: filesystems are still mounted inside it" in proc.stderr
    assert str(root / "proc") in proc.stderr
    assert (root / "etc" / "os-release").exists() and (host / "precious").exists()


def test_sourcing_the_script_runs_nothing(tmp_path):
    proc = subprocess.run(["bash", "-c", f"source {shlex.quote(str(SCRIPT))}; type remove_chroot >/dev/null; "
                          "echo sourced"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == "sourced\n" and proc.stderr == ""
