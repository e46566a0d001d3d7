"""Profile .tflite models on another machine (a Raspberry Pi) over SSH with paramiko (TensorFlow-free).

    results = profile_remote(["model_int8.tflite"], ProfileOptions(num_runs=50), "pi@raspberrypi.local",
                             identity="~/.ssh/id_ed25519")

What happens: connect (key file, ssh-agent or the default keys in ~/.ssh), look at the remote machine
(architecture, CPU, OS, Python, whether edgecnn and which TFLite runtime it has), copy the models by SFTP
into a fresh temporary folder, run edgecnn's own profiler there (``python -m edgecnn profile --json …``),
read its JSON back, add a ``"machine"`` dict describing the remote to every result, and delete the folder.

The remote needs only the base install (no TensorFlow): on 64-bit Raspberry Pi OS
``python3 -m venv ~/edgecnn && ~/edgecnn/bin/pip install edgecnn``. The remote Python is found in this order:
``remote_python`` (option or argument), ``$EDGECNN_REMOTE_PYTHON``, ``~/edgecnn/bin/python``,
``~/.venv/bin/python``, ``python3`` — the first one that can import edgecnn.

Every failure becomes one :class:`~edgecnn.errors.EdgecnnError` line: an unreachable host (DNS, refused,
timeout), failed authentication, a changed host key, edgecnn missing on the remote (with the install
command), a 32-bit OS (no ai-edge-litert wheels: what works instead), and a failing remote command (its
own one-line error). Host keys are checked like ssh's ``StrictHostKeyChecking=accept-new``
(:mod:`edgecnn.targets.known_hosts`): a new host's key is recorded in ~/.ssh/known_hosts with its fingerprint
printed, a changed key is refused, and an unreadable known_hosts stops the connection.
"""
from __future__ import annotations

import getpass
import json
import logging
import os
import posixpath
import re
import shlex
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from edgecnn.errors import EdgecnnError, MissingExtraError, UsageError
from edgecnn.targets.known_hosts import changed_key_message
from edgecnn.targets.known_hosts import configure as configure_host_keys

if TYPE_CHECKING:
    from edgecnn.profile_options import ProfileOptions

DEFAULT_PORT = 22
CONNECT_TIMEOUT = 10.0
# Candidates for the remote interpreter after the explicit ones; "~" is the remote home.
DEFAULT_REMOTE_PYTHONS = ("~/edgecnn/bin/python", "~/.venv/bin/python", "python3")

INSTALL_COMMAND = "python3 -m venv ~/edgecnn && ~/edgecnn/bin/pip install edgecnn"
THIRTY_TWO_BIT_HELP = (
    "ai-edge-litert publishes no wheels for 32-bit ARM (armv7l/armv6l), so `pip install edgecnn` fails there. "
    "What works: install 64-bit Raspberry Pi OS (Pi 3, 4, 5, Zero 2 W) and then `" + INSTALL_COMMAND + "`; "
    "or, staying on 32-bit, the old tflite-runtime: `pip install 'numpy<2' tflite-runtime==2.14.0` and "
    "`pip install --no-deps edgecnn click rich pillow` — it cannot load some ops made by TensorFlow >= 2.15 "
    "and runs int8 without XNNPACK (much slower)"
)

# Runs on the remote with its own Python: what the machine is and what it has installed. Standard library only.
_PROBE = r"""
import json, platform, struct, sys
info = {"arch": platform.machine(), "bits": struct.calcsize("P") * 8, "python": platform.python_version(),
        "python_path": sys.executable, "system": platform.system(), "kernel": platform.release()}
try:
    info["os"] = [l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release") if l.startswith("PRETTY_NAME=")][0]
except Exception:
    info["os"] = platform.platform()
parts = {"0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
         "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0b": "Cortex-A76", "0xb76": "ARM1176", "0xc07": "Cortex-A7"}
cpu, cores = None, 0
try:
    for line in open("/proc/cpuinfo"):
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "processor":
            cores += 1
        if key == "model name" and not cpu:
            cpu = value
        if key == "cpu part" and not cpu:
            cpu = parts.get(value.lower(), "ARM CPU part " + value)
except Exception:
    pass
info["cpu"] = cpu or platform.processor() or None
info["cores"] = cores or None
try:
    info["board"] = open("/proc/device-tree/model", "rb").read().rstrip(b"\0").decode()
except Exception:
    info["board"] = None
from importlib import metadata
def version(name):
    try:
        return metadata.version(name)
    except Exception:
        return None
info["edgecnn"] = version("edgecnn")
info["ai_edge_litert"] = version("ai-edge-litert")
info["tflite_runtime"] = version("tflite-runtime")
info["numpy"] = version("numpy")
try:
    import edgecnn
    info["edgecnn"] = getattr(edgecnn, "__version__", info["edgecnn"])
    info["edgecnn_error"] = None
except Exception as exc:
    info["edgecnn"] = None
    info["edgecnn_error"] = (type(exc).__name__ + ": " + str(exc)).splitlines()[0]
print("EDGECNN-PROBE " + json.dumps(info))
"""


