#!/usr/bin/env python
"""One process vs two multi-worker processes on this machine: the same job, what it learns, what it costs.

    python tools/distributed_bench.py                  # writes docs/distributed.json, prints a markdown table
    python tools/distributed_bench.py --models lenet5 --limit 1000 --epochs 1 --json /tmp/d.json

Each model is trained twice with the same data, seed, global batch and epochs, each run in fresh processes:

* ``edgecnn train --distribute none`` (one process, TensorFlow's default strategy);
* ``edgecnn train --distribute multi-worker`` as two processes on 127.0.0.1, each given its TF_CONFIG, as a
  cluster manager would start them.

Recorded per run: test accuracy, loss per epoch, training images per second per epoch (metrics.json), the wall
time of the whole job including TensorFlow's start-up, and the load average before and after (this is a shared
machine: two workers on the same cores cannot be faster than one process; the figures show the cost of the
collective all-reduce per step and that the training is the same, not a speed-up).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOOLS = Path(__file__).resolve().parent
for path in (ROOT, TOOLS):
    if str(path) not in sys.path:  # run as a script from a checkout
        sys.path.insert(0, str(path))

SCHEMA = 1


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _train_args(model: str, args: argparse.Namespace) -> list[str]:
    return ["train", model, "--limit", str(args.limit), "--epochs", str(args.epochs), "--batch-size",
            str(args.batch_size), "--seed", "1", "-q"]


def run_job(model: str, workers: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Train once with ``workers`` processes (1: --distribute none); the chief's metrics and the job's cost."""
    out = work / f"{model}-{workers}"
    command = [sys.executable, "-m", "edgecnn", *_train_args(model, args), "-o", str(out)]
    load_before = os.getloadavg()
    start = time.monotonic()
    if workers == 1:
        procs = [subprocess.Popen([*command, "--distribute", "none"], stderr=subprocess.PIPE, text=True)]
    else:
        from edgecnn.distribute import local_cluster, tf_config_json

        addresses = local_cluster(workers)
        procs = []
        for index in range(workers):
            tf_config = tf_config_json({"worker": addresses}, index=index)
            procs.append(subprocess.Popen([*command, "--distribute", "multi-worker"], stderr=subprocess.PIPE,
                                          text=True, env=dict(os.environ, TF_CONFIG=tf_config)))
    errors = [p.communicate()[1] for p in procs]
    wall = time.monotonic() - start
    for proc, err in zip(procs, errors):
        if proc.returncode != 0:
            raise SystemExit(f"{model} with {workers} process(es) failed:\n{err[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "model": model,
        "processes": workers,
        "strategy": metrics["distribution"]["tf_strategy"],
        "replicas": metrics["distribution"]["replicas"],
        "global_batch": metrics["distribution"]["global_batch"],
        "test_accuracy": round(metrics["test_accuracy"], 4),
        "loss": [round(v, 5) for v in metrics["history"]["loss"]],
        "val_accuracy": [round(v, 4) for v in metrics["history"]["val_accuracy"]],
        "images_per_second": metrics["images_per_second"],
        "epoch_seconds": metrics["epoch_seconds"],
        "job_wall_seconds": round(wall, 1),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| model | processes | replicas | global batch | test accuracy | loss per epoch | images/s per epoch "
             "| job wall s | load before |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['processes']} | {r['replicas']} | {r['global_batch']} | "
                     f"{r['test_accuracy']:.4f} | {', '.join(f'{v:.4f}' for v in r['loss'])} | "
                     f"{', '.join(f'{v:,.0f}' for v in r['images_per_second'])} | {r['job_wall_seconds']:.0f} | "
                     f"{r['load_average_before'][0]:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="lenet5,simple_cnn", help="comma-separated zoo models")
    parser.add_argument("--limit", type=int, default=4000, help="training images (Fashion-MNIST)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch")
    parser.add_argument("--json", default=str(ROOT / "docs" / "distributed.json"))
    args = parser.parse_args(argv)

    from edgecnn.fileio import write_json
    from edgecnn.profile import machine_info

    rows = []
    with tempfile.TemporaryDirectory(prefix="edgecnn-distributed-") as work:
        for model in [m.strip() for m in args.models.split(",") if m.strip()]:
            for workers in (1, 2):
                print(f"{_now()} {model}: {workers} process(es)", file=sys.stderr, flush=True)
                rows.append(run_job(model, workers, args, Path(work)))
    result = {"schema": SCHEMA, "measured": _now(), "machine": machine_info(),  # CPU flags included
              "settings": {"limit": args.limit, "epochs": args.epochs, "global_batch": args.batch_size,
                           "data": "fashion_mnist", "seed": 1},
              "rows": rows}
    write_json(args.json, result)
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
