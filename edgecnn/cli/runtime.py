"""``edgecnn profile``, ``edgecnn inspect``, ``edgecnn predict``: the TensorFlow-free runtime commands.

Thin over :mod:`edgecnn.profile`, :mod:`edgecnn.inspect_model` and :mod:`edgecnn.predict`; everything
heavy is imported inside the commands. In ``--json``/``--csv`` mode stdout holds only the data; notes and
progress go to stderr.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgecnn.errors import EdgecnnError, UsageError


def _console(stderr: bool = False) -> Any:
    from edgecnn.console import make_console

    return make_console(stderr=stderr, highlight=False)


def _write_output(path: str, results: list[dict[str, Any]]) -> None:
    """-o FILE: markdown by default, JSON or CSV by the file's suffix (written atomically)."""
    from edgecnn import report
    from edgecnn.fileio import write_text

    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        text = report.to_json(results if len(results) > 1 else results[0])
    elif suffix == ".csv":
        text = report.profile_csv(results)
    else:
        text = report.profile_markdown(results)
    write_text(path, text)


def _profile_options(command: Any) -> Any:
    from edgecnn.profile_options import ProfileOptions

    return ProfileOptions.click_options(command)


@click.command("profile")
@click.argument("models", nargs=-1, required=True, metavar="MODEL.tflite [MODEL2.tflite ...]")
@_profile_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON only (a list for several models).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV only (one row per model).")
@click.option("-o", "--output", default=None, metavar="REPORT.md", help="Also write a report (.md, .json or .csv).")
@click.option("--host", default=None, metavar="USER@HOST[:PORT]", help="Profile on another machine over SSH.")
@click.option("--identity", default=None, metavar="KEYFILE", help="SSH private key for --host.")
@click.option("--remote-python", default=None, metavar="PATH",
              help="Python on the --host that has edgecnn (default: ~/edgecnn/bin/python, ~/.venv/bin/python, python3).")
def profile_cmd(models: tuple[str, ...], as_json: bool, as_csv: bool, output: str | None, host: str | None,
                identity: str | None, remote_python: str | None, **option_values: Any) -> None:
    """Measure load time, latency (mean, std, p50/p90/p99), memory and per-op cost of .tflite models.

    \b
    Several models are timed in one process, interleaved (a turn of each in turn: one run, or back-to-back
    runs filling --min-turn-ms for a faster model), and print one table with speed-up and size ratio against the first:
      edgecnn profile model_float32.tflite model_int8.tflite --num-threads 2
      edgecnn profile model_int8.tflite --op-profiling -o report.md
      edgecnn profile model_int8.tflite --host pi@raspberrypi.local --json
    """
    from edgecnn import report
    from edgecnn.profile import add_ratios, profile
    from edgecnn.profile_options import ProfileOptions

    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    if (identity or remote_python) and not host:
        raise UsageError("--identity and --remote-python need --host")
    options = ProfileOptions.from_kwargs(**option_values)
    quiet = as_json or as_csv
    if host:
        try:
            from edgecnn.targets.remote import profile_remote
        except ImportError as exc:
            raise EdgecnnError(f"remote profiling is not available in this install ({exc})") from exc
        options.to_cli_args(remote=True)  # options that cannot cross (--input) fail before connecting
        results = profile_remote(list(models), options, host, identity, remote_python=remote_python)
        add_ratios(results)
    elif quiet:
        results = profile(list(models), options)
    else:
        what = models[0] if len(models) == 1 else f"{len(models)} models, interleaved"
        with _console(stderr=True).status(f"profiling {what} …"):
            results = profile(list(models), options)

    if any((r.get("machine") or {}).get("runtime_fallback") for r in results):
        from edgecnn.runtime import TFLITE_RUNTIME_WARNING

        click.echo(f"Warning: {TFLITE_RUNTIME_WARNING}", err=True)
    if output:
        _write_output(output, results)
    if as_json:
        click.echo(report.to_json(results if len(results) > 1 else results[0]), nl=False)
        return
    if as_csv:
        click.echo(report.profile_csv(results), nl=False)
        return
    console = _console()
    console.print(report.profile_table(results))
    note = report.interleaving_note(results)
    if note:
        console.print(note, soft_wrap=True)
    for r in results:
        console.print(report.op_table(r))
        console.print(f"Per-op time: {r.get('op_timing')}", soft_wrap=True)
    machine = results[0].get("machine")
    if machine:
        console.print(report.machine_line(machine), soft_wrap=True)
    mem = results[0].get("memory") or {}
    if mem.get("arena_bytes") is None and mem.get("activation_bytes") is not None:
        console.print(f"Arena size is not exposed by the runtime; all activation tensors together take "
                      f"{report.fmt_bytes(mem['activation_bytes'])} (an upper bound).", style="dim")
    if output:
        console.print(f"Wrote {output}")


