"""Interpreter creation, delegates and crash containment (edgecnn.runtime, edgecnn.safety)."""
from __future__ import annotations

import ctypes.util

import numpy as np
import pytest

from edgecnn.errors import EdgecnnError
from edgecnn.runtime import (allocate, delegated_ops, edgetpu_library_name, load_delegate_or_explain,
                             make_interpreter, runtime_info)
from edgecnn.safety import load_checked, run_in_child, structural_problem


def test_runtime_info_names_the_package():
    info = runtime_info()
    assert info == {"package": "ai-edge-litert", "version": info["version"], "fallback": False}
    assert info["version"].startswith("2.3")


@pytest.mark.parametrize("delegate, float_taken, int8_taken", [("xnnpack", 7, 6), ("none", 0, 0)])
def test_delegation_counts(tests_data, delegate, float_taken, int8_taken):
    """XNNPACK takes every op of the float model and all but the int8 SOFTMAX; 'none' takes nothing."""
    for name, taken in (("tiny_cnn_float32", float_taken), ("tiny_cnn_int8", int8_taken)):
        interp = make_interpreter(tests_data / f"{name}.tflite", num_threads=1, delegate=delegate)
        allocate(interp)
        info = delegated_ops(interp)
        assert info["total_ops"] == 7
        assert len(info["delegated"]) == taken
        assert info["delegate_nodes"] == (1 if taken else 0)
    if delegate == "xnnpack":
        assert 6 not in info["delegated"]  # op 6 is the int8 SOFTMAX


def test_interpreter_from_bytes_runs_and_matches_path(tests_data):
    data = (tests_data / "tiny_cnn_float32.tflite").read_bytes()
    x = np.random.default_rng(0).uniform(0, 1, (1, 28, 28, 1)).astype(np.float32)
    outs = []
    for source in (data, tests_data / "tiny_cnn_float32.tflite"):
        interp = make_interpreter(source, num_threads=1)
        allocate(interp)
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        outs.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
    assert outs[0].shape == (1, 10) and abs(float(outs[0].sum()) - 1.0) < 1e-4  # softmax


def test_make_interpreter_errors(tmp_path):
    with pytest.raises(EdgecnnError, match="no such file"):
        make_interpreter(tmp_path / "nope.tflite")
    with pytest.raises(EdgecnnError, match="is a directory"):
        make_interpreter(tmp_path)
    with pytest.raises(EdgecnnError, match="empty"):
        make_interpreter(b"")
    with pytest.raises(EdgecnnError, match="not a valid Flatbuffer"):
        make_interpreter(b"\x00" * 100)
    with pytest.raises(EdgecnnError, match="at least 1"):
        make_interpreter(b"\x00" * 100, num_threads=0)


def test_custom_op_model_fails_at_allocate_with_the_op_name(tests_data):
    interp = make_interpreter(tests_data / "tiny_cnn_custom_op.tflite")
    with pytest.raises(EdgecnnError, match="unresolved custom op: EdgecnnNoSuchOp"):
        allocate(interp, "m")


def test_missing_and_wrong_delegates_say_what_to_install(tmp_path, capfd):
    with pytest.raises(EdgecnnError) as err:
        load_delegate_or_explain("edgetpu")
    assert edgetpu_library_name() in str(err.value) and "libedgetpu1-std" in str(err.value)
    with pytest.raises(EdgecnnError, match="no such file"):
        load_delegate_or_explain(str(tmp_path / "libnothing.so"))
    not_elf = tmp_path / "fake.so"
    not_elf.write_text("hello")
    with pytest.raises(EdgecnnError, match="cannot load delegate library"):
        load_delegate_or_explain(str(not_elf))
    libz = ctypes.util.find_library("z")
    if libz:  # a real shared library that is not a TFLite delegate plugin
        with pytest.raises(EdgecnnError, match="not a TFLite delegate plugin"):
            load_delegate_or_explain(libz)
    with pytest.raises(EdgecnnError, match="Edge TPU"):
        make_interpreter(b"\x00" * 100, delegate="edgetpu")
    assert "Traceback" not in capfd.readouterr().err  # ai_edge_litert's Delegate.__del__ stays quiet


def _with_input(data: bytes, op: int, slot: int, value: int) -> bytes:
    from ai_edge_litert.tools import flatbuffer_utils

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    inputs = list(obj.subgraphs[0].operators[op].inputs)
    inputs[slot] = value
    obj.subgraphs[0].operators[op].inputs = np.array(inputs, dtype=np.int32)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))


def test_a_native_crash_becomes_one_line(tests_data, tmp_path):
    """A graph input that is a weight tensor segfaults LiteRT: the child dies, the parent reports the signal.
    (A filter input of -1 reads whatever lies before the tensor array: it segfaults, fails cleanly or asks
    for a huge allocation depending on the heap layout, which moves with the path's length.)"""
    from ai_edge_litert.tools import flatbuffer_utils

    data = (tests_data / "tiny_cnn_float32.tflite").read_bytes()
    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    obj.subgraphs[0].inputs = np.array([obj.subgraphs[0].operators[0].inputs[1]], dtype=np.int32)
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(obj)))
    with pytest.raises(EdgecnnError) as err:
        run_in_child("edgecnn.safety:check_runs", {"model_path": str(bad)}, label=str(bad))
    message = str(err.value)
    assert "crashed" in message and "SIGSEGV" in message and "\n" not in message
    # and the parent-side lint catches it (and the -1 input) before the runtime ever sees them
    with pytest.raises(EdgecnnError, match="is a constant"):
        load_checked(bad)
    missing = tmp_path / "missing.tflite"
    missing.write_bytes(_with_input(data, op=1, slot=1, value=-1))
    with pytest.raises(EdgecnnError, match="input 1 is missing"):
        load_checked(missing)


def test_lint_finds_crash_prone_structures(tests_data):
    from edgecnn.tflite_file import read_tflite

    data = (tests_data / "tiny_cnn_float32.tflite").read_bytes()
    assert structural_problem(read_tflite(data)) is None
    weight = read_tflite(data).ops[0].inputs[1]
    # an op reading a weight as its activation input is fine, but writing into it is not
    from ai_edge_litert.tools import flatbuffer_utils

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    obj.subgraphs[0].operators[0].outputs = np.array([weight], dtype=np.int32)
    problem = structural_problem(read_tflite(bytes(flatbuffer_utils.convert_object_to_bytearray(obj))))
    assert problem and "writes into constant tensor" in problem
    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    obj.subgraphs[0].operators[1].outputs = obj.subgraphs[0].operators[0].outputs
    problem = structural_problem(read_tflite(bytes(flatbuffer_utils.convert_object_to_bytearray(obj))))
    assert problem and "written by two ops" in problem


def test_child_errors_keep_message_and_exit_code(tests_data):
    with pytest.raises(EdgecnnError, match="unresolved custom op") as err:
        run_in_child("edgecnn.safety:check_runs", {"model_path": str(tests_data / "tiny_cnn_custom_op.tflite")})
    assert err.value.exit_code == 1
    with pytest.raises(ValueError):
        run_in_child("os:system", {"command": "true"})  # only edgecnn functions run in the child


def test_sparse_format_model_runs_on_xnnpack(tests_data):
    info = run_in_child("edgecnn.safety:check_runs", {"model_path": str(tests_data / "tiny_sparse.tflite")})
    assert info["total_ops"] == 5 and len(info["delegated"]) == 5
