"""edgecnn.train and `edgecnn train`: real short trainings, resume after an interruption, CLI errors."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from edgecnn import runs
from edgecnn.errors import EdgecnnError, UsageError
from edgecnn.preprocess import PreprocessSpec, to_float_input

from conftest import run_cli

pytestmark = pytest.mark.tf

TINY = {"width": 0.25}  # simple_cnn with 16/32/64 filters: trains 300 images in a few seconds


@pytest.fixture(scope="module")
def trainmod():
    pytest.importorskip("tensorflow")
    import edgecnn.train as trainmod

    return trainmod


# ---- input pipeline ----------------------------------------------------------------------------------

def test_pipeline_gives_exactly_to_float_input(trainmod):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (10, 6, 5, 3), dtype=np.uint8)
    y = np.arange(10, dtype=np.int64)
    for spec in (PreprocessSpec(6, 5, 3), PreprocessSpec(6, 5, 3, scale=1 / 127.5, offset=-1.0)):
        batches = list(trainmod.make_tf_dataset(x, y, spec, batch_size=4).as_numpy_iterator())
        got = np.concatenate([b[0] for b in batches])
        assert got.dtype == np.float32 and [len(b[0]) for b in batches] == [4, 4, 2]
        assert np.array_equal(got, to_float_input(x, spec))
        assert np.array_equal(np.concatenate([b[1] for b in batches]), y)


def test_cli_size_parser():
    from edgecnn.cli.train import _parse_size

    assert _parse_size("32") == 32 and _parse_size("48x64") == (48, 64) and _parse_size(None) is None
    with pytest.raises(UsageError):
        _parse_size("big")


# ---- a real short training ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def short_run(trainmod, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    result = trainmod.train("simple_cnn", "fashion_mnist", epochs=2, batch_size=64, limit=300, seed=3,
                            runs_root=root, verbose=False, **TINY)
    return result, root


@pytest.mark.slow
def test_short_training_writes_a_complete_run_folder(short_run):
    result, root = short_run
    run = result.run_dir
    assert run == root / "simple_cnn"
    for name in ("model.keras", "labels.txt", "preprocess.json", "config.json", "metrics.json",
                 "training_curve.png", "checkpoint/state.json"):
        assert (run / name).is_file(), name
    assert not list(run.glob(".*part*")), "no temporary files left behind"
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "simple_cnn" and config["input_shape"] == [28, 28, 1]
    assert config["num_classes"] == 10 and config["knobs"] == {"width": 0.25}
    assert config["data"] == {"source": "fashion_mnist", "seed": 3, "limit": 300, "resize": "pad",
                              "images": {"train": 300, "val": 60, "test": 60}}
    assert (config["epochs"], config["batch_size"], config["learning_rate"], config["seed"]) == (2, 64, 0.001, 3)
    assert config["tensorflow_version"].startswith("2.") and config["edgecnn_version"]
    spec = PreprocessSpec.load(run / "preprocess.json")
    assert (spec.shape, spec.resize, spec.scale, spec.offset) == ((28, 28, 1), "pad", 1 / 255, 0.0)
    assert runs.read_labels(run)[0] == "T-shirt/top" and len(runs.read_labels(run)) == 10
    metrics = result.metrics
    assert json.loads((run / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    assert metrics["epochs_run"] == 2 and metrics["best_epoch"] in (1, 2)
    assert len(metrics["history"]["val_accuracy"]) == 2 and len(metrics["history"]["loss"]) == 2
    assert metrics["images"] == {"train": 300, "val": 60, "test": 60}
    assert metrics["train_seconds"] > 0 and metrics["params"] > 1000
    assert len(metrics["epoch_seconds"]) == 2 and metrics["train_cpu_seconds"] > 0 and metrics["threads"] >= 1
    # The best epoch's validation accuracy is what the restored weights score.
    assert metrics["val_accuracy"] == pytest.approx(max(metrics["history"]["val_accuracy"]), abs=1e-6)
    png = (run / "training_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert runs.newest_run("simple_cnn", root) == run


@pytest.mark.slow
def test_saved_model_reproduces_the_test_accuracy(short_run):
    """model.keras + preprocess.json + the data loader give the accuracy metrics.json claims."""
    from edgecnn._tf import keras
    from edgecnn.data import load_dataset

    result, _ = short_run
    run = result.run_dir
    model = keras.models.load_model(run / "model.keras", compile=False)
    assert model.optimizer is None  # saved without Adam's slots
    spec = PreprocessSpec.load(run / "preprocess.json")
    ds = load_dataset("fashion_mnist", spec, seed=3, limit=300)
    probs = model.predict(to_float_input(ds.x_test, spec), verbose=0)
    accuracy = float(np.mean(np.argmax(probs, axis=1) == ds.y_test))
    assert accuracy == pytest.approx(result.metrics["test_accuracy"], abs=1e-6)
    assert 0.0 < accuracy <= 1.0


@pytest.mark.slow
def test_out_dir_is_never_overwritten_and_bad_knobs_leave_no_folder(trainmod, short_run, tmp_path):
    result, root = short_run
    with pytest.raises(EdgecnnError, match="not empty"):
        trainmod.train("simple_cnn", epochs=1, limit=50, out_dir=result.run_dir, verbose=False)
    with pytest.raises(UsageError, match="no option"):
        trainmod.train("simple_cnn", epochs=1, limit=50, runs_root=tmp_path, verbose=False, colour="blue")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(EdgecnnError, match="already finished"):
        trainmod.train("simple_cnn", resume=True, out_dir=result.run_dir, verbose=False)


# ---- resume after an interruption --------------------------------------------------------------------

@pytest.mark.slow
def test_resume_continues_from_the_last_completed_epoch(trainmod, tmp_path):
    from edgecnn._tf import keras

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt  # what Ctrl-C does, right after epoch 1's checkpoint

    args = dict(epochs=3, batch_size=50, limit=200, runs_root=tmp_path, verbose=False, patience=5, **TINY)
    with pytest.raises(KeyboardInterrupt):
        trainmod.train("simple_cnn", "fashion_mnist", callbacks=[StopAfterFirstEpoch()], **args)
    run = tmp_path / "simple_cnn"
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 1 and len(state["history"]["loss"]) == 1
    assert not runs.is_complete(run) and runs.newest_run("simple_cnn", tmp_path) is None
    assert runs.newest_unfinished_run("simple_cnn", tmp_path) == run
    first_loss = state["history"]["loss"][0]

    with pytest.raises(UsageError, match="saved settings"):
        trainmod.train("simple_cnn", resume=True, runs_root=tmp_path, batch_size=64, verbose=False)

    class Watch(keras.callbacks.Callback):
        seen: dict = {}

        def on_train_begin(self, logs=None):
            self.seen["iterations"] = int(self.model.optimizer.iterations.numpy())

        def on_epoch_begin(self, epoch, logs=None):
            self.seen.setdefault("epochs", []).append(epoch)

    watch = Watch()
    result = trainmod.train("simple_cnn", resume=True, runs_root=tmp_path, verbose=False, callbacks=[watch])
    assert result.run_dir == run
    # Adam's step counter came back from the checkpoint (200 images / 50 per batch = 4 steps per epoch) and
    # training went on with epochs 2 and 3 (0-based 1, 2), not from scratch.
    assert watch.seen["iterations"] == 4 and watch.seen["epochs"] == [1, 2]
    history = result.metrics["history"]
    assert result.metrics["epochs_run"] == 3 and len(history["loss"]) == 3
    assert history["loss"][0] == first_loss
    assert runs.is_complete(run, "simple_cnn") and runs.newest_run("simple_cnn", tmp_path) == run
    best = f"best-epoch-{result.metrics['best_epoch']}.npz"
    assert sorted(p.name for p in (run / "checkpoint").iterdir()) == [
        best, "epoch-3.data-00000-of-00001", "epoch-3.index", "state.json"]


@pytest.mark.slow
def test_nothing_to_resume(trainmod, tmp_path):
    with pytest.raises(EdgecnnError, match="no interrupted run"):
        trainmod.train("simple_cnn", resume=True, runs_root=tmp_path, verbose=False)


# ---- the command line --------------------------------------------------------------------------------

def _one_line_error(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_cli_unknown_model_exits_2(cli, tmp_path):
    proc = cli("train", "mobilenett", "--limit", "10", cwd=tmp_path)
    assert proc.returncode == 2
    assert "unknown model 'mobilenett'" in _one_line_error(proc)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing", "no such folder"),
    (lambda p: p, "no class sub-folders"),
    (lambda p: ((p / "a").mkdir(), (p / "b").mkdir(), p)[-1], "no .jpg/.jpeg/.png images"),
])
def test_cli_bad_data_folder_is_one_line(cli, tmp_path, make, message):
    folder = tmp_path / "data"
    folder.mkdir()
    proc = cli("train", "simple_cnn", "--data", str(make(folder)), cwd=tmp_path)
    assert proc.returncode == 1
    assert message in _one_line_error(proc)


def test_cli_without_tensorflow_names_the_train_extra(cli, tmp_path):
    fake = tmp_path / "site" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named tensorflow (simulated base install)')\n")
    proc = cli("train", "simple_cnn", "--limit", "10", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")})
    assert proc.returncode == 1
    assert "[train] extra" in _one_line_error(proc)


@pytest.mark.slow
def test_digits_with_a_time_budget(trainmod, tmp_path):
    result = trainmod.train("simple_cnn", "digits", limit=200, epochs=4, max_minutes=0.001, out_dir=tmp_path / "out",
                            verbose=False, **TINY)
    run = tmp_path / "out"
    assert result.run_dir == run and runs.is_complete(run, "simple_cnn")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and "time budget" in metrics["stopped_by"]
    config = json.loads((run / "config.json").read_text())
    # digits are 8x8: bilinear up to the model's 28x28 small input.
    assert config["data"]["resize"] == "bilinear" and config["input_shape"] == [28, 28, 1]
    assert config["max_minutes"] == 0.001
    assert runs.read_labels(run) == [str(d) for d in range(10)]


@pytest.mark.slow
def test_image_folder_training(trainmod, tmp_path, capsys):
    """A folder of colour images: 3 channels by default, bilinear resize, sorted class names as labels."""
    images = Path(__file__).resolve().parent / "data" / "images" / "shapes"
    result = trainmod.train("simple_cnn", images, epochs=1, runs_root=tmp_path, verbose=False, **TINY)
    assert "skipped 1 unreadable image" in capsys.readouterr().err
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["input_shape"] == [28, 28, 3] and config["data"]["resize"] == "bilinear"
    assert config["data"]["source"] == str(images)
    assert runs.read_labels(result.run_dir) == ["circle", "square"]
    # 15% of 7 circles and of 8 squares for test and for validation: one image of each class each.
    assert result.metrics["images"] == {"train": 11, "val": 2, "test": 2}


@pytest.mark.slow
def test_cli_killed_run_resumes(tmp_path):
    """`kill` (SIGTERM) in the middle of training, then --resume: continues, does not start over."""
    import signal
    import subprocess
    import time

    cmd = [sys.executable, "-m", "edgecnn", "train", "simple_cnn", "--limit", "300", "--width", "0.25",
           "--epochs", "40", "--batch-size", "100", "-o", "run"]
    child = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state_file = tmp_path / "run" / "checkpoint" / "state.json"
    deadline = time.monotonic() + 240
    while not state_file.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert "--resume -o run" in err and "Interrupted" in err
    state = json.loads(state_file.read_text())
    assert 1 <= state["epoch"] < 40 and not runs.is_complete(tmp_path / "run")
    epochs = state["epoch"] + 1
    proc = run_cli("train", "simple_cnn", "--resume", "-o", "run", "--epochs", str(epochs), "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("run  test accuracy 0.")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs_run"] == epochs and len(metrics["history"]["loss"]) == epochs
    assert metrics["history"]["loss"][: state["epoch"]] == state["history"]["loss"]


def test_early_stopping_state_and_checkpoint_files(trainmod, tmp_path):
    """The per-epoch callback alone, fed made-up validation accuracies: best epoch, patience, files."""
    from edgecnn._tf import keras

    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
    state = {"epoch": 0, "best_epoch": 0, "best_val_accuracy": -1.0, "wait": 0, "train_seconds": 0.0,
             "history": {}, "stopped": None}
    best: list = []
    callback = trainmod._EpochCheckpoint(tmp_path, state, {"patience": 2, "epochs": 10, "max_minutes": None}, best)
    callback.set_model(model)
    first = [w.copy() for w in model.get_weights()]
    for epoch, val in enumerate([0.50, 0.70, 0.65, 0.70]):
        model.stop_training = False
        model.set_weights([w + epoch for w in first])
        callback.on_epoch_end(epoch, {"loss": 1.0 - val, "accuracy": val, "val_accuracy": val, "val_loss": 1.0})
    saved = json.loads((tmp_path / "state.json").read_text())
    # 0.70 at epoch 2 is the best; 0.65 and an equal 0.70 are no improvement, so patience 2 stops at epoch 4.
    assert saved["best_epoch"] == 2 and saved["wait"] == 2 and saved["epoch"] == 4
    assert model.stop_training and "early stopping" in saved["stopped"]
    assert saved["history"]["val_accuracy"] == [0.5, 0.7, 0.65, 0.7]
    assert saved["checkpoint"] == "epoch-4"
    assert np.array_equal(best[0], first[0] + 1)  # the weights of epoch 2 (index 1)
    assert saved["best_weights"] == "best-epoch-2.npz"
    on_disk = trainmod._load_weights_npz(tmp_path / "best-epoch-2.npz")
    assert all(np.array_equal(a, b) for a, b in zip(on_disk, best))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best-epoch-2.npz", "epoch-4.data-00000-of-00001", "epoch-4.index", "state.json"]


def test_default_mobilenet_run_is_half_width_with_cosine_decay(trainmod):
    """`edgecnn train mobilenet` trains MobileNetV2 at width 0.5 (the five-minute default); --width and an
    explicit input size keep the canonical width; the learning rate decays to 1% over the planned steps."""
    kw = dict(epochs=None, batch_size=None, channels=None, width=None, learning_rate=None, limit=None,
              seed=0, max_minutes=None, patience=None, knobs={})
    config, _ = trainmod._new_config("mobilenet_v2", "fashion_mnist", input_size=None, **kw)
    assert config["knobs"]["width"] == 0.5 and config["lr_schedule"] == "cosine"
    config_wide, _ = trainmod._new_config("mobilenet_v2", "fashion_mnist", input_size=None, **{**kw, "width": 1.0})
    assert config_wide["knobs"]["width"] == 1.0
    config_big, _ = trainmod._new_config("mobilenet_v2", "fashion_mnist", input_size=64, **kw)
    assert "width" not in config_big["knobs"]
    schedule = trainmod._learning_rate(dict(config, epochs=2, batch_size=100), 1000)
    assert float(schedule(0)) == pytest.approx(config["learning_rate"])
    assert float(schedule(20)) == pytest.approx(0.01 * config["learning_rate"])


# ---- checkpoint consistency (issue 14, item 9) ------------------------------------------------------

def test_old_checkpoints_are_removed_under_a_folder_with_glob_characters(trainmod, tmp_path):
    """A run folder named like ``run[1]`` is a glob character class; cleaning up must not depend on it."""
    from edgecnn._tf import keras

    ckpt = tmp_path / "run[1]" / "checkpoint"
    ckpt.mkdir(parents=True)
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
    state = {"epoch": 0, "best_epoch": 0, "best_val_accuracy": -1.0, "wait": 0, "train_seconds": 0.0,
             "history": {}, "stopped": None}
    callback = trainmod._EpochCheckpoint(ckpt, state, {"patience": 5, "epochs": 10, "max_minutes": None}, [])
    callback.set_model(model)
    for epoch, val in enumerate([0.5, 0.6, 0.7]):
        callback.on_epoch_end(epoch, {"loss": 1.0, "accuracy": val, "val_accuracy": val, "val_loss": 1.0})
    names = sorted(p.name for p in ckpt.iterdir())
    assert [n for n in names if n.startswith("epoch-")] == ["epoch-3.data-00000-of-00001", "epoch-3.index"]
    assert len([n for n in names if n.endswith(".npz")]) == 1, names


@pytest.mark.slow
def test_kill_between_best_weights_and_state_keeps_a_consistent_resume_point(trainmod, tmp_path, monkeypatch):
    """A kill after a new best epoch's weights are saved but before its state.json is written: the resume
    point is the previous epoch, so the best weights must be that epoch's, not the unrecorded new ones."""
    from edgecnn._tf import keras

    faked_val = [0.5, 0.7]  # epoch 2 is a new best, so its weights are saved as the best
    original = trainmod._EpochCheckpoint.on_epoch_end

    def with_faked_val(self, epoch, logs=None):
        return original(self, epoch, dict(logs or {}, val_accuracy=faked_val[epoch]))

    real_write_json = trainmod.write_json

    def write_json_killed_at_epoch_2(path, obj):
        if Path(path).name == "state.json" and obj.get("epoch") == 2:
            raise KeyboardInterrupt  # the process dies right before epoch 2's state lands
        return real_write_json(path, obj)

    class KeepWeights(keras.callbacks.Callback):
        after_epoch: list = []

        def on_epoch_end(self, epoch, logs=None):
            self.after_epoch.append(self.model.get_weights())

    monkeypatch.setattr(trainmod._EpochCheckpoint, "on_epoch_end", with_faked_val)
    monkeypatch.setattr(trainmod, "write_json", write_json_killed_at_epoch_2)
    keep = KeepWeights()
    with pytest.raises(KeyboardInterrupt):
        trainmod.train("simple_cnn", "fashion_mnist", epochs=2, batch_size=50, limit=200, out_dir=tmp_path / "run",
                       verbose=False, patience=5, callbacks=[keep], **TINY)
    assert len(keep.after_epoch) == 1  # epoch 2's state never landed
    monkeypatch.undo()

    # Finish from the resume point without training more: the model must carry epoch 1's weights.
    result = trainmod.train("simple_cnn", resume=True, out_dir=tmp_path / "run", epochs=1, verbose=False)
    assert result.metrics["best_epoch"] == 1 and result.metrics["epochs_run"] == 1
    saved = keras.models.load_model(tmp_path / "run" / "model.keras", compile=False).get_weights()
    assert len(saved) == len(keep.after_epoch[0])
    assert all(np.array_equal(a, b) for a, b in zip(saved, keep.after_epoch[0]))