@click.command("inspect")
@click.argument("model", metavar="MODEL.tflite")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only.")
@click.option("--target", type=click.Choice(["cpu", "coral"]), default="cpu", show_default=True,
              help="cpu: which ops XNNPACK takes; coral: also the Edge TPU compatibility report.")
@click.option("--delegate", default="xnnpack", show_default=True, metavar="xnnpack|none|edgetpu|PATH",
              help="The delegate whose op coverage is checked.")
def inspect_cmd(model: str, as_json: bool, target: str, delegate: str) -> None:
    """Inputs/outputs, op histogram, parameters, MACs, sparsity, int8-ness and delegation of a .tflite."""
    from edgecnn import report
    from edgecnn.inspect_model import inspect_model

    info = inspect_model(model, delegate=delegate, target=target)
    runtime = info.get("runtime") or {}
    if as_json:
        click.echo(report.to_json(info), nl=False)
    else:
        _print_inspect(info)
    if runtime and not runtime.get("ok"):
        raise EdgecnnError(runtime["error"])


def _print_inspect(info: dict[str, Any]) -> None:
    from edgecnn import report

    console = _console()
    console.print(f"[bold]{info['path']}[/bold]: {report.fmt_bytes(info['size_bytes'])}, {info['num_ops']} ops, "
                  f"{info['num_tensors']} tensors, {info['num_subgraphs']} subgraph(s)")
    console.print(report.io_table(info))
    console.print(report.histogram_table(info))
    console.print(f"Parameters: {info['params']:,}   MACs: {info['macs']:,}   "
                  f"weight sparsity: {report.fmt_pct(info['weight_sparsity'])}")
    if info["fully_int8"]:
        console.print("Quantisation: fully int8 (no float tensor left)")
    else:
        dtypes = ", ".join(f"{k} ×{v}" for k, v in info["dtypes"].items())
        console.print(f"Quantisation: not fully int8 — {info['float_tensors']} float tensor(s) ({dtypes})")
    runtime = info.get("runtime") or {}
    if runtime.get("ok"):
        left = ", ".join(f"{d['op']} (op {d['index']})" for d in runtime["not_delegated"]) or "none"
        console.print(f"Delegate {runtime['delegate']}: takes {runtime['ops_delegated']}/{runtime['ops_total']} ops "
                      f"in {runtime['delegate_nodes']} partition(s); left to builtin kernels: {left}")
    coral = info.get("coral")
    if coral:
        table = report.Table(title="Edge TPU (Coral) compatibility", title_justify="left")
        rows = coral.get("table") or []
        if rows:
            for col in rows[0].keys():
                table.add_column(str(col))
            for row in rows:
                table.add_row(*(str(v) for v in row.values()))
            console.print(table)
        console.print(f"Edge TPU: {coral.get('verdict', '')}")


@click.command("predict")
@click.argument("model", metavar="MODEL.tflite")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--top-k", type=int, default=3, show_default=True, help="How many labels per image.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only.")
@click.option("--delegate", default="xnnpack", show_default=True, metavar="xnnpack|none|edgetpu|PATH")
def predict_cmd(model: str, images: tuple[str, ...], top_k: int, as_json: bool, delegate: str) -> None:
    """Top-k labels of images, with labels.txt and preprocess.json beside the model (no TensorFlow)."""
    from edgecnn import report
    from edgecnn.predict import predict

    results = predict(model, list(images), top_k=top_k, delegate=delegate)
    if as_json:
        click.echo(report.to_json(results), nl=False)
    else:
        _console().print(report.predict_table(results))


COMMANDS = [profile_cmd, inspect_cmd, predict_cmd]
