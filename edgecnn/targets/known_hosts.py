"""SSH host keys checked the way ``ssh -o StrictHostKeyChecking=accept-new`` checks them (with paramiko).

- ``~/.ssh/known_hosts`` (or ``$EDGECNN_KNOWN_HOSTS``) and ``/etc/ssh/ssh_known_hosts`` are loaded; a file
  that exists but cannot be read stops the connection (fail closed: an unreadable file must not turn every
  host into an unknown one that is then accepted).
- A host with no recorded key: its key is accepted, appended to the user's file (hashed, as Debian's
  ``HashKnownHosts yes`` does) and its SHA256 fingerprint is printed, so the next connection is checked.
- A host whose recorded key differs — or which is recorded with keys of other types only (paramiko then
  finds no matching key) — is refused, with the ``ssh-keygen -R`` command that removes the old entry
  (``'[host]:port'`` for ports other than 22, as known_hosts spells them).
"""
from __future__ import annotations

import base64
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from edgecnn.errors import EdgecnnError

KNOWN_HOSTS_ENV = "EDGECNN_KNOWN_HOSTS"
GLOBAL_KNOWN_HOSTS = Path("/etc/ssh/ssh_known_hosts")
DEFAULT_PORT = 22


def known_hosts_file() -> Path:
    """The user's known_hosts: ``$EDGECNN_KNOWN_HOSTS``, else ``~/.ssh/known_hosts``."""
    return Path(os.path.expanduser(os.environ.get(KNOWN_HOSTS_ENV) or "~/.ssh/known_hosts"))


def host_key_name(host: str, port: int) -> str:
    """How known_hosts names a host: ``host`` on port 22, else ``[host]:port``."""
    return host if port == DEFAULT_PORT else f"[{host}]:{port}"


def fingerprint(key: Any) -> str:
    """OpenSSH's fingerprint of a paramiko key: ``SHA256:`` + unpadded base64 of the key blob's SHA-256."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def key_label(key: Any) -> str:
    """``ED25519``, ``ECDSA``, ``RSA``: the key type as ssh prints it."""
    name = key.get_name()
    return {"ssh-ed25519": "ED25519", "ssh-rsa": "RSA", "ssh-dss": "DSA"}.get(
        name, "ECDSA" if name.startswith("ecdsa") else name)


def remove_hint(host: str, port: int, path: Path | None = None) -> str:
    """The command that forgets a host's recorded key."""
    path = path or known_hosts_file()
    default = Path(os.path.expanduser("~/.ssh/known_hosts"))
    where = "" if path == default else f" -f {path}"
    return f"ssh-keygen{where} -R '{host_key_name(host, port)}'"


def configure(client: Any, paramiko: Any, log: Any = None) -> Path:
    """Load the known_hosts files into ``client`` and set the accept-new policy; returns the user's file."""
    path = known_hosts_file()
    for source, load in ((GLOBAL_KNOWN_HOSTS, client.load_system_host_keys), (path, client.get_host_keys().load)):
        if not source.exists():
            continue
        try:
            load(str(source))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise EdgecnnError(f"cannot read the SSH known hosts file {source} ({reason}): refusing to connect "
                               "without checking the host key") from exc
    client.set_missing_host_key_policy(_accept_new_policy(paramiko, path, log or _stderr))
    return path


def changed_key_message(host: str, port: int, offered: Any, path: Path) -> str:
    return (f"the SSH host key of {host_key_name(host, port)} does not match the one recorded in {path} (it now "
            f"offers {key_label(offered)} {fingerprint(offered)}); someone may be intercepting the connection, or "
            f"the Pi was reinstalled — then remove the old key: {remove_hint(host, port, path)}")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _accept_new_policy(paramiko: Any, path: Path, log: Any) -> Any:
    class AcceptNew(paramiko.MissingHostKeyPolicy):
        """An unknown host: accept its key, record it in the user's known_hosts, print its fingerprint."""

        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            client.get_host_keys().add(hostname, key.get_name(), key)
            what = f"'{hostname}' ({key_label(key)}) {fingerprint(key)}"
            try:
                _append(path, paramiko.hostkeys.HostKeyEntry([paramiko.HostKeys.hash_host(hostname)], key).to_line())
            except OSError as exc:  # like ssh: a read-only home does not stop the connection
                log(f"Warning: could not add {what} to {path}: {exc.strerror or exc}")
                return
            log(f"Warning: Permanently added {what} to the list of known hosts ({path}).")

    return AcceptNew()


def _append(path: Path, line: str) -> None:
    """Append one line to known_hosts, creating it (and ~/.ssh, mode 0700) owner-only when missing."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    needs_newline = path.exists() and path.stat().st_size > 0 and not _ends_with_newline(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(("\n" if needs_newline else "") + line.rstrip("\n") + "\n")


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
