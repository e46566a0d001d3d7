"""The TF-free checks and flatbuffer edit convert applies to every file (edgecnn.tflite_checks, tflite_edit)."""
from __future__ import annotations

import numpy as np
import pytest

from edgecnn.errors import EdgecnnError
from edgecnn.runtime import make_interpreter
from edgecnn.tflite_checks import check_fully_integer, first_run, io_quantization
from edgecnn.tflite_edit import strip_for_runtime


def _outputs(model: bytes, x: np.ndarray) -> np.ndarray:
    interp = make_interpreter(model, num_threads=1, delegate="none")
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.set_tensor(inp["index"], x.astype(inp["dtype"]))
    interp.invoke()
    return interp.get_tensor(out["index"])


@pytest.mark.parametrize("name", ["tiny_cnn_float32.tflite", "tiny_cnn_int8.tflite"])
def test_stripped_file_is_smaller_and_computes_the_same_bits(name, tests_data):
    original = (tests_data / name).read_bytes()
    stripped = strip_for_runtime(original)
    assert len(stripped) < len(original)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.integers(-128, 128, (1, 28, 28, 1)) if "int8" in name else rng.random((1, 28, 28, 1))
        assert np.array_equal(_outputs(stripped, x), _outputs(original, x))
    assert first_run(stripped)["xnnpack"] != "refused"


def test_integer_checks(tests_data):
    int8 = (tests_data / "tiny_cnn_int8.tflite").read_bytes()
    float32 = (tests_data / "tiny_cnn_float32.tflite").read_bytes()
    check_fully_integer(int8, "int8")  # no float32 tensor: nothing raised
    with pytest.raises(EdgecnnError, match="int8: .* cannot run in int8 and stayed float32"):
        check_fully_integer(float32, "int8")
    dtype, quant, floats = io_quantization(int8)
    detail = make_interpreter(int8, num_threads=1).get_input_details()[0]
    assert (dtype, floats) == ("int8", 0)
    assert quant == {"scale": pytest.approx(detail["quantization"][0]), "zero_point": detail["quantization"][1]}
    dtype, quant, floats = io_quantization(float32)
    assert dtype == "float32" and quant is None and floats > 0
