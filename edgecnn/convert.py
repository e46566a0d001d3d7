"""Keras model → optimised (pruned / QAT) → TFLite variants, each checked and measured through the interpreter.

Pipeline of :func:`convert`:

1. **Source**: a zoo name (its newest run; with no run yet, one is trained with the defaults first), a run
   folder, or a user Keras model file (``.keras``, ``.h5``, SavedModel folder) whose preprocessing comes from a
   ``preprocess.json`` beside it or from the ``scale``/``offset``/``resize`` arguments.
2. **Optimise** (TensorFlow, in this process): :func:`edgecnn.optimize.prune` and/or
   :func:`edgecnn.optimize.quantize_aware` (prune-preserving when both), fine-tuned on the training split.
3. **Convert** each variant in a *child process* (the converter and a first run of a new model can crash the
   process: edgecnn/child.py), from a SavedModel written to a temporary folder. The child also loads the result
   with the default delegate (XNNPACK), runs it once and reports whether XNNPACK took the graph.
   A float32 model is always converted as the reference for size ratio and top-1 agreement.
4. **Shrink**: the converter's metadata strings and signature table are dropped (the runtime needs neither;
   inputs and outputs stay reachable by index) — see :func:`edgecnn.tflite_edit.strip_for_runtime`.
5. **Check and measure** (TF-free): zero float32 tensors in int8/uint8 models, gzip size, zeros per layer in
   the stored weights (:mod:`edgecnn.tflite_checks`), test accuracy through the LiteRT interpreter on
   held-out images (:mod:`edgecnn.evaluate`), top-1 agreement with float32.
6. **Write** everything only after every variant succeeded, each file atomically.

Output layout (``-o DIR/NAME.tflite``; without ``-o`` DIR is ``<run>/tflite`` and NAME ``<model>_<tags>``):

- one variant: ``DIR/NAME.tflite``, ``DIR/labels.txt``, ``DIR/preprocess.json``, ``DIR/NAME.report.json``;
- several (``--all``): one folder per variant, ``DIR/<variant>/NAME_<variant>.tflite`` with its own
  ``labels.txt`` and ``preprocess.json`` (each true for the file beside it), and one ``DIR/NAME.report.json``.
"""
from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edgecnn.errors import EdgecnnError, UsageError
from edgecnn.preprocess import PreprocessSpec, to_float_input
from edgecnn.tflite_checks import (LAYER_IN_NAME, check_fully_integer, first_run, gzip_size, io_quantization,
                                   layer_sparsity)
from edgecnn.tflite_edit import strip_for_runtime


VARIANTS = ("float32", "float16", "dynamic", "int8", "uint8")
INTEGER_VARIANTS = ("int8", "uint8")
DEFAULT_CALIBRATION_SAMPLES = 200
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")

Log = Callable[[str], None]


# ---- report --------------------------------------------------------------------------------------------

@dataclass
class VariantResult:
    """What one .tflite variant measured."""

    variant: str
    path: str | None
    size_bytes: int
    gzip_bytes: int
    ratio_to_float32: float | None
    accuracy: float | None
    agreement_with_float32: float | None
    convert_seconds: float
    float32_tensors: int
    xnnpack: str  # "all ops", "partial (k of n ops)", "refused", "n/a"
    sparse_encoding: bool = False
    input_dtype: str = "float32"
    input_quantization: dict[str, float] | None = None
    weight_sparsity: float | None = None
    layer_sparsity: dict[str, float] = field(default_factory=dict)
    eval_seconds: float | None = None
    written: bool = True
    precision: str | None = None  # planned files: "int8", "mixed", "float16" or "float32" (what --max-drop chose)


@dataclass
class ConvertReport:
    """The whole conversion: source, optimisations, and one :class:`VariantResult` per variant."""

    source: str
    model: str
    run_dir: str | None
    output_dir: str | None
    optimisations: dict[str, Any]
    test_images: int
    data: str | None
    variants: list[VariantResult]
    notes: list[str] = field(default_factory=list)
    edgetpu: dict[str, Any] | None = None
    report_path: str | None = None
    plan: dict[str, Any] | None = None  # --max-drop: every candidate tried and why one was written
    explain: dict[str, Any] | None = None  # --explain: per-layer error and time of the int8 file vs float32

    def variant(self, name: str) -> VariantResult:
        for v in self.variants:
            if v.variant == name:
                return v
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ---- source resolution ---------------------------------------------------------------------------------

@dataclass
class _Source:
    kind: str  # "run" | "file"
    model_path: Path
    name: str
    spec: PreprocessSpec
    labels: list[str] | None
    run_dir: Path | None
    data: str | None
    data_seed: int = 0
    data_limit: int | None = None


def _looks_like_path(source: str) -> bool:
    return os.sep in source or "/" in source or source.startswith(".") or Path(source).suffix != ""


def _resolve_source(source: str | os.PathLike, *, data: str | None, scale: float | None, offset: float | None,
                    resize: str | None, log: Log, train_limit: int | None = None) -> _Source:
    from edgecnn import runs

    text = str(source)
    path = Path(text)
    if path.is_dir() and (path / runs.MODEL_FILE).exists() and (path / runs.CONFIG_FILE).exists():
        return _run_source(path, data)
    if path.exists():
        return _file_source(path, data=data, scale=scale, offset=offset, resize=resize, log=log)
    if _looks_like_path(text):
        raise EdgecnnError(f"{text}: no such file or run folder")
    from edgecnn.zoo import resolve_name

    name = resolve_name(text)  # UsageError with suggestions for unknown names
    run_dir = runs.newest_run(name)
    if run_dir is None:
        from edgecnn.train import train

        log(f"no trained run of {name} yet: training one with the defaults first "
            f"(the same as `edgecnn train {name}`)")
        result = train(name, data or "fashion_mnist", limit=train_limit)
        run_dir = result.run_dir
        log(f"trained {run_dir} (test accuracy {result.metrics.get('test_accuracy', float('nan')):.4f})")
    return _run_source(Path(run_dir), data)


