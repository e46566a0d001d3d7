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
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgecnn.profile import measure, profile, random_input  # noqa: E402
from edgecnn.runtime import allocate, make_interpreter  # noqa: E402


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
    """The profiler's per-run cost around invoke(): its loop with a no-op in place of the model."""
    times = np.empty(runs, dtype=np.int64)
    noop = (lambda: None)
    perf = time.perf_counter_ns
    deadline = perf() + int(60e9)
    t_start = perf()
    n = 0
    while n < runs:  # the same statements as edgecnn.profile.measure's timed loop
        start = perf()
        noop()
        end = perf()
        times[n] = end - start
        n += 1
        if end > deadline:
            break
    total = perf() - t_start
    t_start = perf()
    for _ in range(runs):  # minus the no-op call and loop themselves
        noop()
    bare = perf() - t_start
    return (total - bare) / runs / 1000.0


def make_mobilenet(folder: Path) -> list[str]:
    """MobileNetV2 1.0 224×224×3, random weights: float32 and full int8 (TensorFlow, once)."""
    from edgecnn._tf import keras, tf

    model = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None, classes=1000)
    float_path, int8_path = folder / "mobilenet_v2_float32.tflite", folder / "mobilenet_v2_int8.tflite"
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
    args = parser.parse_args()
    models = args.models or [str(ROOT / "tests/data/tiny_cnn_float32.tflite"),
                             str(ROOT / "tests/data/tiny_cnn_int8.tflite")]
    tmp = tempfile.TemporaryDirectory()
    if args.mobilenet:
        models += make_mobilenet(Path(tmp.name))
        args.runs = min(args.runs, 100)

    print(f"bookkeeping per run (timing loop around a no-op): {bookkeeping_us():.3f} µs  (target < 20 µs)")
    print(f"{'model':32s} {'bare total/N':>13s} {'bare p50':>10s} {'profile p50':>12s} {'in-proc p50':>12s} "
          f"{'Δ vs bare p50':>14s} {'Δ mean':>9s}")
    for model in models:
        bare_total, bare_p50, prof_p50, prof_mean, inproc_p50 = [], [], [], [], []
        for _ in range(args.rounds):
            total, p50 = bare_loop(model, args.threads, args.runs, args.warmup)
            bare_total.append(total)
            bare_p50.append(p50)
            (r,) = profile(model, num_threads=args.threads, num_runs=args.runs, warmup_runs=args.warmup)
            prof_p50.append(r["latency_ms"]["p50"])
            prof_mean.append(r["latency_ms"]["mean"])
            # the same measurement code in this process (no child) isolates the child's effect
            inproc_p50.append(measure(model, num_threads=args.threads, num_runs=args.runs,
                                      warmup_runs=args.warmup)["latency_ms"]["p50"])
        b_total, b_p50 = statistics.median(bare_total), statistics.median(bare_p50)
        p_p50, p_mean = statistics.median(prof_p50), statistics.median(prof_mean)
        i_p50 = statistics.median(inproc_p50)
        print(f"{Path(model).name:32s} {b_total * 1000:11.1f}µs {b_p50 * 1000:8.1f}µs {p_p50 * 1000:10.1f}µs "
              f"{i_p50 * 1000:10.1f}µs {100 * (p_p50 / b_p50 - 1):+13.1f}% {100 * (p_mean / b_total - 1):+8.1f}%")
    tmp.cleanup()


if __name__ == "__main__":
    main()
