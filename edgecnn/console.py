"""The rich Console every command prints with.

Piped or logged output (not a terminal) gets at least 130 columns: rich would otherwise assume 80 and squeeze
tables until names and numbers are cut to '…', which is exactly when the output is being kept.
"""
from __future__ import annotations

from typing import Any

PIPED_MIN_WIDTH = 130


def make_console(*, stderr: bool = False, **kwargs: Any) -> Any:
    from rich.console import Console

    console = Console(stderr=stderr, **kwargs)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=max(console.width, PIPED_MIN_WIDTH), **kwargs)
    return console
