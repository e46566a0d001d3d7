"""What a CNN sees: the activations (feature maps) of chosen layers for one image, drawn as a PNG grid.

    from edgecnn.featuremaps import feature_maps
    result = feature_maps("mobilenet_v2", "shoe.png", out="grid.png")   # newest run of that model
    result = feature_maps("runs/lenet5-2", "shoe.png", layers=["conv1"])

The image goes through exactly the preprocessing the model was trained with (``preprocess.json`` of the
run: :func:`edgecnn.preprocess.load_image` → ``adapt_image`` → ``to_float_input``), so the maps are what
the trained network computes on that input. By default two layers are drawn: the first convolution
(edges, blobs) and one deep convolution (the last one that still has a spatial map of at least 4×4 pixels,
where features are more abstract). Each layer shows its most active channels (largest mean activation),
each channel scaled to its own range so that weak but structured maps stay visible.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgecnn.errors import EdgecnnError, UsageError, closest_names

# Layer classes whose output is a feature map worth drawing by default.
_CONV_CLASSES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")
DEEP_MIN_SIZE = 4  # the default deep layer still has at least this many pixels per side


@dataclass
class FeatureMapResult:
    """What :func:`feature_maps` drew: the PNG, the run it came from, and each layer's map shape (H, W, C)."""

    path: Path
    run_dir: Path
    layers: list[str]
    shapes: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    prediction: tuple[str, float] | None = None


def resolve_run(source: str | os.PathLike, root: str | os.PathLike = "runs") -> Path:
    """A run folder given as a path, or the newest complete run of a model name under ``root``."""
    from edgecnn import runs

    path = Path(source)
    if path.is_dir():
        if not (path / runs.MODEL_FILE).is_file():
            raise EdgecnnError(f"{path}: not a finished run folder (no {runs.MODEL_FILE})")
        return path
    if path.suffix or os.sep in str(source):
        raise EdgecnnError(f"{source}: no such run folder")
    from edgecnn.zoo.registry import resolve_name  # TF-free; unknown names get a 'did you mean'

    name = resolve_name(str(source))
    found = runs.newest_run(name, root)
    if found is None:
        raise EdgecnnError(f"no finished run of {name} under {root}/: train one first (edgecnn train {name})")
    return found


def load_run_model(run_dir: Path) -> Any:
    """The trained tf_keras model of a run (the zoo's custom layers registered first)."""
    from edgecnn._tf import keras

    try:  # registers hard-swish, layer scale … with Keras so that model.keras loads
        import edgecnn.zoo.custom_layers  # noqa: F401
    except ImportError:  # pragma: no cover - only before the zoo's custom layers exist
        pass
    path = Path(run_dir) / "model.keras"
    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgecnnError(f"{path}: cannot load the model ({first})") from exc


def _output_shape(layer: Any) -> tuple | None:
    try:
        shape = layer.output.shape
    except (AttributeError, RuntimeError, ValueError):  # layers used twice have no single output
        return None
    return tuple(shape)


def map_layers(model: Any) -> list[str]:
    """Names of the layers whose output is a 4-D feature map (N, H, W, C), in graph order."""
    names = []
    for layer in model.layers:
        shape = _output_shape(layer)
        if shape is not None and len(shape) == 4 and type(layer).__name__ != "InputLayer":
            names.append(layer.name)
    return names


def default_layers(model: Any) -> list[str]:
    """The first convolution and one deep convolution (last one with a map of ≥ DEEP_MIN_SIZE pixels)."""
    convs = [layer for layer in model.layers
             if type(layer).__name__ in _CONV_CLASSES and len(_output_shape(layer) or ()) == 4]
    if not convs:
        maps = map_layers(model)
        if not maps:
            raise EdgecnnError(f"{model.name} has no layer with a 2-D feature map to draw")
        return maps[:1] if len(maps) == 1 else [maps[0], maps[-1]]
    first = convs[0]
    big_enough = [c for c in convs if min(_output_shape(c)[1:3]) >= DEEP_MIN_SIZE]
    deep = (big_enough or convs)[-1]
    return [first.name] if deep is first else [first.name, deep.name]


def check_layers(model: Any, layers: Sequence[str]) -> list[str]:
    """The requested layer names, or a UsageError naming a few valid ones."""
    valid = map_layers(model)
    all_names = [layer.name for layer in model.layers]
    for name in layers:
        if name in valid:
            continue
        if name in all_names:
            shape = _output_shape(model.get_layer(name))
            raise UsageError(f"layer '{name}' has no 2-D feature map (output shape {shape}); "
                             f"pick one of: {_few(valid)}")
        close = closest_names(name, valid)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise UsageError(f"unknown layer '{name}': {hint}layers with feature maps: {_few(valid)}")
    return list(dict.fromkeys(layers))