def parse_host(spec: str) -> tuple[str, str, int]:
    """``[USER@]HOST[:PORT]`` (IPv6 as ``[addr]:port``) → (user, host, port); user defaults to the local one."""
    m = re.fullmatch(r"(?:([^@\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[^@:\s\[\]]+)(?::(\d+))?", spec.strip())
    if not m:
        raise UsageError(f"--host {spec!r}: expected USER@HOST[:PORT], e.g. pi@raspberrypi.local or pi@10.0.0.7:2222")
    user = m.group(1) or getpass.getuser()
    host = m.group(2).strip("[]")
    port = int(m.group(3)) if m.group(3) else DEFAULT_PORT
    if not 0 < port < 65536:
        raise UsageError(f"--host {spec!r}: port {port} is out of range")
    return user, host, port


def _paramiko() -> Any:
    try:
        import paramiko
    except ImportError as exc:
        raise MissingExtraError("profiling over SSH (--host)", "remote", "paramiko") from exc
    # paramiko's transport thread logs failures with tracebacks; we report them as one line ourselves
    logger = logging.getLogger("paramiko")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    return paramiko


def _connect(user: str, host: str, port: int, identity: str | None, timeout: float) -> Any:
    """An open paramiko SSHClient, or one clear EdgecnnError."""
    paramiko = _paramiko()
    where = f"{user}@{host}:{port}"
    key_file = None
    if identity:
        key_file = os.path.expanduser(identity)
        if not os.path.isfile(key_file):
            raise UsageError(f"--identity {identity}: no such key file")
    client = paramiko.SSHClient()
    known_hosts = configure_host_keys(client, paramiko)  # accept-new: see edgecnn/targets/known_hosts.py
    try:
        client.connect(host, port=port, username=user, key_filename=key_file, timeout=timeout,
                       banner_timeout=timeout, auth_timeout=timeout, allow_agent=key_file is None,
                       look_for_keys=key_file is None)
    except socket.gaierror as exc:
        raise EdgecnnError(f"cannot reach {host}: the name does not resolve ({exc.strerror or exc})") from exc
    except paramiko.BadHostKeyException as exc:
        raise EdgecnnError(changed_key_message(host, port, exc.key, known_hosts)) from exc
    except paramiko.PasswordRequiredException as exc:
        raise EdgecnnError(f"the key {identity} is protected by a passphrase: add it to ssh-agent "
                           f"(ssh-add {identity}) and run again without --identity") from exc
    except paramiko.AuthenticationException as exc:
        how = f"the key {identity}" if identity else "ssh-agent or the default keys in ~/.ssh"
        raise EdgecnnError(f"SSH authentication failed for {user}@{host}:{port} with {how}; check the user name and "
                           f"install your public key on the Pi (ssh-copy-id -p {port} {user}@{host})") from exc
    except paramiko.ssh_exception.NoValidConnectionsError as exc:
        raise EdgecnnError(f"cannot reach {where}: connection refused (is the Pi on and its SSH server enabled? "
                           f"sudo raspi-config → Interface Options → SSH)") from exc
    except (socket.timeout, TimeoutError) as exc:
        raise EdgecnnError(f"cannot reach {where}: timed out after {timeout:g} s (wrong address, or not on "
                           f"this network?)") from exc
    except ConnectionRefusedError as exc:
        raise EdgecnnError(f"cannot reach {where}: connection refused") from exc
    except paramiko.SSHException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        # Under load paramiko may report a dead handshake as "No existing session" (its transport thread
        # gave up reading the banner before connect() looked): the same case, nobody speaks SSH there.
        if "banner" in first.lower() or "no existing session" in first.lower():
            raise EdgecnnError(f"cannot reach {where}: no SSH server answered ({first}); wrong port, or a "
                               f"firewall in the way?") from exc
        raise EdgecnnError(f"SSH to {where} failed: {first}") from exc
    except OSError as exc:
        raise EdgecnnError(f"cannot reach {where}: {exc.strerror or exc}") from exc
    return client


def _run(client: Any, command: str, timeout: float) -> tuple[int, str, str]:
    """Run a shell command on the remote: (exit status, stdout, stderr)."""
    try:
        _, stdout, stderr = client.exec_command(command, timeout=timeout)
        out = stdout.read().decode("utf-8", "replace")
        err = stderr.read().decode("utf-8", "replace")
        return stdout.channel.recv_exit_status(), out, err
    except socket.timeout as exc:
        raise EdgecnnError(f"the remote command did not finish within {timeout:g} s: {command[:80]}") from exc
    except Exception as exc:  # paramiko.SSHException, EOFError: the connection dropped
        raise EdgecnnError(f"the SSH connection failed while running a remote command: {exc}") from exc


