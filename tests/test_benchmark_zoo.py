"""tools/benchmark_zoo.py: the zoo benchmark writes BENCHMARKS.md, plots and a JSON cache, and resumes."""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "benchmark_zoo.py"
PNG = b"\x89PNG\r\n\x1a\n"


def _tool():
    spec = importlib.util.spec_from_file_location("benchmark_zoo", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_row(family: str, model: str, f32_ms: float, i8_ms: float) -> dict:
    files = {v: {"file": f"/x/{v}.tflite", "bytes": b, "gzip_bytes": b // 2}
             for v, b in (("float32", 1_000_000), ("int8", 260_000), ("qat_int8", 255_000), ("pruned_int8", 260_000))}
    return {"family": family, "model": model, "input_shape": [32, 32, 1], "params": 250_000, "macs": 12_500_000,
            "train_seconds": 42.4, "train_images": 8000, "epochs_run": 3, "accuracy": {"float32": 0.9, "int8": 0.895, "qat_int8": 0.9, "pruned_int8": 0.88},
            "files": files, "errors": {},
            "latency": {"median_ms": {"float32": f32_ms, "int8": i8_ms, "qat_int8": i8_ms, "pruned_int8": i8_ms},
                        "loadavg": 0.5}}


def test_report_from_cache(tmp_path):
    """The markdown tables and the three plots come from the cached rows (no TensorFlow needed)."""
    tool = _tool()
    cache = {"schema": tool.SCHEMA, "meta": {"environment": {"cpu": "TestCPU", "cores": 2}, "updated": "now"},
             "small": {"resnet": _fake_row("resnet", "resnet18", 3.0, 2.0),
                       "densenet": {**_fake_row("densenet", "densenet121", 9.0, 6.0), "width": 0.5},
                       "vgg": {"model": "vgg11", "error": "the child process died (signal 11)"}},
             "canonical": {"resnet": {**_fake_row("resnet", "resnet18", 30.0, 20.0), "input_shape": [224, 224, 3]}}}
    settings = tool.settings_for(argparse.Namespace(quick=True, epochs=None, limit=None, test_images=None,
                                                    width=None, threads=2, runs=None))
    md = tool.write_report(cache, tmp_path, settings).read_text()
    assert "| resnet | resnet18 | 32×32×1 | 250.00 k | 12.50 M | 8000 img × 3 ep, 42 s | 90.0% | 89.5% | 90.0% | 88.0% " in md
    assert "| 1.00 MB (0.50 MB) | 0.26 MB (0.13 MB) | 0.13 MB | 3.00 | 2.00 | 2.00 | 2.00 | 1.50× |" in md
    assert "| densenet | densenet121 (width 0.5) | 32×32×1 |" in md  # a narrowed row says so
    assert "| resnet | resnet18 | 224×224×3 |" in md and "| 30.00 | 20.00 | 1.50× |" in md
    assert "small/vgg: the child process died (signal 11)" in md and "TestCPU" in md
    for name in ("accuracy_vs_latency.png", "size_per_variant.png", "canonical_latency.png"):
        assert (tmp_path / "img" / name).read_bytes()[:8] == PNG


@pytest.mark.slow
def test_quick_benchmark_writes_report_and_resumes(tmp_path):
    pytest.importorskip("tensorflow")
    out, work = tmp_path / "docs", tmp_path / "work"
    cmd = [sys.executable, str(TOOL), "--families", "lenet", "--quick", "--limit", "200", "--test-images", "100",
           "--runs", "10", "--out", str(out), "--work", str(work)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]

    cache = json.loads((out / "benchmarks.json").read_text())
    small, canonical = cache["small"]["lenet"], cache["canonical"]["lenet"]
    assert "error" not in small, small.get("error")
    assert "error" not in canonical, canonical.get("error")
    assert small["model"] == "lenet5" and small["input_shape"] == [28, 28, 1] and small["params"] > 10_000
    assert set(small["accuracy"]) == {"float32", "int8", "qat_int8", "pruned_int8"}
    assert all(0.0 <= a <= 1.0 for a in small["accuracy"].values())
    assert small["accuracy"]["float32"] > 0.2  # 200 images, 1 epoch: well above chance (0.1)
    assert small["files"]["int8"]["bytes"] < 0.5 * small["files"]["float32"]["bytes"]
    assert small["files"]["pruned_int8"]["gzip_bytes"] < small["files"]["int8"]["gzip_bytes"]
    assert all(ms > 0 for ms in small["latency"]["median_ms"].values()) and small["latency"]["runs"] >= 5
    assert canonical["input_shape"] == [32, 32, 1] and set(canonical["latency"]["median_ms"]) == {"float32", "int8"}

    md = (out / "BENCHMARKS.md").read_text()
    assert "| lenet | lenet5 | 28×28×1 |" in md and "| lenet | lenet5 | 32×32×1 |" in md
    assert "How to reproduce" in md and "ai-edge-litert" in md
    for name in ("accuracy_vs_latency.png", "size_per_variant.png", "canonical_latency.png"):
        assert (out / "img" / name).read_bytes()[:8] == PNG

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "small/lenet: cached (lenet5), skipped" in second.stderr
    assert "canonical/lenet: cached (lenet5), skipped" in second.stderr
    again = json.loads((out / "benchmarks.json").read_text())
    assert again["small"]["lenet"]["latency"] == small["latency"]  # not re-measured


def test_interleaved_latency_times_every_file_in_bursts():
    """One timer for both tools: benchmark_zoo's rows (burst 1) and int8_speed's blocks of 10."""
    tool = _tool()
    data = ROOT / "tests" / "data"
    paths = {"float32": data / "tiny_cnn_float32.tflite", "int8": data / "tiny_cnn_int8.tflite"}
    single = tool.interleaved_latency(paths, threads=1, runs=4, seconds=60.0)
    blocks = tool.interleaved_latency(paths, threads=1, runs=4, seconds=60.0, burst=10)
    assert single["runs"] == 4 and blocks["runs"] == 40
    for timing in (single, blocks):
        assert set(timing["median_ms"]) == set(paths)
        for name in paths:
            assert 0 < timing["p10_ms"][name] <= timing["median_ms"][name] <= timing["p90_ms"][name]
