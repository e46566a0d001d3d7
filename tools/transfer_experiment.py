#!/usr/bin/env python
"""What fine-tuning a pretrained body gives over training from scratch at the same budget (README numbers).

No ImageNet download is possible on the machines edgecnn is developed on, so the "pretrained" weights are made
here, offline, and say so:

1. **Pretrain** edgecnn's MobileNetV2 (width 0.35, its Keras Applications layout) on five classes of
   Fashion-MNIST's training split (T-shirt/top, Trouser, Pullover, Sandal, Bag), 64×64 grey, input
   scaled as Keras Applications scales MobileNet inputs (pixel/127.5 − 1), and write the weights as Keras
   Applications' MobileNetV2 ``.h5`` (:func:`edgecnn.pretrained.save_keras_weights`; Keras itself loads it).
2. **Target**: an image folder of the *other* five classes (Dress, Coat, Shirt, Sneaker, Ankle boot), PNGs
   cut from Fashion-MNIST's test split — classes the body never saw, each a relative of a source class (as a
   user's classes are of ImageNet's; upper-body clothes as the source and the rest as the target share so little
   that a linear classifier on the pretrained features did worse than one on raw pixels).
3. For each training-set size (``--limit``) and seed, the same ``edgecnn train`` budget (epochs, batch size,
   learning rate, images) two ways: ``--weights FILE`` (new head first, then fine-tuning; input size and width
   from the file) and from scratch (``--input-size 64 --width 0.35``: at 64 px the zoo picks the same ImageNet
   layout). Accuracy of each run's model on a fixed set of held-out images of the target classes that are not
   in the folder (a run's own test split shrinks with ``--limit``).

    python tools/transfer_experiment.py                 # docs/transfer.json + docs/img/transfer.png
    python tools/transfer_experiment.py --quick         # tiny smoke run (not for docs)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SOURCE_CLASSES = [0, 1, 2, 5, 8]   # T-shirt/top, Trouser, Pullover, Sandal, Bag
TARGET_CLASSES = [3, 4, 6, 7, 9]   # Dress, Coat, Shirt, Sneaker, Ankle boot
MODEL = "mobilenet_v2"
WIDTH = 0.35
SIZE = 64
KERAS_SCALE, KERAS_OFFSET = 1 / 127.5, -1.0  # keras.applications.mobilenet_v2.preprocess_input
MODES = ("transfer", "scratch")


def pretrain(path: Path, *, images: int, epochs: int, seed: int, batch_size: int = 64) -> dict:
    """The offline "pretrained" body: edgecnn's MobileNetV2 on the source classes, saved in Keras' format."""
    import numpy as np

    from edgecnn import create_model, pretrained
    from edgecnn._tf import keras
    from edgecnn.data import load_dataset
    from edgecnn.preprocess import PreprocessSpec

    t0 = time.time()
    # Bilinear 28 → 32 px, as `edgecnn train` resizes the target folder's PNGs.
    spec = PreprocessSpec(SIZE, SIZE, 1, resize="bilinear", scale=KERAS_SCALE, offset=KERAS_OFFSET)
    ds = load_dataset("fashion_mnist", spec, seed=seed)
    keep = np.isin(ds.y_train, SOURCE_CLASSES)
    x, y = ds.x_train[keep][:images], ds.y_train[keep][:images]
    y = np.searchsorted(SOURCE_CLASSES, y)
    keras.utils.set_random_seed(seed)
    model = create_model(MODEL, input_shape=(SIZE, SIZE, 1), num_classes=len(SOURCE_CLASSES), width=WIDTH,
                         stem="imagenet")
    steps = -(-len(x) // batch_size) * epochs
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps, alpha=0.01)),
                  "sparse_categorical_crossentropy", ["accuracy"])
    inputs = x.astype(np.float32) * np.float32(KERAS_SCALE) + np.float32(KERAS_OFFSET)
    history = model.fit(inputs, y, batch_size=batch_size, epochs=epochs, verbose=2)
    vkeep = np.isin(ds.y_test, SOURCE_CLASSES)
    vx = ds.x_test[vkeep].astype(np.float32) * np.float32(KERAS_SCALE) + np.float32(KERAS_OFFSET)
    _, source_accuracy = model.evaluate(vx, np.searchsorted(SOURCE_CLASSES, ds.y_test[vkeep]), verbose=0)
    pretrained.save_keras_weights(model, MODEL, path, KERAS_SCALE, KERAS_OFFSET)
    return {"images": int(len(x)), "epochs": epochs, "source_test_accuracy": round(float(source_accuracy), 4),
            "train_accuracy": round(float(history.history["accuracy"][-1]), 4),
            "seconds": round(time.time() - t0, 1), "weights_file_bytes": path.stat().st_size}


def target_folder(root: Path, per_class: int) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from image_folders import fashion_folder

    return fashion_folder(root, TARGET_CLASSES, per_class, 28, rgb=False)


def heldout(per_class: int, count: int):
    """Fashion-MNIST test images of the target classes that are not in the folder: one fixed test set for every
    run (a run's own test split shrinks with --limit), labels in the folder's (alphabetical) class order."""
    import numpy as np

    from edgecnn.data import load_dataset

    ds = load_dataset("fashion_mnist", None, seed=0)
    labels = sorted(ds.labels[c].replace("/", "_") for c in TARGET_CLASSES)
    xs, ys = [], []
    for c in TARGET_CLASSES:
        index = np.where(ds.y_test == c)[0][per_class:per_class + count]
        xs.append(ds.x_test[index])
        ys.append(np.full(len(index), labels.index(ds.labels[c].replace("/", "_"))))
    return np.concatenate(xs), np.concatenate(ys)


def accuracy_on(run_dir: Path, x, y) -> float:
    import numpy as np

    from edgecnn._tf import keras
    from edgecnn.optimize import zoo_custom_objects
    from edgecnn.preprocess import PreprocessSpec, adapt_batch, to_float_input

    spec = PreprocessSpec.load(run_dir / "preprocess.json")
    with keras.utils.custom_object_scope(zoo_custom_objects()):
        model = keras.models.load_model(run_dir / "model.keras", compile=False)
    scores = model.predict(to_float_input(adapt_batch(x, spec), spec), batch_size=256, verbose=0)
    return float(np.mean(np.argmax(scores, axis=1) == y))


def run(mode: str, folder: Path, weights: Path, *, limit: int | None, epochs: int, seed: int, runs: Path,
        test, batch_size: int = 32) -> dict:
    from edgecnn.train import train

    kwargs: dict = {"epochs": epochs, "limit": limit, "seed": seed, "verbose": False, "batch_size": batch_size,
                    "runs_root": runs, "patience": epochs}
    if mode == "transfer":
        kwargs["weights"] = str(weights)  # input size (64) and width (0.35) come from the weight file
    else:
        kwargs.update(input_size=SIZE, width=WIDTH)
    t0 = time.time()
    result = train(MODEL, str(folder), **kwargs)
    metrics = result.metrics
    return {"mode": mode, "limit": limit, "seed": seed,
            "heldout_accuracy": round(accuracy_on(result.run_dir, *test), 4), "heldout_images": len(test[1]),
            "test_accuracy": round(metrics["test_accuracy"], 4),
            "val_accuracy": round(metrics["val_accuracy"], 4), "train_images": metrics["images"]["train"],
            "test_images": metrics["images"]["test"], "epochs_run": metrics["epochs_run"],
            "seconds": round(time.time() - t0, 1), "run": str(result.run_dir)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "transfer.json"))
    parser.add_argument("--work", default="/tmp/edgecnn-transfer")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    quick = args.quick
    settings = {"pretrain_images": 2000 if quick else 30000, "pretrain_epochs": 1 if quick else 2,
                "per_class": 60 if quick else 400, "heldout_per_class": 100 if quick else 500,
                "limits": [50] if quick else [50, 250, None], "epochs": 2 if quick else 10,
                "batch_size": 32, "seeds": [0] if quick else [0, 1]}
    weights = work / "mobilenet_v2_fashion_upper_body.h5"
    source = pretrain(weights, images=settings["pretrain_images"], epochs=settings["pretrain_epochs"], seed=0)
    print(f"pretrained: {source}", file=sys.stderr)
    folder = target_folder(work / "target", settings["per_class"])
    test = heldout(settings["per_class"], settings["heldout_per_class"])
    rows = []
    for limit in settings["limits"]:
        for seed in settings["seeds"]:
            for mode in MODES:
                row = run(mode, folder, weights, limit=limit, epochs=settings["epochs"], seed=seed,
                          runs=work / "runs", test=test, batch_size=settings["batch_size"])
                print(json.dumps(row), file=sys.stderr)
                rows.append(row)
    import numpy as np

    summary = {}
    for limit in settings["limits"]:
        for mode in MODES:
            accs = [r["heldout_accuracy"] for r in rows if r["limit"] == limit and r["mode"] == mode]
            summary[f"{limit or 'all'}/{mode}"] = {"mean": round(float(np.mean(accs)), 4),
                                                   "min": min(accs), "max": max(accs)}
    from edgecnn.profile import machine_info

    result = {
        "what": "Fashion-MNIST: MobileNetV2 (width 0.35, Keras layout, 64x64 grey) pretrained offline on 5 classes, "
                "fine-tuned vs trained from scratch on an image folder of the 5 other classes, same budget",
        "source_classes": SOURCE_CLASSES, "target_classes": TARGET_CLASSES, "pretraining": source,
        "settings": settings, "summary": summary, "rows": rows,
        "machine": machine_info(),
        "measured": time.strftime("%Y-%m-%d"), "quick": quick,
    }
    from edgecnn.fileio import write_json

    write_json(args.out, result)
    plot(result, Path(args.out).parent / "img" / "transfer.png")
    print(json.dumps(summary, indent=1))
    return 0


def plot(result: dict, path: Path) -> None:
    """Held-out accuracy against training images, fine-tuned and from scratch (each seed a point, the mean a line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgecnn.plots import save_png

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for mode, colour in (("transfer", "tab:blue"), ("scratch", "tab:orange")):
        rows = sorted((r for r in result["rows"] if r["mode"] == mode), key=lambda r: r["train_images"])
        ax.scatter([r["train_images"] for r in rows], [r["heldout_accuracy"] for r in rows], color=colour, s=14)
        sizes = sorted({r["train_images"] for r in rows})
        means = [sum(r["heldout_accuracy"] for r in rows if r["train_images"] == n)
                 / sum(1 for r in rows if r["train_images"] == n) for n in sizes]
        ax.plot(sizes, means, "-", color=colour, label="fine-tuned (--weights)" if mode == "transfer" else "from scratch")
    ax.set_xscale("log")
    ax.set_xlabel("training images (target classes)")
    ax.set_ylabel(f"held-out accuracy ({result['rows'][0]['heldout_images']} images)")
    ax.set_title("MobileNetV2 w0.35, same edgecnn train budget", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_png(fig, path)


if __name__ == "__main__":
    sys.exit(main())
