"""Train a zoo model on real data into a run folder, with a checkpoint every epoch and ``resume``.

One run, start to finish:

1. check the data source (one-line errors for bad folders before TensorFlow loads), resolve the model;
2. choose the input: size from the model's ``small_input``, channels from the data (Fashion-MNIST: 1),
   resize method from the source (``pad`` for Fashion-MNIST's 28→32, ``bilinear`` for digits/photos),
   scale ``1/255``, offset 0 (recorded in preprocess.json and applied in the tf.data pipeline exactly as
   :func:`edgecnn.preprocess.to_float_input` does);
3. write config.json, preprocess.json and labels.txt into a fresh run folder;
4. fit with Adam + sparse categorical cross-entropy; after every epoch the checkpoint (weights, optimiser,
   epoch, early-stopping state, history) is written, so ``resume=True`` continues after Ctrl-C or a kill
   from the last completed epoch; on several devices or machines the fit runs under a tf.distribute
   strategy (:mod:`edgecnn.distribute`: global batch, sharding, who writes), and a restarted multi-worker
   job resumes by itself;
5. early stopping on validation accuracy (``patience`` epochs) restores the best weights; then test
   accuracy, training_curve.png, metrics.json and, last, model.keras (atomically: a run with model.keras
   is complete).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgecnn import __version__, distribute as dist, runs
from edgecnn._tf import keras, tf
from edgecnn.data import Dataset, describe_source, load_dataset, source_kind
from edgecnn.errors import EdgecnnError, UsageError
from edgecnn.fileio import read_json, write_bytes, write_json
from edgecnn.preprocess import PreprocessSpec

# Epoch caps for the full Fashion-MNIST training set (early stopping often ends sooner); unknown families get
# DEFAULT_EPOCHS. Small families take minutes on 2 cores, the heaviest hours: the training column of
# docs/benchmarks_legacy.md gives measured seconds per budget, and the README how to shorten a run.
EPOCHS_BY_FAMILY = {
    "simple": 10, "lenet": 12, "alexnet": 8, "vgg": 6, "googlenet": 6, "resnet": 6, "densenet": 5,
    "mobilenet_v1": 5, "mobilenet_v2": 5, "mobilenet_v3": 6, "mobilenet": 5, "efficientnet": 6, "convnext": 6,
}
DEFAULT_EPOCHS = 6
# Knobs of the default small-image run (no --input-size), where they differ from the canonical model:
# MobileNetV2 at width 0.5 trains 2.3x faster than at 1.0 on 2 cores (113 vs 254 CPU-seconds an epoch of
# Fashion-MNIST) so that `edgecnn train mobilenet` finishes in about five minutes; --width 1.0 overrides.
SMALL_INPUT_KNOBS = {"mobilenet_v2": {"width": 0.5}}
DEFAULT_BATCH_SIZE = 128
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_PATIENCE = 3
STATE_FILE = "state.json"
BEST_WEIGHTS_FILE = "best_weights.npz"  # before per-epoch names; still read on resume


@dataclass
class TrainResult:
    """Where the run went and what it measured (the contents of metrics.json)."""

    run_dir: Path
    metrics: dict[str, Any]
    is_chief: bool = True  # False on the other workers of a multi-worker job: the chief wrote run_dir

    @property
    def test_accuracy(self) -> float:
        return float(self.metrics["test_accuracy"])


def default_epochs(family: str, name: str = "") -> int:
    return EPOCHS_BY_FAMILY.get(family, EPOCHS_BY_FAMILY.get(name, DEFAULT_EPOCHS))


def train(
    model_name: str,
    data: str | os.PathLike = "fashion_mnist",
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    input_size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    width: float | None = None,
    learning_rate: float | None = None,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    limit: int | None = None,
    seed: int | None = None,
    verbose: bool = True,
    max_minutes: float | None = None,
    patience: int | None = None,
    runs_root: str | os.PathLike = "runs",
    callbacks: Sequence[Any] = (),
    distribute: str = "none",
    lr_scaling: str | None = None,
    mixed_precision: bool = False,
    weights: str | None = None,
    head_epochs: int | None = None,
    **knobs: Any,
) -> TrainResult:
    """Train ``model_name`` on ``data`` into a run folder; see the module docstring for the steps.

    ``resume=True`` continues the run in ``out_dir`` (or the newest unfinished run of the model under
    ``runs_root``) with its saved settings; only ``epochs`` and ``max_minutes`` may be changed then.
    ``callbacks`` are extra Keras callbacks (they run after the per-epoch checkpoint).
    ``distribute`` is one of :data:`edgecnn.distribute.CHOICES` (``none``, one device, unless asked: callers
    such as ``edgecnn convert`` train in their own process; the CLI's default is ``auto``); ``batch_size`` is the
    global batch;
    ``lr_scaling`` (none, linear, sqrt) scales the learning rate with it; ``mixed_precision`` needs a GPU.
    A multi-worker job needs ``out_dir`` on storage every worker reads, and continues there by itself when
    restarted after a failure.
    ``weights`` (a Keras Applications .h5 or "imagenet") makes it a transfer-learning run (edgecnn.transfer):
    head first for ``head_epochs``, then fine-tuning.
    """
    if lr_scaling is not None and lr_scaling not in dist.LR_SCALING:
        raise UsageError(f"lr_scaling must be one of {', '.join(dist.LR_SCALING)}, got {lr_scaling!r}")
    if mixed_precision:
        dist.check_mixed_precision()
    if dist.resolve(distribute)[0] == "multi-worker" and out_dir is None:
        raise UsageError("multi-worker training needs -o RUN_DIR, the same folder for every worker, on storage "
                         "they all can read (a restarted job resumes from the chief's checkpoint there)")
    # First: multi-worker must set TensorFlow up before anything else runs in the process.
    plan = dist.make_plan(distribute, log=lambda line: print(line, file=sys.stderr) if verbose else None)
    if plan.multi_worker:
        resume = resume or _was_started(Path(out_dir))
    given = {"data": data if data != "fashion_mnist" else None, "batch_size": batch_size,
             "input_size": input_size, "channels": channels, "width": width, "learning_rate": learning_rate,
             "limit": limit, "seed": seed, "patience": patience, "knobs": knobs or None,
             "lr_scaling": lr_scaling, "mixed_precision": mixed_precision or None, "weights": weights}
    if resume:
        run_dir, config = _resume_config(model_name, out_dir, runs_root, given)
        if epochs is not None:
            config["epochs"] = _positive_int(epochs, "epochs")
        if max_minutes is not None:
            config["max_minutes"] = _positive_float(max_minutes, "max_minutes")
        spec = PreprocessSpec.load(run_dir / runs.PREPROCESS_FILE)
        dataset = load_dataset(config["data"]["source"], spec, seed=config["data"]["seed"],
                               limit=config["data"]["limit"])
        _check_labels(dataset, run_dir)
    else:
        config, spec = _new_config(model_name, data, epochs=epochs, batch_size=batch_size, input_size=input_size,
                                   channels=channels, width=width, learning_rate=learning_rate, limit=limit,
                                   seed=seed, max_minutes=max_minutes, patience=patience, knobs=knobs)
        # Settings a resumed run must keep: the optimiser (loss scaling) and the step size depend on them.
        config.update(lr_scaling=lr_scaling or "none", mixed_precision=bool(mixed_precision))
        if weights is not None:  # transfer learning: the pretrained body's layout, input size and scaling
            from edgecnn import transfer

            spec = transfer.configure(config, spec, weights, input_size_given=input_size is not None,
                                      width_given=width is not None or "width" in knobs, head_epochs=head_epochs)
        dataset = load_dataset(data, spec, seed=config["data"]["seed"], limit=limit)
        config["num_classes"] = dataset.num_classes
        config["data"]["images"] = {"train": len(dataset.x_train), "val": len(dataset.x_val),
                                    "test": len(dataset.x_test)}
        _build_model(config)  # bad knobs fail here, before a run folder exists
        if "transfer" in config:
            spec.scale, spec.offset = transfer.input_scaling(config)
        if plan.is_chief:
            run_dir = _claim_run_dir(config["model"], out_dir, runs_root,
                                     reuse_if_unstarted=config if plan.multi_worker else None)
            write_json(run_dir / runs.CONFIG_FILE, config)
            spec.save(run_dir / runs.PREPROCESS_FILE)
            runs.write_labels(run_dir, dataset.labels)
        else:
            run_dir = Path(out_dir)  # only the chief writes it
    if config.get("mixed_precision"):
        dist.check_mixed_precision()
    return _fit(run_dir, config, spec, dataset, plan=plan, verbose=verbose, extra_callbacks=list(callbacks))


# ---- configuration -----------------------------------------------------------------------------------

def _positive_int(value: Any, what: str) -> int:
    if int(value) != value or int(value) < 1:
        raise UsageError(f"{what} must be a positive whole number, got {value}")
    return int(value)


def _positive_float(value: Any, what: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{what} must be positive, got {value}")
    return value


def _new_config(model_name: str, data: str | os.PathLike, *, epochs, batch_size, input_size, channels, width,
                learning_rate, limit, seed, max_minutes, patience, knobs) -> tuple[dict[str, Any], PreprocessSpec]:
    source = describe_source(data)  # TF-free and quick: a bad folder fails before the model is built
    from edgecnn.zoo import get_spec

    model_spec = get_spec(model_name)
    if input_size is None:
        height, width_px = model_spec.small_input[:2]
    elif isinstance(input_size, (tuple, list)):
        height, width_px = (int(v) for v in input_size)
    else:
        height = width_px = int(input_size)
    if min(height, width_px) < 1:
        raise UsageError(f"input size must be positive, got {height}x{width_px}")
    channels = source.channels if channels is None else int(channels)
    if channels not in (1, 3):
        raise UsageError(f"channels must be 1 or 3, got {channels}")
    if input_size is None:
        knobs = {**SMALL_INPUT_KNOBS.get(model_spec.name, {}), **knobs}
    if width is not None:
        knobs = dict(knobs, width=float(width))
    spec = PreprocessSpec(height, width_px, channels, resize=source.default_resize)
    kind = source_kind(data)
    config = {
        "model": model_spec.name,
        "family": model_spec.family,
        "input_shape": [height, width_px, channels],
        "num_classes": len(source.labels),
        "knobs": knobs,
        "data": {
            "source": str(Path(data).resolve()) if kind == "folder" else kind,
            "seed": 0 if seed is None else int(seed),
            "limit": None if limit is None else _positive_int(limit, "limit"),
            "resize": spec.resize,
        },
        "epochs": _positive_int(epochs, "epochs") if epochs is not None else default_epochs(model_spec.family,
                                                                                              model_spec.name),
        "batch_size": _positive_int(batch_size or DEFAULT_BATCH_SIZE, "batch_size"),
        "learning_rate": _positive_float(learning_rate or DEFAULT_LEARNING_RATE, "learning_rate"),
        "lr_schedule": "cosine",
        "optimizer": "adam",
        "loss": "sparse_categorical_crossentropy",
        "patience": _positive_int(patience or DEFAULT_PATIENCE, "patience"),
        "max_minutes": None if max_minutes is None else _positive_float(max_minutes, "max_minutes"),
        "seed": 0 if seed is None else int(seed),
        "edgecnn_version": __version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
    }
    return config, spec


def _claim_run_dir(model: str, out_dir: str | os.PathLike | None, runs_root: str | os.PathLike, *,
                   reuse_if_unstarted: dict[str, Any] | None = None) -> Path:
    """A fresh run folder. ``reuse_if_unstarted``: a restarted multi-worker job may take over a folder whose run
    has exactly this config and stopped before its first checkpoint (the same job, killed in epoch 1)."""
    if out_dir is None:
        return runs.new_run_dir(model, runs_root)
    path = Path(out_dir)
    if reuse_if_unstarted is not None and _is_unstarted_run(path, reuse_if_unstarted):
        return path
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise EdgecnnError(f"{path} already exists and is not empty; choose another -o folder "
                           "(or add --resume to continue an interrupted run there)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgecnnError(f"cannot create {path}: {exc.strerror or exc}") from exc
    return path


def _was_started(run_dir: Path) -> bool:
    """A run folder with a checkpoint: a restarted multi-worker job continues it (finished runs are refused)."""
    return (run_dir / runs.CHECKPOINT_DIR / STATE_FILE).is_file()


def _is_unstarted_run(run_dir: Path, config: dict[str, Any]) -> bool:
    if not (run_dir / runs.CONFIG_FILE).is_file() or _was_started(run_dir) or runs.is_complete(run_dir):
        return False
    try:
        return runs.read_config(run_dir) == json.loads(json.dumps(config))
    except EdgecnnError:
        return False


def _resume_config(model_name: str, out_dir, runs_root, given: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    from edgecnn.zoo import resolve_name

    name = resolve_name(model_name)
    if out_dir is not None:
        run_dir = Path(out_dir)
    else:
        found = runs.newest_unfinished_run(name, runs_root)
        if found is None:
            raise EdgecnnError(f"no interrupted run of {name} under {runs_root} to resume; "
                               "start one without --resume (or give its folder with -o)")
        run_dir = found
    config = runs.read_config(run_dir)
    if config.get("model") != name:
        raise UsageError(f"{run_dir} is a run of {config.get('model')}, not {name}")
    if runs.is_complete(run_dir):
        raise EdgecnnError(f"{run_dir} already finished (it has {runs.MODEL_FILE}); nothing to resume")
    if not (run_dir / runs.CHECKPOINT_DIR / STATE_FILE).is_file():
        raise EdgecnnError(f"{run_dir} has no checkpoint yet (interrupted before the first epoch ended); "
                           "start a new run instead")
    saved = {"data": config["data"]["source"], "batch_size": config["batch_size"],
             "input_size": tuple(config["input_shape"][:2]), "channels": config["input_shape"][2],
             "width": config["knobs"].get("width"), "learning_rate": config["learning_rate"],
             "limit": config["data"]["limit"], "seed": config["seed"], "patience": config["patience"],
             "knobs": {k: v for k, v in config["knobs"].items() if k != "width"} or None,
             "lr_scaling": config.get("lr_scaling", "none"), "mixed_precision": config.get("mixed_precision", False),
             "weights": (config.get("transfer") or {}).get("weights")}
    for key, value in given.items():
        if value is None:
            continue
        if key == "data" and source_kind(value) == "folder":
            value = str(Path(value).resolve())
        if key == "input_size" and not isinstance(value, (tuple, list)):
            value = (int(value), int(value))
        if key == "input_size":
            value = tuple(int(v) for v in value)
        if key == "weights" and value != "imagenet":
            value = str(Path(value).resolve())
        if value != saved[key]:
            raise UsageError(f"--resume continues {run_dir} with its saved settings: {key} was {saved[key]}, "
                             f"not {value} (only --epochs and --max-minutes may change)")
    return run_dir, config


def _check_labels(dataset: Dataset, run_dir: Path) -> None:
    saved = runs.read_labels(run_dir)
    if saved != dataset.labels:
        raise EdgecnnError(f"the data's classes changed since {run_dir} started "
                           f"({len(saved)} saved, {len(dataset.labels)} now); start a new run")


def _build_model(config: dict[str, Any]):
    from edgecnn.zoo import create_model

    if "transfer" in config:
        from edgecnn import transfer

        return transfer.build(config)

    keras.utils.set_random_seed(config["seed"])
    return create_model(config["model"], input_shape=tuple(config["input_shape"]),
                        num_classes=config["num_classes"], **config["knobs"])


# ---- input pipeline ----------------------------------------------------------------------------------

def make_tf_dataset(x: np.ndarray, y: np.ndarray, spec: PreprocessSpec, batch_size: int, *,
                    shuffle: bool = False, seed: int = 0, cache: bool = False):
    """uint8 images → batches of float32 ``pixel * scale + offset`` (as preprocess.to_float_input), prefetched.

    The conversion runs on whole batches in parallel (``map`` with AUTOTUNE) while the model works on the previous
    batch (``prefetch``). ``cache`` keeps the converted batches after the first pass: for the validation set,
    which is read every epoch in the same order. The training set is not cached: it is in memory as uint8
    already, reshuffled every epoch, and a float32 copy would take four times the memory. ``batch_size`` is the
    global batch; under a tf.distribute strategy each worker keeps its part of every batch (shard_options).
    """
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    scale, offset = np.float32(spec.scale), np.float32(spec.offset)

    def to_input(images, labels):
        return tf.cast(images, tf.float32) * scale + offset, labels

    ds = ds.batch(batch_size).map(to_input, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    return ds.prefetch(tf.data.AUTOTUNE).with_options(dist.shard_options())


# ---- checkpoint + early stopping ---------------------------------------------------------------------

class _EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch: track the best validation accuracy, save weights + optimiser + state, stop early.

    Every file of an epoch gets a new name (``epoch-N.*``, ``best-epoch-N.npz``); the state file is written
    last and atomically and names the checkpoint and best weights it belongs to, and only then are the older
    files removed. So a kill at any moment leaves the previous epoch's set intact: a consistent resume point.
    """

    def __init__(self, ckpt_dir: Path, state: dict[str, Any], config: dict[str, Any], best_weights, *,
                 plan: dist.Plan | None = None, scratch_dir: Path | None = None, train_images: int | None = None):
        super().__init__()
        self.ckpt_dir = ckpt_dir
        self.state = state
        self.config = config
        self.best_weights = best_weights
        # Under multi-worker every worker runs this callback in step (saving and reading weights may be
        # collective); only the chief writes ckpt_dir, the others put their copy in scratch_dir and drop it.
        self.plan = plan
        self.is_chief = plan is None or plan.is_chief
        self.scratch_dir = scratch_dir
        self.train_images = train_images
        self.train_phase_end: float | None = None
        self.session_start = time.monotonic()
        self.cpu_start = time.process_time()
        self.seconds_before = float(state.get("train_seconds", 0.0))
        self.cpu_before = float(state.get("cpu_seconds", 0.0))
        self.epoch_start = self.session_start
        self.epochs_before = int(state.get("epoch", 0))

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.epoch_start = time.monotonic()
        self.train_phase_end = None

    def on_test_begin(self, logs: dict[str, float] | None = None) -> None:
        if self.train_phase_end is None:  # validation starts: this epoch's training steps are done
            self.train_phase_end = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        state = self.state
        now = time.monotonic()
        state.setdefault("epoch_seconds", []).append(round(now - self.epoch_start, 2))
        if self.train_images:  # all workers' images per second of training steps (validation excluded)
            seconds = (self.train_phase_end or now) - self.epoch_start
            state.setdefault("images_per_second", []).append(round(self.train_images / max(seconds, 1e-9), 1))
        for key, value in logs.items():
            state["history"].setdefault(key, []).append(float(value))
        done = epoch + 1
        val_acc = float(logs.get("val_accuracy", float("nan")))
        if state["best_epoch"] == 0 or val_acc > state["best_val_accuracy"]:
            state.update(best_val_accuracy=val_acc, best_epoch=done, wait=0)
            self.best_weights[:] = self.model.get_weights()
            state["best_weights"] = f"best-epoch-{done}.npz"
            if self.is_chief:
                _save_weights_npz(self.ckpt_dir / state["best_weights"], self.best_weights)
        else:
            state["wait"] += 1
        elapsed = time.monotonic() - self.session_start
        state["train_seconds"] = self.seconds_before + elapsed
        # CPU seconds of all threads: on a shared machine, wall time says little about the cost.
        state["cpu_seconds"] = self.cpu_before + time.process_time() - self.cpu_start
        state["epoch"] = done
        if state["wait"] >= self.config["patience"]:
            state["stopped"] = f"early stopping (no better validation accuracy for {state['wait']} epochs)"
            self.model.stop_training = True
        budget = self.config.get("max_minutes")
        if budget and done < self.config["epochs"]:
            per_epoch = elapsed / max(1, done - self.epochs_before)
            over = state["train_seconds"] + per_epoch > budget * 60
            if self.plan is not None:  # clocks differ between workers; all must stop at the same epoch
                over = self.plan.any_worker(over)
            if over:
                state["stopped"] = f"time budget of {budget:g} min"
                self.model.stop_training = True
        state["checkpoint"] = f"epoch-{done}"
        write_dir = self.ckpt_dir if self.is_chief else self.scratch_dir
        checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.model.optimizer)
        checkpoint.write(str(write_dir / state["checkpoint"]))
        if self.is_chief:
            write_json(self.ckpt_dir / STATE_FILE, state)
            _remove_unreferenced(self.ckpt_dir, state)
        else:
            for path in write_dir.iterdir():  # a worker's copy only existed for the collective save
                path.unlink(missing_ok=True)


