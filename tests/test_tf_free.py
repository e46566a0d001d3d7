"""The runtime half works from the base install alone: a fresh venv with `pip install <repo>` (no extras).

Slow (about 1–2 minutes: pip installs ai-edge-litert, numpy, click, rich, pillow), so CI runs it with the slow tests.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
NETWORK_TROUBLE = ("No matching distribution", "Could not find a version", "Temporary failure in name resolution",
                   "Failed to establish a new connection", "Max retries exceeded")


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("tf_free") / "venv"
    venv.EnvBuilder(with_pip=True).create(where)
    python = where / ("Scripts" if os.name == "nt" else "bin") / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], capture_output=True, text=True,
                          timeout=1200, env=env)
    if proc.returncode != 0:
        if any(text in proc.stderr for text in NETWORK_TROUBLE):
            pytest.skip(f"cannot reach the package index: {proc.stderr.strip().splitlines()[-1]}")
        pytest.fail(f"pip install of the base package failed:\n{proc.stderr[-2000:]}")
    return python


def _run(python: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # run outside the repository so that the installed package (not the source tree) is imported
    return subprocess.run([str(python), *args], capture_output=True, text=True, timeout=600, env=env, cwd=python.parent)


@pytest.mark.slow
def test_base_install_has_no_tensorflow(base_venv):
    proc = _run(base_venv, "-c", "import tensorflow")
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr
    code = ("import edgecnn.profile, edgecnn.inspect_model, edgecnn.predict, edgecnn.cli; import sys; "
            "assert 'tensorflow' not in sys.modules; import edgecnn; print(edgecnn.__file__)")
    proc = _run(base_venv, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert str(ROOT) not in proc.stdout  # the installed copy, not the work tree


@pytest.mark.slow
def test_profile_and_inspect_in_base_install(base_venv):
    model = DATA / "tiny_cnn_int8.tflite"
    proc = _run(base_venv, "-m", "edgecnn", "profile", str(model), "--json", "--num-runs", "20")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["size_bytes"] == model.stat().st_size
    lat = doc["latency_ms"]
    assert lat["p50"] <= lat["p90"] <= lat["p99"]
    assert doc["machine"]["runtime"] == "ai-edge-litert" and not doc["machine"]["runtime_fallback"]
    proc = _run(base_venv, "-m", "edgecnn", "inspect", str(model), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["fully_int8"] and info["params"] == 474 and info["runtime"]["ops_delegated"] == 6
    proc = _run(base_venv, "-m", "edgecnn", "profile", str(DATA / "tiny_cnn_custom_op.tflite"))
    assert proc.returncode == 1 and "EdgecnnNoSuchOp" in proc.stderr and "Traceback" not in proc.stderr
    proc = _run(base_venv, "-m", "edgecnn", "--help")
    assert proc.returncode == 0 and "profile" in proc.stdout


@pytest.mark.slow
def test_recommend_in_base_install(base_venv, tmp_path):
    """recommend reads benchmarks.json without TensorFlow (and without matplotlib: no plot, said so)."""
    rows = [{"config": "small", "model": m, "variant": "int8", "width": 1.0, "accuracy": acc, "latency_ms": ms,
             "size_bytes": size, "fully_int8": True, "reproduce": []}
            for m, acc, ms, size in (("fast", 0.80, 0.5, 1_000_000), ("accurate", 0.90, 2.0, 4_000_000))]
    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps({"schema": 2, "rows": rows, "failures": [], "sessions": {}}))
    code = "import sys, edgecnn.recommend, edgecnn.benchmark; assert 'tensorflow' not in sys.modules"
    proc = _run(base_venv, "-c", code)
    assert proc.returncode == 0, proc.stderr
    proc = _run(base_venv, "-m", "edgecnn", "recommend", "--from", str(path), "--max-latency-ms", "1",
                "--plot", str(tmp_path / "front.png"))
    assert proc.returncode == 0, proc.stderr
    assert "fast int8: accuracy 80.0%" in proc.stdout and "matplotlib is not installed" in proc.stdout
