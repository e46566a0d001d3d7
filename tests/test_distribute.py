"""edgecnn.distribute and `edgecnn train --distribute`: TF_CONFIG checks, batch and learning-rate arithmetic, and
real multi-worker jobs of two local processes (127.0.0.1 ports, TF_CONFIG): one run folder written by the chief,
the same training as on one device, a worker killed mid-epoch and the job restarted, conversion to int8."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgecnn import runs
from edgecnn.distribute import local_cluster, tf_config_json
from edgecnn.errors import UsageError

from conftest import run_cli

pytestmark = pytest.mark.tf

# LeNet-5 on 500 Fashion-MNIST images, global batch 50: 10 steps an epoch, about a minute for a whole job.
JOB = ["lenet5", "--limit", "500", "--batch-size", "50", "--epochs", "2", "--seed", "1"]
RUN_FILES = ["checkpoint", "config.json", "labels.txt", "metrics.json", "model.keras", "preprocess.json",
             "training_curve.png"]
WAIT = 600  # seconds a worker may take on a loaded 2-core machine before the test gives up


@pytest.fixture(scope="module")
def dist():
    pytest.importorskip("tensorflow")
    import edgecnn.distribute as dist

    return dist


# ---- TF_CONFIG, strategy choice, batch and learning-rate arithmetic ----------------------------------

@pytest.mark.parametrize("raw, message", [
    ("{bad", "not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', 'needs a "cluster"'),
    (tf_config_json({"worker": ["a:1"], "ps": ["b:2"]}), "names a 'ps' job"),
    (tf_config_json({"worker": ["no-port"]}), '"host:port" strings'),
    (tf_config_json({"worker": ["a:1", "b:2"]}, index=2), "task index 2 is not a position"),
    (tf_config_json({"worker": ["a:1"]}, task_type="evaluator"), '"task"'),
    (tf_config_json({"chief": ["a:1", "b:2"], "worker": ["c:3"]}, "chief"), "at most one chief"),
])
def test_bad_tf_config_is_one_clear_error(dist, raw, message):
    with pytest.raises(UsageError, match=message):
        dist.read_tf_config({"TF_CONFIG": raw})


def test_tf_config_and_auto_choice(dist, monkeypatch):
    config = dist.read_tf_config({"TF_CONFIG": tf_config_json({"chief": ["a:1"], "worker": ["b:2", "c:3"]}, index=1)})
    assert dist.cluster_size(config) == 3 and dist.read_tf_config({}) is None
    monkeypatch.setenv("TF_CONFIG", tf_config_json({"worker": ["a:1", "b:2"]}))
    assert dist.resolve("auto") == ("multi-worker", "TF_CONFIG names 2 tasks")
    monkeypatch.delenv("TF_CONFIG")
    gpus = len(dist.tf.config.list_physical_devices("GPU"))
    assert dist.resolve("auto")[0] == ("mirrored" if gpus >= 2 else "none")
    assert dist.resolve("mirrored") == ("mirrored", "")
    with pytest.raises(UsageError, match="one of auto, none, mirrored, multi-worker"):
        dist.resolve("horovod")


def test_global_batch_split_and_learning_rate_scaling(dist):
    assert dist.per_replica_batches(64, 2) == "32" and dist.per_replica_batches(128, 3) == "42-43"
    with pytest.raises(UsageError, match="at least the number of replicas"):
        dist.per_replica_batches(2, 4)
    # Reference batch 128: a global batch of 512 is 4x, so linear scaling gives 4x and square-root scaling 2x.
    assert dist.scaled_learning_rate(0.001, "none", 512) == pytest.approx(0.001)
    assert dist.scaled_learning_rate(0.001, "linear", 512) == pytest.approx(0.004)
    assert dist.scaled_learning_rate(0.001, "sqrt", 512) == pytest.approx(0.002)
    assert dist.scaled_learning_rate(0.002, "linear", 64) == pytest.approx(0.001)


def test_training_starts_from_the_scaled_learning_rate():
    pytest.importorskip("tensorflow")
    from edgecnn.train import _learning_rate

    config = {"learning_rate": 0.001, "lr_scaling": "linear", "batch_size": 256, "epochs": 1, "lr_schedule": "cosine"}
    schedule = _learning_rate(config, train_images=2560)  # 10 steps
    assert float(schedule(0)) == pytest.approx(0.002) and float(schedule(10)) == pytest.approx(0.00002)
    assert _learning_rate(dict(config, lr_schedule="constant", lr_scaling="sqrt", batch_size=512), 1) == \
        pytest.approx(0.002)


def test_workers_agree_on_ending_training(dist, tmp_path):
    """Values are gathered one per replica; with 2 workers x 2 GPUs, one value per worker is kept, and a stop
    wanted by any worker (its clock says the time budget is spent) stops every worker's callback."""
    import edgecnn.train as trainmod
    from edgecnn._tf import keras

    gathered = {"values": [0.0, 0.0, 1.0, 1.0]}
    plan = dist.Plan("multi-worker", strategy=None, devices=["/GPU:0", "/GPU:1"], workers=2, worker_index=0,
                     _gather=lambda v: dist.tf.constant(gathered["values"]))
    assert plan.gather(0.0) == [0.0, 1.0] and plan.any_worker(False) is True
    gathered["values"] = [0.0, 0.0, 0.0, 0.0]
    assert plan.any_worker(False) is False

    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
    state = {"epoch": 0, "best_epoch": 0, "best_val_accuracy": -1.0, "wait": 0, "train_seconds": 0.0,
             "history": {}, "stopped": None}
    config = {"patience": 5, "epochs": 10, "max_minutes": 600.0}  # far from spent on this process's clock
    callback = trainmod._EpochCheckpoint(tmp_path, state, config, [], plan=plan)
    callback.set_model(model)
    callback.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5, "val_accuracy": 0.5, "val_loss": 1.0})
    assert not model.stop_training
    gathered["values"] = [0.0, 0.0, 1.0, 1.0]  # the other worker's clock says stop
    callback.on_epoch_end(1, {"loss": 1.0, "accuracy": 0.5, "val_accuracy": 0.6, "val_loss": 1.0})
    assert model.stop_training and state["stopped"] == "time budget of 600 min"


