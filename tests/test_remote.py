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


@pytest.fixture(scope="module", autouse=True)
def own_known_hosts(tmp_path_factory):
    """This module's connections record host keys in a file of their own, never in ~/.ssh/known_hosts."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGECNN_KNOWN_HOSTS", str(tmp_path_factory.mktemp("known") / "known_hosts"))
        yield


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
    assert result["timing"]["rounds"] == 20 and result["runs"] == 20 * result["timing"]["burst"]
    assert result["num_threads"] == 1
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
    assert result["timing"]["rounds"] == 10 and result["runs"] == 10 * result["timing"]["burst"]
    assert result["machine"]["host"] == sshd.target


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
    import uuid

    # A name no other test uploads: tests running in parallel may have their own folders there meanwhile.
    model = _not_a_model(tmp_path).rename(tmp_path / f"garbage-{uuid.uuid4().hex}.tflite")
    with pytest.raises(EdgecnnError, match="edgecnn profile failed on"):  # after the upload, remotely
        remote.profile_remote([model], {}, sshd.target, str(sshd.user_key), remote_python=sys.executable)
    assert not glob.glob(f"/tmp/edgecnn-profile.*/*/{model.name}")


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


# ---- host keys: StrictHostKeyChecking=accept-new ------------------------------------------------------

def _connect(sshd):
    client = remote._connect(sshd.user, "127.0.0.1", sshd.port, str(sshd.user_key), 30)
    client.close()


def _ssh_keygen(*args: str) -> str:
    import subprocess

    return subprocess.run(["ssh-keygen", *args], capture_output=True, text=True, check=True, timeout=60).stdout


def test_new_host_key_is_recorded_with_its_fingerprint_then_checked(sshd, tmp_path, monkeypatch, capsys):
    known = tmp_path / "ssh" / "known_hosts"  # neither the folder nor the file exists yet
    monkeypatch.setenv("EDGECNN_KNOWN_HOSTS", str(known))
    name = f"[127.0.0.1]:{sshd.port}"
    _connect(sshd)
    # the fingerprint as OpenSSH computes it from the server's public key file
    expected = _ssh_keygen("-l", "-E", "sha256", "-f", str(sshd.folder / "host_ed25519.pub")).split()[1]
    assert capsys.readouterr().err == (f"Warning: Permanently added '{name}' (ED25519) {expected} to the list of "
                                       f"known hosts ({known}).\n")
    # one hashed line that OpenSSH itself finds for that host, in an owner-only file and folder
    assert len(known.read_text().splitlines()) == 1 and known.read_text().startswith("|1|")
    assert name in _ssh_keygen("-F", name, "-f", str(known))
    assert known.stat().st_mode & 0o777 == 0o600 and known.parent.stat().st_mode & 0o777 == 0o700
    # known now: checked, not added again
    before = known.read_text()
    _connect(sshd)
    assert capsys.readouterr().err == "" and known.read_text() == before


def test_changed_host_key_is_refused_and_the_hint_fixes_it(sshd, tmp_path, monkeypatch, capsys):
    import shlex
    import subprocess

    known = tmp_path / "known_hosts"
    name = f"[127.0.0.1]:{sshd.port}"
    key_type, key = (sshd.folder / "other_ed25519.pub").read_text().split()[:2]  # another ED25519 key
    known.write_text(f"{name} {key_type} {key}\n")
    monkeypatch.setenv("EDGECNN_KNOWN_HOSTS", str(known))
    with pytest.raises(EdgecnnError) as err:
        _connect(sshd)
    message = str(err.value)
    assert message.startswith(f"the SSH host key of {name} does not match the one recorded in {known}")
    hint = message.split("remove the old key: ")[1]
    assert hint == f"ssh-keygen -f {known} -R '{name}'"
    subprocess.run(shlex.split(hint), check=True, capture_output=True, timeout=60)  # the hint works as printed
    _connect(sshd)
    assert "Permanently added" in capsys.readouterr().err


def test_host_known_only_by_another_key_type_is_refused(sshd, tmp_path, monkeypatch):
    known = tmp_path / "known_hosts"
    _ssh_keygen("-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(tmp_path / "rsa"))
    key_type, key = (tmp_path / "rsa.pub").read_text().split()[:2]
    known.write_text(f"[127.0.0.1]:{sshd.port} {key_type} {key}\n")
    monkeypatch.setenv("EDGECNN_KNOWN_HOSTS", str(known))
    with pytest.raises(EdgecnnError, match="does not match the one recorded"):
        _connect(sshd)
    assert len(known.read_text().splitlines()) == 1  # nothing was added


def test_unreadable_known_hosts_fails_closed(sshd, tmp_path, monkeypatch):
    known = tmp_path / "known_hosts"
    known.mkdir()  # exists, cannot be read as a file (permissions do not stop root, which CI runs as)
    monkeypatch.setenv("EDGECNN_KNOWN_HOSTS", str(known))
    with pytest.raises(EdgecnnError, match=r"cannot read the SSH known hosts file .*refusing to connect"):
        _connect(sshd)


def test_unwritable_known_hosts_warns_and_connects(sshd, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("EDGECNN_KNOWN_HOSTS", str(blocker / "known_hosts"))
    _connect(sshd)  # like ssh: the key is not recorded, the connection goes on
    assert capsys.readouterr().err.startswith(f"Warning: could not add '[127.0.0.1]:{sshd.port}' (ED25519) SHA256:")


def test_remove_hint_spells_the_host_as_known_hosts_does(monkeypatch, tmp_path):
    from edgecnn.targets.known_hosts import remove_hint

    monkeypatch.delenv("EDGECNN_KNOWN_HOSTS")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert remove_hint("raspberrypi.local", 22) == "ssh-keygen -R 'raspberrypi.local'"
    assert remove_hint("10.0.0.7", 2222) == "ssh-keygen -R '[10.0.0.7]:2222'"
