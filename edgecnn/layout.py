"""The package's two halves, declared once (docs/DEVELOPING.md mirrors it; tests/test_layout.py enforces it).

- **Runtime half**: never imports TensorFlow, tf_keras, keras or tfmot — not at the top, not inside a
  function, not through another edgecnn module — so it works where only the base install is (a Raspberry Pi
  with LiteRT + numpy + click). It imports only runtime-half modules.
- **Training half**: may import TensorFlow (through :mod:`edgecnn._tf`, usually lazily), needs the
  ``[train]`` extra: the zoo, training, optimisation, conversion and the commands that drive them.

Every module of the package is in exactly one of the two tuples. A new module goes into one of them.
"""
from __future__ import annotations

RUNTIME_HALF: tuple[str, ...] = (
    "edgecnn",  # the package root: importing it is TF-free; its public functions import either half on call
    "edgecnn.__main__",
    "edgecnn.layout",
    "edgecnn.errors",
    "edgecnn.fileio",
    "edgecnn.console",
    "edgecnn.child",
    # images and data sets
    "edgecnn.preprocess",
    "edgecnn.data",
    "edgecnn.runs",
    "edgecnn.plots",
    # a .tflite: read, edit, check, run, measure
    "edgecnn.runtime",
    "edgecnn.tflite_file",
    "edgecnn.tflite_edit",
    "edgecnn.tflite_checks",
    "edgecnn.safety",
    "edgecnn.evaluate",
    "edgecnn.profile",
    "edgecnn.profile_options",
    "edgecnn.op_profiler",
    "edgecnn.inspect_model",
    "edgecnn.predict",
    "edgecnn.layer_error",
    "edgecnn.export",
    "edgecnn.report",
    "edgecnn.recommend",
    "edgecnn.benchmark.results",
    "edgecnn.benchmark.variants",
    "edgecnn.benchmark.report",
    "edgecnn.targets",
    "edgecnn.targets.coral",
    "edgecnn.targets.coral_versions",
    "edgecnn.targets.known_hosts",
    "edgecnn.targets.remote",
    # the CLI: the group discovers every topic module (each keeps heavy imports out of module level)
    "edgecnn.cli",
    "edgecnn.cli.runtime",
    "edgecnn.cli.explain",
    "edgecnn.cli.export",
)

TRAINING_HALF: tuple[str, ...] = (
    "edgecnn._tf",  # the only `import tensorflow`
    "edgecnn.zoo",
    "edgecnn.zoo.registry",
    "edgecnn.zoo.blocks",
    "edgecnn.zoo.custom_layers",
    "edgecnn.zoo.random_weights",
    "edgecnn.zoo.alexnet",
    "edgecnn.zoo.convnext",
    "edgecnn.zoo.densenet",
    "edgecnn.zoo.efficientnet",
    "edgecnn.zoo.googlenet",
    "edgecnn.zoo.lenet",
    "edgecnn.zoo.mobilenet_v1",
    "edgecnn.zoo.mobilenet_v2",
    "edgecnn.zoo.mobilenet_v3",
    "edgecnn.zoo.resnet",
    "edgecnn.zoo.simple",
    "edgecnn.zoo.vgg",
    "edgecnn.analysis",
    "edgecnn.train",
    "edgecnn.distribute",
    "edgecnn.transfer",
    "edgecnn.pretrained",
    "edgecnn.featuremaps",
    "edgecnn.optimize",
    "edgecnn.keras_rewrite",
    "edgecnn.model_trust",
    "edgecnn.convert",
    "edgecnn.precision_plan",
    "edgecnn.benchmark",  # the package imports run.py, the orchestration
    "edgecnn.benchmark.run",
    "edgecnn.benchmark.measure",
    "edgecnn.cli.train",
    "edgecnn.cli.zoo",
    "edgecnn.cli.featuremaps",
    "edgecnn.cli.convert",
    "edgecnn.cli.benchmark",  # also `edgecnn recommend`, whose work (edgecnn.recommend) is runtime half
)
