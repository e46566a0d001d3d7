"""The fastest file that stays within an accuracy budget: per-layer precision chosen from measurements.

``edgecnn convert SOURCE --int8 --max-drop PTS`` runs :func:`plan`:

1. **Calibrate once** (TFLite converter, calibration-only mode, in a child process), then quantise the
   calibrated model as often as needed with some layers left in float32 — the converter's selective
   quantisation (``mlir_quantize(..., denylisted_nodes=...)``, what ``tf.lite.experimental.QuantizationDebugger``
   uses): a float layer gets a DEQUANTIZE in front and a QUANTIZE behind, inputs and outputs stay int8/uint8.
2. **Diagnose** full int8 against float32 on validation images (:mod:`edgecnn.layer_error`): each layer's own
   quantisation error, and its time as int8 and as float32 from the op profiler.
3. **Candidates**: full int8; the most harmful layers in float — 1, 2, 4, … of them — until the validation drop
   is within the budget; the layers that are *slower* in int8 (measured) in float, alone and with the accuracy
   set; float16 and float32 as the fallbacks.
4. **Measure** every candidate: top-1 on the **validation** split (the drop against float32 is the budget's
   measure: a candidate is within it when its drop plus ``margin_sigmas`` standard errors is, so a drop measured
   on few images does not pass on luck — see :func:`paired_sigma_points`), size, and latency with all candidates
   timed in turn in one process (interleaved, so ratios are taken under the same conditions).
5. **Choose** among the candidates within the budget and no slower than float32 the fastest; where several are
   within ``TIE_FRACTION`` of it, the smallest (so float16 wins a tie with float32: the same speed, half the
   size). Test images are touched only after the choice, for the report.
   ``edgetpu=True``: a float layer would leave the Edge TPU, so only full int8 can be chosen and the report
   names the layers the CPU plan would have kept in float.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edgecnn.errors import EdgecnnError
from edgecnn.preprocess import PreprocessSpec

Log = Callable[[str], None]
TIE_FRACTION = 0.03  # latencies closer than this are a tie on a shared machine: prefer the smaller file
SLOWER_MARGIN = 0.10  # a layer counts as slower in int8 when its int8 time exceeds float32's by 10 % …
SLOWER_MIN_MS = 0.005  # … and by at least 5 µs (below that the profiler's µs resolution decides)
EXPLAIN_IMAGES = 200  # validation images for the per-layer diagnosis
CONVERT_TIMEOUT = 3600.0
# The budget must hold for the drop plus one standard error of it: on 1600 validation images one image is 0.06
# points and a full-int8 file typically disagrees with float32 on 2-5 % of them (σ 0.2-0.5 points), so a plain
# "drop <= budget" passes files whose true drop is over it about half the time when it sits near the budget.
MARGIN_SIGMAS = 1.0


@dataclass
class Candidate:
    """One file the plan tried."""

    name: str
    kind: str  # "int8" (full), "mixed", "float16", "float32"
    float_layers: list[str]
    why: str
    size_bytes: int = 0
    val_accuracy: float | None = None
    val_drop_points: float | None = None
    val_sigma_points: float | None = None  # standard error of val_drop_points (paired, per image)
    val_drop_bound_points: float | None = None  # val_drop_points + margin × val_sigma_points: what the budget checks
    within_budget: bool = False
    latency_ms: float | None = None
    latency_p90_ms: float | None = None
    speedup_vs_float32: float | None = None
    test_accuracy: float | None = None
    test_drop_points: float | None = None
    xnnpack: str = "n/a"
    qat: bool = False  # made from a quantisation-aware fine-tune of the quantised layers
    path: str | None = field(default=None, repr=False)  # the temporary file while planning

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        return data


@dataclass
class PlanResult:
    max_drop_points: float
    split: str
    val_images: int
    test_images: int
    float32_val_accuracy: float
    candidates: list[Candidate]
    chosen: str
    reason: str
    edgetpu: bool = False
    edgetpu_would_keep_float: list[str] = field(default_factory=list)
    timing: dict[str, Any] = field(default_factory=dict)
    explain: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    margin_sigmas: float = MARGIN_SIGMAS

    def candidate(self, name: str) -> Candidate:
        for c in self.candidates:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def chosen_candidate(self) -> Candidate:
        return self.candidate(self.chosen)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["candidates"] = [c.public() for c in self.candidates]
        return data


# ---- child-process side (TensorFlow) -------------------------------------------------------------------

def calibrate_child(saved_model: str, calibration_npy: str, output: str) -> dict[str, Any]:
    """(Child) The calibrated float model: the converter's calibration-only output, with range statistics."""
    from edgecnn._tf import tf

    calibration = np.load(calibration_npy)
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([calibration[i:i + 1]] for i in range(len(calibration)))
    converter.experimental_mlir_quantizer = True
    converter._experimental_calibrate_only = True  # noqa: SLF001 - what QuantizationDebugger does, pinned TF
    t0 = time.perf_counter()
    Path(output).write_bytes(converter.convert())
    return {"seconds": time.perf_counter() - t0}


