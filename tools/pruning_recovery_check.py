#!/usr/bin/env python
"""Would pruning retry? Epoch-1 validation drop of 50 %-pruned benchmark runs.

    python tools/pruning_recovery_check.py WORK/small/*/run --json docs/pruning/recovery_check.json

For each trained run folder (as `edgecnn benchmark` leaves them under its work folder): top-1 of the dense model
on the run's validation split, then `edgecnn.optimize.prune` to 50 % with one fine-tuning epoch and the other
defaults `edgecnn convert RUN --prune 0.5` uses (smallest layers kept dense, distillation), no retry, and top-1
of the stripped pruned model on the same images. `convert --prune` prunes again from the dense model over 2 epochs
exactly when that drop exceeds ``edgecnn.optimize.PRUNE_RECOVER_POINTS``, so a run within it has the same pruned
file with and without the retry: its benchmark row stands as measured.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edgecnn import optimize
from edgecnn.convert import load_run
from edgecnn.fileio import write_text
from edgecnn.runs import read_config

SPARSITY = 0.5


def check_run(run_dir: Path) -> dict:
    """Dense and epoch-1 pruned top-1 on the run's validation images (the data convert would load)."""
    t0 = time.perf_counter()
    model, dataset, spec = load_run(run_dir)
    data = optimize.FineTuneData.from_dataset(dataset, spec)
    dense = optimize.validation_accuracy(model, data)
    pruned = optimize.prune(model, SPARSITY, data=data, epochs=1, keep=optimize.layers_to_keep(model, "smallest"),
                            seed=0, recover_points=None, custom_objects=optimize.zoo_custom_objects())
    after = optimize.validation_accuracy(pruned, data)
    name = str(read_config(run_dir).get("model", run_dir.name))
    return {"run": str(run_dir), "model": name, "val_images": int(len(data.y_val)),
            "train_images": int(len(data.y)), "dense_val": dense, "pruned_val_epoch1": after,
            "drop_points": round((dense - after) * 100, 3),
            "recovers_past_epoch1": (dense - after) * 100 > optimize.PRUNE_RECOVER_POINTS,
            "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("runs", nargs="+", type=Path, help="trained run folders")
    parser.add_argument("--json", type=Path, default=None, help="write the records here (a JSON list)")
    args = parser.parse_args()
    records = []
    for run_dir in args.runs:
        record = check_run(run_dir)
        print(json.dumps(record), flush=True)
        records.append(record)
    if args.json:
        write_text(args.json, json.dumps({"recover_points": optimize.PRUNE_RECOVER_POINTS, "sparsity": SPARSITY,
                                          "records": records}, indent=1) + "\n")


if __name__ == "__main__":
    main()
