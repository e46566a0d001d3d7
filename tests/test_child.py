"""edgecnn.child: the one child-process harness — isolated imports, memory cap, timeout — and the lint's bound
on declared tensor bytes. TensorFlow-free (the converter child is started, never left to finish)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgecnn.child import (ChildLimits, ChildOutOfMemory, ChildTimedOut, child_command, parse_size,
                           run_in_child)
from edgecnn.errors import EdgecnnError, UsageError

DATA = Path(__file__).resolve().parent / "data"
MODEL = DATA / "tiny_cnn_int8.tflite"
IMAGE = DATA / "images" / "shapes" / "circle" / "c0.png"
EDGECNN = Path(sys.executable).parent / "edgecnn"  # the console script users run


def _plant(folder: Path, name: str, marker: Path) -> None:
    """A module that leaves ``marker`` behind when imported, and then breaks the importer."""
    (folder / name).write_text(f"open({str(marker)!r}, 'w').write('imported')\n"
                               "raise SystemExit('planted module ran')\n")


@pytest.fixture
def planted_cwd(tmp_path, monkeypatch):
    """The current folder holds a json.py that would run if imported from there; yields the marker path."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    marker = tmp_path / "json-was-imported"
    _plant(folder, "json.py", marker)
    # the plant works: an ordinary `python -c` in that folder imports it
    subprocess.run([sys.executable, "-c", "import json"], cwd=folder, capture_output=True, timeout=60)
    assert marker.exists()
    marker.unlink()
    monkeypatch.chdir(folder)
    return marker


def test_child_does_not_import_from_the_current_folder(planted_cwd):
    info = run_in_child("edgecnn.safety:check_runs", {"model_path": str(MODEL)})
    assert info["total_ops"] == 7
    assert not planted_cwd.exists()


def test_commands_ignore_a_json_py_in_the_current_folder(planted_cwd):
    assert EDGECNN.exists(), "the edgecnn console script of this interpreter"
    for args in (["inspect", str(MODEL)], ["predict", str(MODEL), str(IMAGE)],
                 ["profile", str(MODEL), "--num-runs", "3", "--warmup-runs", "1", "--json"]):
        proc = subprocess.run([str(EDGECNN), *args], capture_output=True, text=True, timeout=300,
                              cwd=planted_cwd.parent / "cwd")
        assert proc.returncode == 0, (args, proc.stderr[-1000:])
        assert not planted_cwd.exists(), args
    assert "takes 6/7 ops" in subprocess.run([str(EDGECNN), "inspect", str(MODEL)], capture_output=True, text=True,
                                             timeout=300, cwd=planted_cwd.parent / "cwd").stdout


def test_child_runs_the_parents_edgecnn_not_a_checkout_in_the_current_folder(tmp_path, monkeypatch):
    fake = tmp_path / "edgecnn"
    fake.mkdir()
    marker = tmp_path / "fake-edgecnn-imported"
    _plant(fake, "__init__.py", marker)
    _plant(fake, "child.py", marker)
    monkeypatch.chdir(tmp_path)
    assert run_in_child("edgecnn.safety:check_runs", {"model_path": str(MODEL)})["total_ops"] == 7
    assert not marker.exists()


def _request(function: str, folder: Path, env: dict) -> dict:
    """Send one request to a bare child (no parent-side checks) and return its reply."""
    result = folder / "reply.json"
    result.unlink(missing_ok=True)
    subprocess.run(child_command(), input=json.dumps({"function": function, "kwargs": {}, "result": str(result)}),
                   capture_output=True, text=True, timeout=60, cwd=folder, env=env)
    return json.loads(result.read_text())


def test_child_keeps_pythonpath_unlike_python_dash_I(tmp_path):
    # A module in the current folder is not importable; the same module on PYTHONPATH is (a user's setup).
    cwd, on_path = tmp_path / "cwd", tmp_path / "lib"
    for folder in (cwd, on_path):
        folder.mkdir()
        (folder / "edgecnn_probe_mod.py").write_text(f"def where():\n    return {str(folder)!r}\n")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    assert "No module named 'edgecnn_probe_mod'" in _request("edgecnn_probe_mod:where", cwd, env)["error"]
    assert _request("edgecnn_probe_mod:where", cwd, dict(env, PYTHONPATH=str(on_path))) == {"value": str(on_path)}


def test_child_works_with_pythonsafepath(monkeypatch):
    # Python >= 3.11 with PYTHONSAFEPATH=1 puts no '' first: the bootstrap must not drop a real entry.
    monkeypatch.setenv("PYTHONSAFEPATH", "1")
    assert run_in_child("edgecnn.safety:check_runs", {"model_path": str(MODEL)})["total_ops"] == 7


def test_parse_size():
    assert parse_size("8G") == 8 << 30 and parse_size("512M") == 512 << 20 and parse_size("2GiB") == 2 << 30
    assert parse_size("1.5g") == 3 << 29 and parse_size("4096") == 4096
    assert parse_size("0") is None and parse_size("none") is None
    for bad in ("lots", "-1G", "8X", ""):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_bad_memory_setting_is_one_line(cli):
    proc = cli("inspect", str(MODEL), env={"EDGECNN_RUNTIME_MEMORY": "lots"})
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: EDGECNN_RUNTIME_MEMORY='lots': expected a size") and proc.stderr.count("\n") == 1


