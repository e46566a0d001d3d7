"""Training on several devices or machines with TensorFlow's own tf.distribute engine.

``edgecnn train --distribute`` picks one of:

- ``none``: TensorFlow's default strategy, one device (what a plain ``edgecnn train`` always did);
- ``mirrored``: :class:`tf.distribute.MirroredStrategy` over every GPU this machine shows; on a machine without a
  GPU it runs on the CPU alone and says so;
- ``multi-worker``: :class:`tf.distribute.MultiWorkerMirroredStrategy`, configured the standard way by the
  ``TF_CONFIG`` environment variable (cluster addresses + this task), as Kubernetes operators and other cluster
  managers set it; every worker runs the same command;
- ``auto`` (the default): multi-worker when ``TF_CONFIG`` names a cluster of two or more tasks, mirrored when
  two or more GPUs are visible, else none.

What stays the same on every strategy, so that a distributed run is the same training as a one-device run:

- ``--batch-size`` is the **global** batch: each of the R replicas gets ``batch / R`` images of every step, and
  the gradients are averaged over all of them, so one step is the step a single device takes on the whole batch;
- the learning rate is used as given unless a scaling rule is asked for (``lr_scaling``: ``linear`` or ``sqrt``
  in the global batch relative to :data:`REFERENCE_BATCH`, the batch the default learning rate was chosen for);
- data: every worker loads the same data set with the same seed and tf.data's ``AutoShardPolicy.DATA`` gives
  each worker its part of every global batch (the images are in memory, so there are no files to shard by).

Only the chief (task ``chief``, else worker 0) writes the run folder; the others write their share of each
checkpoint (saving reads synchronised variables collectively, so every worker must take part) into a scratch
folder of their own that is removed. A restarted job reads the chief's checkpoint, so the run folder must be on
storage every worker can read.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from edgecnn._tf import keras, tf
from edgecnn.errors import EdgecnnError, UsageError

CHOICES = ("auto", "none", "mirrored", "multi-worker")
# The global batch the default learning rate (train.DEFAULT_LEARNING_RATE) was chosen for.
REFERENCE_BATCH = 128
# Learning-rate scaling rules: factor from (global batch / REFERENCE_BATCH). Linear: Goyal et al. 2017,
# "Accurate, Large Minibatch SGD"; square root: Krizhevsky 2014, "One weird trick", often used with Adam.
LR_SCALING = {
    "none": lambda ratio: 1.0,
    "linear": lambda ratio: ratio,
    "sqrt": math.sqrt,
}
TASK_TYPES = ("chief", "worker")
TF_STRATEGY = {"none": "default strategy", "mirrored": "MirroredStrategy",
               "multi-worker": "MultiWorkerMirroredStrategy"}


@dataclass
class Plan:
    """The strategy this process trains under and its place in the job."""

    kind: str  # none | mirrored | multi-worker (auto resolved)
    strategy: Any
    devices: list[str]
    workers: int = 1
    worker_index: int = 0
    is_chief: bool = True
    reason: str = ""  # why auto chose this, or what the user should know (mirrored without a GPU)
    _gather: Any = field(default=None, repr=False)

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    @property
    def multi_worker(self) -> bool:
        return self.kind == "multi-worker"

    @property
    def role(self) -> str:
        if not self.multi_worker:
            return "the only process"
        return f"worker {self.worker_index} of {self.workers}" + (" (chief)" if self.is_chief else "")

    def gather(self, value: float) -> list[float]:
        """``value`` from every worker, in task order (a collective: every worker must call it together)."""
        if not self.multi_worker:
            return [float(value)]
        if self._gather is None:
            strategy = self.strategy

            @tf.function
            def gather(v):
                return strategy.gather(strategy.run(lambda: tf.reshape(v, [1])), axis=0)

            self._gather = gather
        # Each worker contributes one value per local replica; keep one per worker.
        values = self._gather(tf.constant(float(value))).numpy().tolist()
        per_worker = len(values) // self.workers
        return values[::per_worker]

    def any_worker(self, flag: bool) -> bool:
        """True on every worker when ``flag`` is true on any: decisions that end training must agree."""
        return max(self.gather(1.0 if flag else 0.0)) > 0

    def barrier(self) -> None:
        """Wait until every worker gets here (the others must not exit before the chief has written)."""
        self.gather(0.0)


def read_tf_config(environ: dict[str, str] | None = None) -> dict[str, Any] | None:
    """``TF_CONFIG`` as a checked dict (None when unset); one-line errors for what TensorFlow would reject later."""
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"TF_CONFIG is not valid JSON ({exc.msg} at character {exc.pos})") from exc
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise UsageError('TF_CONFIG needs a "cluster" object, e.g. {"worker": ["host0:2222", "host1:2222"]}')
    for job, addresses in cluster.items():
        if job not in TASK_TYPES:
            raise UsageError(f"TF_CONFIG names a {job!r} job; multi-worker training uses only "
                             f"{' and '.join(repr(t) for t in TASK_TYPES)} tasks")
        if not isinstance(addresses, list) or not addresses or not all(
                isinstance(a, str) and ":" in a for a in addresses):
            raise UsageError(f'TF_CONFIG cluster "{job}" must be a list of "host:port" strings, got {addresses!r}')
    if len(cluster.get("chief", [])) > 1:
        raise UsageError("TF_CONFIG may name at most one chief")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise UsageError(f'TF_CONFIG needs "task": {{"type": one of {sorted(cluster)}, "index": N}} for this '
                         "process")
    index = task.get("index", 0)
    if not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise UsageError(f"TF_CONFIG task index {index!r} is not a position in its {len(cluster[task['type']])}-long "
                         f"{task['type']!r} list")
    return config


def local_cluster(workers: int) -> list[str]:
    """``127.0.0.1:PORT`` addresses on free ports for ``workers`` processes on this machine: the way to try
    multi-worker training (and to test it) before a real cluster."""
    sockets = [socket.socket() for _ in range(workers)]
    try:
        for sock in sockets:  # all bound at once, so no two get the same port
            sock.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{sock.getsockname()[1]}" for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config_json(cluster: dict[str, list[str]], task_type: str = "worker", index: int = 0) -> str:
    """The ``TF_CONFIG`` value that puts one process at ``cluster[task_type][index]``."""
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def cluster_size(tf_config: dict[str, Any] | None) -> int:
    return sum(len(v) for v in tf_config["cluster"].values()) if tf_config else 0


def _gpus() -> list:
    return tf.config.list_physical_devices("GPU")


def resolve(choice: str) -> tuple[str, str]:
    """The strategy ``choice`` stands for here (``auto`` resolved), and why."""
    if choice not in CHOICES:
        raise UsageError(f"--distribute must be one of {', '.join(CHOICES)}, got {choice!r}")
    if choice != "auto":
        return choice, ""
    tasks = cluster_size(read_tf_config())
    if tasks >= 2:
        return "multi-worker", f"TF_CONFIG names {tasks} tasks"
    gpus = len(_gpus())
    if gpus >= 2:
        return "mirrored", f"{gpus} GPUs visible"
    return "none", "one device" if gpus else "no GPU, no TF_CONFIG cluster"


def _one_device() -> Plan:
    device = "/GPU:0" if _gpus() else "/CPU:0"
    return Plan("none", tf.distribute.get_strategy(), [device])


def _mirrored() -> Plan:
    strategy = tf.distribute.MirroredStrategy()
    devices = list(strategy.extended.worker_devices)
    reason = "" if _gpus() else ("no GPU visible: MirroredStrategy runs on the CPU alone (1 replica), "
                                 "no faster than --distribute none")
    return Plan("mirrored", strategy, devices, reason=reason)


@contextlib.contextmanager
def _signals_end_the_process() -> Iterator[None]:
    """While TensorFlow waits in C++ for the other workers (holding the GIL), Python signal handlers never get
    to run, so Ctrl-C would do nothing; with the default action it ends the process (nothing is written yet).
    SIGTERM gets the same default, but TensorFlow's coordination service installs its own handler for it while
    joining; the CLI's handler is back once the cluster has formed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_DFL) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _multi_worker(log: Callable[[str], None]) -> Plan:
    tf_config = read_tf_config()
    if tf_config is None:
        raise UsageError("--distribute multi-worker needs TF_CONFIG: the cluster's host:port addresses and this "
                         "process's task (see docs/DISTRIBUTED.md)")
    task = tf_config["task"]
    log(f"{task['type']} {task.get('index', 0)}: joining the cluster in TF_CONFIG "
        f"({', '.join(a for addresses in tf_config['cluster'].values() for a in addresses)}); "
        "waiting for every worker")
    try:
        with _signals_end_the_process():
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:
        if "startup" in str(exc):
            raise EdgecnnError("multi-worker training must start before TensorFlow runs anything else in this "
                               "process (start a fresh Python or use `edgecnn train`)") from exc
        raise EdgecnnError(f"cannot join the cluster in TF_CONFIG: {str(exc).splitlines()[0]}") from exc
    except (tf.errors.OpError, ValueError) as exc:
        raise EdgecnnError(f"cannot join the cluster in TF_CONFIG: {str(exc).strip().splitlines()[0]}") from exc
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec()
    workers = sum(spec.num_tasks(job) for job in spec.jobs)
    # Worker indices in task order: the chief (if any) first, as TensorFlow numbers them.
    has_chief = "chief" in spec.jobs
    index = resolver.task_id + (1 if has_chief and resolver.task_type == "worker" else 0)
    return Plan("multi-worker", strategy, list(strategy.extended.worker_devices), workers=workers,
                worker_index=index, is_chief=bool(strategy.extended.should_checkpoint))