def _shell_path(path: str) -> str:
    """Quote a remote path for sh, letting a leading ~ mean the remote home."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def _probe(client: Any, candidates: list[str], timeout: float) -> list[dict[str, Any]]:
    """Run the probe with each candidate interpreter that exists; their answers in order."""
    script = shlex.quote(_PROBE)
    lines = []
    for cand in candidates:
        q = _shell_path(cand)
        lines.append(f"if command -v {q} >/dev/null 2>&1; then echo {shlex.quote('EDGECNN-CANDIDATE ' + cand)}; "
                     f"{q} -c {script} 2>&1; fi")
    rc, out, err = _run(client, "uname -m; " + "; ".join(lines), timeout)
    found = []
    uname = out.splitlines()[0].strip() if out.strip() else None
    cand = None
    for line in out.splitlines():
        if line.startswith("EDGECNN-CANDIDATE "):
            cand = line[len("EDGECNN-CANDIDATE "):]
        elif line.startswith("EDGECNN-PROBE ") and cand is not None:
            try:
                info = json.loads(line[len("EDGECNN-PROBE "):])
            except json.JSONDecodeError:
                continue
            info["command"] = cand
            info["uname"] = uname
            found.append(info)
    if not found:
        found.append({"command": None, "uname": uname, "arch": uname, "bits": None, "python": None,
                      "edgecnn": None, "edgecnn_error": "no Python 3 found"})
    return found


def check_machine(candidates: list[dict[str, Any]], where: str) -> dict[str, Any]:
    """Pick the interpreter that has edgecnn, or raise the error that tells the user what to install."""
    for info in candidates:
        if info.get("edgecnn"):
            return info
    first = candidates[0]
    arch = (first.get("arch") or first.get("uname") or "?").lower()
    if arch in ("armv7l", "armv6l", "armv7", "armhf", "arm") or first.get("bits") == 32:
        kernel = f", {first['uname']} kernel" if first.get("uname") and first.get("uname") != arch else ""
        raise EdgecnnError(f"{where} runs a 32-bit OS ({arch}{kernel}) and edgecnn is not installed there. "
                           + THIRTY_TWO_BIT_HELP)
    if first.get("python") is None:
        raise EdgecnnError(f"no Python 3 on {where} ({arch}): sudo apt install python3 python3-venv, then "
                           f"{INSTALL_COMMAND}")
    tried = ", ".join(c["command"] for c in candidates if c.get("command"))
    detail = candidates[-1].get("edgecnn_error") or "not installed"
    raise EdgecnnError(f"edgecnn is not installed on {where} ({arch}, Python {first['python']}; tried {tried}: "
                       f"{detail}). Install it there (64-bit Raspberry Pi OS): {INSTALL_COMMAND}")


def _machine_dict(info: dict[str, Any], user: str, host: str, port: int) -> dict[str, Any]:
    runtime = (f"ai-edge-litert {info['ai_edge_litert']}" if info.get("ai_edge_litert") else
               f"tflite-runtime {info['tflite_runtime']}" if info.get("tflite_runtime") else None)
    return {
        "host": f"{user}@{host}:{port}",
        "arch": info.get("arch"),
        "bits": info.get("bits"),
        "cpu": info.get("cpu"),
        "cores": info.get("cores"),
        "board": info.get("board"),
        "os": info.get("os"),
        "kernel": info.get("kernel"),
        "python": info.get("python"),
        "python_path": info.get("python_path"),
        "edgecnn": info.get("edgecnn"),
        "runtime": runtime,
        "numpy": info.get("numpy"),
    }


def _parse_results(text: str) -> list[dict[str, Any]]:
    """The profiler's --json output: one JSON document (object or list), or one object per line."""
    text = text.strip()
    try:
        doc = json.loads(text)
        docs = doc if isinstance(doc, list) else [doc]
    except json.JSONDecodeError:
        docs = []
        for line in text.splitlines():
            line = line.strip()
            if line.startswith(("{", "[")):
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    continue
                docs += item if isinstance(item, list) else [item]
    if not docs or not all(isinstance(d, dict) for d in docs):
        raise EdgecnnError("the remote profiler printed no JSON results" +
                           (f": {text.splitlines()[-1][:200]}" if text else ""))
    return docs