def _few(names: list[str], n: int = 6) -> str:
    if len(names) <= n:
        return ", ".join(names)
    head, tail = names[: n // 2], names[-(n // 2):]
    return f"{', '.join(head)}, …, {', '.join(tail)} ({len(names)} in all)"


def activations(model: Any, layers: Sequence[str], x: np.ndarray) -> dict[str, np.ndarray]:
    """Each layer's output (H, W, C) for one preprocessed input ``x`` (H, W, C) float32."""
    from edgecnn._tf import keras

    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in layers])
    outputs = probe(x[None, ...], training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return {name: np.asarray(out)[0] for name, out in zip(layers, outputs)}


def strongest_channels(fmap: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` channels with the largest mean activation, strongest first."""
    means = fmap.reshape(-1, fmap.shape[-1]).mean(axis=0)
    return np.argsort(-means, kind="stable")[:n]


def render_grid(image: np.ndarray, maps: dict[str, np.ndarray], out: str | os.PathLike, *,
                max_channels: int = 32, title: str = "") -> Path:
    """Draw the input and each layer's strongest channels as one PNG (matplotlib, Agg), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgecnn.plots import save_png

    cols = 8
    blocks = []  # (layer name, fmap, channel indices)
    for name, fmap in maps.items():
        blocks.append((name, fmap, strongest_channels(fmap, max_channels)))
    rows_per_block = [max(1, -(-len(idx) // cols)) for _, _, idx in blocks]
    n_rows = 1 + sum(rows_per_block)
    fig = plt.figure(figsize=(cols * 1.2, n_rows * 1.35 + 0.6))
    grid = fig.add_gridspec(n_rows, cols, hspace=0.55, wspace=0.08)

    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=255)
    ax.set_title("input", fontsize=8)
    ax.axis("off")
    info = fig.add_subplot(grid[0, 1:])
    info.axis("off")
    info.text(0.0, 0.5, title, fontsize=9, va="center")

    row = 1
    for (name, fmap, idx), n_block_rows in zip(blocks, rows_per_block):
        for k, channel in enumerate(idx):
            ax = fig.add_subplot(grid[row + k // cols, k % cols])
            channel_map = fmap[:, :, channel]
            lo, hi = float(channel_map.min()), float(channel_map.max())
            ax.imshow(channel_map, cmap="viridis", vmin=lo, vmax=hi if hi > lo else lo + 1e-6,
                      interpolation="nearest")
            label = f"{name} {fmap.shape[0]}×{fmap.shape[1]}×{fmap.shape[2]}\n#{channel}" if k == 0 else f"#{channel}"
            ax.set_title(label, fontsize=6, loc="left")
            ax.axis("off")
        row += n_block_rows

    out = Path(out)
    save_png(fig, out)
    plt.close(fig)
    return out


def feature_maps(source: str | os.PathLike, image_path: str | os.PathLike, *, layers: Sequence[str] | None = None,
                 out: str | os.PathLike = "featuremaps.png", root: str | os.PathLike = "runs",
                 max_channels: int = 32) -> FeatureMapResult:
    """Draw the feature maps of ``layers`` (default: first and a deep conv) of a trained run for one image."""
    from edgecnn.preprocess import PreprocessSpec, adapt_image, load_image, to_float_input

    if max_channels < 1:
        raise UsageError(f"max_channels must be at least 1, got {max_channels}")
    run_dir = resolve_run(source, root)
    image = load_image(image_path)  # one-line error for missing or non-image files, before loading TF
    preprocess_path = run_dir / "preprocess.json"
    if not preprocess_path.is_file():
        raise EdgecnnError(f"{run_dir}: no preprocess.json (cannot preprocess the image as in training)")
    spec = PreprocessSpec.load(preprocess_path)
    pixels = adapt_image(image, spec)
    x = to_float_input(pixels, spec)

    model = load_run_model(run_dir)
    if tuple(model.input_shape[1:]) != spec.shape:
        raise EdgecnnError(f"{run_dir}: model input {tuple(model.input_shape[1:])} does not match "
                           f"preprocess.json {spec.shape}")
    chosen = check_layers(model, layers) if layers else default_layers(model)
    maps = activations(model, chosen, x)

    prediction = _top1(model, x, run_dir)
    title = f"{model.name} ({run_dir.name}) · {Path(image_path).name}"
    if prediction:
        title += f" → {prediction[0]} ({prediction[1]:.0%})"
    path = render_grid(pixels, maps, out, max_channels=max_channels, title=title)
    shapes = {name: tuple(int(v) for v in fmap.shape) for name, fmap in maps.items()}
    return FeatureMapResult(path=path, run_dir=run_dir, layers=list(chosen), shapes=shapes, prediction=prediction)


def _top1(model: Any, x: np.ndarray, run_dir: Path) -> tuple[str, float] | None:
    """The model's best label and score for the image (shown in the title); None without labels.txt."""
    from edgecnn.preprocess import read_labels

    labels_path = run_dir / "labels.txt"
    if not labels_path.is_file():
        return None
    probs = np.asarray(model(x[None, ...], training=False))[0]
    labels = read_labels(labels_path)
    best = int(np.argmax(probs))
    return (labels[best] if best < len(labels) else str(best)), float(probs[best])
