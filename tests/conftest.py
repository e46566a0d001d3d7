"""Shared fixtures. TensorFlow-needing tests import it lazily so that runtime tests run anywhere."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# EDGECNN_REQUIRE_ALL=1 (set by .ci/run): every skip becomes a failure; see tests/require_all.py
from require_all import (pytest_configure, pytest_make_collect_report, pytest_report_header,  # noqa: F401
                         pytest_runtest_makereport)

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def all_layers(model):
    """Every layer of a Keras model, nested models opened (a Keras Applications base inside a transfer model)."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from all_layers(layer)
        else:
            yield layer


def run_cli(*args: str, timeout: float = 600, env: dict | None = None, cwd: str | Path | None = None):
    """Run ``python -m edgecnn ARGS`` in a child process; returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "edgecnn", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=cwd)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def tests_data() -> Path:
    return DATA