def _run_source(run_dir: Path, data: str | None) -> _Source:
    from edgecnn import runs

    config = runs.read_config(run_dir)
    spec = PreprocessSpec.load(run_dir / runs.PREPROCESS_FILE)
    data_config = config.get("data") or {}
    source = data or data_config.get("source") or "fashion_mnist"
    same = data is None or data == data_config.get("source")
    return _Source("run", run_dir / runs.MODEL_FILE, str(config.get("model", run_dir.name)), spec,
                   runs.read_labels(run_dir), run_dir, source,
                   int(data_config.get("seed", 0)) if same else 0,
                   data_config.get("limit") if same else None)


def load_run(run_dir: str | os.PathLike, *, data: str | None = None, trust_model: bool = False):
    """A trained run folder as ``convert`` reads it: (Keras model, data set, preprocess spec). The data set is
    the one the run was trained on, with the same seed and limit, so its validation and test splits are the
    run's own (``data`` names another source, split with seed 0)."""
    from edgecnn.data import load_dataset

    src = _run_source(Path(run_dir), data)
    model = _load_keras(src, trust_model=trust_model)
    return model, load_dataset(src.data, src.spec, seed=src.data_seed, limit=src.data_limit), src.spec


def _file_source(path: Path, *, data: str | None, scale: float | None, offset: float | None, resize: str | None,
                 log: Log) -> _Source:
    is_saved_model = path.is_dir() and (path / "saved_model.pb").exists()
    if not is_saved_model and path.suffix.lower() not in KERAS_SUFFIXES:
        what = "a folder without saved_model.pb" if path.is_dir() else f"a {path.suffix or 'suffix-less'} file"
        raise EdgecnnError(f"{path}: not a Keras model ({what}; expected .keras, .h5 or a SavedModel folder)")
    folder = path if is_saved_model else path.parent
    spec_file = folder / "preprocess.json"
    spec = PreprocessSpec.load(spec_file) if spec_file.exists() else None
    labels_file = folder / "labels.txt"
    from edgecnn.preprocess import read_labels

    labels = read_labels(labels_file) if labels_file.exists() else None
    name = (path.name if is_saved_model else path.stem) or "model"
    src = _Source("file", path, name, spec, labels, None, data)  # type: ignore[arg-type]
    src._overrides = {"scale": scale, "offset": offset, "resize": resize}  # type: ignore[attr-defined]
    return src


def _load_keras(src: _Source, trust_model: bool = False):
    """Load the Keras model (tf_keras) with the zoo's custom layers; one-line error when it is not one.
    Lambda layers (stored Python code) are refused unless ``trust_model`` (:mod:`edgecnn.model_trust`)."""
    from edgecnn._tf import keras
    from edgecnn.model_trust import check_model_file
    from edgecnn.optimize import zoo_custom_objects

    check_model_file(src.model_path, trust_model=trust_model)

    def load(custom_objects: dict[str, Any]):
        with keras.utils.custom_object_scope(custom_objects):
            return keras.models.load_model(str(src.model_path), compile=False, safe_mode=not trust_model)

    try:
        model = load(zoo_custom_objects())
    except Exception as exc:  # noqa: BLE001 - any loader failure means "not a Keras model we can read"
        try:  # Keras Applications' ConvNeXt has layers named like the zoo's (LayerScale): theirs, by bare name
            model = load({**{k: v for k, v in zoo_custom_objects().items() if ">" in k},
                          **_keras_applications_layers()})
        except Exception:  # noqa: BLE001 - the first failure is the one to report
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EdgecnnError(f"{src.model_path}: not a Keras model edgecnn can load ({first[:200]})") from exc
    if not hasattr(model, "layers") or not hasattr(model, "inputs"):
        raise EdgecnnError(f"{src.model_path}: not a Keras model (a bare SavedModel without Keras metadata)")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise EdgecnnError(f"{src.model_path}: edgecnn converts image classifiers with one input and one output "
                           f"(this model has {len(model.inputs)} and {len(model.outputs)})")
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or any(v is None for v in shape):
        raise EdgecnnError(f"{src.model_path}: the input must be a fixed (height, width, channels) image, got "
                           f"{tuple(model.inputs[0].shape)}")
    return model


def _keras_applications_layers() -> dict[str, Any]:
    """Custom layers of tf_keras.applications that a saved model names without a package (ConvNeXt's)."""
    try:
        from tf_keras.src.applications import convnext
    except ImportError:
        return {}
    return {"LayerScale": convnext.LayerScale, "StochasticDepth": convnext.StochasticDepth}


def _finish_file_spec(src: _Source, model, log: Log) -> None:
    """A user model's preprocessing: preprocess.json beside it, else the model's input + flags."""
    overrides = getattr(src, "_overrides", {})
    h, w, c = (int(v) for v in model.inputs[0].shape[1:])
    if src.spec is None:
        if c not in (1, 3):
            raise EdgecnnError(f"{src.model_path}: input has {c} channels; edgecnn handles 1 (grey) or 3 (RGB)")
        from edgecnn.keras_rewrite import input_preprocessing

        # Keras Applications models that scale their own input (Rescaling/Normalization first) take raw pixels.
        scaling = input_preprocessing(model)
        src.spec = PreprocessSpec(h, w, c, **({"scale": 1.0, "offset": 0.0} if scaling else {}))
        if overrides.get("scale") is None and overrides.get("offset") is None:
            assumed = f"raw pixels 0-255 (it starts with {scaling})" if scaling else "pixel/255"
            log(f"no preprocess.json beside {src.model_path}: assuming inputs are {assumed} "
                "(pass --scale/--offset if the model expects something else)")
    for key in ("scale", "offset", "resize"):
        if overrides.get(key) is not None:
            setattr(src.spec, key, overrides[key])
    if src.spec.shape != (h, w, c):
        raise EdgecnnError(f"preprocess.json says {src.spec.shape} but the model takes {(h, w, c)}")
    PreprocessSpec(**{k: v for k, v in src.spec.__dict__.items() if k != "extra"})  # re-validate overrides