def quantize_child(calibrated: str, float_nodes: list[str], io_type: str, output: str) -> dict[str, Any]:
    """(Child) Quantise the calibrated model leaving ``float_nodes`` (op output names) in float; first run it."""
    from tensorflow.lite.python import convert as tflite_convert

    from edgecnn._tf import tf
    from edgecnn.tflite_checks import first_run
    from edgecnn.tflite_edit import strip_for_runtime

    io = {"int8": tf.int8, "uint8": tf.uint8}[io_type]
    t0 = time.perf_counter()
    model = tflite_convert.mlir_quantize(Path(calibrated).read_bytes(), fully_quantize=True, input_data_type=io,
                                         output_data_type=io, denylisted_nodes=list(float_nodes) or None)
    model = strip_for_runtime(model)
    Path(output).write_bytes(model)
    return {"seconds": time.perf_counter() - t0, **first_run(model)}


# ---- parent side ---------------------------------------------------------------------------------------

def _run(function: str, kwargs: dict[str, Any], label: str) -> dict[str, Any]:
    from edgecnn.child import ChildLimits, run_in_child

    # TF children: the converter's limits (a LiteRT child's 8 GiB address-space cap is too small for TF)
    limits = ChildLimits.converter()
    return run_in_child(f"edgecnn.precision_plan:{function}", kwargs, label=label,
                        limits=ChildLimits(max(limits.timeout, CONVERT_TIMEOUT), limits.memory, limits.memory_setting,
                                           limits.timeout_setting))


def float_nodes_for(calibrated: Any, layers: Sequence[str]) -> list[str]:
    """Output tensor names of the calibrated model's ops that belong to ``layers`` (the denylist)."""
    from edgecnn.layer_error import op_layers

    wanted = set(layers)
    names = []
    for op, layer in zip(calibrated.ops, op_layers(calibrated)):
        if layer in wanted and op.outputs and op.outputs[0] >= 0:
            names.append(calibrated.tensors[op.outputs[0]].name)
    return names


def interleaved_latency(models: dict[str, bytes], *, threads: int = 2, rounds: int = 60,
                        max_seconds: float = 60.0) -> dict[str, dict[str, float]]:
    """Median and p90 latency (ms) per model, the models invoked in turn (:func:`edgecnn.profile.interleaved_timing`),
    each turn at least :data:`edgecnn.profile.MIN_TURN_MS` long (:func:`edgecnn.profile.turn_bursts`).

    Every file was first run in a child process already (quantize_child / the variant conversion), so loading
    them here cannot take this process down with them.
    """
    from edgecnn.profile import interleaved_timing, ready_interpreter, turn_bursts

    interps = {name: ready_interpreter(data, num_threads=threads, where=name) for name, data in models.items()}
    runners = {name: interp.invoke for name, interp in interps.items()}
    bursts = turn_bursts(runners, warmup=3)
    times = interleaved_timing(runners, rounds=rounds, max_secs=max_seconds, burst=bursts)
    return {name: {"median_ms": float(np.median(t)), "p90_ms": float(np.percentile(t, 90)), "runs": len(t),
                   "burst": bursts[name]} for name, t in times.items()}