def test_restarted_job_reuses_only_its_own_unstarted_folder(tmp_path):
    pytest.importorskip("tensorflow")
    from edgecnn.errors import EdgecnnError
    from edgecnn.train import _claim_run_dir

    config = {"model": "lenet5", "epochs": 2}
    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(config))
    assert _claim_run_dir("lenet5", run, tmp_path, reuse_if_unstarted=config) == run
    with pytest.raises(EdgecnnError, match="not empty"):
        _claim_run_dir("lenet5", run, tmp_path, reuse_if_unstarted=dict(config, epochs=3))
    with pytest.raises(EdgecnnError, match="not empty"):
        _claim_run_dir("lenet5", run, tmp_path)  # a one-process run never takes over a folder
    (run / "checkpoint" / "state.json").write_text("{}")  # started: that is a resume, not a fresh start
    with pytest.raises(EdgecnnError, match="not empty"):
        _claim_run_dir("lenet5", run, tmp_path, reuse_if_unstarted=config)


# ---- the command line: clear refusals ----------------------------------------------------------------

def _one_line_error(proc_or_stderr) -> str:
    stderr = getattr(proc_or_stderr, "stderr", proc_or_stderr)
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_cli_mixed_precision_without_a_gpu_is_refused(dist, tmp_path):
    if dist.tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU: --mixed-precision is allowed")
    proc = run_cli("train", *JOB, "--mixed-precision", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--mixed-precision needs a GPU" in _one_line_error(proc)
    assert not (tmp_path / "runs").exists()


def test_cli_multi_worker_needs_tf_config_and_a_shared_out_dir(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    proc = subprocess.run([sys.executable, "-m", "edgecnn", "train", *JOB, "--distribute", "multi-worker", "-o", "r"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=WAIT)
    assert proc.returncode == 2 and "needs TF_CONFIG" in _one_line_error(proc)
    two_workers = tf_config_json({"worker": ["127.0.0.1:1", "127.0.0.1:2"]})
    proc = run_cli("train", *JOB, cwd=tmp_path, env={"TF_CONFIG": two_workers})
    assert proc.returncode == 2 and "needs -o RUN_DIR" in _one_line_error(proc)  # auto chose multi-worker
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_mirrored_on_a_cpu_only_machine_is_a_one_device_run_that_says_so(dist, tmp_path):
    if dist.tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    proc = run_cli("train", "lenet5", "--limit", "100", "--epochs", "1", "--distribute", "mirrored", "-o", "run",
                   cwd=tmp_path, timeout=WAIT)
    assert proc.returncode == 0, proc.stderr
    assert "no GPU visible: MirroredStrategy runs on the CPU alone (1 replica)" in proc.stderr
    distribution = json.loads((tmp_path / "run" / "metrics.json").read_text())["distribution"]
    assert (distribution["strategy"], distribution["replicas"], distribution["workers"]) == ("mirrored", 1, 1)
    assert distribution["devices"][0].endswith("CPU:0") and runs.is_complete(tmp_path / "run", "lenet5")


# ---- two workers on this machine ---------------------------------------------------------------------

class Cluster:
    """Two `edgecnn train` processes on 127.0.0.1, each told its place by TF_CONFIG, as a cluster manager would."""

    def __init__(self, folder: Path, size: int = 2):
        self.folder = folder
        self.addresses = local_cluster(size)
        self.scratch = folder / "worker-tmp"  # TMPDIR of the workers: where non-chief scratch folders go
        self.scratch.mkdir(parents=True, exist_ok=True)

    def start(self, index: int, args: list[str], tag: str) -> subprocess.Popen:
        env = dict(os.environ, TMPDIR=str(self.scratch),
                   TF_CONFIG=tf_config_json({"worker": self.addresses}, index=index))
        out = open(self.folder / f"worker{index}{tag}.out", "w")
        err = open(self.folder / f"worker{index}{tag}.err", "w")
        proc = subprocess.Popen([sys.executable, "-m", "edgecnn", "train", *args], cwd=self.folder, env=env,
                                stdout=out, stderr=err, text=True)
        proc.tag = tag
        return proc

    def run(self, args: list[str], tag: str = "") -> list[subprocess.Popen]:
        procs = [self.start(i, args, tag) for i in range(len(self.addresses))]
        return [self.wait(p) for p in procs]

    def wait(self, proc: subprocess.Popen) -> subprocess.Popen:
        try:
            proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"a worker did not finish in {WAIT} s")
        return proc

    def output(self, index: int, tag: str = "") -> tuple[str, str]:
        return ((self.folder / f"worker{index}{tag}.out").read_text(),
                (self.folder / f"worker{index}{tag}.err").read_text())


def _scratch_folders(cluster: Cluster) -> list[Path]:
    """Non-chief checkpoint folders left in the workers' TMPDIR (TensorFlow's autograph puts files there too)."""
    return sorted(p for p in cluster.scratch.iterdir() if p.name.startswith("edgecnn-worker"))


@pytest.fixture(scope="module")
def single_and_two_workers(tmp_path_factory):
    """The same job on one device (in this process) and as two workers of a cluster."""
    pytest.importorskip("tensorflow")
    from edgecnn.train import train

    folder = tmp_path_factory.mktemp("two-workers")
    single = train("lenet5", limit=500, batch_size=50, epochs=2, seed=1, out_dir=folder / "single",
                   distribute="none", verbose=False)
    cluster = Cluster(folder)
    procs = cluster.run([*JOB, "--distribute", "multi-worker", "-o", "run"])
    return single, cluster, procs


@pytest.mark.slow
def test_two_workers_write_one_complete_run_folder(single_and_two_workers):
    single, cluster, procs = single_and_two_workers
    for index, proc in enumerate(procs):
        assert proc.returncode == 0, cluster.output(index)[1]
    chief_out, chief_err = cluster.output(0)
    worker_out, worker_err = cluster.output(1)
    assert chief_out.splitlines()[-1].startswith("run  test accuracy 0.")
    assert worker_out.strip() == "run  written by the chief (this worker trained its share)"
    assert "worker 1 of 2: training with the chief, which writes run" in worker_err
    # What the chief prints about the split: global batch, per-replica batch, learning rate, sharding.
    assert "global batch 50 = 2 replica(s) x 25 images" in chief_err
    assert "learning rate 0.001 (as given; not scaled with the batch)" in chief_err
    assert "AutoShardPolicy.DATA" in chief_err

    run = cluster.folder / "run"
    assert runs.is_complete(run, "lenet5")
    # The same files as a one-device run and nothing else: the other worker wrote none of its own.
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in single.run_dir.iterdir()) == RUN_FILES
    assert sorted(p.name for p in (run / "checkpoint").iterdir()) == sorted(
        p.name for p in (single.run_dir / "checkpoint").iterdir())
    assert _scratch_folders(cluster) == []  # the worker's scratch folder was removed
    config = json.loads((run / "config.json").read_text())
    single_config = json.loads((single.run_dir / "config.json").read_text())
    assert config == single_config  # how it was spread is not a setting of the run

    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["distribution"] == {
        "strategy": "multi-worker", "tf_strategy": "MultiWorkerMirroredStrategy", "reason": None, "workers": 2,
        "replicas": 2, "devices": ["/job:worker/replica:0/task:0/device:CPU:0"], "global_batch": 50,
        "per_replica_batch": "25", "learning_rate": 0.001, "lr_scaling": "none", "sharding": "AutoShardPolicy.DATA"}
    assert metrics["sessions"] == [{"start_epoch": 0, "strategy": "multi-worker", "workers": 2, "replicas": 2}]
    assert len(metrics["images_per_second"]) == 2 and all(v > 0 for v in metrics["images_per_second"])
    assert single.metrics["distribution"]["strategy"] == "none" and len(single.metrics["images_per_second"]) == 2


@pytest.mark.slow
def test_two_workers_train_as_one_device_at_the_same_global_batch(single_and_two_workers):
    """Synchronous data parallelism averages the gradients of the replicas' halves of each global batch, which is
    the gradient of the whole batch; each step is the one-device step, up to float rounding in the sums."""
    single, cluster, _ = single_and_two_workers
    metrics = json.loads((cluster.folder / "run" / "metrics.json").read_text())
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(metrics["history"][key], single.metrics["history"][key], rtol=1e-3)
    test_images = metrics["images"]["test"]
    assert metrics["images"] == single.metrics["images"] == {"train": 500, "val": 100, "test": 100}
    assert abs(metrics["test_accuracy"] - single.metrics["test_accuracy"]) <= 2 / test_images
    assert metrics["test_accuracy"] > 0.3  # it learned: chance is 0.1


@pytest.mark.slow
def test_distributed_run_converts_to_int8(single_and_two_workers):
    _, cluster, _ = single_and_two_workers
    proc = run_cli("convert", "run", "--int8", cwd=cluster.folder, timeout=WAIT)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((cluster.folder / "run" / "tflite" / "lenet5_int8.report.json").read_text())
    (variant,) = report["variants"]
    assert variant["float32_tensors"] == 0 and variant["input_dtype"] == "int8"
    assert (cluster.folder / "run" / "tflite" / "lenet5_int8.tflite").stat().st_size == variant["size_bytes"]
    # The float32 reference is the chief's model.keras through LiteRT on the run's own test images.
    metrics = json.loads((cluster.folder / "run" / "metrics.json").read_text())
    reference = report["optimisations"]["float32_reference"]["accuracy"]
    assert abs(reference - metrics["test_accuracy"]) <= 1 / report["test_images"]


@pytest.mark.slow
def test_killed_worker_restarts_and_the_job_completes(tmp_path):
    """kill -9 of worker 1 in epoch 2: the chief stops with a one-line error; a restart of both with the same
    command (what a cluster manager does) continues from the chief's epoch-1 checkpoint and finishes."""
    args = ["lenet5", "--limit", "1000", "--batch-size", "50", "--epochs", "3", "--seed", "1",
            "--distribute", "multi-worker", "-o", "run"]
    cluster = Cluster(tmp_path)
    chief, worker = cluster.start(0, args, "a"), cluster.start(1, args, "a")
    state_file = tmp_path / "run" / "checkpoint" / "state.json"
    deadline = time.monotonic() + WAIT
    while not state_file.exists() and chief.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)  # epoch 1's checkpoint just landed: epoch 2 is under way
    cluster.wait(worker)
    cluster.wait(chief)
    assert chief.returncode == 1
    error = _one_line_error(cluster.output(0, "a")[1])
    assert "another worker stopped or cannot be reached" in error and "after epoch 1" in error
    state = json.loads(state_file.read_text())
    assert state["epoch"] == 1 and not runs.is_complete(tmp_path / "run")
    killed_leftovers = _scratch_folders(cluster)  # SIGKILL leaves no time to clean up
    assert [p.name.startswith("edgecnn-worker1-") for p in killed_leftovers] in ([], [True])

    for proc in cluster.run(args, "b"):
        assert proc.returncode == 0, cluster.output(0, "b")[1] + cluster.output(1, "b")[1]
    assert "Resuming run after epoch 1 of 3" in cluster.output(0, "b")[1]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [s["start_epoch"] for s in metrics["sessions"]] == [0, 1]
    assert metrics["epochs_run"] == 3 and len(metrics["history"]["loss"]) == 3
    assert metrics["history"]["loss"][:1] == state["history"]["loss"]
    assert runs.is_complete(tmp_path / "run", "lenet5")
    assert _scratch_folders(cluster) == killed_leftovers  # the restarted worker cleaned up after itself


