"""Model optimisation with tfmot: magnitude pruning, quantisation-aware training (QAT), and both together.

Every zoo family goes through the same three functions (tests/test_convert.py checks the recipe on each family):

- :func:`prune` wraps the whole model in ``prune_low_magnitude`` when tfmot supports every layer, otherwise
  (custom layers, 2:4 patterns) only the Conv2D/Dense layers of a clone; fine-tunes on real data with
  ``UpdatePruningStep``; strips the wrappers afterwards, so the result is a plain Keras model with zeros.
- :func:`annotate_for_qat` applies *one annotation rule* to every layer: ``AveragePooling2D`` gets a
  quantise-nothing config (else the int8 converter fails on the same-scale constraint), any layer the
  default 8-bit registry does not support and any BatchNormalization not directly after a conv/dense gets a
  config that quantises its output, everything else the usual ``quantize_annotate_layer``.
- :func:`quantize_aware` applies the annotations (prune-preserving scheme when the model was pruned) inside
  ``quantize_scope`` with the zoo's custom objects and fine-tunes.

Fine-tuning reads uint8 NHWC arrays and scales them exactly as ``preprocess.json`` says (pixel × scale +
offset, float32), so the network sees the same numbers as at training and at inference.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from edgecnn.errors import EdgecnnError, UsageError
from edgecnn.preprocess import PreprocessSpec

# Layer types whose weights magnitude pruning is worth applying to (the bulk of every CNN's parameters).
PRUNABLE_TYPES = ("Conv2D", "Dense")
# Layers after which tfmot folds a BatchNormalization into the preceding op during QAT.
_BN_FOLD_PRODUCERS = ("Conv2D", "DepthwiseConv2D", "Dense")
# Activation functions the default 8-bit registry knows (others need an output-quantising config).
_KNOWN_ACTIVATIONS = ("relu", "swish", "gelu", "relu6", "linear", "softmax", "sigmoid", "tanh")


# ---- data ----------------------------------------------------------------------------------------------

@dataclass
class FineTuneData:
    """uint8 NHWC images + int labels for fine-tuning, and the preprocessing that turns them into inputs."""

    x: np.ndarray
    y: np.ndarray
    spec: PreprocessSpec
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    @classmethod
    def from_dataset(cls, dataset: Any, spec: PreprocessSpec) -> "FineTuneData":
        """From an ``edgecnn.data.Dataset`` (x_train/y_train, x_val/y_val)."""
        return cls(np.asarray(dataset.x_train), np.asarray(dataset.y_train), spec,
                   getattr(dataset, "x_val", None), getattr(dataset, "y_val", None))

    def tf_dataset(self, batch_size: int, *, shuffle: bool = True, seed: int = 0, validation: bool = False,
                   targets: np.ndarray | None = None):
        """Batches of (preprocessed images, labels); ``targets`` (one row per image) replace the labels."""
        from edgecnn._tf import tf

        x, y = (self.x_val, self.y_val) if validation else (self.x, self.y)
        y = np.asarray(y, dtype=np.int64) if targets is None else targets
        scale, offset = np.float32(self.spec.scale), np.float32(self.spec.offset)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            ds = ds.shuffle(min(len(x), 10_000), seed=seed, reshuffle_each_iteration=True)
        # Same float32 arithmetic as preprocess.to_float_input: pixel * scale + offset.
        ds = ds.batch(batch_size).map(lambda a, b: (tf.cast(a, tf.float32) * scale + offset, b),
                                      num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(2)


def _as_finetune_data(data: Any, spec: PreprocessSpec | None) -> FineTuneData:
    if isinstance(data, FineTuneData):
        return data
    if spec is None:
        raise EdgecnnError("fine-tuning needs the model's preprocessing (PreprocessSpec)")
    if hasattr(data, "x_train"):
        return FineTuneData.from_dataset(data, spec)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return FineTuneData(np.asarray(data[0]), np.asarray(data[1]), spec)
    raise EdgecnnError("fine-tuning data must be a Dataset, (images, labels) or FineTuneData")


def _constant_lr(learning_rate: float, steps: int):
    return learning_rate


def _cosine_lr(learning_rate: float, steps: int):
    from edgecnn._tf import keras

    return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, steps), alpha=0.0)


# How the learning rate moves over a fine-tune of ``steps`` optimizer steps (the ``lr_schedule`` knob).
LR_SCHEDULES: dict[str, Callable[[float, int], Any]] = {"constant": _constant_lr, "cosine": _cosine_lr}


def _check_choice(value: str, choices: dict[str, Any] | Sequence[str], what: str) -> str:
    if value not in choices:
        raise UsageError(f"{what} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _fit(model, data: FineTuneData, *, epochs: int, batch_size: int, learning_rate: float, seed: int,
         callbacks: Sequence[Any] = (), verbose: int = 0, from_logits: bool = False,
         lr_schedule: str = "constant", teacher: np.ndarray | None = None, distill: float = 0.0) -> None:
    """Compile and fit for fine-tuning (``from_logits`` False for models ending in softmax, like the zoo's).

    With ``teacher`` (class probabilities per training image, :func:`teacher_probabilities`) the targets are
    ``distill`` × teacher + (1 − ``distill``) × one-hot label. The learning-rate schedule spans ``epochs``.
    No validation pass: the callers score the validation images themselves, on the model they return.
    """
    from edgecnn._tf import keras

    steps = steps_per_epoch(len(data.x), batch_size) * epochs
    rate = LR_SCHEDULES[_check_choice(lr_schedule, LR_SCHEDULES, "lr_schedule")](learning_rate, steps)
    targets = None  # None: the integer labels, with the sparse loss
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    if teacher is not None and distill > 0:
        targets = (distill * teacher + (1.0 - distill) * _one_hot(data.y, teacher.shape[1])).astype(np.float32)
        loss = keras.losses.CategoricalCrossentropy(from_logits=from_logits)
    train = data.tf_dataset(batch_size, seed=seed, targets=targets)
    model.compile(optimizer=keras.optimizers.Adam(rate), loss=loss, metrics=["accuracy"])
    model.fit(train, epochs=epochs, callbacks=list(callbacks), verbose=verbose)


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]


# Pruning fine-tunes towards the dense model's own predictions by default (tools/recipe_study.py,
# docs/RECIPES.md, prune_smallest -> prune_smallest_kd_full, points of top-1 against float32 on validation
# (test) images: ResNet-18 -1.4 -> +0.1 (-1.4 -> +0.4), MobileNetV3-Large +0.2 -> -0.4 (-1.5 -> -0.1)).
# Labels alone ask the pruned model to be right where the dense one was wrong too; the dense model's
# probabilities ask it to stay the model it was, which is what a short fine-tune after pruning is for.
PRUNE_DISTILL = 1.0

# If the pruned model is more than PRUNE_RECOVER_POINTS of top-1 below the dense one on the validation images after
# the planned fine-tune, pruning starts again from the dense model over PRUNE_RETRY_FACTOR times the epochs, with a
# gradual schedule, and keeps whichever of the two is better on validation. 1.0 is issue 11's 1.5 points for
# pruned int8 less the 0.5 that int8 may cost on top (the precision plan's budget). Why a restart and not more
# epochs at full sparsity (docs/pruning/recovery.md): ResNet-50 went from 1.06 points below dense after one
# epoch to 3.06 and 3.00 after two more at full sparsity, while pruning it gradually over 2 epochs from the
# start lost 0.06 points on test.
PRUNE_RECOVER_POINTS = 1.0
PRUNE_RETRY_FACTOR = 2


def default_prune_max_epochs(epochs: int) -> int:
    """Fine-tuning epochs pruning may take in all by default: the planned ones and one retry."""
    return max(1, epochs) * (1 + PRUNE_RETRY_FACTOR)


def check_prune_recovery(recover_points: float | None, max_epochs: int | None, epochs: int) -> tuple[float, int]:
    """(points, most epochs) for pruning's retry, defaults filled in; a UsageError names the flag.

    The default allows the planned ``epochs`` and one retry of PRUNE_RETRY_FACTOR times as many."""
    points = PRUNE_RECOVER_POINTS if recover_points is None else float(recover_points)
    if not 0.0 <= points <= 100.0:
        raise UsageError(f"--prune-recover is in points of top-1 accuracy (0–100), got {recover_points}")
    most = default_prune_max_epochs(epochs) if max_epochs is None else int(max_epochs)
    if most < epochs:
        raise UsageError(f"--prune-max-epochs ({most}) is fewer than --epochs ({epochs})")
    return points, most


def check_distill(distill: float) -> float:
    value = float(distill)
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise UsageError(f"distill must be in [0, 1] (the teacher's share of the targets), got {distill}")
    return value


def teacher_probabilities(model, data: FineTuneData, batch_size: int = 256) -> np.ndarray:
    """The trained model's class probabilities for every fine-tuning image, in order (inference mode).

    Computed once, before the fine-tune: a pruning clone shares its layers with ``model``, so the model
    would not stay the teacher while the student trains.
    """
    from edgecnn._tf import tf

    out = model.predict(data.tf_dataset(batch_size, shuffle=False), verbose=0)
    out = np.asarray(out, dtype=np.float32)
    if _ends_in_logits(model):
        out = tf.nn.softmax(out, axis=-1).numpy()
    return out


def _ends_in_logits(model) -> bool:
    """True when the last layer has no softmax (user models may output logits)."""
    last = model.layers[-1]
    layer = getattr(last, "layer", last)  # through tfmot wrappers
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", "")
    return not (name == "softmax" or type(layer).__name__ == "Softmax")


def _tfmot():
    from edgecnn._tf import tfmot

    return tfmot()


def steps_per_epoch(n: int, batch_size: int) -> int:
    return max(1, math.ceil(n / batch_size))


# ---- pruning -------------------------------------------------------------------------------------------

def parse_pattern(pattern: str | None) -> tuple[int, int] | None:
    """``"2:4"`` → (2, 4): at most N non-zero weights in each block of M (structured sparsity)."""
    if pattern is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", str(pattern))
    if not match:
        raise UsageError(f"--prune-pattern must look like N:M (e.g. 2:4), got {pattern!r}")
    n, m = int(match.group(1)), int(match.group(2))
    if not 0 < n < m:
        raise UsageError(f"--prune-pattern N:M needs 0 < N < M, got {pattern}")
    return n, m


def check_sparsity(sparsity: float) -> float:
    try:
        value = float(sparsity)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"sparsity must be a number in [0, 1), got {sparsity!r}") from exc
    if not 0.0 <= value < 1.0 or math.isnan(value):
        raise UsageError(f"sparsity must be in [0, 1) (e.g. 0.5 for half the weights zero), got {sparsity}")
    return value


def _one_shot_schedule(sparsity: float, total_steps: int):
    """The target from the first step on, re-applied every step: one-shot magnitude pruning, then fine-tune."""
    return _tfmot().sparsity.keras.ConstantSparsity(sparsity, begin_step=0, frequency=1)


# The polynomial schedule updates the mask this many times on its way up (tfmot's default frequency, 100 steps,
# would leave a fine-tune of a few hundred steps with two or three updates, or none).
_PRUNING_UPDATES = 16


def _polynomial_schedule(sparsity: float, total_steps: int, ramp: float = 0.7):
    """Zhu & Gupta 2017 (To prune, or not to prune, arXiv:1710.01878): sparsity grows as a cubic from 0 at the
    first step to the target at ``ramp`` of the fine-tune, pruning every few steps, and the remaining steps
    let the surviving weights recover at full sparsity. The last update lands exactly on the end step (a
    multiple of the frequency), so the target is reached rather than the value of the update before it."""
    ramp_steps = max(1, int(total_steps * ramp))
    frequency = max(1, ramp_steps // _PRUNING_UPDATES)
    end = frequency * (ramp_steps // frequency)
    return _tfmot().sparsity.keras.PolynomialDecay(initial_sparsity=0.0, final_sparsity=sparsity, begin_step=0,
                                                   end_step=end, frequency=frequency)


def _legacy_schedule(sparsity: float, total_steps: int):
    """One-shot below 200 steps, else a ramp over 70% of the steps updating every 1/50 of it."""
    if total_steps < 200:
        return _one_shot_schedule(sparsity, total_steps)
    end = max(1, int(total_steps * 0.7))
    return _tfmot().sparsity.keras.PolynomialDecay(initial_sparsity=0.0, final_sparsity=sparsity, begin_step=0,
                                                   end_step=end, frequency=max(1, end // 50))


# How sparsity grows over a fine-tune of ``total_steps`` steps (the ``schedule`` knob of :func:`prune`).
PRUNING_SCHEDULES: dict[str, Callable[[float, int], Any]] = {
    "auto": _legacy_schedule, "constant": _one_shot_schedule, "polynomial": _polynomial_schedule}


def pruning_schedule(sparsity: float, total_steps: int, kind: str = "auto"):
    """The tfmot pruning schedule ``kind`` (a key of :data:`PRUNING_SCHEDULES`) for ``total_steps`` steps."""
    return PRUNING_SCHEDULES[_check_choice(kind, PRUNING_SCHEDULES, "pruning schedule")](sparsity, total_steps)


def _is_prunable(layer) -> bool:
    return type(layer).__name__ in PRUNABLE_TYPES


def prunable_sizes(model) -> dict[str, int]:
    """Weights in the kernel of every Conv2D/Dense layer, by layer name (what magnitude pruning zeroes)."""
    return {layer.name: int(np.prod(layer.get_weights()[0].shape)) for layer in model.layers
            if _is_prunable(layer) and layer.get_weights()}


def _keep_none(model) -> list[str]:
    return []


def _keep_first(model) -> list[str]:
    """The first Conv2D/Dense layer (the stem: few weights that every feature is built from)."""
    return list(prunable_sizes(model))[:1]


def smallest_layers(model, share: float = 0.05) -> list[str]:
    """The smallest prunable layers, whole groups of equal size at a time (no arbitrary tie-break), while
    together they hold at most ``share`` of the prunable weights."""
    sizes = prunable_sizes(model)
    budget = share * sum(sizes.values())
    kept: list[str] = []
    held = 0
    for size in sorted(set(sizes.values())):
        group = [name for name, n in sizes.items() if n == size]
        if held + size * len(group) > budget:
            break
        kept += group
        held += size * len(group)
    return kept


# Which layers stay dense (the ``keep`` knob of :func:`prune` takes one of these names or a list of layers).
KEEP_RULES: dict[str, Callable[[Any], list[str]]] = {
    "none": _keep_none, "first": _keep_first, "smallest": smallest_layers}


def layers_to_keep(model, keep: str | Sequence[str]) -> list[str]:
    """Layer names for ``keep``: a rule of :data:`KEEP_RULES` or the names themselves."""
    if isinstance(keep, str):
        return KEEP_RULES[_check_choice(keep, KEEP_RULES, "keep")](model)
    return list(keep)


def compensated_sparsity(sparsity: float, sizes: dict[str, int], keep: Sequence[str]) -> float:
    """The sparsity each pruned layer needs so that the prunable weights as a whole reach ``sparsity``
    although the layers in ``keep`` stay dense."""
    total = sum(sizes.values())
    pruned = total - sum(sizes.get(name, 0) for name in keep)
    if pruned <= 0:
        raise UsageError("every prunable layer is kept dense: nothing left to prune")
    value = sparsity * total / pruned
    if value >= 1.0:
        raise UsageError(f"cannot reach {sparsity:.0%} sparsity with {len(keep)} layers kept dense")
    return value


def wrap_for_pruning(model, sparsity: float, *, pattern: tuple[int, int] | None = None, total_steps: int = 1,
                     schedule: str = "auto", keep: Sequence[str] = (),
                     custom_objects: dict[str, Any] | None = None):
    """``prune_low_magnitude`` on the whole model if tfmot supports every layer, else on Conv2D/Dense only.

    Layers named in ``keep`` stay dense (then only the other Conv2D/Dense layers are wrapped).
    """
    from edgecnn._tf import keras

    sp = _tfmot().sparsity.keras
    names = {layer.name for layer in model.layers}
    unknown = [name for name in keep if name not in names]
    if unknown:
        raise UsageError(f"no layer named {unknown[0]!r} to keep unpruned")
    kwargs: dict[str, Any] = {"pruning_schedule": pruning_schedule(sparsity, total_steps, schedule)}
    if pattern is not None:
        kwargs["sparsity_m_by_n"] = pattern
    if pattern is None and not keep:
        try:
            with keras.utils.custom_object_scope(custom_objects or {}):
                return sp.prune_low_magnitude(model, **kwargs), "whole model"
        except (ValueError, TypeError, RuntimeError):
            pass  # a layer tfmot does not know (custom, TFOpLambda, preprocessing): prune selectively

    def clone_fn(layer):
        if _is_prunable(layer) and layer.name not in keep:
            return sp.prune_low_magnitude(layer, **kwargs)
        return layer

    try:
        with keras.utils.custom_object_scope(custom_objects or {}):
            wrapped = keras.models.clone_model(model, clone_function=clone_fn)
    except ValueError as exc:  # Sequential/Functional only
        raise EdgecnnError(f"cannot prune this model: {str(exc).splitlines()[0]}") from exc
    # The clone shares the original layer objects (wrapped or not), so the trained weights carry over.
    return wrapped, "Conv2D/Dense layers" + (f" except {len(keep)} kept dense" if keep else "")


def prune(model, sparsity: float, *, data: Any, spec: PreprocessSpec | None = None, pattern: str | None = None,
          epochs: int = 1, batch_size: int = 64, learning_rate: float = 3e-4, lr_schedule: str = "constant",
          schedule: str = "auto", keep: str | Sequence[str] = (), seed: int = 0, distill: float = PRUNE_DISTILL,
          recover_points: float | None = PRUNE_RECOVER_POINTS, max_epochs: int | None = None,
          record: dict[str, Any] | None = None, custom_objects: dict[str, Any] | None = None, verbose: int = 0,
          log: Callable[[str], None] | None = None):
    """Magnitude-prune ``model`` to ``sparsity`` with fine-tuning on ``data``; returns a stripped Keras model.

    ``pattern="2:4"`` gives structured N:M sparsity (then ``sparsity`` is implied by the pattern).
    ``schedule`` (a key of :data:`PRUNING_SCHEDULES`) says how sparsity grows over the fine-tune,
    ``lr_schedule`` (a key of :data:`LR_SCHEDULES`) how the learning rate moves. ``keep`` (a rule of
    :data:`KEEP_RULES` or layer names) stays dense; the other layers are pruned a little harder so that the
    prunable weights as a whole still reach ``sparsity``. ``distill`` is the share of each fine-tuning target
    taken from the dense model's own predictions instead of the label (knowledge distillation; Hinton et al.
    2015, arXiv:1503.02531); by default all of it (:data:`PRUNE_DISTILL`), 0 fine-tunes on the labels alone.

    The sparsity and learning-rate schedules span ``epochs``. If the pruned model is then more than
    ``recover_points`` of top-1 below the dense one on the validation images, ``model`` is pruned again from its
    dense weights over :data:`PRUNE_RETRY_FACTOR` × ``epochs`` (gradually: ``schedule="auto"`` becomes
    ``"polynomial"``) when ``max_epochs`` (default: room for exactly that) allows, and the better of the two on
    validation is returned. ``recover_points=None`` or no validation images: exactly ``epochs``. ``record``, if
    given, receives the dense validation top-1 and each attempt's (what the convert report keeps).

    tfmot wraps ``model``'s own layers, so ``model`` itself ends up pruned too.
    """
    sparsity = check_sparsity(sparsity)
    distill = check_distill(distill)
    m_by_n = parse_pattern(pattern)
    data = _as_finetune_data(data, spec)
    teacher = teacher_probabilities(model, data) if distill > 0 else None
    epochs = max(1, epochs)
    retry = PRUNE_RETRY_FACTOR * epochs
    most = default_prune_max_epochs(epochs) if max_epochs is None else max(epochs, int(max_epochs))
    has_val = data.x_val is not None and len(data.x_val) > 0
    checking = recover_points is not None and has_val
    retrying = checking and epochs + retry <= most
    if recover_points is not None and not retrying and log:
        why = "no validation images" if not has_val else f"--prune-max-epochs {most} leaves no room for {retry} more"
        log(f"pruning: no retry ({why}); fine-tuning exactly {epochs} epoch(s)")
    kept = tuple(layers_to_keep(model, keep))
    per_layer = compensated_sparsity(sparsity, prunable_sizes(model), kept) if kept and not m_by_n else sparsity
    if log:
        what = f"{pattern} pattern" if m_by_n else f"{sparsity:.0%} sparsity"
        teach = f", distilling from the dense model ({distill:.0%} of the targets)" if distill > 0 else ""
        unit = "point" if recover_points == 1 else "points"
        more = (f" (then again from the dense model over {retry} if more than {recover_points:g} {unit} below it "
                f"on validation)" if retrying else "")
        log(f"pruning to {what}, fine-tuning {epochs} epoch(s){more} on {len(data.x)} images{teach}")
    dense_weights = model.get_weights() if retrying else None
    dense_accuracy = validation_accuracy(model, data) if checking else None
    attempts: list[dict[str, Any]] = []
    weights: list[list[np.ndarray]] = []
    plan = [(epochs, schedule)] + ([(retry, "polynomial" if schedule == "auto" else schedule)] if retrying else [])
    for n, (attempt_epochs, attempt_schedule) in enumerate(plan):
        if n:
            model.set_weights(dense_weights)  # the first attempt fine-tuned the dense model's own layers
        pruned = _prune_and_fit(model, per_layer, data, pattern=m_by_n, keep=kept, epochs=attempt_epochs,
                                schedule=attempt_schedule, batch_size=batch_size, learning_rate=learning_rate,
                                lr_schedule=lr_schedule, seed=seed, teacher=teacher, distill=distill,
                                custom_objects=custom_objects, verbose=verbose, log=log)
        if not checking:
            break
        accuracy = validation_accuracy(pruned, data)
        drop = (dense_accuracy - accuracy) * 100.0
        attempts.append({"epochs": attempt_epochs, "schedule": attempt_schedule, "val_accuracy": round(accuracy, 5),
                         "val_drop_points": round(drop, 3)})
        if log:
            verdict = "within" if drop <= recover_points else "over"
            log(f"pruning over {attempt_epochs} epoch(s): validation top-1 {accuracy:.2%}, {drop:.2f} points below "
                f"the dense model ({verdict} the {recover_points:g}-point budget)")
        if drop <= recover_points or n == len(plan) - 1:
            break
        weights.append(pruned.get_weights())
    best = max(range(len(attempts)), key=lambda i: (attempts[i]["val_accuracy"], -i)) if attempts else 0
    for i, attempt in enumerate(attempts):
        attempt["kept"] = i == best
    if best < len(attempts) - 1:  # same layers, same order: an earlier attempt's weights fit the last model
        pruned.set_weights(weights[best])
        if log:
            log(f"pruning: keeping the {attempts[best]['epochs']}-epoch attempt, the better on validation")
    if record is not None:
        record.update({"epochs_planned": epochs, "max_epochs": most,
                       "recover_points": float(recover_points) if checking else None,
                       "dense_val_accuracy": None if dense_accuracy is None else round(dense_accuracy, 5),
                       "attempts": attempts, "epochs_run": sum(a["epochs"] for a in attempts) or epochs,
                       "kept_epochs": attempts[best]["epochs"] if attempts else epochs})
    return pruned


def _prune_and_fit(model, sparsity: float, data: FineTuneData, *, pattern: tuple[int, int] | None,
                   keep: Sequence[str], epochs: int, schedule: str, batch_size: int, learning_rate: float,
                   lr_schedule: str, seed: int, teacher: np.ndarray | None, distill: float,
                   custom_objects: dict[str, Any] | None, verbose: int, log: Callable[[str], None] | None):
    """One prune-and-fine-tune of ``model``'s layers over ``epochs``; the stripped model."""
    total = steps_per_epoch(len(data.x), batch_size) * epochs
    wrapped, how = wrap_for_pruning(model, sparsity, pattern=pattern, total_steps=total, schedule=schedule,
                                    keep=keep, custom_objects=custom_objects)
    if log:
        log(f"pruning {how} with the {schedule} schedule over {epochs} epoch(s) ({total} steps)")
    sp = _tfmot().sparsity.keras
    _fit(wrapped, data, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
         callbacks=[sp.UpdatePruningStep()], verbose=verbose, from_logits=_ends_in_logits(model),
         lr_schedule=lr_schedule, teacher=teacher, distill=distill)
    return sp.strip_pruning(wrapped)


