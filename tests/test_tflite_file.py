"""The TF-free .tflite reader against the tiny models of tools/make_test_models.py (known layer by layer)."""
from __future__ import annotations

import numpy as np
import pytest

from edgecnn.errors import EdgecnnError
from edgecnn.tflite_file import read_tflite

# conv1 3×3 s2 → 14×14×8, depthwise 3×3, pointwise 1×1 → 16, maxpool, GAP, dense 10 (tools/make_test_models.py)
EXPECTED_MACS = {"CONV_2D": 14 * 14 * 8 * 9 + 14 * 14 * 16 * 8, "DEPTHWISE_CONV_2D": 14 * 14 * 8 * 9,
                 "FULLY_CONNECTED": 16 * 10}
EXPECTED_HISTOGRAM = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "MAX_POOL_2D": 1, "MEAN": 1,
                      "SOFTMAX": 1}


@pytest.fixture(scope="module")
def float_model(tests_data):
    return read_tflite(tests_data / "tiny_cnn_float32.tflite")


@pytest.fixture(scope="module")
def int8_model(tests_data):
    return read_tflite(tests_data / "tiny_cnn_int8.tflite")


def test_ops_params_macs_match_the_architecture(float_model, int8_model, tests_data):
    for model in (float_model, int8_model):
        assert model.op_histogram() == EXPECTED_HISTOGRAM
        assert [op.name for op in model.ops][:3] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"]
        assert model.params == 474  # = Keras count_params(): 432 weights + 42 biases
        assert model.macs == 53_472 == sum(EXPECTED_MACS.values())
        by_type = model.macs_by_op_type()
        for name, macs in EXPECTED_MACS.items():
            assert by_type[name] == macs
        assert by_type["SOFTMAX"] == 0 and by_type["MEAN"] == 0
        assert model.num_subgraphs == 1
    assert float_model.size_bytes == (tests_data / "tiny_cnn_float32.tflite").stat().st_size


def test_op_options_needed_for_macs(float_model):
    conv1, dw, pw = float_model.ops[:3]
    assert (conv1.options["stride_w"], conv1.options["stride_h"], conv1.options["padding"]) == (2, 2, "SAME")
    assert conv1.options["fused_activation_function"] == "RELU"
    assert dw.options["depth_multiplier"] == 1 and dw.options["padding"] == "SAME"
    assert pw.options["padding"] == "VALID"


def test_tensors_dtypes_shapes_and_weights(float_model, int8_model):
    inp = float_model.input_tensors[0]
    assert inp.dtype == "float32" and inp.shape == (1, 28, 28, 1) and inp.shape_signature == (-1, 28, 28, 1)
    assert not inp.is_constant and inp.data is None
    weights = {t.name.split("/")[1]: t for t in float_model.weight_tensors()}
    assert set(weights) == {"conv1", "dw", "pw", "fc"}
    assert weights["conv1"].data.shape == (8, 3, 3, 1) and weights["conv1"].data.dtype == np.float32
    assert weights["fc"].data.shape == (10, 16)
    assert not weights["conv1"].data.flags.writeable  # a zero-copy view of the file's bytes

    q_in = int8_model.input_tensors[0]
    assert q_in.dtype == "int8"
    assert q_in.quantization() == {"scale": pytest.approx(1 / 255), "zero_point": -128}
    assert int8_model.output_tensors[0].dtype == "int8"
    q_weights = {t.name.split("/")[1]: t for t in int8_model.weight_tensors()}
    assert q_weights["conv1"].dtype == "int8" and q_weights["conv1"].per_channel
    assert q_weights["conv1"].scales.shape == (8,)  # per output channel


def test_int8_detection(float_model, int8_model):
    assert int8_model.fully_int8 and not int8_model.float_tensors() and not int8_model.float_ops()
    assert not float_model.fully_int8
    assert len(float_model.float_tensors()) == 16  # all but MEAN's int32 axis constant
    assert {t.dtype for t in int8_model.tensors} == {"int8", "int32"}


def test_weight_sparsity_counts_zeros(tests_data):
    """Zero half of the first conv's weights: sparsity must follow exactly."""
    from ai_edge_litert.tools import flatbuffer_utils

    data = (tests_data / "tiny_cnn_float32.tflite").read_bytes()
    dense = read_tflite(data)
    assert dense.weight_sparsity == 0.0
    conv1 = next(t for t in dense.weight_tensors() if "conv1" in t.name)
    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    weights = np.frombuffer(bytes(obj.buffers[conv1.buffer].data), np.float32).copy()
    weights[: weights.size // 2] = 0.0  # 36 of 72
    obj.buffers[conv1.buffer].data = np.frombuffer(weights.tobytes(), np.uint8)
    sparse = read_tflite(bytes(flatbuffer_utils.convert_object_to_bytearray(obj)))
    by_tensor = sparse.sparsity_by_tensor()
    assert by_tensor[conv1.name] == pytest.approx(0.5)
    total = sum(t.num_elements for t in sparse.weight_tensors())  # 72 + 72 + 128 + 160
    assert sparse.weight_sparsity == pytest.approx(36 / total)


@pytest.mark.parametrize("blob, message", [
    (b"", "only 0 bytes"),
    (b"TFL3", "only 4 bytes"),
    (b"\x00" * 64, "no TFL3 identifier"),
    (b"\x10\x00\x00\x00TFL3" + b"\xff" * 40, "corrupt .tflite file"),
])
def test_malformed_bytes_one_line_error(blob, message):
    with pytest.raises(EdgecnnError) as err:
        read_tflite(blob)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_paths(tmp_path):
    with pytest.raises(EdgecnnError, match="no such file"):
        read_tflite(tmp_path / "missing.tflite")
    with pytest.raises(EdgecnnError, match="is a directory"):
        read_tflite(tmp_path)
    (tmp_path / "empty.tflite").write_bytes(b"")
    with pytest.raises(EdgecnnError, match="empty file"):
        read_tflite(tmp_path / "empty.tflite")


def test_truncations_never_raise_anything_but_edgecnn_error(tests_data):
    data = (tests_data / "tiny_cnn_int8.tflite").read_bytes()
    for cut in range(0, len(data), 97):
        try:
            read_tflite(data[:cut])
        except EdgecnnError as exc:
            assert "\n" not in str(exc)


def test_custom_op_is_named(tests_data):
    model = read_tflite(tests_data / "tiny_cnn_custom_op.tflite")
    assert model.ops[-1].name == "CUSTOM" and model.ops[-1].custom_code == "EdgecnnNoSuchOp"
    assert "CUSTOM(EdgecnnNoSuchOp)" in model.op_histogram()


def test_sparse_format_weights(tests_data):
    """tiny_sparse: 80% zero weights stored compressed (DENSIFY in front of the conv and the FC)."""
    model = read_tflite(tests_data / "tiny_sparse.tflite")
    assert model.op_histogram()["DENSIFY"] == 2
    weights = model.weight_tensors()
    assert len(weights) == 2 and all(t.sparse_format for t in weights)
    assert {t.shape for t in weights} == {(8, 3, 3, 4), (16, 288)}
    for t in weights:
        assert t.data.size < t.num_elements  # only the non-zeros are stored
    assert model.weight_sparsity == pytest.approx(0.8, abs=0.03)
    assert model.params == 288 + 8 + 4608  # conv weights + conv bias + FC weights (dense counts)
    assert model.macs == 6 * 6 * 8 * 9 * 4 + 16 * 288