PLANS = {"none": lambda log: _one_device(), "mirrored": lambda log: _mirrored(), "multi-worker": _multi_worker}


def make_plan(choice: str = "auto", log: Callable[[str], None] = lambda line: None) -> Plan:
    """Create the strategy for ``choice``. Multi-worker joins the cluster here and waits for every worker, and
    must run before TensorFlow does anything else in the process."""
    kind, why = resolve(choice)
    plan = PLANS[kind](log)
    if choice == "auto" and why:
        plan.reason = f"auto: {why}" + (f"; {plan.reason}" if plan.reason else "")
    return plan


def per_replica_batches(global_batch: int, replicas: int) -> str:
    """How a global batch splits over replicas, for printing ('32' or '42-43')."""
    low, extra = divmod(global_batch, replicas)
    if low == 0:
        raise UsageError(f"the global batch ({global_batch}) must be at least the number of replicas ({replicas})")
    return str(low) if extra == 0 else f"{low}-{low + 1}"


def scaled_learning_rate(learning_rate: float, rule: str, global_batch: int) -> float:
    if rule not in LR_SCALING:
        raise UsageError(f"learning-rate scaling must be one of {', '.join(LR_SCALING)}, got {rule!r}")
    return float(learning_rate * LR_SCALING[rule](global_batch / REFERENCE_BATCH))


