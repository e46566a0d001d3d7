"""edgecnn.targets.remote against a real OpenSSH server on 127.0.0.1 (no SSH mocks).

The "remote" is this machine: the fixture starts Debian's sshd with its own config, host key, authorised
user key and a free port (tests/sshd.py), and the remote interpreter is this test's own Python, so the
remote `python -m edgecnn profile --json` is the real profiler.
"""
from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import pytest

from edgecnn.errors import EdgecnnError, UsageError
from edgecnn.profile_options import ProfileOptions
from edgecnn.targets import remote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sshd import LoopbackSSHD, why_unavailable  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
MODEL = DATA / "tiny_cnn_int8.tflite"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    reason = why_unavailable()
    if reason:
        pytest.skip(f"no loopback sshd: {reason}")
    with LoopbackSSHD(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def test_parse_host():
    assert remote.parse_host("pi@raspberrypi.local") == ("pi", "raspberrypi.local", 22)
    assert remote.parse_host("pi@10.0.0.7:2222") == ("pi", "10.0.0.7", 2222)
    assert remote.parse_host("me@[::1]:2200") == ("me", "::1", 2200)
    assert remote.parse_host("host")[1:] == ("host", 22)
    with pytest.raises(UsageError, match="USER@HOST"):
        remote.parse_host("pi@host:notaport")
    with pytest.raises(UsageError, match="out of range"):
        remote.parse_host("pi@host:70000")


def test_profile_over_ssh(sshd):
    float_model = DATA / "tiny_cnn_float32.tflite"
    results = remote.profile_remote([MODEL, float_model], {"num_runs": 20, "num_threads": 1}, sshd.target,
                                    identity=str(sshd.user_key), remote_python=sys.executable)
    assert len(results) == 2
    result = results[0]
    # the remote file names were relabelled to ours
    assert [r["model"] for r in results] == [str(MODEL), str(float_model)]
    assert "/tmp/edgecnn-profile." not in json.dumps(results)
    # the options reached the remote profiler, and the numbers are real measurements
    assert result["runs"] == 20 and result["num_threads"] == 1
    assert 0 < result["latency_ms"]["p50"] < 1000 and result["fully_int8"] is True
    assert results[1]["fully_int8"] is False
    machine = result["machine"]
    assert machine["host"] == sshd.target
    assert machine["arch"] == platform.machine() and machine["bits"] == 64
    assert machine["python"] == platform.python_version() and machine["python_path"] == sys.executable
    assert machine["runtime"] in ("ai-edge-litert", "tflite-runtime") and machine["runtime_version"]
    assert machine["edgecnn"] and machine["cpu"]


def test_profile_cli_over_ssh(sshd, cli):
    # the same through `edgecnn profile --host … --identity …`; the remote interpreter comes from the environment
    proc = cli("profile", str(MODEL), "--num-runs", "10", "--host", sshd.target, "--identity", str(sshd.user_key),
               "--json", env={"EDGECNN_REMOTE_PYTHON": sys.executable}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["runs"] == 10 and result["machine"]["host"] == sshd.target


def test_profile_cli_reports_auth_failure_in_one_line(sshd, cli):
    proc = cli("profile", str(MODEL), "--host", sshd.target, "--identity", str(sshd.other_key), timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: SSH authentication failed") and proc.stderr.count("\n") == 1


def _not_a_model(tmp_path) -> Path:
    bad = tmp_path / "garbage.tflite"  # uploaded (it is a file), then refused by the remote profiler
    bad.write_bytes(b"\x00" * 64)
    return bad


def test_remote_temp_folder_is_removed(sshd, tmp_path):
    import glob

    before = set(glob.glob("/tmp/edgecnn-profile.*"))
    with pytest.raises(EdgecnnError):  # fails after the upload, in the remote profiler
        remote.profile_remote([_not_a_model(tmp_path)], {}, sshd.target, str(sshd.user_key),
                              remote_python=sys.executable)
    assert set(glob.glob("/tmp/edgecnn-profile.*")) == before


def test_remote_command_failure_is_one_line(sshd, tmp_path):
    with pytest.raises(EdgecnnError) as err:
        remote.profile_remote([_not_a_model(tmp_path)], {}, sshd.target, str(sshd.user_key),
                              remote_python=sys.executable)
    message = str(err.value)
    assert message.startswith(f"edgecnn profile failed on {sshd.target}: ")
    assert "not a .tflite model" in message and "\n" not in message


def test_options_are_checked_before_connecting():
    # port 1 refuses connections: these fail earlier, on the options themselves
    with pytest.raises(UsageError, match="unknown profile option"):
        remote.profile_remote([MODEL], {"no_such_option_xyz": 1}, "pi@127.0.0.1:1")
    with pytest.raises(UsageError, match="--input is not supported with --host"):
        remote.profile_remote([MODEL], ProfileOptions(input="x.npy"), "pi@127.0.0.1:1")


def test_wrong_key_is_an_authentication_error(sshd):
    with pytest.raises(EdgecnnError, match=r"SSH authentication failed for .*ssh-copy-id"):
        remote.profile_remote([MODEL], {}, sshd.target, str(sshd.other_key), remote_python=sys.executable)


def test_closed_port_is_unreachable(sshd):
    from sshd import free_port

    port = free_port()
    with pytest.raises(EdgecnnError, match=f"cannot reach {sshd.user}@127.0.0.1:{port}: connection refused"):
        remote.profile_remote([MODEL], {}, f"{sshd.user}@127.0.0.1:{port}", str(sshd.user_key))


def test_port_without_ssh_server():
    # something listens but never speaks SSH (the kernel completes the handshake; nobody answers)
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(EdgecnnError, match=f"cannot reach pi@127.0.0.1:{port}: no SSH server answered"):
            remote.profile_remote([MODEL], {}, f"pi@127.0.0.1:{port}", connect_timeout=1)


def test_unknown_host_name():
    with pytest.raises(EdgecnnError, match="does not resolve"):
        remote.profile_remote([MODEL], {}, "pi@no-such-host.invalid", connect_timeout=5)


def test_missing_identity_file_and_model(tmp_path):
    with pytest.raises(UsageError, match="no such key file"):
        remote.profile_remote([MODEL], {}, "pi@127.0.0.1:1", str(tmp_path / "nokey"))
    with pytest.raises(EdgecnnError, match="no such file"):
        remote.profile_remote([tmp_path / "missing.tflite"], {}, "pi@127.0.0.1:1")


def test_remote_without_edgecnn_prints_install_command(sshd):
    with pytest.raises(EdgecnnError) as err:
        remote.profile_remote([MODEL], {}, sshd.target, str(sshd.user_key), remote_python="/usr/bin/python3")
    message = str(err.value)
    assert "edgecnn is not installed on" in message
    assert "pip install edgecnn" in message and "/usr/bin/python3" in message


def test_32_bit_os_says_what_works():
    # The decision on the probe's answer (a 32-bit Raspberry Pi OS with a 64-bit kernel reports
    # uname aarch64 but a 32-bit Python); the SSH path around it is tested above.
    probe = [{"command": "python3", "uname": "aarch64", "arch": "armv7l", "bits": 32, "python": "3.11.2",
              "edgecnn": None, "edgecnn_error": "ModuleNotFoundError: No module named 'edgecnn'"}]
    with pytest.raises(EdgecnnError) as err:
        remote.check_machine(probe, "pi@pi3:22")
    message = str(err.value)
    assert "32-bit OS (armv7l, aarch64 kernel)" in message
    assert "64-bit Raspberry Pi OS" in message and "tflite-runtime==2.14.0" in message and "numpy<2" in message
    # with edgecnn installed (e.g. on tflite-runtime) a 32-bit machine is used as it is
    ok = dict(probe[0], edgecnn="0.1.0")
    assert remote.check_machine([ok], "pi@pi3:22") is ok
