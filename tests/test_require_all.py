"""tests/require_all.py: with EDGECNN_REQUIRE_ALL=1 every kind of skip fails; without it, skips stay skips."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# One of each way a test is skipped here today, plus an xfail that must stay an xfail.
_SAMPLE = {
    "test_module_level.py": "import pytest\npytest.importorskip('no_such_module_xyz')\n\ndef test_a():\n    pass\n",
    "test_inside.py": """\
import pytest

@pytest.fixture
def sshd():
    pytest.skip("no loopback sshd: /usr/sbin/sshd not found")

def test_in_fixture(sshd):
    pass

def test_in_body():
    pytest.skip("Fashion-MNIST not installed")

@pytest.mark.skipif(True, reason="javac not found")
def test_marker():
    pass

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False

def test_passes():
    pass
""",
}


def _run(folder: Path, require: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "EDGECNN_REQUIRE_ALL"}
    if require is not None:
        env["EDGECNN_REQUIRE_ALL"] = require
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "require_all", "-q", "-rfEsx", "-p", "no:cacheprovider",
                           str(folder)], capture_output=True, text=True, timeout=300, cwd=folder, env=env)


def test_skips_fail_only_when_required(tmp_path):
    for name, text in _SAMPLE.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # keep the repository's configuration out

    relaxed = _run(tmp_path, None)
    assert relaxed.returncode == 0, relaxed.stdout
    assert "1 passed, 4 skipped, 1 xfailed" in relaxed.stdout

    strict = _run(tmp_path, "1")
    assert strict.returncode == 1, strict.stdout
    # a skip in the test body fails it; one in setup (fixture, skipif marker) or at import is an error
    # (pytest's word for a failure outside the test body); the rest of the run still ran
    assert "1 failed, 1 passed, 1 xfailed, 3 errors" in strict.stdout
    for reason in ("/usr/sbin/sshd not found", "Fashion-MNIST not installed", "javac not found",
                   "could not import 'no_such_module_xyz'"):
        assert reason in strict.stdout, reason
    assert "EDGECNN_REQUIRE_ALL=1 and this test was skipped" in strict.stdout