def test_memory_cap_stops_a_large_allocation_in_the_child(tmp_path, monkeypatch):
    # A .npy whose header declares 1 GiB (and holds nothing): numpy allocates before it reads.
    bomb = tmp_path / "bomb.npy"
    with open(bomb, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (1 << 28,)})
    kwargs = {"model_path": str(MODEL), "batch_npy": str(bomb)}
    monkeypatch.setenv("EDGECNN_RUNTIME_MEMORY", "256M")
    with pytest.raises(ChildOutOfMemory) as err:
        run_in_child("edgecnn.predict:run_batch", kwargs, label="bomb")
    assert str(err.value).startswith("bomb: ran out of memory (the child process may use 256 MiB")
    assert "raise it with EDGECNN_RUNTIME_MEMORY=512M, or 0 for no cap" in str(err.value)
    # under the default cap the allocation succeeds and the read fails: it was the cap
    monkeypatch.delenv("EDGECNN_RUNTIME_MEMORY")
    with pytest.raises(EdgecnnError) as err:
        run_in_child("edgecnn.predict:run_batch", kwargs, label="bomb")
    assert not isinstance(err.value, ChildOutOfMemory)


def _with_input_side(side: int) -> bytes:
    from ai_edge_litert.tools import flatbuffer_utils

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray((DATA / "tiny_cnn_float32.tflite").read_bytes()))
    graph = obj.subgraphs[0]
    graph.tensors[graph.inputs[0]].shape = np.array([1, side, side, 1], dtype=np.int32)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))


def test_runtime_failure_under_the_cap_names_the_setting(tmp_path, monkeypatch):
    model = tmp_path / "wide.tflite"  # 2048x2048 input: 16 MB declared; the runtime needs more when it resizes
    model.write_bytes(_with_input_side(2048))
    assert run_in_child("edgecnn.safety:check_runs", {"model_path": str(model)})["total_ops"] == 7
    monkeypatch.setenv("EDGECNN_RUNTIME_MEMORY", "256M")
    with pytest.raises(EdgecnnError, match=r"may need more memory than the 256 MiB .* EDGECNN_RUNTIME_MEMORY=512M"):
        run_in_child("edgecnn.safety:check_runs", {"model_path": str(model)})


def test_lint_bounds_declared_tensor_bytes(tmp_path, cli, monkeypatch):
    model = tmp_path / "huge.tflite"  # 5 KB on disk, a 32768x32768 float32 input (4 GiB)
    model.write_bytes(_with_input_side(32768))
    assert model.stat().st_size < 6000
    proc = cli("inspect", str(model), timeout=120)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "its tensors declare 4 GiB" in proc.stderr and "[1, 32768, 32768, 1]" in proc.stderr
    assert "more than the 2 GiB edgecnn allows" in proc.stderr
    # the bound follows the runtime's memory cap (the lint only: this runtime would try to allocate it)
    from edgecnn.safety import load_checked

    monkeypatch.setenv("EDGECNN_RUNTIME_MEMORY", "32G")
    assert load_checked(model).input_tensors[0].shape == (1, 32768, 32768, 1)


def test_converter_child_has_a_timeout_and_isolated_imports(planted_cwd, monkeypatch):
    from edgecnn import convert as cv

    # int8 reads its calibration file after importing TensorFlow: a FIFO nobody writes hangs it for good.
    fifo = planted_cwd.parent / "calibration.npy"
    os.mkfifo(fifo)
    job = {"variant": "int8", "saved_model": str(planted_cwd.parent / "none"), "calibration": str(fifo),
           "output": str(planted_cwd.parent / "out.tflite")}
    monkeypatch.setenv("EDGECNN_CONVERT_TIMEOUT", "5")
    with pytest.raises(ChildTimedOut) as err:
        cv._run_child(job, "int8", planted_cwd.parent)
    assert str(err.value) == ("int8: the child process did not finish within 5 s (killed); EDGECNN_CONVERT_TIMEOUT=SECONDS "
                              "allows longer")
    assert not planted_cwd.exists()


def test_converter_limits_from_the_environment(monkeypatch):
    monkeypatch.delenv("EDGECNN_CONVERT_TIMEOUT", raising=False)
    monkeypatch.delenv("EDGECNN_CONVERT_MEMORY", raising=False)
    default = ChildLimits.converter()
    assert default.timeout == 3600 and default.memory == 32 << 30
    monkeypatch.setenv("EDGECNN_CONVERT_MEMORY", "0")
    monkeypatch.setenv("EDGECNN_CONVERT_TIMEOUT", "60")
    assert ChildLimits.converter().memory is None and ChildLimits.converter().timeout == 60
    monkeypatch.setenv("EDGECNN_CONVERT_TIMEOUT", "never")
    with pytest.raises(UsageError, match="EDGECNN_CONVERT_TIMEOUT='never'"):
        ChildLimits.converter()


def test_converter_child_too_small_a_cap_says_memory(tmp_path, monkeypatch):
    # TensorFlow alone needs more than 512 MiB of address space: the converter child must say "memory",
    # not "crashed" or "install the [train] extra" (TensorFlow's loader turns a failed mmap into ImportError)
    from edgecnn import convert as cv

    monkeypatch.setenv("EDGECNN_CONVERT_MEMORY", "512M")
    job = {"variant": "float32", "saved_model": str(tmp_path / "none"), "calibration": str(tmp_path / "none.npy"),
           "output": str(tmp_path / "out.tflite")}
    with pytest.raises(EdgecnnError) as err:
        cv._run_child(job, "float32", tmp_path)
    message = str(err.value)
    assert message.startswith("float32: ") and "out of memory" in message and "512 MiB" in message
    assert "EDGECNN_CONVERT_MEMORY=1G" in message