def validation_accuracy(model, data: FineTuneData, batch_size: int = 256) -> float:
    """Top-1 of ``model`` (Keras, inference mode) on the validation images of ``data``."""
    scores = model.predict(data.tf_dataset(batch_size, shuffle=False, validation=True), verbose=0)
    return float(np.mean(np.argmax(scores, axis=-1) == np.asarray(data.y_val)))


def weight_sparsity(model) -> dict[str, float]:
    """Fraction of zero weights per prunable Keras layer (for checking the fine-tune kept them)."""
    out = {}
    for layer in model.layers:
        if _is_prunable(layer) and layer.get_weights():
            kernel = layer.get_weights()[0]
            out[layer.name] = float(np.mean(kernel == 0))
    return out


# ---- quantisation-aware training -----------------------------------------------------------------------

def _quantize_configs():
    """The two QuantizeConfig classes of the annotation rule (built lazily: tfmot is slow to import)."""
    global _CONFIGS
    if _CONFIGS is not None:
        return _CONFIGS
    qk = _tfmot().quantization.keras

    class NoOpQuantizeConfig(qk.QuantizeConfig):
        """Quantise nothing: the converter gives the op its input's scale (AveragePooling2D)."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return []

        def get_config(self):
            return {}

    class OutputQuantizeConfig(NoOpQuantizeConfig):
        """Quantise only the layer's output, so the op gets int8 statistics without weight fake-quant."""

        def get_output_quantizers(self, layer):
            return [qk.quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                        narrow_range=False)]

    _CONFIGS = (NoOpQuantizeConfig, OutputQuantizeConfig)
    return _CONFIGS