def paired_sigma_points(reference_correct: np.ndarray, candidate_correct: np.ndarray) -> float:
    """Standard error, in points, of the accuracy drop of a candidate against the reference on the same images.

    Per image the drop is d = ref_correct − cand_correct ∈ {−1, 0, +1}; its mean is the drop and the standard
    error of that mean is sqrt(var(d) / n), var(d) = mean(d²) − mean(d)² — non-zero only through the images on
    which exactly one of the two files is right (the discordant pairs of McNemar's test).
    """
    d = np.asarray(reference_correct, np.float64) - np.asarray(candidate_correct, np.float64)
    if d.size == 0:
        return 0.0
    variance = float(np.mean(d * d) - np.mean(d) ** 2)
    return 100.0 * float(np.sqrt(max(variance, 0.0) / d.size))


def choose(candidates: list[Candidate]) -> tuple[Candidate, str]:
    """The fastest candidate within the budget (ties within TIE_FRACTION: the smallest). Uses no test numbers."""
    float32 = next(c for c in candidates if c.kind == "float32")
    # Never slower than float32: only files measured at most as slow as float32 (float32 itself included).
    eligible = [c for c in candidates if c.within_budget and c.latency_ms is not None
                and c.latency_ms <= float32.latency_ms]  # type: ignore[operator]
    if not eligible:
        eligible = [float32]
    fastest = min(c.latency_ms for c in eligible)  # type: ignore[type-var]
    tied = [c for c in eligible if c.latency_ms <= fastest * (1.0 + TIE_FRACTION)]  # type: ignore[operator]
    best = min(tied, key=lambda c: (c.size_bytes, c.latency_ms))
    if best.kind in ("float32", "float16"):
        quantised = [c for c in candidates if c.kind in ("int8", "mixed")]
        within = [c for c in quantised if c.within_budget]
        if not within:
            why = "no int8 or mixed file stayed within the accuracy budget on the validation images"
        else:
            quickest = min(within, key=lambda c: c.latency_ms or float("inf"))
            why = (f"no int8 or mixed file within the budget beat float32 here (best: {quickest.name}, "
                   f"{quickest.latency_ms:.3f} ms vs {float32.latency_ms:.3f} ms)")
        return best, f"{why}; writing {best.kind}" + (" (half the size, the same speed here)"
                                                       if best.kind == "float16" else "")
    reason = (f"fastest within the budget: {best.latency_ms:.3f} ms vs float32 {float32.latency_ms:.3f} ms "
              f"({best.speedup_vs_float32:.2f}×), validation drop {best.val_drop_points:+.2f} points")
    if best.val_sigma_points is not None:
        reason += f" (σ {best.val_sigma_points:.2f})"
    if len(tied) > 1:
        reason += f"; {len(tied)} candidates within {TIE_FRACTION:.0%} of the fastest, the smallest taken"
    return best, reason


@dataclass
class PlanInputs:
    """What :func:`plan` needs from the conversion pipeline."""

    saved_model: Path
    calibration_npy: Path
    float32_bytes: bytes
    float16_bytes: bytes
    spec: PreprocessSpec  # the float model's preprocessing
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    io_type: str = "int8"
    # --qat: fine-tune with the named Keras layers left float, convert, first-run; returns the .tflite path.
    qat: Callable[[list[str]], str] | None = None


