"""A real OpenSSH server on 127.0.0.1 for tests: its own config, host key, user key and free port.

    with LoopbackSSHD(tmp_path) as sshd:
        sshd.target       # "root@127.0.0.1:PORT"
        sshd.user_key     # private key authorised for the current user
        sshd.other_key    # a valid key that is NOT authorised

Needs Debian's ``openssh-server`` (tools/setup.sh installs it) and, for the privilege-separation folder
/run/sshd, root (CI runs as root). :func:`why_unavailable` says why it cannot run, for ``pytest.skip``.
"""
from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def why_unavailable() -> str | None:
    """None if a loopback sshd can run here, else the reason (for a clear skip)."""
    if not os.path.exists(SSHD):
        return f"{SSHD} not found: install openssh-server (tools/setup.sh does)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen not found: install openssh-client"
    if os.geteuid() != 0 and not os.path.isdir("/run/sshd"):
        return "sshd needs /run/sshd (create it as root) to run"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgecnn-test", "-f", str(path)],
                   check=True, capture_output=True)
    return path


class LoopbackSSHD:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.port = free_port()
        self.user = getpass.getuser()
        self.target = f"{self.user}@127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "LoopbackSSHD":
        d = self.folder
        d.mkdir(parents=True, exist_ok=True)
        host_key = _keygen(d / "host_ed25519")
        self.user_key = _keygen(d / "user_ed25519")
        self.other_key = _keygen(d / "other_ed25519")
        (d / "authorized_keys").write_text((d / "user_ed25519.pub").read_text())
        self.log = d / "sshd.log"
        config = d / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {host_key}",
            f"PidFile {d / 'sshd.pid'}",
            f"AuthorizedKeysFile {d / 'authorized_keys'}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",  # tmp folders are world-writable parents
            "PermitRootLogin prohibit-password",  # CI runs as root; keys only
            "Subsystem sftp internal-sftp",
            "LogLevel ERROR",
            "",
        ]))
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        # -D: stay in the foreground (we own the process); -e: log to stderr (our file)
        self._log_handle = open(self.log, "wb")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=self._log_handle,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log_handle.close()
                raise RuntimeError(f"sshd exited with {self.proc.returncode}: {self.log.read_text()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("sshd did not start listening within 15 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._log_handle.closed:
            self._log_handle.close()