_CONFIGS: tuple[type, type] | None = None


def _inbound_layers(layer) -> list:
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return []
    inbound = nodes[0].inbound_layers
    return list(inbound) if isinstance(inbound, (list, tuple)) else [inbound]


def annotation_rule(layer, registry=None) -> str:
    """Which annotation a layer gets: ``"noop"``, ``"output"``, ``"default"`` or ``"skip"`` (InputLayer)."""
    kind = type(layer).__name__
    if kind == "InputLayer":
        return "skip"
    if kind == "AveragePooling2D":
        return "noop"
    if kind == "BatchNormalization":
        producers = _inbound_layers(layer)
        if len(producers) == 1 and type(producers[0]).__name__ in _BN_FOLD_PRODUCERS:
            return "default"
        return "output"
    if kind == "Activation":
        name = getattr(layer.activation, "__name__", "")
        return "default" if name in _KNOWN_ACTIVATIONS else "output"
    if registry is None:
        registry = _default_registry()
    return "default" if registry.supports(layer) else "output"


def _default_registry():
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as reg,
    )
    return reg.Default8BitQuantizeRegistry()


def annotate_for_qat(model, custom_objects: dict[str, Any] | None = None, keep_float: Sequence[str] = ()):
    """A clone of ``model`` with every layer annotated by :func:`annotation_rule`. Returns (model, counts).

    Layers named in ``keep_float`` are not annotated: the converter leaves them in float between a DEQUANTIZE
    and a QUANTIZE (what a precision plan asks for; see :mod:`edgecnn.precision_plan`).
    """
    from edgecnn._tf import keras

    qk = _tfmot().quantization.keras
    noop_cls, output_cls = _quantize_configs()
    registry = _default_registry()
    counts: dict[str, list[str]] = {"noop": [], "output": [], "default": [], "float": []}
    keep = set(keep_float)

    def clone_fn(layer):
        rule = annotation_rule(layer, registry)
        if rule == "skip":
            return layer.__class__.from_config(layer.get_config())
        if layer.name in keep:
            counts["float"].append(layer.name)
            return layer
        counts[rule].append(layer.name)
        config = {"noop": noop_cls(), "output": output_cls(), "default": None}[rule]
        return qk.quantize_annotate_layer(layer, quantize_config=config)

    scope = dict(custom_objects or {})
    scope.update({"NoOpQuantizeConfig": noop_cls, "OutputQuantizeConfig": output_cls})
    try:
        with qk.quantize_scope(scope):
            annotated = keras.models.clone_model(model, clone_function=clone_fn)
    except ValueError as exc:
        raise EdgecnnError(f"cannot annotate this model for QAT: {str(exc).splitlines()[0]}") from exc
    return annotated, {k: v for k, v in counts.items()}


