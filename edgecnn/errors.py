"""Errors that the CLI turns into a one-line message and an exit code (never a traceback)."""
from __future__ import annotations


class EdgecnnError(Exception):
    """A problem with the user's input or environment, with a message fit to print as it is.

    ``exit_code`` is what the CLI exits with: 1 for a failure, 2 for bad usage (unknown names, bad flags).
    """

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(EdgecnnError):
    """Bad names or flag values: exit code 2, like click's own usage errors."""

    exit_code = 2


class MissingExtraError(EdgecnnError):
    """A command needs an optional dependency that is not installed."""

    def __init__(self, what: str, extra: str, package: str | None = None):
        hint = f"pip install '.[{extra}]' in the edgecnn repository (edgecnn is installed from a checkout)"
        super().__init__(f"{what} needs the [{extra}] extra{f' ({package})' if package else ''}: {hint}")


def closest_names(name: str, candidates: list[str], n: int = 3) -> list[str]:
    """The candidates most like ``name`` (for 'did you mean' messages)."""
    import difflib

    close = difflib.get_close_matches(name.lower(), candidates, n=n, cutoff=0.4)
    if not close:
        close = [c for c in candidates if name.lower()[:3] in c][:n]
    return close