def _remote_error(stderr: str, stdout: str) -> str:
    """The remote's one-line error (edgecnn prints 'Error: …'), else its last line of output."""
    lines = [ln.strip() for ln in (stderr + "\n" + stdout).splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith("Error:"):
            return line[len("Error:"):].strip()
    return lines[-1][:300] if lines else "no output"


def _relabel(obj: Any, mapping: dict[str, str]) -> Any:
    """Replace remote model paths by the local ones everywhere in a result."""
    if isinstance(obj, str):
        return mapping.get(obj, obj)
    if isinstance(obj, list):
        return [_relabel(v, mapping) for v in obj]
    if isinstance(obj, dict):
        return {k: _relabel(v, mapping) for k, v in obj.items()}
    return obj


def profile_remote(model_paths: list[str | os.PathLike], options: "ProfileOptions | Mapping[str, Any] | None",
                   host: str, identity: str | None = None, *, remote_python: str | None = None,
                   connect_timeout: float = CONNECT_TIMEOUT, command_timeout: float = 1800.0) -> list[dict[str, Any]]:
    """Profile models on ``host`` (``USER@HOST[:PORT]``) with the remote's own ``edgecnn profile --json``.

    ``options``: a :class:`~edgecnn.profile_options.ProfileOptions` (or a dict of its field names, checked the
    same way), sent as the profile command's flags (:meth:`~ProfileOptions.to_cli_args`); ``--input`` cannot
    cross (the remote feeds random data). The remote interpreter is ``remote_python``, else
    ``$EDGECNN_REMOTE_PYTHON``, else the first of :data:`DEFAULT_REMOTE_PYTHONS` that has edgecnn. Returns
    the remote's per-model result dicts (model paths relabelled to the local ones), each with ``"machine"``
    (host, arch, bits, cpu, cores, board, os, python, edgecnn and runtime versions). Raises
    :class:`EdgecnnError` with one line for every failure.
    """
    from edgecnn.profile_options import ProfileOptions

    if not isinstance(options, ProfileOptions):
        options = ProfileOptions.from_kwargs(**dict(options or {}))
    profile_args = options.to_cli_args(remote=True)
    remote_python = remote_python or os.environ.get("EDGECNN_REMOTE_PYTHON")
    models = [Path(p) for p in model_paths]
    if not models:
        raise UsageError("no model to profile")
    for m in models:
        if not m.is_file():
            raise EdgecnnError(f"{m}: no such file")
    user, hostname, port = parse_host(host)
    where = f"{user}@{hostname}:{port}"

    client = _connect(user, hostname, port, identity, connect_timeout)
    tmp = None
    try:
        candidates = [remote_python] if remote_python else list(DEFAULT_REMOTE_PYTHONS)
        info = check_machine(_probe(client, candidates, connect_timeout * 3), where)
        machine = _machine_dict(info, user, hostname, port)
        python = _shell_path(info["command"])

        rc, out, err = _run(client, "mktemp -d /tmp/edgecnn-profile.XXXXXX", connect_timeout * 3)
        if rc != 0 or not out.strip():
            raise EdgecnnError(f"cannot create a temporary folder on {where}: {_remote_error(err, out)}")
        tmp = out.strip().splitlines()[-1]
        mapping: dict[str, str] = {}
        remote_files = []
        try:
            sftp = client.open_sftp()
        except Exception as exc:
            raise EdgecnnError(f"SFTP is not available on {where} ({exc}); enable the sftp subsystem in "
                               f"/etc/ssh/sshd_config") from exc
        try:
            for i, m in enumerate(models):
                # a numbered sub-folder keeps equal file names from different folders apart
                folder = posixpath.join(tmp, str(i))
                sftp.mkdir(folder)
                remote = posixpath.join(folder, m.name)
                sftp.put(str(m), remote)
                remote_files.append(remote)
                mapping[remote] = str(m)
        except OSError as exc:
            raise EdgecnnError(f"copying the model to {where}:{tmp} failed: {exc.strerror or exc}") from exc
        finally:
            sftp.close()

        cmd = " ".join([f"cd {shlex.quote(tmp)} &&", python, "-m edgecnn profile --json",
                        *map(shlex.quote, profile_args), *map(shlex.quote, remote_files)])
        rc, out, err = _run(client, cmd, command_timeout)
        if rc != 0:
            raise EdgecnnError(f"edgecnn profile failed on {where}: {_remote_error(err, out)}")
        results = _relabel(_parse_results(out), mapping)
        for r in results:
            # the remote profiler describes its own machine; add what the probe knows and where it is
            r["machine"] = {**machine, **(r.get("machine") or {}), "host": machine["host"]}
        return results
    finally:
        if tmp is not None:
            try:
                _run(client, f"rm -rf {shlex.quote(tmp)}", connect_timeout * 3)
            except EdgecnnError:
                pass  # cleaning up is best effort: /tmp on the Pi is emptied at boot anyway
        client.close()