def _remove_unreferenced(ckpt_dir: Path, state: dict[str, Any]) -> None:
    """Delete the checkpoint and best-weights files of earlier epochs (the state no longer names them).

    Listed with iterdir, not glob: a run folder named like ``run[1]`` would be read as a glob pattern."""
    keep_prefix = f"{state['checkpoint']}."
    for path in ckpt_dir.iterdir():
        name = path.name
        stale_checkpoint = name.startswith("epoch-") and not name.startswith(keep_prefix)
        stale_best = (name.startswith("best-epoch-") or name == BEST_WEIGHTS_FILE) and name != state.get(
            "best_weights")
        if stale_checkpoint or stale_best:
            path.unlink(missing_ok=True)


def _cpu_threads() -> int:
    """How many CPU threads TensorFlow may use here (its default: all cores this process may run on)."""
    configured = tf.config.threading.get_intra_op_parallelism_threads()
    if configured:
        return int(configured)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return os.cpu_count() or 1


def _save_weights_npz(path: Path, weights: list[np.ndarray]) -> None:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, *weights)
    write_bytes(path, buffer.getvalue())


def _load_weights_npz(path: Path) -> list[np.ndarray]:
    with np.load(path) as npz:
        return [npz[f"arr_{i}"] for i in range(len(npz.files))]


