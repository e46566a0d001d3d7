"""`edgecnn models` and `edgecnn info`: exit codes, clean JSON on stdout, one-line errors."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import run_cli

pytest.importorskip("tf_keras")

from edgecnn.cli import cli  # noqa: E402


def _invoke(*args: str):
    # A wide terminal, so that rich does not wrap names in tables.
    return CliRunner(env={"COLUMNS": "220"}).invoke(cli, list(args), catch_exceptions=False)


def _one_line_error(stderr: str) -> str:
    """The single 'Error: …' line (TensorFlow's own start-up lines may precede it), and no traceback."""
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def test_info_json_is_one_object_equal_to_analysis():
    proc = run_cli("info", "resnet18", "--input-size", "32", "--channels", "1", "--num-classes", "10", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # nothing but the object on stdout: TF's noise goes to stderr

    from edgecnn.analysis import analyze_model
    from edgecnn.zoo import create_model

    expected = analyze_model(create_model("resnet18", (32, 32, 1), 10))
    assert data["name"] == "resnet18"
    assert isinstance(data["params"], int) and data["params"] == expected.params == 11_182_410
    assert isinstance(data["macs"], int) and data["macs"] == expected.macs
    assert data["input_shape"] == [32, 32, 1]
    assert len(data["layers"]) == len(expected.layers)
    assert data["layers"][0] == {"name": "conv1_conv", "type": "Conv2D", "output_shape": [32, 32, 64],
                                 "params": 576, "macs": 32 * 32 * 9 * 64, "receptive_field": 3,
                                 "receptive_field_hw": [3, 3], "jump": 1}
    assert data["layers"][-1]["output_shape"] == [10]
    assert sum(layer["macs"] for layer in data["layers"]) == data["macs"]


def test_unknown_name_suggests_closest():
    proc = run_cli("info", "resnet19")
    assert proc.returncode == 2
    line = _one_line_error(proc.stderr)
    assert "unknown model 'resnet19'" in line and "resnet18" in line
    assert proc.stdout == ""


def test_input_too_small_is_one_line():
    result = _invoke("info", "lenet5", "--input-size", "20")
    assert result.exit_code == 2
    assert _one_line_error(result.stderr) == "Error: lenet5 needs inputs of at least 28x28 pixels, got 20x20"
    assert _invoke("info", "lenet5", "--input-size", "0").exit_code == 2  # click's own range check


def test_info_table_and_knobs():
    result = _invoke("info", "lenet5")
    assert result.exit_code == 0, result.stderr
    assert "c1_conv" in result.stdout and "117,600" in result.stdout and "61,706" in result.stdout
    half = json.loads(_invoke("info", "lenet5", "--width", "0.5", "--json").stdout)
    assert half["knobs"]["width"] == 0.5 and half["params"] < 61_706 / 3
    small = json.loads(_invoke("info", "resnet18", "--input-size", "64", "--set", "stem=small", "--json").stdout)
    assert small["layers"][0]["output_shape"] == [64, 64, 64]  # the 3×3/1 stem, not 7×7/2
    bad = _invoke("info", "resnet18", "--set", "depth=3")
    assert bad.exit_code == 2 and "has no option depth" in _one_line_error(bad.stderr)
    assert _invoke("info", "resnet18", "--set", "nonsense").exit_code == 2


def test_models_published_lists_every_registered_name():
    from edgecnn.zoo import get_spec, list_models

    result = _invoke("models", "--published", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == list_models()
    by_name = {r["name"]: r for r in rows}
    assert {"simple_cnn", "lenet5", "alexnet", "vgg11", "vgg16", "googlenet", "resnet18", "resnet34",
            "resnet50", "densenet121"} <= set(by_name)
    assert by_name["resnet50"]["params"] == get_spec("resnet50").published_params == 25_557_032
    assert "inception_v1" in by_name["googlenet"]["aliases"]
    table = _invoke("models", "--published")
    assert table.exit_code == 0 and "densenet121" in table.stdout and "He et al." in table.stdout


@pytest.mark.slow
def test_models_builds_every_model():
    proc = run_cli("models", "--json", timeout=900)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    by_name = {r["name"]: r for r in rows}
    assert all(isinstance(r["params"], int) and isinstance(r["macs"], int) and r["params"] > 0 for r in rows)
    assert by_name["resnet18"]["macs"] == 1_814_073_344
    assert by_name["densenet121"]["params"] == 8_062_504  # with BN statistics, as Keras counts
    assert by_name["lenet5"] == {**by_name["lenet5"], "family": "lenet", "params": 61_706, "macs": 416_520}