def describe(plan: Plan, global_batch: int, learning_rate: float, rule: str) -> dict[str, Any]:
    """What metrics.json records about how the run was spread (and what :func:`summary` prints)."""
    return {
        "strategy": plan.kind,
        "tf_strategy": TF_STRATEGY[plan.kind],
        "reason": plan.reason or None,
        "workers": plan.workers,
        "replicas": plan.replicas,
        "devices": plan.devices,
        "global_batch": global_batch,
        "per_replica_batch": per_replica_batches(global_batch, plan.replicas),
        "learning_rate": scaled_learning_rate(learning_rate, rule, global_batch),
        "lr_scaling": rule,
        "sharding": "AutoShardPolicy.DATA" if plan.multi_worker else None,
    }


def summary(info: dict[str, Any], base_learning_rate: float) -> list[str]:
    """Lines that say how the run is spread, the batch split, the learning rate and the data sharding."""
    where = "this worker's devices" if info["workers"] > 1 else "on"
    lines = [f"Distribution: {info['strategy']} ({info['tf_strategy']}), {info['workers']} worker(s), "
             f"{info['replicas']} replica(s); {where} {', '.join(info['devices'])}"
             + (f" [{info['reason']}]" if info["reason"] else "")]
    lines.append(f"  global batch {info['global_batch']} = {info['replicas']} replica(s) x "
                 f"{info['per_replica_batch']} images; gradients averaged over the global batch")
    if info["lr_scaling"] == "none":
        lines.append(f"  learning rate {info['learning_rate']:g} (as given; not scaled with the batch)")
    else:
        lines.append(f"  learning rate {info['learning_rate']:g} = {base_learning_rate:g} scaled {info['lr_scaling']} "
                     f"by global batch {info['global_batch']} / {REFERENCE_BATCH}")
    if info["sharding"]:
        lines.append(f"  data: each worker loads the whole set and keeps its part of every global batch "
                     f"(tf.data {info['sharding']})")
    return lines


def shard_options():
    """tf.data options for in-memory arrays: shard by element (there are no files to give each worker)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


@contextlib.contextmanager
def scratch_dir(plan: Plan) -> Iterator[Path | None]:
    """A private folder for a non-chief worker's share of each checkpoint, removed afterwards; None on the chief."""
    if plan.is_chief:
        yield None
        return
    path = Path(tempfile.mkdtemp(prefix=f"edgecnn-worker{plan.worker_index}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---- mixed precision ---------------------------------------------------------------------------------

def check_mixed_precision() -> None:
    if not _gpus():
        raise UsageError("--mixed-precision needs a GPU: TensorFlow sees none here, and float16 arithmetic on a "
                         "CPU is slower than float32 (train without --mixed-precision)")


@contextlib.contextmanager
def precision_policy(mixed: bool) -> Iterator[None]:
    """Keras' global dtype policy for the models built inside: mixed_float16 (float16 compute, float32 weights)."""
    if not mixed:
        yield
        return
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def float32_output(model):
    """Under mixed precision, end the model in a float32 identity so that softmax probabilities and the loss
    are float32 (Keras' mixed-precision guide); it has no weights, so the weights list is unchanged."""
    if model.output.dtype == tf.float32:
        return model
    outputs = keras.layers.Activation("linear", dtype="float32", name="float32_output")(model.output)
    return keras.Model(model.inputs, outputs, name=model.name)


def peer_errors() -> tuple[type[BaseException], ...]:
    """What TensorFlow raises in a collective when another worker went away."""
    return (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
            tf.errors.AbortedError, tf.errors.InternalError)