# ---- mixed precision (the GPU check bypassed: float16 runs, slowly, on a CPU too) ---------------------

@pytest.mark.slow
def test_mixed_precision_resumes_and_saves_a_float32_model(dist, tmp_path, monkeypatch):
    import edgecnn.train as trainmod
    from edgecnn._tf import keras

    monkeypatch.setattr(dist, "check_mixed_precision", lambda: None)
    seen = {}

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen["policy"] = self.model.get_layer("c1_conv").dtype_policy.name
            seen["optimizer"] = type(self.model.optimizer).__name__
            seen["output"] = self.model.output.dtype.name
            raise KeyboardInterrupt

    args = dict(limit=200, batch_size=50, epochs=2, out_dir=tmp_path / "run", verbose=False)
    with pytest.raises(KeyboardInterrupt):
        trainmod.train("lenet5", mixed_precision=True, callbacks=[StopAfterFirstEpoch()], **args)
    # float16 compute with loss scaling, float32 probabilities out.
    assert seen == {"policy": "mixed_float16", "optimizer": "LossScaleOptimizerV3", "output": "float32"}
    assert json.loads((tmp_path / "run" / "config.json").read_text())["mixed_precision"] is True
    with pytest.raises(UsageError, match="lr_scaling was none, not linear"):
        trainmod.train("lenet5", resume=True, out_dir=tmp_path / "run", verbose=False, lr_scaling="linear")
    # The loss-scaled optimiser comes back from the checkpoint (a mismatch raises), training finishes.
    result = trainmod.train("lenet5", resume=True, out_dir=tmp_path / "run", verbose=False)
    assert result.metrics["mixed_precision"] is True and result.metrics["epochs_run"] == 2
    assert keras.mixed_precision.global_policy().name == "float32"  # restored for whatever runs next
    model = keras.models.load_model(tmp_path / "run" / "model.keras", compile=False)
    plain = trainmod._build_model(json.loads((tmp_path / "run" / "config.json").read_text()))
    assert [layer.dtype_policy.name for layer in model.layers] == ["float32"] * len(plain.layers)
    assert [w.shape for w in model.get_weights()] == [w.shape for w in plain.get_weights()]