def _save_keras_atomic(model, path: Path) -> None:
    """Save the weights without the optimiser (Adam's slots would triple the file), atomically.

    An uncompiled clone carries no optimiser; model.save needs a name ending in .keras, so the temporary
    file gets one and is renamed onto ``path`` afterwards.
    """
    export = keras.models.clone_model(model)
    export.set_weights(model.get_weights())
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part.keras")
    try:
        export.save(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---- the fit -----------------------------------------------------------------------------------------

def _learning_rate(config: dict[str, Any], train_images: int):
    """Cosine decay over the planned epochs (to 1% of the start): the last epochs fine-tune instead of
    bouncing around, worth about a point of test accuracy in a five-epoch run. The schedule follows the
    optimizer's step counter, which a resumed run restores from its checkpoint. The start is the learning rate
    scaled with the global batch when the run asked for it (``lr_scaling``)."""
    if "transfer" in config:
        from edgecnn import transfer

        return transfer.learning_rate(config, train_images)
    start = dist.scaled_learning_rate(config["learning_rate"], config.get("lr_scaling", "none"), config["batch_size"])
    if config.get("lr_schedule", "cosine") != "cosine":
        return start
    steps = max(1, -(-train_images // config["batch_size"])) * config["epochs"]
    return keras.optimizers.schedules.CosineDecay(start, decay_steps=steps, alpha=0.01)


def _fit(run_dir: Path, config: dict[str, Any], spec: PreprocessSpec, dataset: Dataset, *, plan: dist.Plan,
         verbose: bool, extra_callbacks: list[Any]) -> TrainResult:
    distribution = dist.describe(plan, config["batch_size"], config["learning_rate"], config.get("lr_scaling", "none"))
    mixed = bool(config.get("mixed_precision"))
    ckpt_dir = run_dir / runs.CHECKPOINT_DIR
    if plan.is_chief:
        ckpt_dir.mkdir(exist_ok=True)
    with plan.strategy.scope(), dist.precision_policy(mixed):
        model = _build_model(config)
        if mixed:
            model = dist.float32_output(model)
        optimizer = keras.optimizers.Adam(learning_rate=_learning_rate(config, len(dataset.x_train)))
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        state, best_weights = _restore(ckpt_dir, model)
    _check_same_start(plan, state, run_dir)
    if verbose and plan.is_chief:
        if state["epoch"]:
            print(f"Resuming {run_dir} after epoch {state['epoch']} of {config['epochs']}", file=sys.stderr)
        print(f"Training {config['model']} ({model.count_params():,} parameters, input "
              f"{'x'.join(map(str, config['input_shape']))}) on {dataset.summary()} → {run_dir}", file=sys.stderr)
        print("\n".join(dist.summary(distribution, config["learning_rate"])), file=sys.stderr)
    elif verbose:
        print(f"{plan.role}: training with the chief, which writes {run_dir}", file=sys.stderr)

    if state["epoch"] < config["epochs"] and not state.get("stopped"):
        _train_epochs(model, run_dir, config, spec, dataset, state, best_weights, plan=plan, verbose=verbose,
                      extra_callbacks=extra_callbacks)
    if not state.get("stopped"):
        state["stopped"] = f"{config['epochs']} epochs"
    weights = best_weights or model.get_weights()  # every worker: reading synchronised weights is collective
    if not plan.is_chief:
        _wait_for_chief(plan)
        return TrainResult(run_dir=run_dir, metrics={}, is_chief=False)
    if plan.kind == "none" and not mixed:
        model.set_weights(weights)
    else:
        model = _plain_model(config, weights)
    result = _finish(run_dir, config, spec, dataset, model, state, verbose, distribution=distribution)
    with contextlib.suppress(*dist.peer_errors()):  # the run folder is complete whatever the others do now
        plan.barrier()
    return result


def _train_epochs(model, run_dir: Path, config: dict[str, Any], spec: PreprocessSpec, dataset: Dataset,
                  state: dict[str, Any], best_weights: list[np.ndarray], *, plan: dist.Plan, verbose: bool,
                  extra_callbacks: list[Any]) -> None:
    """model.fit from the epoch after the state's, checkpointing each epoch; updates state and best_weights."""
    start_epoch = int(state["epoch"])
    state.setdefault("sessions", []).append({"start_epoch": start_epoch, "strategy": plan.kind,
                                             "workers": plan.workers, "replicas": plan.replicas})
    # A different shuffle seed per start epoch, so a resumed run does not replay epoch 1's order.
    train_ds = make_tf_dataset(dataset.x_train, dataset.y_train, spec, config["batch_size"], shuffle=True,
                               seed=config["seed"] * 1000 + start_epoch)
    val_ds = make_tf_dataset(dataset.x_val, dataset.y_val, spec, config["batch_size"], cache=True)
    keras_verbose = (1 if sys.stdout.isatty() else 2) if verbose and plan.is_chief else 0
    if "transfer" in config:  # which layers train in which epoch (head first, then fine-tuning)
        from edgecnn import transfer

        extra_callbacks = [*transfer.callbacks(config), *extra_callbacks]
    with dist.scratch_dir(plan) as scratch:
        checkpoint = _EpochCheckpoint(run_dir / runs.CHECKPOINT_DIR, state, config, best_weights, scratch_dir=scratch,
                                      plan=plan if plan.multi_worker else None, train_images=len(dataset.x_train))
        try:
            model.fit(train_ds, validation_data=val_ds, epochs=config["epochs"], initial_epoch=start_epoch,
                      callbacks=[checkpoint, *extra_callbacks], verbose=keras_verbose)
        except KeyboardInterrupt:
            how = ("restart every worker with the same command" if plan.multi_worker else
                   f"edgecnn train {config['model']} --resume -o {run_dir}")
            print(f"\nInterrupted after epoch {state['epoch']}; continue with: {how}", file=sys.stderr)
            raise
        except dist.peer_errors() as exc:
            if not plan.multi_worker:
                raise
            raise EdgecnnError(f"{plan.role}: another worker stopped or cannot be reached ({type(exc).__name__}); "
                               f"restart every worker with the same command to continue after epoch "
                               f"{state['epoch']}") from exc


def _restore(ckpt_dir: Path, model) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The state, weights, optimiser and best weights of the last completed epoch, or a fresh state."""
    state: dict[str, Any] = {"epoch": 0, "best_epoch": 0, "best_val_accuracy": -1.0, "wait": 0,
                             "train_seconds": 0.0, "history": {}, "stopped": None}
    if not (ckpt_dir / STATE_FILE).is_file():
        return state, []
    state = read_json(ckpt_dir / STATE_FILE)
    model.optimizer.build(model.trainable_variables)  # slots must exist for the restore to fill them
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).read(
        str(ckpt_dir / state["checkpoint"])).assert_existing_objects_matched()
    # Runs started before best weights were named per epoch have one best_weights.npz.
    return state, _load_weights_npz(ckpt_dir / state.get("best_weights", BEST_WEIGHTS_FILE))


def _check_same_start(plan: dist.Plan, state: dict[str, Any], run_dir: Path) -> None:
    """Every worker must resume from the same epoch; they do when all read the chief's checkpoint."""
    try:
        starts = [int(v) for v in plan.gather(state["epoch"])]
    except dist.peer_errors() as exc:
        raise EdgecnnError(f"{plan.role}: another worker stopped before training began "
                           f"({type(exc).__name__}); see its error") from exc
    if len(set(starts)) > 1:
        raise EdgecnnError(f"the workers would resume from different epochs ({starts}, in worker order): {run_dir} "
                           "must be one folder on storage every worker reads (see docs/DISTRIBUTED.md)")


def _wait_for_chief(plan: dist.Plan) -> None:
    """A worker exits only when the chief has finished the run folder (or has gone)."""
    try:
        plan.barrier()
    except dist.peer_errors() as exc:
        raise EdgecnnError(f"{plan.role}: the chief stopped before finishing the run folder "
                           f"({type(exc).__name__})") from exc


def _plain_model(config: dict[str, Any], weights: list[np.ndarray]):
    """The trained weights in a float32 model built outside any strategy: what a distributed or mixed-precision
    run evaluates and saves, so its model.keras is the model a one-device run writes."""
    model = _build_model(config)
    model.set_weights(weights)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _finish(run_dir: Path, config: dict[str, Any], spec: PreprocessSpec, dataset: Dataset, model,
            state: dict[str, Any], verbose: bool, *, distribution: dict[str, Any] | None = None) -> TrainResult:
    batch = config["batch_size"]
    val = model.evaluate(make_tf_dataset(dataset.x_val, dataset.y_val, spec, batch), verbose=0, return_dict=True)
    test = model.evaluate(make_tf_dataset(dataset.x_test, dataset.y_test, spec, batch), verbose=0,
                          return_dict=True)
    history = state["history"]
    best = max(1, int(state["best_epoch"])) - 1
    metrics = {
        "model": config["model"],
        # Keras' running mean over the best epoch (with weights changing during it), as printed while training.
        "train_accuracy": history.get("accuracy", [None])[best] if history.get("accuracy") else None,
        "train_loss": history.get("loss", [None])[best] if history.get("loss") else None,
        "val_accuracy": float(val["accuracy"]),
        "val_loss": float(val["loss"]),
        "test_accuracy": float(test["accuracy"]),
        "test_loss": float(test["loss"]),
        "epochs_run": int(state["epoch"]),
        "best_epoch": int(state["best_epoch"]),
        "stopped_by": state["stopped"],
        "train_seconds": round(float(state["train_seconds"]), 2),
        "train_cpu_seconds": round(float(state.get("cpu_seconds", 0.0)), 2),
        "epoch_seconds": state.get("epoch_seconds", []),
        # Training images per second of each epoch's training steps, all workers together (epoch 1 includes
        # building the graph).
        "images_per_second": state.get("images_per_second", []),
        "distribution": distribution,
        "mixed_precision": bool(config.get("mixed_precision")),
        "sessions": state.get("sessions", []),
        "threads": _cpu_threads(),
        "images": {"train": len(dataset.x_train), "val": len(dataset.x_val), "test": len(dataset.x_test)},
        "params": int(model.count_params()),
        "history": history,
    }
    from edgecnn.plots import plot_training_curve

    plot_training_curve(history, run_dir / runs.CURVE_FILE, best_epoch=metrics["best_epoch"] or None,
                        title=f"{config['model']} on {dataset.name}: test accuracy {metrics['test_accuracy']:.4f}")
    write_json(run_dir / runs.METRICS_FILE, metrics)
    _save_keras_atomic(model, run_dir / runs.MODEL_FILE)  # last: its presence marks a complete run
    if verbose:
        minutes, seconds = divmod(int(round(metrics["train_seconds"])), 60)
        print(f"{config['model']}: test accuracy {metrics['test_accuracy']:.4f} (validation "
              f"{metrics['val_accuracy']:.4f}, best epoch {metrics['best_epoch']} of {metrics['epochs_run']}, "
              f"{minutes}m{seconds:02d}s) → {run_dir}", file=sys.stderr)
    return TrainResult(run_dir=run_dir, metrics=metrics)
