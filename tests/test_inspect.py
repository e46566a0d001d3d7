"""`edgecnn inspect`: static facts of the tiny models plus what XNNPACK takes."""
from __future__ import annotations

import json
import os

import pytest

from edgecnn.inspect_model import inspect_model


def test_inspect_int8(tests_data):
    info = inspect_model(tests_data / "tiny_cnn_int8.tflite")
    assert info["size_bytes"] == os.path.getsize(tests_data / "tiny_cnn_int8.tflite")
    assert info["op_histogram"] == {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "MAX_POOL_2D": 1,
                                    "MEAN": 1, "SOFTMAX": 1}
    assert info["params"] == 474 and info["macs"] == 53_472
    assert info["fully_int8"] and info["float_tensors"] == 0 and info["float_ops"] == []
    (inp,) = info["inputs"]
    assert inp["dtype"] == "int8" and inp["shape"] == [1, 28, 28, 1] and inp["shape_signature"] == [-1, 28, 28, 1]
    assert inp["quantization"] == {"scale": pytest.approx(1 / 255), "zero_point": -128}
    assert info["outputs"][0]["quantization"]["zero_point"] == -128
    rt = info["runtime"]
    assert rt["ok"] and rt["delegate"] == "xnnpack" and rt["delegate_nodes"] == 1
    assert (rt["ops_delegated"], rt["ops_total"]) == (6, 7)
    assert rt["not_delegated"] == [{"index": 6, "op": "SOFTMAX"}]
    assert rt["delegated_by_type"]["CONV_2D"] == 2
    assert 0 <= info["weight_sparsity"] < 0.05  # trained weights: few exact zeros


def test_inspect_float_and_reference_kernels(tests_data):
    info = inspect_model(tests_data / "tiny_cnn_float32.tflite", delegate="none")
    assert not info["fully_int8"] and info["float_tensors"] == 16 and len(info["float_ops"]) == 7
    assert info["inputs"][0]["quantization"] == {}
    assert info["runtime"]["ops_delegated"] == 0 and len(info["runtime"]["not_delegated"]) == 7


def test_cli_inspect_json_and_table(cli, tests_data):
    out = cli("inspect", str(tests_data / "tiny_cnn_int8.tflite"), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["fully_int8"] and doc["runtime"]["ops_delegated"] == 6
    table = cli("inspect", str(tests_data / "tiny_cnn_int8.tflite"))
    assert table.returncode == 0
    for text in ("fully int8", "int8", "-128", "SOFTMAX (op 6)", "Parameters: 474", "MACs: 53,472", "6/7"):
        assert text in table.stdout, text


def test_cli_inspect_custom_op_reports_and_fails(cli, tests_data):
    """The static report still prints; the runtime problem is one line on stderr and exit 1."""
    out = cli("inspect", str(tests_data / "tiny_cnn_custom_op.tflite"), "--json")
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    assert doc["op_histogram"]["CUSTOM(EdgecnnNoSuchOp)"] == 1 and doc["runtime"]["ok"] is False
    assert out.stderr.strip().splitlines() == [f"Error: {doc['runtime']['error']}"]
    assert "unresolved custom op" in out.stderr and "Traceback" not in out.stderr


def test_cli_inspect_bad_files(cli, tmp_path):
    (tmp_path / "junk.tflite").write_bytes(b"\x00" * 10)
    for path, fragment in ((tmp_path / "nope.tflite", "no such file"), (tmp_path / "junk.tflite", "not a .tflite")):
        out = cli("inspect", str(path))
        assert out.returncode == 1 and fragment in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_inspect_coral_target(tests_data):
    pytest.importorskip("edgecnn.targets.coral")
    info = inspect_model(tests_data / "tiny_cnn_int8.tflite", target="coral", runtime=False)
    assert "runtime" not in info
    coral = info["coral"]
    assert isinstance(coral, dict) and "verdict" in coral