# ---- output layout -------------------------------------------------------------------------------------

def _output_paths(output: str | os.PathLike | None, base_dir: Path, stem: str,
                  variants: Sequence[str]) -> tuple[Path, dict[str, Path], Path]:
    """(output folder, variant → .tflite path, default report path); see the module docstring."""
    if output is None:
        out_dir, name = base_dir / "tflite", stem
    else:
        out = Path(output)
        if out.suffix.lower() != ".tflite":
            raise UsageError(f"-o must name a .tflite file (e.g. out/model.tflite), got {output}")
        out_dir, name = out.parent, out.stem
    if len(variants) == 1:
        filename = name if output is not None else f"{name}_{variants[0]}"
        paths = {variants[0]: out_dir / f"{filename}.tflite"}
        report = out_dir / f"{filename}.report.json"
    else:
        paths = {v: out_dir / v / f"{name}_{v}.tflite" for v in variants}
        report = out_dir / f"{name}.report.json"
    return out_dir, paths, report


def _check_writable(folder: Path) -> None:
    """Fail before any work if the output folder cannot be created or written."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise EdgecnnError(f"cannot write to {folder}: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise EdgecnnError(f"cannot write to {folder}: permission denied")


# ---- child process: convert + first run ----------------------------------------------------------------

def _converter_options(variant: str):
    """(optimizations, supported_ops, input type, output type, needs representative data) for a variant."""
    from edgecnn._tf import tf

    if variant == "float32":
        return [], None, None, None, False
    if variant == "float16":
        return [tf.lite.Optimize.DEFAULT], None, None, None, False
    if variant == "dynamic":
        return [tf.lite.Optimize.DEFAULT], None, None, None, False
    io = tf.int8 if variant == "int8" else tf.uint8
    return [tf.lite.Optimize.DEFAULT], [tf.lite.OpsSet.TFLITE_BUILTINS_INT8], io, io, True


def _sparse_can_pay(variant: str, sparsity: float | None) -> bool:
    """Whether TFLite's sparse encoding can make this variant's file smaller, so the second conversion that
    tries it is worth its time. Each kept weight costs its value plus at least a one-byte index, against the
    value alone when dense: an int8 weight (int8, uint8, dynamic: 1 byte) then needs more than half the weights
    zero to gain, a float16 more than a third, a float32 more than a fifth. Measured: 50 %-pruned int8 files
    never kept the sparse encoding (docs/precision, the Keras Applications tests)."""
    if sparsity is None:
        return False
    value_bytes = 1 if variant in (*INTEGER_VARIANTS, "dynamic") else 2 if variant == "float16" else 4
    return (1.0 - sparsity) * (value_bytes + 1) < value_bytes


def convert_saved_model(job: dict[str, Any]) -> dict[str, Any]:
    """SavedModel → .tflite bytes (optionally trying sparse encoding), then a first run: what each child
    process of :func:`convert` does. ``job``: ``variant``, ``saved_model``, ``calibration`` (a .npy of float
    inputs, for the integer variants) and ``output``. Run it in a child process: the converter and a first
    invoke of a new model can crash the process."""
    from edgecnn._tf import tf

    variant = job["variant"]
    optimizations, ops, in_type, out_type, needs_data = _converter_options(variant)
    calibration = np.load(job["calibration"]) if needs_data else None

    def build(sparse: bool) -> bytes:
        converter = tf.lite.TFLiteConverter.from_saved_model(job["saved_model"])
        opts = list(optimizations)
        if sparse:
            opts.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
        converter.optimizations = opts
        if variant == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if ops is not None:
            # A QAT model with layers left unannotated (a precision plan) keeps those layers in float.
            converter.target_spec.supported_ops = ops + ([tf.lite.OpsSet.TFLITE_BUILTINS] if job.get("allow_float")
                                                         else [])
            converter.inference_input_type = in_type
            converter.inference_output_type = out_type
        if calibration is not None:
            converter.representative_dataset = lambda: ([calibration[i:i + 1]] for i in range(len(calibration)))
        return converter.convert()

    t0 = time.perf_counter()
    dense = build(False)
    result: dict[str, Any] = {"sparse_encoding": False}
    model_bytes = dense
    if job.get("try_sparse"):
        try:
            sparse = build(True)
            if len(sparse) < len(dense):  # keep the sparse encoding only where it pays
                model_bytes, result["sparse_encoding"] = sparse, True
        except Exception as exc:  # noqa: BLE001 - sparse encoding is an optional size gain
            result["sparse_note"] = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    result["convert_seconds"] = time.perf_counter() - t0
    model_bytes = strip_for_runtime(model_bytes)
    Path(job["output"]).write_bytes(model_bytes)
    result.update(first_run(model_bytes))
    return result


def convert_in_child(job: dict[str, Any]) -> dict[str, Any]:
    """(Child side of :func:`_run_child`) :func:`convert_saved_model`, its failure returned as the converter's
    whole text (the parent finds the failing layer in it)."""
    try:
        return convert_saved_model(job)
    except MemoryError:
        raise  # the child harness reports the memory cap
    except Exception as exc:  # noqa: BLE001 - turned into one line by the parent
        return {"error": f"{type(exc).__name__}: {exc}"}


def _run_child(job: dict[str, Any], variant: str, workdir: Path) -> dict[str, Any]:
    """Run one conversion in a child process (edgecnn.child: timeout, memory cap, isolated imports);
    crashes and converter errors become one-line EdgecnnErrors."""
    from edgecnn.child import ChildCrashed, ChildFailed, ChildLimits, ChildOutOfMemory, ChildTimedOut, run_child

    from_qat = bool(job.get("from_qat"))
    try:
        run = run_child("edgecnn.convert:convert_in_child", {"job": job}, limits=ChildLimits.converter(),
                        label=variant, env={"TF_CPP_MIN_LOG_LEVEL": "2", "TF_USE_LEGACY_KERAS": "1"})
    except ChildCrashed as exc:
        if exc.memory_note:
            raise EdgecnnError(f"{variant}: the converter crashed ({exc.signal_name}){exc.memory_note}") from None
        what = "the QAT model" if from_qat else "this model"
        raise EdgecnnError(f"{variant}: the converter or the runtime crashed ({exc.signal_name}) converting or first "
                           f"running {what}; {_alternatives(variant, from_qat)}") from None
    except (ChildTimedOut, ChildOutOfMemory):
        raise
    except ChildFailed as exc:
        raise EdgecnnError(f"{variant}: {explain_converter_error(exc.stderr, variant, from_qat)}") from None
    result = run.value
    if "error" in result:
        raise EdgecnnError(f"{variant}: {explain_converter_error(result['error'], variant, from_qat)}")
    if "failed to create XNNPACK runtime" in run.stderr and result.get("xnnpack") == "all ops":
        result["xnnpack"] = "refused"
    return result


def _alternatives(variant: str, from_qat: bool = False) -> str:
    """What to try instead — never the flag that was already given (a QAT model is not told to add --qat)."""
    if variant not in INTEGER_VARIANTS:
        return "try another variant (e.g. --dynamic)"
    if from_qat:
        return "try without --qat (post-training int8 calibration) or --dynamic (float activations)"
    return "try --qat (quantisation-aware training) or --dynamic (float activations)"


def explain_converter_error(text: str, variant: str, from_qat: bool = False) -> str:
    """One line from the converter's long error text: the failing op, its layer, and a flag to try
    (``from_qat``: the model already came from quantisation-aware training)."""
    text = text or "conversion failed"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    error_lines = [line for line in lines if "error:" in line] or lines
    message = error_lines[0]
    message = re.sub(r"^.*?error:\s*", "", message)
    match = LAYER_IN_NAME.search(text)
    layer = f" (layer '{match.group(1)}')" if match else ""
    if "Flex" in text or "Select TensorFlow op" in text or "not supported by" in text:
        hint = "; the op has no TFLite builtin kernel: replace that layer, or try --float32/--fp16"
    elif variant in INTEGER_VARIANTS:
        hint = "; " + _alternatives(variant, from_qat)
    else:
        hint = ""
    return f"cannot convert{layer}: {message[:240]}{hint}"


# ---- the pipeline --------------------------------------------------------------------------------------

def expand_variants(variants: Sequence[str] | str) -> list[str]:
    names = [variants] if isinstance(variants, str) else list(variants)
    out: list[str] = []
    for name in names:
        key = {"fp16": "float16", "fp32": "float32", "all": "all"}.get(name.lower(), name.lower())
        if key == "all":
            out.extend(v for v in VARIANTS if v not in out)
        elif key in VARIANTS:
            if key not in out:
                out.append(key)
        else:
            raise UsageError(f"unknown variant {name!r} (choose from {', '.join(VARIANTS)}, all)")
    if not out:
        raise UsageError("no variant asked for")
    return out


def convert(source: str | os.PathLike, variants: Sequence[str] | str = ("int8",), *, prune: float | None = None,
            prune_pattern: str | None = None, prune_keep: str = "smallest", qat: bool = False,
            edgetpu: bool = False, calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES, data: str | None = None, epochs: int = 1,
            output: str | os.PathLike | None = None, report: str | os.PathLike | None = None,
            limit: int | None = None, eval_limit: int | None = None, batch_size: int = 64,
            scale: float | None = None, offset: float | None = None, resize: str | None = None,
            seed: int = 0, max_drop: float | None = None, explain: bool = False, distill: float | None = None,
            prune_recover: float | None = None, prune_max_epochs: int | None = None,
            max_drop_margin: float | None = None, log: Log | None = None,
            trust_model: bool = False) -> ConvertReport:
    """Optimise and convert ``source`` into TFLite ``variants``; write outputs; return the report.

    ``limit`` caps the training images used for fine-tuning and calibration (and a fresh default training);
    ``eval_limit`` the held-out test images the accuracy is measured on (default: all of them).
    ``max_drop`` (points of top-1 below float32 on the validation split) turns the one integer variant asked for
    into a precision plan (:mod:`edgecnn.precision_plan`): the fastest file within that budget is written —
    full int8, int8 with some layers in float, or float16/float32 when nothing quantised beats float32.
    A file is within the budget when its drop plus ``max_drop_margin`` standard errors of it is (``None``:
    :data:`edgecnn.precision_plan.MARGIN_SIGMAS`; 0 compares the drop alone).
    ``explain`` adds the per-layer error and time of the integer file against float32 (:mod:`edgecnn.layer_error`)
    to the report, with a PNG beside it.
    ``trust_model`` allows Lambda layers (Python code stored in the model file, run when it is loaded).
    ``prune_keep`` (a rule of :data:`edgecnn.optimize.KEEP_RULES`) says which layers unstructured pruning leaves
    dense: by default the smallest ones, which hold ≤ 5 % of the weights and most of the damage (docs/RECIPES.md).
    ``distill`` (0–1): the share of the fine-tune's targets (``prune``/``qat``) taken from the unoptimised
    model's own predictions instead of the labels (knowledge distillation, :func:`edgecnn.optimize.prune`).
    ``None``: each fine-tune's measured default, :data:`edgecnn.optimize.PRUNE_DISTILL` for pruning, labels
    only for QAT (docs/RECIPES.md).
    ``prune_recover`` / ``prune_max_epochs``: if after ``epochs`` the pruned model is more than ``prune_recover``
    points below the dense one on validation, pruning starts again from the dense model over twice the epochs
    (gradually) and keeps the better, when ``prune_max_epochs`` in all allow it (``None``:
    :data:`edgecnn.optimize.PRUNE_RECOVER_POINTS`, room for that one retry; :func:`edgecnn.optimize.prune`).
    """
    from edgecnn.optimize import (KEEP_RULES, PRUNE_DISTILL, check_distill, check_prune_recovery, check_sparsity,
                                  parse_pattern)

    log = log or (lambda message: print(message, file=sys.stderr))
    wanted = expand_variants(variants)
    if edgetpu and not any(v in INTEGER_VARIANTS for v in wanted):
        wanted.append("int8")
        log("--edgetpu needs a full-integer model: adding the int8 variant")
    sparsity = check_sparsity(prune) if prune is not None else None
    asked_distill = None if distill is None else check_distill(distill)
    pattern = parse_pattern(prune_pattern)
    if pattern is not None and sparsity is None:
        sparsity = pattern[0] / pattern[1]
    if asked_distill and sparsity is None and not qat:
        # Distillation weights the targets of a fine-tune; without one it would be silently ignored.
        raise UsageError("--distill needs --prune or --qat: it weights their fine-tuning targets")
    if prune_keep not in KEEP_RULES:
        raise UsageError(f"--prune-keep must be one of {', '.join(KEEP_RULES)}, got {prune_keep!r}")
    if calibration_samples < 1:
        raise UsageError(f"--calibration-samples must be at least 1, got {calibration_samples}")
    if epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {epochs}")
    prune_recover, prune_max_epochs = check_prune_recovery(prune_recover, prune_max_epochs, epochs)
    integer_wanted = [v for v in wanted if v in INTEGER_VARIANTS]
    if max_drop is not None:
        if not 0.0 <= float(max_drop) <= 100.0:
            raise UsageError(f"--max-drop is in points of top-1 accuracy (0–100), got {max_drop}")
        if len(wanted) != 1 or not integer_wanted:
            raise UsageError("--max-drop plans the precision of one integer file: use it with --int8 or --uint8 "
                             "alone")
    if max_drop_margin is not None:
        if max_drop is None:
            raise UsageError("--max-drop-margin widens the --max-drop budget's check: use it with --max-drop")
        if not 0.0 <= float(max_drop_margin) <= 10.0:
            raise UsageError(f"--max-drop-margin is a number of standard errors (0–10), got {max_drop_margin}")
    if explain and not integer_wanted:
        raise UsageError("--explain compares the integer file with float32: add --int8 or --uint8")
    if output is not None:
        _check_writable(Path(output).parent)
    if report is not None:
        _check_writable(Path(report).parent)

    needs_data = bool(set(wanted) & set(INTEGER_VARIANTS)) or qat or sparsity is not None
    src = _resolve_source(source, data=data, scale=scale, offset=offset, resize=resize, log=log, train_limit=limit)
    if src.kind == "file" and src.data is None and needs_data:
        what = ("--qat" if qat else "--prune") if not set(wanted) & set(INTEGER_VARIANTS) else "--int8/--uint8"
        raise EdgecnnError(f"{what} needs images to calibrate/fine-tune on: pass --data fashion_mnist, --data digits "
                           f"or --data FOLDER (one sub-folder of images per class) for {src.model_path}")

    tags = [f"pruned{round(sparsity * 100)}" if pattern is None and sparsity is not None else "",
            f"{pattern[0]}of{pattern[1]}" if pattern else "", "qat" if qat else ""]
    stem = "_".join([src.name, *[t for t in tags if t]])
    base_dir = src.run_dir if src.run_dir is not None else (src.model_path if src.model_path.is_dir()
                                                            else src.model_path.parent)
    out_dir, paths, default_report = _output_paths(output, base_dir, stem, wanted)
    if max_drop is not None and report is None:
        default_report = out_dir / f"{Path(output).stem if output is not None else stem}_planned.report.json"
    _check_writable(out_dir)
    report_path = Path(report) if report is not None else default_report

    model = _load_keras(src, trust_model=trust_model)
    if src.kind == "file":
        _finish_file_spec(src, model, log)
    spec = src.spec

    dataset = None
    if src.data is not None:
        from edgecnn.data import load_dataset

        dataset = load_dataset(src.data, spec, seed=src.data_seed, limit=src.data_limit)
        if limit is not None and limit < len(dataset.x_train):
            # Fewer fine-tuning/calibration images, the same held-out test split.
            import dataclasses

            keep = np.sort(np.random.default_rng(seed).permutation(len(dataset.x_train))[:limit])
            dataset = dataclasses.replace(dataset, x_train=dataset.x_train[keep], y_train=dataset.y_train[keep])
        classes = int(model.outputs[0].shape[-1])
        if dataset.num_classes != classes:
            raise EdgecnnError(f"--data {src.data} has {dataset.num_classes} classes but the model outputs {classes}")
        if src.labels is None:
            src.labels = list(dataset.labels)
    if src.labels is None:
        src.labels = [f"class_{i}" for i in range(int(model.outputs[0].shape[-1]))]

    notes: list[str] = []
    if src.kind == "file" and (qat or sparsity is not None):  # users' graphs: into layers tfmot accepts
        from edgecnn.keras_rewrite import prepare_for_tfmot

        rewrite = prepare_for_tfmot(model, spec, dataset.x_test if len(dataset.x_test) else dataset.x_train, log)
        model, spec = rewrite.model, rewrite.spec
        notes.extend(rewrite.notes())
    optimisations: dict[str, Any] = {"prune": sparsity, "prune_pattern": prune_pattern, "qat": qat,
                                     "epochs": epochs if (qat or sparsity is not None) else 0,
                                     "calibration_samples": calibration_samples}
    if max_drop is not None:
        from edgecnn.precision_plan import MARGIN_SIGMAS

        max_drop_margin = MARGIN_SIGMAS if max_drop_margin is None else float(max_drop_margin)
        optimisations["max_drop"] = max_drop
        optimisations["max_drop_margin"] = max_drop_margin
    prune_distill = PRUNE_DISTILL if asked_distill is None else asked_distill
    qat_distill = 0.0 if asked_distill is None else asked_distill
    if asked_distill and (qat or sparsity is not None):
        optimisations["distill"] = asked_distill
    if sparsity is not None:
        optimisations["prune_distill"] = prune_distill
    if qat:
        optimisations["qat_distill"] = qat_distill
    if sparsity is not None:
        optimisations["prune_keep"] = prune_keep if pattern is None else "none"
    base_model, qat_model = _optimise(model, dataset, spec, sparsity=sparsity, pattern=prune_pattern,
                                      keep=prune_keep if pattern is None else "none",
                                      qat=qat and max_drop is None, epochs=epochs, batch_size=batch_size, seed=seed,
                                      prune_distill=prune_distill, qat_distill=qat_distill, log=log, notes=notes,
                                      optimisations=optimisations, prune_recover=prune_recover,
                                      prune_max_epochs=prune_max_epochs)
    plan_result = explanation = None

    with tempfile.TemporaryDirectory(prefix="edgecnn-convert-") as tmp:
        workdir = Path(tmp)
        saved = _save_models(workdir, base_model, qat_model)
        calibration_file = workdir / "calibration.npy"
        if dataset is not None:
            from edgecnn.data import calibration_samples as pick

            np.save(calibration_file, to_float_input(pick(dataset, calibration_samples, seed=seed), spec))
        order = ["float32", *[v for v in wanted if v != "float32"]]
        if max_drop is not None:  # the plan makes the integer files itself; float16 is one of its fallbacks
            order = ["float32", "float16"]
        produced: dict[str, tuple[bytes, dict[str, Any]]] = {}
        for variant in order:
            source_model = saved["qat"] if (qat_model is not None and variant in INTEGER_VARIANTS) else saved["base"]
            log(f"converting {variant}" + (" (from the QAT model)" if source_model == saved.get("qat") else ""))
            job = {"variant": variant, "saved_model": str(source_model), "calibration": str(calibration_file),
                   "output": str(workdir / f"{variant}.tflite"),
                   "try_sparse": _sparse_can_pay(variant, sparsity) and variant in wanted,
                   "from_qat": source_model == saved.get("qat")}
            info = _run_child(job, variant, workdir)
            produced[variant] = ((workdir / f"{variant}.tflite").read_bytes(), info)

        measured_variants = wanted
        if max_drop is not None:
            # --qat: the plan calls this with the Keras layers it keeps in float, once it has chosen them
            qat_hook = functools.partial(_plan_qat, base_model, dataset, spec, workdir=workdir,
                                         calibration_file=calibration_file, io_type=integer_wanted[0], epochs=epochs,
                                         batch_size=batch_size, seed=seed, preserve_sparsity=sparsity is not None,
                                         distill=qat_distill, log=log) if qat else None
            plan_result, plan_bytes = _plan(saved["base"], calibration_file, produced, spec, dataset, eval_limit,
                                            io_type=integer_wanted[0], max_drop=float(max_drop),
                                            margin_sigmas=max_drop_margin, edgetpu=edgetpu, qat=qat_hook, log=log)
            chosen = plan_result.chosen_candidate
            # The integer variant's slot holds what the plan chose (its `precision` says what is inside).
            produced[integer_wanted[0]] = (plan_bytes, {"xnnpack": chosen.xnnpack})
            paths = {integer_wanted[0]: Path(output) if output is not None
                     else out_dir / f"{stem}_{chosen.kind}.tflite"}
            explanation = plan_result.explain
        for variant in wanted:
            if variant in INTEGER_VARIANTS and max_drop is None:
                check_fully_integer(produced[variant][0], variant)
            if variant in INTEGER_VARIANTS and edgetpu:
                # the Edge TPU needs static shapes: batch 1 (measured and written as such)
                from edgecnn.targets.coral import pin_batch_to_one

                produced[variant] = (pin_batch_to_one(produced[variant][0]), produced[variant][1])
        if explain and explanation is None:
            explanation = _explain(produced, integer_wanted[0], spec, dataset, workdir, log)
        results, test_images = _measure(produced, measured_variants, spec, dataset, eval_limit, log)
        if plan_result is not None:
            results[-1].precision = plan_result.chosen_candidate.kind
            results[-1].float32_tensors = 0  # float layers are the plan's choice, not a conversion's failure

    for r in results:
        if r.variant in INTEGER_VARIANTS and r.float32_tensors:
            notes.append(f"{r.variant}: {r.float32_tensors} float32 tensors left (not fully integer)")
        if r.xnnpack == "refused":
            notes.append(f"{r.variant}: XNNPACK refused this model; it runs on the slower reference kernels")
    if qat_model is None and qat:
        notes.append("QAT requested but not applied")

    # Write: only now, after every variant converted and ran.
    for r in results:
        if r.variant not in measured_variants:
            r.path, r.written = None, False
            continue
        path = paths[r.variant]
        _write_variant(path, produced[r.variant][0], spec, r, src.labels)
        r.path = str(path)
    conv_report = ConvertReport(source=str(source), model=src.name,
                                run_dir=str(src.run_dir) if src.run_dir else None, output_dir=str(out_dir),
                                optimisations=optimisations, test_images=test_images, data=src.data,
                                variants=[r for r in results if r.written], notes=notes,
                                report_path=str(report_path))
    if plan_result is not None:
        conv_report.plan = plan_result.to_json()
    if explanation is not None:
        conv_report.explain = explanation
        _plot_explanation(explanation, report_path, src.name, log)
    float_ref = next(r for r in results if r.variant == "float32")
    if "float32" not in wanted:  # keep the reference numbers in the report even when the file is not written
        conv_report.notes.append(f"float32 reference: {float_ref.size_bytes} bytes, accuracy "
                                 f"{_fmt(float_ref.accuracy)}")
        conv_report.optimisations["float32_reference"] = {"size_bytes": float_ref.size_bytes,
                                                          "accuracy": float_ref.accuracy}
    if edgetpu:
        conv_report.edgetpu = _edgetpu(conv_report, log)
    from edgecnn.fileio import write_json

    write_json(report_path, conv_report.to_json())
    return conv_report


def _plan(saved_model: Path, calibration_file: Path, produced: dict[str, tuple[bytes, dict[str, Any]]],
          spec: PreprocessSpec, dataset, eval_limit: int | None, *, io_type: str, max_drop: float,
          margin_sigmas: float, edgetpu: bool, qat: Callable[[list[str]], str] | None, log: Log):
    """Run the precision plan on the validation split (test images only for the report); (result, bytes)."""
    from edgecnn.precision_plan import PlanInputs, plan

    x_test = y_test = None
    if len(dataset.x_test):
        n = len(dataset.x_test) if eval_limit is None else min(eval_limit, len(dataset.x_test))
        x_test, y_test = dataset.x_test[:n], dataset.y_test[:n]
    inputs = PlanInputs(saved_model=saved_model, calibration_npy=calibration_file,
                        float32_bytes=produced["float32"][0], float16_bytes=produced["float16"][0], spec=spec,
                        x_val=dataset.x_val, y_val=dataset.y_val, x_test=x_test, y_test=y_test, io_type=io_type,
                        qat=qat)
    return plan(inputs, max_drop=max_drop, margin_sigmas=margin_sigmas, edgetpu=edgetpu,
                workdir=calibration_file.parent / "plan", log=log)


def _plan_qat(base_model, dataset, spec: PreprocessSpec, keep_float: list[str], workdir: Path,
              calibration_file: Path, *, io_type: str, epochs: int, batch_size: int, seed: int,
              preserve_sparsity: bool, log: Log, distill: float = 0.0) -> str:
    """QAT of every layer but ``keep_float``, converted (those layers stay float) and first-run in a child."""
    from edgecnn import optimize
    from edgecnn._tf import tf

    data = optimize.FineTuneData.from_dataset(dataset, spec)
    qat_model = optimize.quantize_aware(base_model, data=data, epochs=epochs, batch_size=batch_size, seed=seed,
                                        preserve_sparsity=preserve_sparsity, distill=distill,
                                        custom_objects=optimize.zoo_custom_objects(), log=log, keep_float=keep_float)
    saved = workdir / "plan_qat_savedmodel"
    tf.saved_model.save(qat_model, str(saved))
    output = workdir / "plan_qat.tflite"
    job = {"variant": io_type, "saved_model": str(saved), "calibration": str(calibration_file),
           "output": str(output), "allow_float": bool(keep_float)}
    _run_child(job, f"{io_type}_plan_qat", workdir)
    return str(output)


def _explain(produced: dict[str, tuple[bytes, dict[str, Any]]], variant: str, spec: PreprocessSpec, dataset,
             workdir: Path, log: Log) -> dict[str, Any]:
    """Per-layer error (validation images) and time of the integer variant against float32."""
    from edgecnn.layer_error import add_times, compare
    from edgecnn.precision_plan import EXPLAIN_IMAGES

    images = dataset.x_val if len(dataset.x_val) else dataset.x_train
    log(f"explain: per-layer error of {variant} vs float32 on {min(EXPLAIN_IMAGES, len(images))} validation "
        "images, and per-layer time from the op profiler")
    diagnosis = compare(produced[variant][0], produced["float32"][0], images[:EXPLAIN_IMAGES], spec)
    quant_path, float_path = workdir / f"explain_{variant}.tflite", workdir / "explain_float32.tflite"
    quant_path.write_bytes(produced[variant][0])
    float_path.write_bytes(produced["float32"][0])
    add_times(diagnosis, quant_path, float_path)
    return diagnosis.to_json()


def _plot_explanation(explanation: dict[str, Any], report_path: Path, name: str, log: Log) -> None:
    from edgecnn.layer_error import LayerErrorReport, plot_explanation

    png = report_path.with_name(report_path.name.replace(".report.json", "") + ".explain.png")
    try:
        plot_explanation(LayerErrorReport.from_json(explanation), png, title=f"{name}: quantisation error by layer")
        explanation["plot"] = str(png)
    except EdgecnnError as exc:  # no matplotlib (a runtime-only install): the table still says it all
        log(f"explain: no plot ({exc})")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _optimise(model, dataset, spec, *, sparsity, pattern, keep, qat, epochs, batch_size, seed, log, notes,
              optimisations, prune_distill=0.0, qat_distill=0.0, prune_recover=None, prune_max_epochs=None):
    """(model for float/fp16/dynamic variants, QAT model for integer variants or None)."""
    if sparsity is None and not qat:
        return model, None
    from edgecnn import optimize

    data = optimize.FineTuneData.from_dataset(dataset, spec)
    custom = optimize.zoo_custom_objects()
    base = model
    if sparsity is not None:
        dense = optimize.layers_to_keep(model, keep)
        if dense:
            sizes = optimize.prunable_sizes(model)
            share = sum(sizes[name] for name in dense) / sum(sizes.values())
            each = optimize.compensated_sparsity(sparsity, sizes, dense)
            optimisations["dense_layers"] = dense
            notes.append(f"pruning kept {len(dense)} layers dense ({keep}: {share:.1%} of the prunable weights: "
                         f"{', '.join(dense[:6])}{', …' if len(dense) > 6 else ''}); the others pruned to "
                         f"{each:.1%} so that the total is {sparsity:.0%}")
        finetune: dict[str, Any] = {}
        base = optimize.prune(model, sparsity, data=data, pattern=pattern, epochs=epochs, batch_size=batch_size,
                              keep=dense, seed=seed, distill=prune_distill, custom_objects=custom, log=log,
                              recover_points=prune_recover, max_epochs=prune_max_epochs, record=finetune)
        optimisations["prune_finetune"] = finetune
        if len(finetune.get("attempts", [])) > 1:
            first, again = finetune["attempts"][:2]
            chosen = "the retry" if again["kept"] else f"the first {epochs}-epoch one"
            notes.append(f"pruning was {first['val_drop_points']:.2f} points below the dense model on validation after "
                         f"{epochs} epoch(s), more than {prune_recover:g}: pruned again from the dense model over "
                         f"{again['epochs']} epochs ({again['schedule']} schedule), {again['val_drop_points']:.2f} "
                         f"points below; kept {chosen}, the better on validation")
    qat_model = None
    if qat:
        qat_model = optimize.quantize_aware(base, data=data, epochs=epochs, batch_size=batch_size, seed=seed,
                                            preserve_sparsity=sparsity is not None, distill=qat_distill,
                                            custom_objects=custom, log=log)
    return base, qat_model


def _save_models(workdir: Path, base_model, qat_model) -> dict[str, Path]:
    """SavedModels the child processes convert from (the QAT one needs the quantize scope only here)."""
    from edgecnn._tf import tf

    saved = {"base": workdir / "base_savedmodel"}
    tf.saved_model.save(base_model, str(saved["base"]))
    if qat_model is not None:
        saved["qat"] = workdir / "qat_savedmodel"
        tf.saved_model.save(qat_model, str(saved["qat"]))
    return saved


def _measure(produced: dict[str, tuple[bytes, dict[str, Any]]], wanted: list[str], spec: PreprocessSpec,
             dataset, eval_limit: int | None, log: Log) -> tuple[list[VariantResult], int]:
    from edgecnn.evaluate import agreement, evaluate_tflite

    x_test = y_test = None
    if dataset is not None and len(dataset.x_test):
        n = len(dataset.x_test) if eval_limit is None else min(eval_limit, len(dataset.x_test))
        x_test, y_test = dataset.x_test[:n], dataset.y_test[:n]
    float_size = len(produced["float32"][0])
    results: list[VariantResult] = []
    float_predictions = None
    for variant in ["float32", *[v for v in wanted if v != "float32"]]:
        model_bytes, info = produced[variant]
        dtype, quant, floats = io_quantization(model_bytes)
        variant_spec = PreprocessSpec.from_json({**spec.to_json(), "input_dtype": dtype})
        variant_spec.input_quantization = quant
        accuracy = agree = seconds = None
        if x_test is not None:
            log(f"measuring {variant} on {len(x_test)} test images through the interpreter")
            measured = evaluate_tflite(model_bytes, x_test, y_test, variant_spec)
            accuracy, seconds = measured["accuracy"], measured["seconds"]
            if variant == "float32":
                float_predictions = measured["predictions"]
            agree = agreement(measured["predictions"], float_predictions)
        overall, per_layer = layer_sparsity(model_bytes)
        results.append(VariantResult(
            variant=variant, path=None, size_bytes=len(model_bytes), gzip_bytes=gzip_size(model_bytes),
            ratio_to_float32=len(model_bytes) / float_size, accuracy=accuracy, agreement_with_float32=agree,
            convert_seconds=round(float(info.get("convert_seconds", 0.0)), 2),
            float32_tensors=floats if variant in INTEGER_VARIANTS else 0, xnnpack=info.get("xnnpack", "n/a"),
            sparse_encoding=bool(info.get("sparse_encoding")), input_dtype=dtype, input_quantization=quant,
            weight_sparsity=round(overall, 4), layer_sparsity=per_layer,
            eval_seconds=None if seconds is None else round(seconds, 3)))
    return results, 0 if x_test is None else len(x_test)


def _write_variant(path: Path, model_bytes: bytes, spec: PreprocessSpec, result: VariantResult,
                   labels: list[str]) -> None:
    from edgecnn.fileio import write_bytes, write_text

    variant_spec = PreprocessSpec.from_json({**spec.to_json(), "input_dtype": result.input_dtype})
    variant_spec.input_quantization = result.input_quantization
    variant_spec.labels = "labels.txt"
    write_bytes(path, model_bytes)
    write_text(path.parent / "labels.txt", "\n".join(labels) + "\n")
    variant_spec.save(path.parent / "preprocess.json")


def _edgetpu(report: ConvertReport, log: Log) -> dict[str, Any]:
    """Compile the integer variant for the Edge TPU (the compiler only exists on x86-64 Linux)."""
    integer = next((r for r in report.variants if r.variant in INTEGER_VARIANTS and r.path), None)
    if integer is None:
        return {"error": "no int8/uint8 variant to compile"}
    try:
        from edgecnn.targets.coral import compile_for_edgetpu
    except ImportError:
        return {"error": "Edge TPU support (edgecnn.targets.coral) is not available in this install"}
    try:
        result = compile_for_edgetpu(integer.path, str(Path(integer.path).parent))
    except EdgecnnError as exc:
        log(f"Edge TPU: {exc}")
        return {"error": str(exc)}
    return result if isinstance(result, dict) else {"result": str(result)}
