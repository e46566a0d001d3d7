"""``edgecnn benchmark`` and ``edgecnn recommend``: thin over :mod:`edgecnn.benchmark` and :mod:`edgecnn.recommend`."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from edgecnn.benchmark.variants import VARIANTS, default_variants  # a TF-free registry
from edgecnn.errors import EdgecnnError, UsageError


@click.command("benchmark")
@click.argument("names", nargs=-1, metavar="[NAMES...]")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Where benchmarks.json, BENCHMARKS.md and img/ go (rows already there are kept and resumed).")
@click.option("--quick", is_flag=True, help="1000 images × 2 epochs, few timed runs: LeNet-5 in a couple of minutes.")
@click.option("--variants", default=None, metavar="LIST",
              help=f"Comma-separated variants ({','.join(VARIANTS)}; 'all') [default: {','.join(default_variants())}].")
@click.option("--small", "small", is_flag=True, help="Trained on Fashion-MNIST at each model's small input (default).")
@click.option("--canonical", "canonical", is_flag=True,
              help="The paper's input size with random weights: size and latency only.")
@click.option("--work", default=None, type=click.Path(file_okay=False), metavar="DIR",
              help="Where training runs and .tflite files are kept [default: ~/.cache/edgecnn/benchmark/...].")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Training epochs [default 3; 2 with --quick].")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Training images [default 8000; 1000 with --quick].")
@click.option("--width", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Width multiplier of every model [default: 0.5 for heavy families, else the model's own].")
@click.option("--test-images", type=click.IntRange(min=1), default=None, metavar="N",
              help="Measure accuracy on at most N of the run's test images [default: all of them].")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Timing threads [default 2].")
@click.option("--runs", type=click.IntRange(min=1), default=None, help="Timed invokes per file [default 100].")
@click.option("--timeout", type=click.FloatRange(min=1), default=3 * 3600.0, show_default=True,
              help="Seconds one model may take.")
@click.option("--force", is_flag=True, help="Measure again rows that were measured with the same settings.")
@click.option("--retime", is_flag=True, help="Only time the files of measured rows again (no training or conversion).")
@click.option("--report-only", is_flag=True, help="Only rewrite BENCHMARKS.md and the plots from benchmarks.json.")
def benchmark_command(names: tuple[str, ...], out: str, quick: bool, variants: str | None, small: bool,
                      canonical: bool, work: str | None, epochs: int | None, limit: int | None, width: float | None,
                      test_images: int | None, threads: int | None, runs: int | None, timeout: float, force: bool,
                      retime: bool, report_only: bool) -> None:
    """Train, convert, evaluate and time zoo models through edgecnn itself; write DIR/benchmarks.json,
    DIR/BENCHMARKS.md and plots.

    \b
    NAMES are models, aliases, families or globs (default: every registered model; LeNet-5 with --quick).
    Each model runs in a child process; benchmarks.json is saved after each one, so a second run resumes.
    \b
      edgecnn benchmark --quick -o /tmp/bench
      edgecnn benchmark mobilenet_v3_small resnet18 --variants float32,int8 -o bench
      edgecnn benchmark --small --canonical -o docs       # every model (hours on 2 cores)
    """
    from edgecnn.benchmark import Settings, run

    if sum((force, retime, report_only)) > 1:
        raise UsageError("choose one of --force, --retime and --report-only")
    configs = [c for c, on in (("small", small), ("canonical", canonical)) if on] or ["small"]
    base = Settings.quick_run() if quick else Settings()
    settings = base.with_overrides(epochs=epochs, train_images=limit, width=width, test_images=test_images,
                                   threads=threads, timing_runs=runs)
    command = "edgecnn " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else None
    run(list(names), out=out, work=work, configs=configs, variants=variants, quick=quick, settings=settings,
        force=force, retime=retime, report_only=report_only, timeout=timeout, command=command,
        log=lambda message: click.echo(message, err=True))


@click.command("recommend")
@click.option("--from", "sources", multiple=True, metavar="BENCHMARKS.json",
              help="Rows written by `edgecnn benchmark -o DIR`; repeat it to choose among several benchmarks "
                   "(e.g. one per width) [default: ./benchmarks.json, else docs/benchmarks.json].")
@click.option("--max-latency-ms", type=float, default=None, help="Latency bound (median per image).")
@click.option("--max-size-mb", type=float, default=None, help="File size bound (decimal MB).")
@click.option("--min-accuracy", type=float, default=None, help="Accuracy bound: a fraction (0.85) or a percentage (85).")
@click.option("--target", type=click.Choice(["cpu", "edgetpu"]), default="cpu", show_default=True,
              help="edgetpu: only fully-int8 files qualify.")
@click.option("--host", default=None, metavar="USER@HOST[:PORT]",
              help="Measure the candidates' latency afresh on this machine over SSH (e.g. a Raspberry Pi).")
@click.option("--identity", default=None, metavar="KEYFILE", help="SSH private key for --host.")
@click.option("--remote-python", default=None, metavar="PATH", help="Python on the --host that has edgecnn.")
@click.option("--plot", default="pareto.png", show_default=True, metavar="FILE.png",
              help="Where the Pareto front plot goes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only.")
def recommend_command(sources: tuple[str, ...], max_latency_ms: float | None, max_size_mb: float | None,
                      min_accuracy: float | None, target: str, host: str | None, identity: str | None,
                      remote_python: str | None, plot: str, as_json: bool) -> None:
    """The model × width × precision that meets the bounds with the best accuracy, from measured rows.

    \b
    Prints the Pareto front (accuracy, latency, size), the choice and the edgecnn commands that make its
    file; with --host, the candidates' latency is measured on that device first. When nothing meets the
    bounds, names the nearest row and exits with 1.
      edgecnn recommend --from docs/benchmarks.json --max-latency-ms 1 --max-size-mb 2 --min-accuracy 85
      edgecnn recommend --from bench/benchmarks.json --max-latency-ms 5 --host pi@raspberrypi.local
    """
    from edgecnn import recommend as api
    from edgecnn.report import to_json

    if (identity or remote_python) and not host:
        raise UsageError("--identity and --remote-python need --host")
    bounds = api.Bounds(max_latency_ms, max_size_mb, api.Bounds.accuracy(min_accuracy), target)
    rows = [row for path in (sources or [_find_rows()]) for row in api.load_rows(path)]
    notes: list[str] = []
    if host:
        rows, notes = api.remeasure(rows, bounds, host, identity=identity, remote_python=remote_python)
    rec = api.recommend(rows, bounds)
    rec.notes += notes
    try:
        plotted = api.plot_front(rec, plot)
    except ImportError:
        plotted = None
        rec.notes.append("no plot: matplotlib is not installed (pip install matplotlib)")
    if as_json:
        click.echo(to_json({**rec.to_json(), "plot": str(plotted) if plotted else None}), nl=False)
    else:
        _print(rec, plotted)
    if rec.choice is None:
        raise EdgecnnError(f"nothing meets {bounds.describe()}; nearest: {api.describe(rec.nearest)} "
                           f"({'; '.join(bounds.misses(rec.nearest))})")


def _find_rows() -> Path:
    for candidate in (Path("benchmarks.json"), Path("docs") / "benchmarks.json"):
        if candidate.is_file():
            return candidate
    raise UsageError("no benchmarks.json here or in docs/: give --from FILE (written by `edgecnn benchmark -o DIR`)")


def _print(rec, plotted: Path | None) -> None:
    from edgecnn import recommend as api
    from edgecnn.console import make_console

    console = make_console(highlight=False)
    console.print(api.front_table(rec))
    for note in rec.notes:
        console.print(f"note: {note}", soft_wrap=True)
    if plotted:
        console.print(f"plot: {plotted}")
    if rec.choice is None:
        return
    row = rec.choice
    console.print(f"\nChosen for {rec.bounds.describe()}: [bold]{api.describe(row)}[/bold]", soft_wrap=True)
    if row.get("latency_source"):
        console.print(f"(latency {row['latency_source']})")
    if row.get("file"):
        where = row["file"] if Path(row["file"]).is_file() else f"{row['file']} (not on this machine)"
        console.print(f"Measured file: {where}", soft_wrap=True)
    commands = row.get("reproduce") or []
    if commands:
        console.print("Make it:")
        for line in commands:
            console.print(f"  {line}", soft_wrap=True)
        name = commands[-1].split(" -o ")[-1]
        console.print(f"Check it on the device: edgecnn profile {name} --host USER@HOST", soft_wrap=True)


COMMANDS = [benchmark_command, recommend_command]
