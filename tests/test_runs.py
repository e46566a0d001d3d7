"""edgecnn.runs: folder numbering, completeness, newest run, labels (no TensorFlow)."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from edgecnn import runs
from edgecnn.errors import EdgecnnError


def _finish(run_dir: Path, model: str, mtime: float | None = None) -> None:
    (run_dir / "config.json").write_text(json.dumps({"model": model}))
    (run_dir / "metrics.json").write_text(json.dumps({"test_accuracy": 0.5}))
    (run_dir / "model.keras").write_bytes(b"zip")
    if mtime is not None:
        os.utime(run_dir / "metrics.json", (mtime, mtime))


def test_new_run_dir_numbers_and_never_overwrites(tmp_path):
    root = tmp_path / "runs"
    first = runs.new_run_dir("lenet5", root)
    (first / "keep.txt").write_text("mine")
    second = runs.new_run_dir("lenet5", root)
    third = runs.new_run_dir("lenet5", root)
    assert (first.name, second.name, third.name) == ("lenet5", "lenet5-2", "lenet5-3")
    assert (first / "keep.txt").read_text() == "mine"
    assert runs.new_run_dir("vgg11", root).name == "vgg11"
    # A file squatting on a name is skipped too.
    (root / "alexnet").write_text("not a folder")
    assert runs.new_run_dir("alexnet", root).name == "alexnet-2"
    assert [p.name for p in runs.run_dirs("lenet5", root)] == ["lenet5", "lenet5-2", "lenet5-3"]


def test_new_run_dir_is_race_free(tmp_path):
    made: list[Path] = []
    threads = [threading.Thread(target=lambda: made.append(runs.new_run_dir("m", tmp_path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({p.name for p in made}) == 8


def test_newest_run_picks_latest_complete_run_of_that_model(tmp_path):
    assert runs.newest_run("lenet5", tmp_path) is None
    assert runs.newest_run("lenet5", tmp_path / "absent") is None
    a = runs.new_run_dir("lenet5", tmp_path)
    b = runs.new_run_dir("lenet5", tmp_path)
    c = runs.new_run_dir("lenet5", tmp_path)  # interrupted: config + checkpoint only
    _finish(a, "lenet5", mtime=2_000_000)
    _finish(b, "lenet5", mtime=1_000_000)  # finished earlier than a (e.g. a was resumed later)
    (c / "config.json").write_text(json.dumps({"model": "lenet5"}))
    (c / "checkpoint").mkdir()
    (c / "checkpoint" / "state.json").write_text("{}")
    assert runs.newest_run("lenet5", tmp_path) == a
    assert not runs.is_complete(c)
    assert runs.newest_unfinished_run("lenet5", tmp_path) == c
    # A folder named like the model but holding another model does not count.
    other = runs.new_run_dir("lenet5", tmp_path)
    _finish(other, "vgg11", mtime=3_000_000)
    assert runs.newest_run("lenet5", tmp_path) == a
    assert runs.is_complete(other) and not runs.is_complete(other, "lenet5")
    # lenet5-x is not a numbered run of lenet5.
    (tmp_path / "lenet5-x").mkdir()
    _finish(tmp_path / "lenet5-x", "lenet5", mtime=4_000_000)
    assert runs.newest_run("lenet5", tmp_path) == a


def test_config_and_labels_round_trip(tmp_path):
    with pytest.raises(EdgecnnError, match="not a run folder"):
        runs.read_config(tmp_path)
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(EdgecnnError, match="not readable JSON"):
        runs.read_config(tmp_path)
    labels = ["T-shirt/top", "Trouser", "Ankle boot"]
    path = runs.write_labels(tmp_path, labels)
    assert path.read_text() == "T-shirt/top\nTrouser\nAnkle boot\n"
    assert runs.read_labels(tmp_path) == labels
    with pytest.raises(EdgecnnError, match="single lines"):
        runs.write_labels(tmp_path, ["a\nb"])
    with pytest.raises(EdgecnnError, match="did not finish"):
        runs.read_metrics(tmp_path)
