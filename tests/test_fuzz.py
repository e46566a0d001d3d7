"""Fuzz the safe loading path with seeded corruptions of the real test models: zero crashes, zero tracebacks.

Each case is a truncation, random bytes, bit flips, or a field-level edit that keeps a valid flatbuffer
(an op input/output index changed — corruptions that pass LiteRT's verifier; some of them crash it, and
test_fuzz_safe_loader counts those as "crash_contained").
Every case must end as a success or one :class:`EdgecnnError` line; a native crash must stay in the child.
"""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from edgecnn.errors import EdgecnnError
from edgecnn.safety import load_checked, run_in_child

N_CASES = 300
SEED = 20261127


def _field_edit(data: bytes, rng: random.Random) -> bytes:
    from ai_edge_litert.tools import flatbuffer_utils

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    graph = obj.subgraphs[0]
    n_tensors = len(graph.tensors)
    op = rng.choice(graph.operators)
    field = rng.choice(["inputs", "inputs", "outputs"])
    values = list(getattr(op, field))
    values[rng.randrange(len(values))] = rng.randrange(-1, n_tensors + 2)
    setattr(op, field, np.array(values, dtype=np.int32))
    if rng.random() < 0.2:  # a graph input pointing elsewhere
        graph.inputs = np.array([rng.randrange(n_tensors)], dtype=np.int32)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    kind = rng.choice(["truncate", "bytes", "bitflip", "field", "field"])
    if kind == "truncate":
        return kind, data[: rng.randrange(len(data))]
    if kind == "field":
        return kind, _field_edit(data, rng)
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(buf))
        buf[i] = rng.randrange(256) if kind == "bytes" else buf[i] ^ (1 << rng.randrange(8))
    return kind, bytes(buf)


@pytest.fixture(scope="module")
def cases(tmp_path_factory, tests_data) -> list[tuple[str, Path]]:
    rng = random.Random(SEED)
    sources = [(tests_data / n).read_bytes() for n in ("tiny_cnn_float32.tflite", "tiny_cnn_int8.tflite")]
    folder = tmp_path_factory.mktemp("fuzz")
    out = []
    for i in range(N_CASES):
        kind, blob = mutate(sources[i % 2], rng)
        path = folder / f"case_{i:03d}_{kind}.tflite"
        path.write_bytes(blob)
        out.append((kind, path))
    return out


def _one_line(exc: EdgecnnError) -> str:
    message = str(exc)
    assert message and "\n" not in message and "Traceback" not in message, message
    return message


def _lint_all(cases) -> tuple[int, list[Path]]:
    rejected, passed = 0, []
    for _, path in cases:
        try:
            load_checked(path)
        except EdgecnnError as exc:
            _one_line(exc)
            rejected += 1
            continue
        passed.append(path)
    return rejected, passed


def test_fuzz_lint_in_process(cases):
    """Every case through the pure-Python reader + lint: a model or one line, never another exception."""
    rejected, passed = _lint_all(cases)
    assert rejected + len(passed) == len(cases)
    assert rejected > len(cases) // 3 and passed  # most corruptions are caught before the runtime


@pytest.mark.slow
def test_fuzz_safe_loader(cases):
    """Lint in this process, then load + allocate + invoke in a child for whatever passes the lint."""
    outcomes = {"lint": 0, "runtime_error": 0, "crash_contained": 0, "ok": 0}
    outcomes["lint"], to_run = _lint_all(cases)

    def run(path: Path) -> str:
        try:
            run_in_child("edgecnn.safety:check_runs", {"model_path": str(path), "num_threads": 1},
                         timeout=60, label=str(path))
            return "ok"
        except EdgecnnError as exc:
            return "crash_contained" if "crashed" in _one_line(exc) else "runtime_error"

    with ThreadPoolExecutor(max_workers=2) as pool:
        for result in pool.map(run, to_run):
            outcomes[result] += 1
    print(f"\nfuzz outcomes over {len(cases)} cases: {outcomes}")
    assert sum(outcomes.values()) == len(cases)
    assert outcomes["lint"] > len(cases) // 3  # most corruptions are caught before the runtime
    assert outcomes["ok"] > 0  # and some harmless ones (e.g. a flipped weight bit) still run


@pytest.mark.slow
def test_fuzz_cli_never_prints_a_traceback(cases, cli):
    """A sample through the real command: exit 0 with JSON, or exit 1 with exactly one 'Error:' line."""
    sample = cases[::10]

    def run(case: tuple[str, Path]):
        return case, cli("inspect", str(case[1]), "--json", timeout=120)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for (kind, path), proc in pool.map(run, sample):
            assert proc.returncode in (0, 1), (kind, path, proc.returncode, proc.stderr)
            assert "Traceback" not in proc.stdout + proc.stderr, (kind, path)
            if proc.returncode == 1:
                lines = proc.stderr.strip().splitlines()
                assert len(lines) == 1 and lines[0].startswith("Error: "), (kind, path, proc.stderr)
