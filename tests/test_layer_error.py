"""Per-layer error of an int8 file against its float32 twin (edgecnn.layer_error, `edgecnn explain`): TF-free.

The shipped tiny CNN (tests/data, tools/make_test_models.py: conv1 → dw → pw → pool → gap → fc) in float32 and
full int8, compared on real Fashion-MNIST validation images. Expectations come from quantisation arithmetic, not
from the code's output: rounding to a well-chosen int8 range keeps a tensor's SNR far above 20 dB (a uniform
signal over the full 256 steps gives 6.02·8 + 1.76 ≈ 50 dB; heavy-tailed activations lose some of that), while a
range 40× too wide leaves at most a few steps for the signal (≈ 50 − 20·log10(40) ≈ 18 dB at best, less with
the tails) — so a layer whose calibration range is forced wrong must rank first.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import DATA

FLOAT = DATA / "tiny_cnn_float32.tflite"
INT8 = DATA / "tiny_cnn_int8.tflite"
LAYERS = ["conv1", "dw", "pw", "pool", "gap", "fc"]


@pytest.fixture(scope="module")
def images():
    from edgecnn.data import find_fashion_mnist, load_dataset
    from edgecnn.preprocess import PreprocessSpec

    if find_fashion_mnist() is None:
        pytest.fail("Fashion-MNIST is missing: apt-get install dataset-fashion-mnist (tools/setup.sh does)")
    return load_dataset("fashion_mnist", PreprocessSpec(28, 28, 1), limit=1000).x_val[:120]


@pytest.fixture(scope="module")
def spec():
    from edgecnn.preprocess import PreprocessSpec

    return PreprocessSpec(28, 28, 1)


def _break_range(tmp_path, layer: str, factor: float):
    """A copy of the int8 file whose ``layer`` output scale is ``factor``× too large (a forced-wrong range)."""
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    model = fbu.read_model(str(INT8))
    graph = model.subgraphs[0]
    hits = 0
    for op in graph.operators:
        tensor = graph.tensors[op.outputs[0]]
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name
        if any(piece.split("/")[1] == layer for piece in name.split(";") if piece.count("/") >= 1):
            tensor.quantization.scale = np.asarray(tensor.quantization.scale, np.float32) * factor
            hits += 1
    assert hits == 1, f"expected one op for layer {layer}, found {hits}"
    path = tmp_path / f"broken_{layer}.tflite"
    fbu.write_model(model, str(path))
    return path


def test_every_layer_has_its_float_twin_and_healthy_int8_keeps_high_snr(images, spec):
    from edgecnn.layer_error import compare

    report = compare(INT8.read_bytes(), FLOAT.read_bytes(), images, spec)
    by_name = {r.layer: r for r in report.rows}
    assert set(LAYERS) <= set(by_name), sorted(by_name)
    assert not report.notes, report.notes  # every layer matched by name
    for name in ("conv1", "dw", "pw", "fc"):
        row = by_name[name]
        assert row.dtype == "int8"
        assert row.range_snr_db > 20.0, (name, row)
        assert row.weight_snr_db > 25.0, (name, row)  # per-channel int8 weights
        assert row.snr_db is not None and row.snr_db > 10.0
    assert [r.depth for r in report.rows] == sorted(r.depth for r in report.rows)
    assert report.top1_agreement > 0.85


@pytest.mark.parametrize("layer", ["conv1", "dw"])
def test_a_layer_with_a_forced_wrong_range_ranks_first(tmp_path, images, spec, layer):
    from edgecnn.layer_error import compare

    healthy = {r.layer: r for r in compare(INT8.read_bytes(), FLOAT.read_bytes(), images, spec).rows}
    broken_file = _break_range(tmp_path, layer, 40.0)
    report = compare(broken_file.read_bytes(), FLOAT.read_bytes(), images, spec)
    ranking = [r.layer for r in report.by_harm()]
    assert ranking[0] == layer, ranking
    broken = {r.layer: r for r in report.rows}[layer]
    # 40× the step costs 20·log10(40) ≈ 32 dB of that tensor's own SNR (less once the step dwarfs the signal).
    assert broken.range_snr_db < healthy[layer].range_snr_db - 15.0
    # The layers after it inherit the error (accumulated SNR drops) but not the blame (their own SNR holds).
    after = [r for r in report.rows if r.depth > broken.depth and r.layer in ("pw", "fc")]
    for row in after:
        assert row.snr_db < healthy[row.layer].snr_db
        assert abs(row.layer_snr_db - healthy[row.layer].layer_snr_db) < 6.0


def test_explain_cli_is_tf_free_and_writes_report_and_plot(tmp_path, cli):
    broken = _break_range(tmp_path, "dw", 40.0)
    # `edgecnn explain` reads preprocess.json beside the float file.
    folder = tmp_path / "fp32"
    folder.mkdir()
    (folder / "model.tflite").write_bytes(FLOAT.read_bytes())
    (folder / "preprocess.json").write_text(json.dumps({"height": 28, "width": 28, "channels": 1}))
    report, plot = tmp_path / "why.json", tmp_path / "why.png"
    blocker = tmp_path / "block_tf"
    blocker.mkdir()
    (blocker / "tensorflow").mkdir()
    (blocker / "tensorflow" / "__init__.py").write_text("raise ImportError('TensorFlow must not be imported')\n")
    import os

    env = {"PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}
    proc = cli("explain", str(broken), "--float", str(folder / "model.tflite"), "--images", "60",
               "--report", str(report), "--plot", str(plot), env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(report.read_text())
    assert data["ranking"][0] == "dw"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "dw" in proc.stdout


def test_explain_cli_without_preprocess_json_is_one_line(tmp_path, cli):
    lone = tmp_path / "alone.tflite"
    lone.write_bytes(FLOAT.read_bytes())
    proc = cli("explain", str(INT8), "--float", str(lone))
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith("Error:") and len(proc.stderr.strip().splitlines()) == 1
    assert "preprocess.json" in proc.stderr


def test_layer_names_from_fused_tensor_names():
    from edgecnn.layer_error import layer_of, layers_in_name

    name = "m/stem_relu6/Relu6;m/stem_bn/FusedBatchNormV3;m/stem_conv/Conv2D1"
    assert layers_in_name(name) == ["stem_relu6", "stem_bn", "stem_conv"]
    assert layer_of(name) == "stem_conv"
    assert layer_of("m/block5_project_bn/FusedBatchNormV3;m/block5_project_conv") == "block5_project_conv"