def apply_quantization(model, *, preserve_sparsity: bool = False, custom_objects: dict[str, Any] | None = None,
                       keep_float: Sequence[str] = ()):
    """Annotate + ``quantize_apply`` (prune-preserving scheme if asked). Returns (qat_model, annotation counts)."""
    tfmot = _tfmot()
    qk = tfmot.quantization.keras
    annotated, counts = annotate_for_qat(model, custom_objects, keep_float)
    noop_cls, output_cls = _quantize_configs()
    scope = dict(custom_objects or {})
    scope.update({"NoOpQuantizeConfig": noop_cls, "OutputQuantizeConfig": output_cls})
    args = (tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme(),) if preserve_sparsity else ()
    try:
        with qk.quantize_scope(scope):
            qat = qk.quantize_apply(annotated, *args)
    except (ValueError, RuntimeError, TypeError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgecnnError(f"quantisation-aware training cannot wrap this model: {message}") from exc
    return qat, counts


# tfmot's activation quantizers keep their range as an exponential moving average (decay 0.999) that starts
# at [-6, 6]: after a short fine-tune the ranges are still ~[-6, 6], and the int8 converter bakes them in.
_EMA_DECAY = 0.999
# (The input QuantizeLayer is not one of them: it keeps the min/max of all values seen, set by the first batch.)
_ACTIVATION_RANGE = re.compile(r"/(post_activation|pre_activation|output)_(min|max):0$")
_ANY_RANGE = re.compile(r"_(min|max):0$")


def initialize_activation_ranges(qat_model, data: FineTuneData, *, images: int = 128, passes: int = 2) -> int:
    """Start every activation range of a QAT model at the range measured on real images, not [-6, 6].

    One forward pass in training mode moves each range by (1 - decay) of the way to the batch's min/max;
    reading that step back gives the batch's range, which is assigned directly. A second pass repeats it with
    the upstream ranges now realistic (and small values read back precisely). During the passes BatchNorm
    uses its moving statistics and Dropout is off, so the ranges are those of the model the converter sees.
    Weight ranges and the input's range are set as any training step sets them; nothing else changes.
    Measured on ConvNeXt after a 2-step QAT: int8 agreed with the float model on 9% of test images with the
    [-6, 6] start (tensors of range ±0.5 got a 0.047 step), and on 95% with this start.
    Returns the number of ranges set.
    """
    ranges = [v for v in qat_model.variables if _ACTIVATION_RANGE.search(v.name)]
    if not ranges or len(data.x) == 0:
        return 0
    # Weight ranges and the input layer's range are set directly by a training-mode call: keep those too.
    others = [v for v in qat_model.variables if not _ANY_RANGE.search(v.name)]
    saved = [v.numpy() for v in others]
    x, _ = next(iter(data.tf_dataset(min(images, len(data.x)), shuffle=False)))
    with _inference_behaviour(qat_model):
        for _ in range(passes):
            before = [v.numpy() for v in ranges]
            qat_model(x, training=True)  # training=True: only then do the quantizers update their ranges
            for var, old in zip(ranges, before):
                value = old + (var.numpy() - old) / (1.0 - _EMA_DECAY)
                # Ranges always contain 0 (tfmot's rule); a zero-width range would divide by zero in fake-quant.
                var.assign(np.minimum(value, 0.0) if var.name.endswith("_min:0") else np.maximum(value, 1e-6))
    for var, value in zip(others, saved):
        var.assign(value)
    return len(ranges)


class _inference_behaviour:
    """Inside: BatchNormalization layers use their moving statistics (trainable=False makes Keras 2 BN run
    in inference mode even when called with training=True) and Dropout layers pass inputs through."""

    def __init__(self, model):
        inner = [getattr(layer, "layer", layer) for layer in model.layers]  # through QuantizeWrappers
        self.batch_norms = [layer for layer in inner if type(layer).__name__ == "BatchNormalization"]
        self.dropouts = [layer for layer in inner if type(layer).__name__ in ("Dropout", "SpatialDropout2D")]

    def __enter__(self):
        self.saved = ([(layer, layer.trainable) for layer in self.batch_norms],
                      [(layer, layer.rate) for layer in self.dropouts])
        for layer in self.batch_norms:
            layer.trainable = False
        for layer in self.dropouts:
            layer.rate = 0.0
        return self

    def __exit__(self, *exc):
        for layer, trainable in self.saved[0]:
            layer.trainable = trainable
        for layer, rate in self.saved[1]:
            layer.rate = rate
        return False


def freeze_batch_norms(model) -> int:
    """Put every BatchNormalization of ``model`` (through QuantizeWrappers) in inference mode for good.

    ``trainable = False`` makes a Keras 2 BatchNormalization normalise with its moving statistics even when
    called with ``training=True``, and stops them (and gamma/beta) from changing. Returns how many were frozen.
    """
    frozen = _inference_behaviour(model).batch_norms
    for layer in frozen:
        layer.trainable = False
    return len(frozen)


def quantize_aware(model, *, data: Any, spec: PreprocessSpec | None = None, epochs: int = 1,
                   batch_size: int = 64, learning_rate: float = 1e-4, lr_schedule: str = "cosine",
                   freeze_batch_norm: bool = True, preserve_sparsity: bool = False,
                   custom_objects: dict[str, Any] | None = None, seed: int = 0, distill: float = 0.0,
                   verbose: int = 0, log: Callable[[str], None] | None = None, keep_float: Sequence[str] = ()):
    """Quantisation-aware fine-tuning; returns the QAT Keras model (convert it with the int8 converter).

    ``lr_schedule`` is a key of :data:`LR_SCHEDULES`; ``freeze_batch_norm`` keeps every BatchNormalization
    on its moving statistics during the fine-tune (:func:`freeze_batch_norms`). The defaults (cosine decay,
    BatchNorm frozen) are tools/recipe_study.py's best QAT recipe on validation images (docs/RECIPES.md):
    +0.5, -0.1 and +2.0 points over a constant rate with BatchNorm on batch statistics for LeNet-5,
    MobileNetV2 and EfficientNet-B0. ``keep_float``: layer names left
    out of quantisation (a precision plan's float layers). ``distill`` > 0 fine-tunes towards the float
    model's predictions as well as the labels (as in :func:`prune`).
    """
    data = _as_finetune_data(data, spec)
    _check_choice(lr_schedule, LR_SCHEDULES, "lr_schedule")
    distill = check_distill(distill)
    teacher = teacher_probabilities(model, data) if distill > 0 and epochs > 0 else None
    qat, counts = apply_quantization(model, preserve_sparsity=preserve_sparsity, custom_objects=custom_objects,
                                     keep_float=keep_float)
    initialize_activation_ranges(qat, data)
    frozen = freeze_batch_norms(qat) if freeze_batch_norm else 0
    if log:
        extra = f", {len(counts['output'])} output-quantised" if counts["output"] else ""
        extra += f", {len(counts['float'])} kept float" if counts["float"] else ""
        scheme = "prune-preserving " if preserve_sparsity else ""
        bn = f", {frozen} BatchNorm layers frozen" if frozen else ""
        log(f"{scheme}QAT: {len(counts['default'])} layers annotated{extra}{bn}; fine-tuning {epochs} epoch(s) "
            f"on {len(data.x)} images")
    if epochs > 0:
        _fit(qat, data, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
             verbose=verbose, from_logits=_ends_in_logits(model), lr_schedule=lr_schedule, teacher=teacher,
             distill=distill)
    return qat


def zoo_custom_objects() -> dict[str, Any]:
    """The zoo's custom layers (hard-swish, layer scale, …) for cloning and ``quantize_scope``."""
    try:
        from edgecnn.zoo.custom_layers import CUSTOM_OBJECTS
    except ImportError:
        return {}
    return dict(CUSTOM_OBJECTS)