def plan(inputs: PlanInputs, *, max_drop: float, margin_sigmas: float = MARGIN_SIGMAS, edgetpu: bool = False,
         threads: int = 2, max_accuracy_steps: int = 6, explain_images: int = EXPLAIN_IMAGES,
         workdir: Path | None = None, log: Log | None = None) -> tuple[PlanResult, bytes]:
    """Search per-layer precision; return the result and the chosen file's bytes (see the module docstring).

    A candidate is within the budget when its validation drop plus ``margin_sigmas`` standard errors of that drop
    is at most ``max_drop`` points (0 compares the drop alone).
    """
    log = log or (lambda message: None)
    if margin_sigmas < 0:
        raise EdgecnnError(f"the budget's margin is a number of standard errors, at least 0; got {margin_sigmas}")
    if len(inputs.x_val) == 0:
        raise EdgecnnError("--max-drop needs a validation split to measure the drop on (the data has none)")
    own_tmp = None
    if workdir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="edgecnn-plan-")
        workdir = Path(own_tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return _plan(inputs, workdir, max_drop=max_drop, margin_sigmas=margin_sigmas, edgetpu=edgetpu, threads=threads,
                     max_accuracy_steps=max_accuracy_steps, explain_images=explain_images, log=log)
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()


def _plan(inputs: PlanInputs, workdir: Path, *, max_drop: float, margin_sigmas: float, edgetpu: bool, threads: int,
          max_accuracy_steps: int, explain_images: int, log: Log) -> tuple[PlanResult, bytes]:
    from edgecnn.evaluate import evaluate_tflite
    from edgecnn.layer_error import add_times, compare
    from edgecnn.tflite_file import read_tflite

    calibrated_path = workdir / "calibrated.tflite"
    log(f"plan: calibrating once on {len(np.load(inputs.calibration_npy))} training images")
    _run("calibrate_child", {"saved_model": str(inputs.saved_model), "calibration_npy": str(inputs.calibration_npy),
                             "output": str(calibrated_path)}, "calibration")
    calibrated = read_tflite(calibrated_path)

    float_path = workdir / "float32.tflite"
    float_path.write_bytes(inputs.float32_bytes)
    float16_path = workdir / "float16.tflite"
    float16_path.write_bytes(inputs.float16_bytes)
    val_spec = inputs.spec

    def val_correct(path: Path) -> np.ndarray:
        """Per validation image: did the file's top-1 match the label?"""
        from edgecnn.layer_error import spec_for_model

        model_spec = spec_for_model(read_tflite(path), val_spec)
        predictions = evaluate_tflite(str(path), inputs.x_val, inputs.y_val, model_spec)["predictions"]
        return np.asarray(predictions) == np.asarray(inputs.y_val)

    float_correct = val_correct(float_path)
    float_val = float(np.mean(float_correct))
    margin_text = f" plus {margin_sigmas:g} standard error{'s' if margin_sigmas != 1 else ''}" if margin_sigmas else ""
    log(f"plan: float32 validation accuracy {float_val:.4f} on {len(inputs.x_val)} images; "
        f"budget: at most {max_drop} points below it (the drop{margin_text})")
    candidates: list[Candidate] = []
    tried: dict[tuple[str, ...], Candidate] = {}  # (kind, float layers…)

    def measure(candidate: Candidate) -> Candidate:
        key = (candidate.kind, str(candidate.qat), *sorted(candidate.float_layers))
        if key in tried:
            return tried[key]
        if candidate.path is None:  # a quantised candidate: make it
            path = workdir / f"candidate_{len(candidates)}.tflite"
            nodes = float_nodes_for(calibrated, candidate.float_layers)
            info = _run("quantize_child", {"calibrated": str(calibrated_path), "float_nodes": nodes,
                                           "io_type": inputs.io_type, "output": str(path)}, candidate.name)
            candidate.path, candidate.xnnpack = str(path), info.get("xnnpack", "n/a")
        candidate.size_bytes = Path(candidate.path).stat().st_size
        correct = val_correct(Path(candidate.path))
        candidate.val_accuracy = float(np.mean(correct))
        candidate.val_drop_points = round(100.0 * (float_val - candidate.val_accuracy), 3)
        candidate.val_sigma_points = round(paired_sigma_points(float_correct, correct), 3)
        candidate.val_drop_bound_points = round(candidate.val_drop_points + margin_sigmas * candidate.val_sigma_points,
                                                3)
        candidate.within_budget = candidate.val_drop_bound_points <= max_drop + 1e-9
        log(f"plan: {candidate.name}: validation {candidate.val_accuracy:.4f} "
            f"({-candidate.val_drop_points:+.2f} points, σ {candidate.val_sigma_points:.2f}), "
            f"{candidate.size_bytes / 1e6:.2f} MB" + ("" if candidate.within_budget else ", over the budget"))
        candidates.append(candidate)
        tried[key] = candidate
        return candidate

    measure(Candidate("float32", "float32", [], "the reference", path=str(float_path)))
    measure(Candidate("float16", "float16", [], "fallback: float16 weights, float32 activations",
                      path=str(float16_path)))
    full = measure(Candidate(f"full {inputs.io_type}", "int8", [], "every layer quantised"))

    # Diagnose full int8 on validation images: which layers lose accuracy, which lose time.
    log(f"plan: per-layer error and time of full {inputs.io_type} vs float32")
    diagnosis = compare(Path(full.path).read_bytes(), inputs.float32_bytes,  # type: ignore[arg-type]
                        inputs.x_val[:explain_images], val_spec)
    add_times(diagnosis, full.path, float_path, num_threads=threads)  # type: ignore[arg-type]
    harmful = [r.layer for r in diagnosis.by_harm() if r.layer_snr_db is not None and r.dtype in ("int8", "uint8")]
    slower = [r.layer for r in diagnosis.slower_in_int8()
              if (r.extra_ms or 0.0) > max(SLOWER_MIN_MS, SLOWER_MARGIN * (r.float_ms or 0.0))]

    accuracy_set: list[str] = []
    if not full.within_budget:
        accuracy_set = _greedy_accuracy(harmful, [], measure, max_accuracy_steps, "most harmful", log)
    if slower:
        speed = measure(Candidate(f"int8, {_count_layers(len(slower))} slower in int8 kept float", "mixed", slower,
                                  "layers the op profiler measured slower in int8 than in float32"))
        if not speed.within_budget:
            _greedy_accuracy([h for h in harmful if h not in slower], slower, measure, max_accuracy_steps,
                             "slower + most harmful", log)
        elif accuracy_set:
            measure(Candidate(f"int8, slower + {_count_layers(len(accuracy_set), 'harmful ')} kept float", "mixed",
                              sorted(set(slower) | set(accuracy_set)), "both sets"))

    timing = _time_candidates(candidates, threads, log)
    notes: list[str] = []
    if inputs.qat is not None:
        target = _qat_target(candidates, edgetpu)
        if target is None:
            notes.append("QAT skipped: no quantised file was faster than float32 here, so fine-tuning one for "
                         "accuracy could not give a faster file within the budget")
        else:
            fused = {r.layer: r.fused_layers or [r.layer] for r in diagnosis.rows}
            keras_layers = sorted({name for layer in target.float_layers for name in fused.get(layer, [layer])})
            log(f"plan: quantisation-aware fine-tuning with the float layers of '{target.name}'")
            path = inputs.qat(keras_layers)
            measure(Candidate(f"QAT {target.name}", target.kind, target.float_layers,
                              f"QAT fine-tune of the quantised layers of '{target.name}'", path=path, qat=True))
            timing = _time_candidates(candidates, threads, log)  # again, with the QAT file in the same rounds
    eligible = candidates if not edgetpu else [c for c in candidates if c.kind == "int8"]
    would_keep: list[str] = []
    if edgetpu:
        cpu_choice, _ = choose(candidates)
        would_keep = cpu_choice.float_layers
        if not full.within_budget:
            reason = (f"--edgetpu: full int8 is the only file the Edge TPU runs whole; it is "
                      f"{full.val_drop_points:.2f} points (σ {full.val_sigma_points:.2f}) below float32 on "
                      f"validation, over the {max_drop}-point budget (a float layer would run on the CPU)")
        else:
            reason = "--edgetpu: full int8, within the budget"
        best = full
        qat_full = [c for c in candidates if c.qat and c.kind == "int8"]
        if qat_full and (qat_full[0].val_accuracy or 0.0) > (full.val_accuracy or 0.0):
            best = qat_full[0]
            reason = f"--edgetpu: full int8 after QAT ({best.val_drop_points:+.2f} points on validation)"
    else:
        best, reason = choose(eligible)
    _test_accuracies(candidates, inputs, log)  # after the choice: for the report only
    result = PlanResult(max_drop_points=max_drop, split="validation", val_images=len(inputs.x_val),
                        test_images=0 if inputs.x_test is None else len(inputs.x_test),
                        float32_val_accuracy=float_val, candidates=candidates, chosen=best.name, reason=reason,
                        edgetpu=edgetpu, edgetpu_would_keep_float=would_keep, timing=timing,
                        explain=diagnosis.to_json(), notes=notes, margin_sigmas=margin_sigmas)
    return result, Path(best.path).read_bytes()  # type: ignore[arg-type]


def _qat_target(candidates: list[Candidate], edgetpu: bool) -> Candidate | None:
    """The quantised candidate QAT should rescue: the fastest one faster than float32 (full int8 for the Edge TPU)."""
    float32 = next(c for c in candidates if c.kind == "float32")
    quantised = [c for c in candidates if c.kind in (("int8",) if edgetpu else ("int8", "mixed")) and not c.qat]
    faster = [c for c in quantised if c.latency_ms is not None and c.latency_ms < float32.latency_ms]  # type: ignore[operator]
    if edgetpu:
        return quantised[0] if quantised else None
    return min(faster, key=lambda c: c.latency_ms) if faster else None  # type: ignore[arg-type,return-value]


def _count_layers(n: int, kind: str = "") -> str:
    return f"{n} {kind}layer" + ("" if n == 1 else "s")


def _greedy_accuracy(ranked: list[str], base: list[str], measure: Callable[[Candidate], Candidate], steps: int,
                     label: str, log: Log) -> list[str]:
    """Keep 1, 2, 4, … of the ``ranked`` layers (plus ``base``) in float until the budget holds; the set or []."""
    count = 1
    for _ in range(steps):
        if count > len(ranked):
            count = len(ranked)
        chosen = ranked[:count]
        layers = sorted(set(base) | set(chosen))
        shown = ", ".join(chosen[:3]) + (f" … (+{len(chosen) - 3})" if len(chosen) > 3 else "")
        c = measure(Candidate(f"int8, {label} {count} kept float" + (f" ({shown})" if count <= 3 else ""),
                              "mixed", layers, f"{label} by per-layer error: {shown}"))
        if c.within_budget:
            return chosen
        if count == len(ranked):
            break
        count *= 2
    log(f"plan: keeping up to {count} {label} layers in float did not reach the budget")
    return []


def _time_candidates(candidates: list[Candidate], threads: int, log: Log) -> dict[str, Any]:
    log(f"plan: timing {len(candidates)} files interleaved in one process ({threads} threads)")
    models = {c.name: Path(c.path).read_bytes() for c in candidates}  # type: ignore[arg-type]
    measured = interleaved_latency(models, threads=threads)
    float_ms = measured["float32"]["median_ms"]
    for c in candidates:
        c.latency_ms = round(measured[c.name]["median_ms"], 4)
        c.latency_p90_ms = round(measured[c.name]["p90_ms"], 4)
        c.speedup_vs_float32 = round(float_ms / measured[c.name]["median_ms"], 3)
    from edgecnn.profile import MIN_TURN_MS, machine_info

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"threads": threads, "interleaved": True, "min_turn_ms": MIN_TURN_MS,
            "runs_per_file": {name: m["runs"] for name, m in measured.items()},
            "loadavg_1min": load, "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": machine_info()}


def _test_accuracies(candidates: list[Candidate], inputs: PlanInputs, log: Log) -> None:
    if inputs.x_test is None or inputs.y_test is None or not len(inputs.x_test):
        return
    from edgecnn.evaluate import evaluate_tflite
    from edgecnn.layer_error import spec_for_model
    from edgecnn.tflite_file import read_tflite

    float_test = None
    for c in candidates:
        spec = spec_for_model(read_tflite(c.path), inputs.spec)
        c.test_accuracy = float(evaluate_tflite(c.path, inputs.x_test, inputs.y_test, spec)["accuracy"])
        if c.kind == "float32":
            float_test = c.test_accuracy
    for c in candidates:
        if float_test is not None and c.test_accuracy is not None:
            c.test_drop_points = round(100.0 * (float_test - c.test_accuracy), 3)
    log(f"plan: test accuracy of every candidate measured ({len(inputs.x_test)} images, after the choice)")
