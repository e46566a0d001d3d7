"""Transfer learning in one ``edgecnn train NAME --data FOLDER --weights imagenet|FILE``.

The recipe of Keras' transfer-learning guide and TFLite Model Maker, on edgecnn's own definitions with weights
from Keras Applications (:mod:`edgecnn.pretrained`):

1. **Body**: the family built in its Keras Applications layout with the weights loaded; a new classifier for
   the data's classes (unless the file's classifier fits already). Input scaling as the weights expect it
   (preprocess.json); input size: ``--input-size``, else the size recorded in the weight file by
   :func:`edgecnn.pretrained.save_keras_weights`, else :data:`DEFAULT_SIZE` (ImageNet bodies lose their
   features on 28–32 px images, and 96 px is the smallest size Keras ships MobileNet ImageNet weights for).
2. **Head first**: for the first ``head_epochs`` (a third of the epochs, at least one) only the new layers
   train, at three times the run's learning rate (TFLite Model Maker trains its head at 0.005); the body is
   frozen, its BatchNorm in inference mode.
3. **Fine-tune**: then every layer trains at the run's learning rate with cosine decay to 1% of it, BatchNorm
   kept in inference mode (frozen: Keras 2 runs a non-trainable BatchNorm with its moving statistics), so a
   small batch of new images does not overwrite the statistics the body was trained with.

The rates were measured, not copied (tests/test_transfer.py's setting, held-out accuracy, seeds 0 and 1): the
first recipe — head at the run's rate 1e-3, fine-tuning at a tenth — reached 0.65 and 0.68; a head at 3e-3 and
fine-tuning at 1e-3 reached 0.75 and 0.77 (from scratch: 0.49 and 0.34). On a few hundred images the head phase
is a few dozen steps, too few for a new classifier at 1e-3, and a tenth of the rate barely moves the body.

``train.py`` calls in at four small hooks (configure, build, learning rate, callbacks); everything else — run
folder, checkpoints and ``--resume`` (the phase follows the epoch), early stopping, metrics — is the ordinary
training run. ``config.json`` records it under ``"transfer"``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from edgecnn._tf import keras, tf
from edgecnn.errors import UsageError
from edgecnn.preprocess import PreprocessSpec

DEFAULT_SIZE = 96
HEAD_LR_FACTOR = 3.0       # the new classifier's rate, × the run's
FINE_TUNE_LR_FACTOR = 1.0  # every layer's rate after the head phase, × the run's
INPUT_SIZE_ATTR = "edgecnn_input_size"  # set by pretrained.save_keras_weights


def configure(config: dict[str, Any], spec: PreprocessSpec, weights: str, *, input_size_given: bool,
              width_given: bool = False, head_epochs: int | None = None) -> PreprocessSpec:
    """Fill ``config["transfer"]`` and the knobs, input size and scaling the pretrained body needs."""
    from edgecnn import pretrained

    name = config["model"]
    family = pretrained.family_of(name)
    source = weights if weights == pretrained.IMAGENET else str(Path(weights).resolve())
    if source != pretrained.IMAGENET and not Path(source).is_file():
        raise UsageError(f"--weights {weights}: no such file (give a Keras Applications .h5 or 'imagenet')")
    knobs = dict(config["knobs"])
    if not width_given:  # the small-image default width (train.SMALL_INPUT_KNOBS) is not the file's
        knobs.pop("width", None)
        width = None if source == pretrained.IMAGENET else pretrained.file_width(name, pretrained.WeightFile.from_h5(source))
        if width is not None:
            knobs["width"] = width
    config["knobs"] = pretrained.weight_knobs(name, knobs)
    if not input_size_given:
        size = recorded_input_size(source) or (DEFAULT_SIZE, DEFAULT_SIZE)
        config["input_shape"][:2] = list(size)
    height, width = config["input_shape"][:2]
    epochs = int(config["epochs"])
    head = max(1, epochs // 3) if head_epochs is None else int(head_epochs)
    if head < 1 or head > epochs:
        raise UsageError(f"head epochs must be between 1 and the epochs ({epochs}), got {head}")
    config["lr_schedule"] = "two-phase (edgecnn.transfer)"
    config["transfer"] = {
        "weights": source, "keras_application": family.keras_name, "head_epochs": head,
        "head_learning_rate": config["learning_rate"] * HEAD_LR_FACTOR,
        "fine_tune_learning_rate": config["learning_rate"] * FINE_TUNE_LR_FACTOR,
        "recipe": f"new head trained first with the body frozen at {HEAD_LR_FACTOR:g}x the learning rate; then all "
                  f"layers at {FINE_TUNE_LR_FACTOR:g}x it (cosine decay) with BatchNorm frozen in inference mode",
    }
    return PreprocessSpec(height, width, spec.channels, resize=spec.resize, labels=spec.labels)


def recorded_input_size(path: str) -> tuple[int, int] | None:
    """The input size an edgecnn-exported weight file was trained at (None for Keras' own files)."""
    if path == "imagenet":
        return None
    import h5py

    try:
        with h5py.File(path, "r") as f:
            size = f.attrs.get(INPUT_SIZE_ATTR)
    except OSError:
        return None
    return None if size is None else (int(size[0]), int(size[1]))


def build(config: dict[str, Any]):
    """The zoo model with the weights loaded (``config["transfer"]`` gets what was loaded and what is new)."""
    from edgecnn.pretrained import create_pretrained

    keras.utils.set_random_seed(config["seed"])  # the new head's initial weights
    transfer = config["transfer"]
    # Always a new classifier: the run's classes are the user's, even when their number matches the file's.
    model, loaded = create_pretrained(config["model"], transfer["weights"], tuple(config["input_shape"]),
                                      config["num_classes"], load_head=False, **config["knobs"])
    transfer.update(loaded_layers=loaded.loaded_layers, head_loaded=loaded.head_loaded,
                    new_layers=loaded.new_layers, notes=loaded.notes, scale=loaded.scale, offset=loaded.offset)
    # Trainable as in the fine-tune phase from the start, so the optimizer is built (and a resumed run's
    # checkpoint restored) with the same variables whichever phase the run is in.
    _set_trainable(model, "fine_tune", set(loaded.new_layers))
    return model


def input_scaling(config: dict[str, Any]) -> tuple[float, float]:
    transfer = config["transfer"]
    return float(transfer["scale"]), float(transfer["offset"])


def learning_rate(config: dict[str, Any], train_images: int):
    """The head's rate for the head epochs, then the fine-tuning rate with cosine decay to 1% over the rest."""
    steps_per_epoch = max(1, math.ceil(train_images / config["batch_size"]))
    transfer = config["transfer"]
    # Runs recorded before the head got its own rate trained it at the run's rate: resume them as they were.
    head_rate = transfer.get("head_learning_rate", config["learning_rate"])
    return TwoPhaseSchedule(float(head_rate), float(transfer["fine_tune_learning_rate"]),
                            head_steps=steps_per_epoch * int(transfer["head_epochs"]),
                            total_steps=steps_per_epoch * int(config["epochs"]))


@keras.saving.register_keras_serializable(package="edgecnn")
class TwoPhaseSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Constant ``head_rate`` for ``head_steps`` steps, then cosine decay from ``fine_rate`` to 1% of it."""

    def __init__(self, head_rate: float, fine_rate: float, head_steps: int, total_steps: int):
        self.head_rate = float(head_rate)
        self.fine_rate = float(fine_rate)
        self.head_steps = int(head_steps)
        self.total_steps = int(total_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        span = float(max(1, self.total_steps - self.head_steps))
        progress = tf.clip_by_value((step - self.head_steps) / span, 0.0, 1.0)
        cosine = self.fine_rate * (0.01 + 0.99 * 0.5 * (1.0 + tf.cos(math.pi * progress)))
        return tf.where(step < self.head_steps, self.head_rate, cosine)

    def get_config(self) -> dict[str, Any]:
        return {"head_rate": self.head_rate, "fine_rate": self.fine_rate, "head_steps": self.head_steps,
                "total_steps": self.total_steps}


def _is_batch_norm(layer) -> bool:
    return type(layer).__name__.startswith("BatchNormalization")


def _set_trainable(model, phase: str, new_layers: set[str]) -> None:
    """``head``: only the new layers train; ``fine_tune``: all but BatchNorm; the input scaling never does."""
    for layer in model.layers:
        if layer.name == "input_normalization":
            layer.trainable = False
        elif phase == "head":
            layer.trainable = layer.name in new_layers
        else:
            layer.trainable = not _is_batch_norm(layer)


class PhaseCallback(keras.callbacks.Callback):
    """Sets which layers train at each epoch (head phase / fine-tune phase) and rebuilds the train step when it
    changes; at the end every layer is trainable again (except the frozen input scaling), so the saved model
    fine-tunes normally in ``edgecnn convert --prune/--qat``."""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        transfer = config["transfer"]
        self.head_epochs = int(transfer["head_epochs"])
        self.new_layers = set(transfer.get("new_layers") or [])
        self.phase: str | None = None

    def set_model(self, model) -> None:
        super().set_model(model)
        # The optimizer must know every variable it will ever update before the first step (Keras 2's
        # optimizer refuses variables it was not built with): build it with the fine-tune phase's set.
        self._apply("fine_tune")
        if not getattr(model.optimizer, "_built", False):
            model.optimizer.build(model.trainable_variables)
        self._apply("head")

    def _apply(self, phase: str) -> None:
        _set_trainable(self.model, phase, self.new_layers)
        self.phase = phase

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        phase = "head" if epoch < self.head_epochs else "fine_tune"
        if phase != self.phase:
            self._apply(phase)
            self.model.train_function = self.model.make_train_function(force=True)

    def on_train_end(self, logs=None) -> None:
        for layer in self.model.layers:
            layer.trainable = layer.name != "input_normalization"


def callbacks(config: dict[str, Any]) -> list[Any]:
    return [PhaseCallback(config)]
