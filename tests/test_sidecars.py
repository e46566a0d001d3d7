"""One rule for the files beside a model (preprocess.json, labels.txt), the same in predict, evaluate and explain.

The rule (edgecnn.preprocess.find_beside): ``<stem>.<name>``, else ``<name>`` in the model's folder, else
``<name>`` one folder up (the run folder of ``runs/x/tflite/m.tflite``). Each command is entered through its
public door; which preprocess.json it reads is recorded where PreprocessSpec.load is called. TF-free, no child.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgecnn.errors import EdgecnnError
from edgecnn.preprocess import PreprocessSpec, find_beside, labels_beside

# Where each preprocess.json is written, and which one the rule must pick (by hand, from the rule above).
LAYOUTS = {
    "own file first": (["stem", "folder", "run"], "stem"),
    "folder before run": (["folder", "run"], "folder"),
    "run folder": (["run"], "run"),
}


class Loaded(Exception):
    """Stops a command right after it chose its preprocess.json."""


def _model_in_run(root: Path, tests_data: Path, places: list[str]) -> tuple[Path, dict[str, Path]]:
    model = root / "runs" / "tiny" / "tflite" / "tiny.tflite"
    model.parent.mkdir(parents=True)
    shutil.copy(tests_data / "tiny_cnn_float32.tflite", model)
    where = {"stem": model.with_name("tiny.preprocess.json"), "folder": model.with_name("preprocess.json"),
             "run": model.parent.parent / "preprocess.json"}
    for place in places:
        PreprocessSpec(28, 28, 1).save(where[place])
    return model, where


def _chosen_by_each_command(model: Path, monkeypatch, tmp_path: Path) -> dict[str, Path | str]:
    """{command: the preprocess.json it loaded, or its error line}."""
    from edgecnn.cli.explain import explain_cmd
    from edgecnn.evaluate import evaluate_tflite
    from edgecnn.predict import predict

    seen: list[Path] = []

    def record(cls, path):
        seen.append(Path(path))
        raise Loaded

    monkeypatch.setattr(PreprocessSpec, "load", classmethod(record))
    image = tmp_path / "img.png"
    from PIL import Image

    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    doors = {
        "predict": lambda: predict(model, [image]),
        "evaluate": lambda: evaluate_tflite(model, np.zeros((1, 28, 28, 1), np.uint8), np.zeros(1)),
        "explain": lambda: _run_click(explain_cmd, [str(model), "--float", str(model), "--no-timing"]),
    }
    chosen: dict[str, Path | str] = {}
    for name, door in doors.items():
        seen.clear()
        try:
            door()
        except Loaded:
            chosen[name] = seen[-1]
        except EdgecnnError as exc:
            chosen[name] = str(exc)
        else:
            raise AssertionError(f"{name} loaded no preprocess.json and raised nothing")
    return chosen


def _run_click(command, args: list[str]) -> None:
    result = CliRunner().invoke(command, args, standalone_mode=False)
    if result.exception is not None:
        raise result.exception


@pytest.mark.parametrize("layout", LAYOUTS)
def test_predict_evaluate_and_explain_read_the_same_preprocess_json(layout, tmp_path, tests_data, monkeypatch):
    places, expected = LAYOUTS[layout]
    model, where = _model_in_run(tmp_path, tests_data, places)
    assert find_beside(model, "preprocess.json") == where[expected]
    assert _chosen_by_each_command(model, monkeypatch, tmp_path) == {
        "predict": where[expected], "evaluate": where[expected], "explain": where[expected]}


def test_without_preprocess_json_evaluate_and_explain_refuse(tmp_path, tests_data, monkeypatch, capfd):
    model, _ = _model_in_run(tmp_path, tests_data, [])
    assert find_beside(model, "preprocess.json") is None
    from edgecnn.cli.explain import explain_cmd
    from edgecnn.evaluate import evaluate_tflite

    for door in (lambda: evaluate_tflite(model, np.zeros((1, 28, 28, 1), np.uint8), np.zeros(1)),
                 lambda: _run_click(explain_cmd, [str(model), "--float", str(model), "--no-timing"])):
        with pytest.raises(EdgecnnError, match=r"no preprocess.json beside .*tiny.tflite"):
            door()


def test_labels_follow_the_same_rule(tmp_path, tests_data):
    model, _ = _model_in_run(tmp_path, tests_data, ["run"])
    run = model.parent.parent
    (run / "labels.txt").write_text("a\nb\n")
    assert labels_beside(model) == run / "labels.txt"
    (model.parent / "labels.txt").write_text("a\nb\n")
    assert labels_beside(model) == model.parent / "labels.txt"
    # A name given by preprocess.json comes first; labels.txt is the fallback when that file is absent.
    named = PreprocessSpec(28, 28, 1, labels="classes.txt")
    assert labels_beside(model, named) == model.parent / "labels.txt"
    (run / "classes.txt").write_text("a\nb\n")
    assert labels_beside(model, named) == run / "classes.txt"
