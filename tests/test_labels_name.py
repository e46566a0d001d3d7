"""preprocess.json's `labels` names a file beside the model: a bare file name, refused as a path wherever
preprocess.json is read (predict, export, evaluate, convert — all through PreprocessSpec). TF-free."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgecnn.errors import EdgecnnError
from edgecnn.preprocess import PreprocessSpec

DATA = Path(__file__).resolve().parent / "data"
IMAGE = DATA / "images" / "shapes" / "circle" / "c0.png"


@pytest.mark.parametrize("name", ["../secret.txt", "/etc/hostname", "sub/labels.txt", "..\\labels.txt", "..",
                                  "C:labels.txt", "", 7])
def test_paths_are_refused(name):
    with pytest.raises(EdgecnnError, match="labels must be a file name beside the model"):
        PreprocessSpec.from_json({"height": 28, "width": 28, "channels": 1, "labels": name})


def test_bare_names_are_kept():
    assert PreprocessSpec.from_json({"height": 28, "width": 28, "channels": 1, "labels": "classes v2.txt"}).labels \
        == "classes v2.txt"


@pytest.fixture
def run_with_escaping_labels(tmp_path):
    """runs/x/tflite/m.tflite whose preprocess.json points at ../labels.txt — a file that does exist there."""
    run = tmp_path / "run"
    folder = run / "tflite"
    folder.mkdir(parents=True)
    shutil.copyfile(DATA / "tiny_cnn_int8.tflite", folder / "m.tflite")
    spec = PreprocessSpec(28, 28, 1).to_json()
    spec["labels"] = "../labels.txt"
    (folder / "preprocess.json").write_text(json.dumps(spec))
    (run / "labels.txt").write_text("".join(f"class{i}\n" for i in range(10)))
    return folder / "m.tflite"


def _one_error_line(proc) -> str:
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_predict_refuses_a_labels_path(run_with_escaping_labels, cli):
    line = _one_error_line(cli("predict", str(run_with_escaping_labels), str(IMAGE)))
    assert "labels must be a file name beside the model" in line and "'../labels.txt'" in line


def test_export_refuses_a_labels_path(run_with_escaping_labels, cli, tmp_path):
    assets = tmp_path / "assets"
    line = _one_error_line(cli("export", "android", str(run_with_escaping_labels), "--assets", str(assets)))
    assert "labels must be a file name beside the model" in line
    assert not assets.exists() or not any(assets.iterdir())


def test_evaluate_reads_the_same_rule(run_with_escaping_labels):
    from edgecnn.preprocess import spec_beside

    with pytest.raises(EdgecnnError, match="labels must be a file name"):
        spec_beside(run_with_escaping_labels)
