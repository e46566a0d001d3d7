"""Does `edgecnn profile` report what the runtime really does? Compare it with a bare invoke() loop.

    python tools/bench_profiler.py                         # the tiny test models
    python tools/bench_profiler.py m1.tflite m2.tflite     # your models
    python tools/bench_profiler.py --mobilenet             # + MobileNetV2 1.0 224 float32/int8 (needs TensorFlow)

Targets (issue 4): the median that `profile` reports is within 3% of a bare `invoke()` loop on the same
model in the same run, and the profiler's own bookkeeping costs under 20 µs per run.

For each model, ``--rounds`` times, interleaved so that machine load hits both alike:
1. bare loop in this process: ``make_interpreter`` + allocate + set input, warm-up, then ``invoke()`` N times
   back to back; its time per run is (total / N), and the median of per-run ``perf_counter_ns`` stamps;
2. ``edgecnn.profile.profile`` (the child process the CLI uses) with the same threads and runs.
The reported numbers are the medians over rounds. The bookkeeping cost is measured separately: the
profiler's timing loop around a no-op instead of ``invoke()``.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from edgecnn.profile import interleaved_timing, measure, profile, random_input
from edgecnn.runtime import allocate, make_interpreter

ROOT = Path(__file__).resolve().parents[1]


def bare_loop(model: str, threads: int, runs: int, warmup: int) -> tuple[float, float]:
    """(ms per run from the total of a tight loop, median ms of per-run stamps) in this process."""
    interp = make_interpreter(model, num_threads=threads)
    allocate(interp)
    rng = np.random.default_rng(0)
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], random_input(d["shape"], d["dtype"], rng, [0.0, 1.0]))
    invoke = interp.invoke
    for _ in range(warmup):
        invoke()
    start = time.perf_counter_ns()
    for _ in range(runs):
        invoke()
    total_ms = (time.perf_counter_ns() - start) / 1e6 / runs
    perf = time.perf_counter_ns
    stamps = []
    for _ in range(runs):
        t0 = perf()
        invoke()
        stamps.append(perf() - t0)
    return total_ms, float(np.median(stamps)) / 1e6


def bookkeeping_us(runs: int = 200_000) -> float:
    """The profiler's per-run cost around invoke(): its timing loop (interleaved_timing) around a no-op."""
    noop = (lambda: None)
    perf = time.perf_counter_ns
    t_start = perf()
    interleaved_timing({"noop": noop}, rounds=runs, max_secs=60.0)
    total = perf() - t_start
    t_start = perf()
    for _ in range(runs):  # minus the no-op call and loop themselves
        noop()
    bare = perf() - t_start
    return (total - bare) / runs / 1000.0


def make_mobilenet(folder: Path) -> list[str]:
    """MobileNetV2 1.0 224×224×3, random weights: float32 and full int8 (TensorFlow; reused if present)."""
    float_path, int8_path = folder / "mobilenet_v2_float32.tflite", folder / "mobilenet_v2_int8.tflite"
    if float_path.exists() and int8_path.exists():
        return [str(float_path), str(int8_path)]
    from edgecnn._tf import keras, tf

    folder.mkdir(parents=True, exist_ok=True)
    model = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None, classes=1000)
    float_path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    conv.representative_dataset = lambda: ([rng.uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)]
                                           for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    int8_path.write_bytes(conv.convert())
    return [str(float_path), str(int8_path)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mobilenet", action="store_true", help="also MobileNetV2 224 (built with TensorFlow)")
    parser.add_argument("--mobilenet-dir", default=str(Path(tempfile.gettempdir()) / "edgecnn-bench"),
                        help="where the MobileNetV2 files are kept between runs")
    args = parser.parse_args()
    models = args.models or [str(ROOT / "tests/data/tiny_cnn_float32.tflite"),
                             str(ROOT / "tests/data/tiny_cnn_int8.tflite")]
    if args.mobilenet:
        models += make_mobilenet(Path(args.mobilenet_dir))

    print(f"bookkeeping per run (timing loop around a no-op): {bookkeeping_us():.3f} µs  (target < 20 µs)")
    print(f"threads {args.threads}, {args.runs} runs, {args.rounds} rounds; medians over rounds; 'paired' is the "
          f"median over rounds of profile p50 / mean(bare p50 just before and just after)")
    print(f"{'model':30s} {'bare total/N':>12s} {'bare p50':>10s} {'profile p50':>11s} {'in-proc p50':>11s} "
          f"{'profile vs bare (paired)':>25s}")
    for model in models:
        bare_total, bare_p50, prof_p50, inproc_p50, ratios = [], [], [], [], []
        before = bare_loop(model, args.threads, args.runs, args.warmup)[1]
        for _ in range(args.rounds):
            (r,) = profile(model, num_threads=args.threads, num_runs=args.runs, warmup_runs=args.warmup)
            total, after = bare_loop(model, args.threads, args.runs, args.warmup)
            bare_total.append(total)
            bare_p50.append(after)
            prof_p50.append(r["latency_ms"]["p50"])
            ratios.append(r["latency_ms"]["p50"] / ((before + after) / 2))
            before = after
            # the same measurement code in this process (no child process) isolates the child's effect
            inproc_p50.append(measure(model, num_threads=args.threads, num_runs=args.runs,
                                      warmup_runs=args.warmup)["latency_ms"]["p50"])
        q1, med, q3 = np.percentile(ratios, [25, 50, 75])
        print(f"{Path(model).name:30s} {fmt(statistics.median(bare_total)):>12s} "
              f"{fmt(statistics.median(bare_p50)):>10s} {fmt(statistics.median(prof_p50)):>11s} "
              f"{fmt(statistics.median(inproc_p50)):>11s} {100 * (med - 1):+9.1f}% "
              f"(IQR {100 * (q1 - 1):+.1f}…{100 * (q3 - 1):+.1f}%)")


def fmt(ms: float) -> str:
    return f"{ms * 1000:.1f} µs" if ms < 1 else f"{ms:.2f} ms"


if __name__ == "__main__":
    main()
