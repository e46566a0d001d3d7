"""The options of ``edgecnn profile`` as one typed object: defaults, validation and command-line flags.

One definition serves every path: :func:`edgecnn.profile.profile` (local), the ``edgecnn profile`` command
(:meth:`ProfileOptions.click_options` makes its flags) and :func:`edgecnn.targets.remote.profile_remote`
(:meth:`ProfileOptions.to_cli_args` turns the object back into those flags for the remote's own
``edgecnn profile``). Each field names its flag in its metadata, so the flags the command accepts and the
flags sent over SSH cannot drift apart (``from_cli_args(o.to_cli_args()) == o``).

TensorFlow-free (the runtime half); click is imported only when flags are built or parsed.
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from edgecnn.errors import UsageError


def _flag(flag: str, kind: type, help: str, metavar: str | None = None, remote: bool = True) -> dict[str, Any]:
    return {"flag": flag, "kind": kind, "help": help, "metavar": metavar, "remote": remote}


def default_threads() -> int:
    """The thread count used when none is given: the cores, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class ProfileOptions:
    """How ``edgecnn profile`` measures (TFLite ``benchmark_model`` names). Invalid values raise UsageError."""

    num_threads: int | None = field(default=None, metadata=_flag(
        "--num-threads", int, "CPU threads (default: cores, at most 4)."))
    warmup_runs: int = field(default=5, metadata=_flag("--warmup-runs", int, "Untimed runs first (default 5)."))
    num_runs: int = field(default=100, metadata=_flag(
        "--num-runs", int, "Timed runs (turns) of each model (default 100); a model faster than --min-turn-ms "
        "runs several times a turn, so it gets more."))
    max_secs: float = field(default=60.0, metadata=_flag(
        "--max-secs", float, "Stop timing after this many seconds per model (default 60)."))
    min_turn_ms: float = field(default=20.0, metadata=_flag(
        "--min-turn-ms", float, "A model faster than this runs back to back until its turn lasts this long, so "
        "interleaved files are each timed in their steady state (default 20; 0: one run a turn).", metavar="MS"))
    delegate: str = field(default="xnnpack", metadata=_flag(
        "--delegate", str, "XNNPACK (default CPU delegate), none (builtin kernels), edgetpu, or a delegate "
        "library path.", metavar="xnnpack|none|edgetpu|PATH"))
    op_profiling: bool = field(default=False, metadata=_flag(
        "--op-profiling", bool, "Measure time per op (LiteRT's profiler, where available)."))
    input: str | None = field(default=None, metadata=_flag(
        "--input", str, "Feed this instead of random data (an image goes through preprocess.json beside the "
        "model).", metavar="FILE.npy|IMAGE", remote=False))

    def __post_init__(self) -> None:
        def need(ok: bool, flag: str, what: str, value: Any) -> None:
            if not ok:
                raise UsageError(f"{flag} must be {what}, got {value}")

        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = f.metadata["kind"]
            if value is None or kind is str:
                continue
            try:
                coerced = kind(value)
            except (TypeError, ValueError):
                raise UsageError(f"{f.metadata['flag']} must be a {kind.__name__}, got {value!r}") from None
            if kind is int and coerced != value:
                raise UsageError(f"{f.metadata['flag']} must be a whole number, got {value}")
            object.__setattr__(self, f.name, coerced)
        need(self.num_threads is None or self.num_threads >= 1, "--num-threads", "at least 1", self.num_threads)
        need(self.num_runs >= 1, "--num-runs", "at least 1", self.num_runs)
        need(self.warmup_runs >= 0, "--warmup-runs", "0 or more (it cannot be negative)", self.warmup_runs)
        need(math.isfinite(self.max_secs) and self.max_secs > 0, "--max-secs", "positive", self.max_secs)
        need(math.isfinite(self.min_turn_ms) and 0 <= self.min_turn_ms <= 1000, "--min-turn-ms",
             "between 0 and 1000", self.min_turn_ms)
        need(bool(self.delegate), "--delegate", "xnnpack, none, edgetpu or a library path", repr(self.delegate))

    # ---- construction ----------------------------------------------------------------------------------

    @classmethod
    def from_kwargs(cls, base: "ProfileOptions | None" = None, **kwargs: Any) -> "ProfileOptions":
        """Options from keyword values (None means "the default"); unknown names are a UsageError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise UsageError(f"unknown profile option(s): {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        given = {k: v for k, v in kwargs.items() if v is not None}
        return dataclasses.replace(base, **given) if base is not None else cls(**given)

    def threads(self) -> int:
        """The thread count to use here (the given one, else :func:`default_threads` of this machine)."""
        return self.num_threads if self.num_threads is not None else default_threads()

    # ---- command-line flags ----------------------------------------------------------------------------

    def to_cli_args(self, *, remote: bool = False) -> list[str]:
        """The ``edgecnn profile`` flags that reproduce these options (defaults are left out).

        ``remote=True`` is for another machine's profiler: options that name local files (``--input``) are
        refused there, and an unset thread count stays unset so that the remote picks its own default.
        """
        args: list[str] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            if remote and not f.metadata["remote"]:
                raise UsageError(f"{f.metadata['flag']} is not supported with --host (the remote feeds random data)")
            if f.metadata["kind"] is bool:
                args.append(f.metadata["flag"])
            else:
                args += [f.metadata["flag"], repr(value) if isinstance(value, float) else str(value)]
        return args

    @classmethod
    def click_options(cls, command: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate a click command with one option per field (parameter names = field names, default None)."""
        import click

        for f in reversed(dataclasses.fields(cls)):
            meta = f.metadata
            if meta["kind"] is bool:
                option = click.option(meta["flag"], f.name, is_flag=True, default=None, help=meta["help"])
            else:
                option = click.option(meta["flag"], f.name, type=meta["kind"], default=None, help=meta["help"],
                                      metavar=meta["metavar"])
            command = option(command)
        return command

    @classmethod
    def from_cli_args(cls, args: Sequence[str]) -> "ProfileOptions":
        """Parse profile flags (as :meth:`to_cli_args` writes them) with the command's own click options."""
        import click

        @click.command()
        @cls.click_options
        def parse(**values: Any) -> None:
            pass

        try:
            with parse.make_context("profile", list(args)) as ctx:
                return cls.from_kwargs(**ctx.params)
        except click.UsageError as exc:
            raise UsageError(exc.format_message()) from None
