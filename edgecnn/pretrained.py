"""Keras Applications weights (``.h5`` files, or ImageNet through Keras' own download cache) in the zoo's models.

:func:`create_pretrained` builds edgecnn's own definition of a family in the layout of its Keras Applications
counterpart and copies the weights in layer by layer, so the zoo model computes what the Keras model computes
(tests: max |difference| ≤ 1e-4 on the same images). Where the two definitions differ:

- **names and order**: each family has a name map (:data:`FAMILIES`), e.g. Keras' ``block_3_expand_BN`` is
  the zoo's ``block3_expand_bn``, EfficientNet's ``block2a_`` is the zoo's ``block1_``, DenseNet's
  ``conv2_block1_0_bn`` is ``block1_layer1_1_bn``;
- **conv biases** (ResNet50's convs have them, the zoo's do not: BN follows each): folded into the BatchNorm
  after the conv (``moving_mean -= bias``), exact;
- **BatchNorm epsilon** (Keras' ResNet50/DenseNet121 use 1.001e-5, the zoo 1e-5): the difference is added to
  the moving variance, exact;
- **layer forms**: a 1×1 conv classifier (MobileNet v1/v3) or Dense on a 4-D map (ConvNeXt) ↔ the zoo's Dense
  or 1×1 Conv2D (reshaped kernels), ConvNeXt's grouped Conv2D ↔ DepthwiseConv2D (transposed kernel);
- **layout**: ResNet50 is "v1" in Keras (stride on the first 1×1 conv) and pads its stem on every side, as
  DenseNet121 does: the zoo builds them with ``layout="keras"``; every family uses its ImageNet stem
  (``stem="imagenet"``) — the zoo's small-input stems change the downsampling the weights were trained with;
- **input scaling**: what Keras Applications does to pixels before the first conv — ``preprocess_input``
  outside the model (MobileNet v1/v2: ``x/127.5 - 1``; ResNet50/VGG16: RGB→BGR and ImageNet mean subtraction;
  DenseNet121: ImageNet mean/std) or Rescaling/Normalization inside it (MobileNetV3, EfficientNet, ConvNeXt).
  The same for every channel → ``preprocess.json``'s scale/offset (:attr:`Import.scale`/``offset``); per
  channel → a frozen 1×1 DepthwiseConv2D ``input_normalization`` after the input (the zoo has no
  preprocessing layers), and the BGR order is folded into the first conv's kernel;
- **grey inputs**: a 1-channel model gets the first conv's kernel summed over R, G, B (the same as feeding
  the grey image as RGB), or, with per-channel scaling, an ``input_normalization`` layer that makes the three
  channels.

The classifier ("head") is loaded when the file has one for the same number of classes and shapes; otherwise
the zoo's head stays freshly initialised: ``include_top=False``-style use, a new head on a pretrained body.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from edgecnn.errors import EdgecnnError, UsageError

IMAGENET = "imagenet"
# ImageNet channel statistics (RGB), as keras.applications.imagenet_utils uses them.
_TORCH_MEAN = np.array([0.485, 0.456, 0.406])
_TORCH_STD = np.array([0.229, 0.224, 0.225])
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])


# ---- what a family needs ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pair:
    """Zoo layer(s) ← Keras layer(s): ``how`` names a converter in :data:`_CONVERTERS`."""

    zoo: tuple[str, ...]
    keras: tuple[str, ...]
    how: str = "copy"
    head: bool = False


@dataclass(frozen=True)
class Family:
    keras_name: str            # the constructor in keras.applications
    module: str                # its module (for preprocess_input in tests and docs)
    preprocessing: str         # "tf" | "caffe" | "torch" | "in-model"
    bn_epsilon: float          # Keras' BatchNorm epsilon in this family
    pairs: Callable[[Any], list[Pair]]
    knobs: dict[str, Any] = field(default_factory=dict)


def _conv_bn(zoo: str, keras_conv: str, keras_bn: str) -> Pair:
    return Pair((f"{zoo}_conv", f"{zoo}_bn"), (keras_conv, keras_bn), "conv_bn")


def _dw_bn(zoo: str, keras_dw: str, keras_bn: str) -> Pair:
    return Pair((f"{zoo}_dw", f"{zoo}_bn"), (keras_dw, keras_bn), "conv_bn")


def _mobilenet_v1(model) -> list[Pair]:
    pairs = [_conv_bn("stem", "conv1", "conv1_bn")]
    for i in range(1, 14):
        pairs += [_dw_bn(f"block{i}_depthwise", f"conv_dw_{i}", f"conv_dw_{i}_bn"),
                  _conv_bn(f"block{i}_pointwise", f"conv_pw_{i}", f"conv_pw_{i}_bn")]
    return pairs + [Pair(("head_logits",), ("conv_preds",), "dense_from_conv", head=True)]


def _mobilenet_v2(model) -> list[Pair]:
    pairs = [_conv_bn("stem", "Conv1", "bn_Conv1"),
             _dw_bn("block0_depthwise", "expanded_conv_depthwise", "expanded_conv_depthwise_BN"),
             _conv_bn("block0_project", "expanded_conv_project", "expanded_conv_project_BN")]
    for i in range(1, 17):
        pairs += [_conv_bn(f"block{i}_expand", f"block_{i}_expand", f"block_{i}_expand_BN"),
                  _dw_bn(f"block{i}_depthwise", f"block_{i}_depthwise", f"block_{i}_depthwise_BN"),
                  _conv_bn(f"block{i}_project", f"block_{i}_project", f"block_{i}_project_BN")]
    return pairs + [_conv_bn("top", "Conv_1", "Conv_1_bn"), Pair(("head_logits",), ("predictions",), head=True)]


def _mobilenet_v3(model) -> list[Pair]:
    names = {layer.name for layer in model.layers}
    pairs = [_conv_bn("stem", "Conv", "Conv/BatchNorm")]
    i = 0
    while f"block{i}_project_conv" in names:
        prefix = "expanded_conv/" if i == 0 else f"expanded_conv_{i}/"
        if f"block{i}_expand_conv" in names:
            pairs.append(_conv_bn(f"block{i}_expand", f"{prefix}expand", f"{prefix}expand/BatchNorm"))
        pairs.append(_dw_bn(f"block{i}_depthwise", f"{prefix}depthwise", f"{prefix}depthwise/BatchNorm"))
        if f"block{i}_se_reduce" in names:
            pairs += [Pair((f"block{i}_se_reduce",), (f"{prefix}squeeze_excite/Conv",)),
                      Pair((f"block{i}_se_expand",), (f"{prefix}squeeze_excite/Conv_1",))]
        pairs.append(_conv_bn(f"block{i}_project", f"{prefix}project", f"{prefix}project/BatchNorm"))
        i += 1
    return pairs + [_conv_bn("top", "Conv_1", "Conv_1/BatchNorm"),
                    Pair(("head_dense",), ("Conv_2",), "dense_from_conv", head=True),
                    Pair(("head_logits",), ("Logits",), "dense_from_conv", head=True)]


_EFFICIENTNET_B0_REPEATS = (1, 2, 2, 3, 3, 4, 1)


def _efficientnet(model) -> list[Pair]:
    names = {layer.name for layer in model.layers}
    pairs = [Pair(("stem_conv", "stem_bn"), ("stem_conv", "stem_bn"), "conv_bn")]
    index = 0
    for stage, repeats in enumerate(_EFFICIENTNET_B0_REPEATS, start=1):
        for r in range(repeats):
            k, z = f"block{stage}{chr(97 + r)}_", f"block{index}"
            if f"{z}_expand_conv" in names:
                pairs.append(Pair((f"{z}_expand_conv", f"{z}_expand_bn"), (f"{k}expand_conv", f"{k}expand_bn"),
                                  "conv_bn"))
            pairs += [Pair((f"{z}_depthwise_dw", f"{z}_depthwise_bn"), (f"{k}dwconv", f"{k}bn"), "conv_bn"),
                      Pair((f"{z}_se_reduce",), (f"{k}se_reduce",)), Pair((f"{z}_se_expand",), (f"{k}se_expand",)),
                      Pair((f"{z}_project_conv", f"{z}_project_bn"), (f"{k}project_conv", f"{k}project_bn"),
                           "conv_bn")]
            index += 1
    return pairs + [Pair(("top_conv", "top_bn"), ("top_conv", "top_bn"), "conv_bn"),
                    Pair(("head_logits",), ("predictions",), head=True)]


def _resnet50(model) -> list[Pair]:
    pairs = [Pair(("conv1_conv", "conv1_bn"), ("conv1_conv", "conv1_bn"), "conv_bn")]
    for stage, blocks in zip(range(2, 6), (3, 4, 6, 3)):
        for b in range(1, blocks + 1):
            z, k = f"stage{stage}_block{b}", f"conv{stage}_block{b}"
            if b == 1:
                pairs.append(Pair((f"{z}_shortcut_conv", f"{z}_shortcut_bn"), (f"{k}_0_conv", f"{k}_0_bn"),
                                  "conv_bn"))
            pairs += [Pair((f"{z}_{i}_conv", f"{z}_{i}_bn"), (f"{k}_{i}_conv", f"{k}_{i}_bn"), "conv_bn")
                      for i in (1, 2, 3)]
    return pairs + [Pair(("predictions",), ("predictions",), head=True)]


def _densenet121(model) -> list[Pair]:
    pairs = [Pair(("conv1_conv", "conv1_bn"), ("conv1/conv", "conv1/bn"), "conv_bn")]
    for b, layers_count in enumerate((6, 12, 24, 16), start=1):
        for i in range(1, layers_count + 1):
            z, k = f"block{b}_layer{i}", f"conv{b + 1}_block{i}"
            pairs += [Pair((f"{z}_1_bn",), (f"{k}_0_bn",), "bn"), Pair((f"{z}_1_conv",), (f"{k}_1_conv",)),
                      Pair((f"{z}_2_bn",), (f"{k}_1_bn",), "bn"), Pair((f"{z}_2_conv",), (f"{k}_2_conv",))]
        if b < 4:
            pairs += [Pair((f"transition{b}_bn",), (f"pool{b + 1}_bn",), "bn"),
                      Pair((f"transition{b}_conv",), (f"pool{b + 1}_conv",))]
    return pairs + [Pair(("final_bn",), ("bn",), "bn"), Pair(("predictions",), ("predictions",), head=True)]


def _vgg16(model) -> list[Pair]:
    pairs = [Pair((f"block{s}_conv{i}",), (f"block{s}_conv{i}",)) for s, n in zip(range(1, 6), (2, 2, 3, 3, 3))
             for i in range(1, n + 1)]
    return pairs + [Pair((name,), (name,), head=True) for name in ("fc1", "fc2", "predictions")]


def _convnext_tiny(model) -> list[Pair]:
    k = "convnext_tiny"
    pairs = [Pair(("stem_conv",), (f"{k}_stem_conv",)), Pair(("stem_ln",), (f"{k}_stem_layernorm",))]
    index = 0
    for stage, depth in enumerate((3, 3, 9, 3)):
        if stage:
            pairs += [Pair((f"downsample{stage}_ln",), (f"{k}_downsampling_layernorm_{stage - 1}",)),
                      Pair((f"downsample{stage}_conv",), (f"{k}_downsampling_conv_{stage - 1}",))]
        for j in range(depth):
            z, kb = f"stage{stage}_block{index}", f"{k}_stage_{stage}_block_{j}"
            pairs += [Pair((f"{z}_depthwise",), (f"{kb}_depthwise_conv",), "depthwise_from_grouped"),
                      Pair((f"{z}_ln",), (f"{kb}_layernorm",)),
                      Pair((f"{z}_pw1",), (f"{kb}_pointwise_conv_1",), "conv_from_dense"),
                      Pair((f"{z}_pw2",), (f"{kb}_pointwise_conv_2",), "conv_from_dense"),
                      Pair((f"{z}_layer_scale",), (f"{kb}_layer_scale",))]
            index += 1
    return pairs + [Pair(("head_ln",), (f"{k}_head_layernorm",), head=True),
                    Pair(("head_logits",), (f"{k}_head_dense",), head=True)]


#: Zoo name → its Keras Applications counterpart: constructor, preprocessing, BN epsilon, name map, knobs.
FAMILIES: dict[str, Family] = {
    "mobilenet_v1": Family("MobileNet", "mobilenet", "tf", 1e-3, _mobilenet_v1),
    "mobilenet_v2": Family("MobileNetV2", "mobilenet_v2", "tf", 1e-3, _mobilenet_v2),
    "mobilenet_v3_small": Family("MobileNetV3Small", "mobilenet_v3", "in-model", 1e-3, _mobilenet_v3),
    "mobilenet_v3_large": Family("MobileNetV3Large", "mobilenet_v3", "in-model", 1e-3, _mobilenet_v3),
    "efficientnet_b0": Family("EfficientNetB0", "efficientnet", "in-model", 1e-3, _efficientnet),
    "resnet50": Family("ResNet50", "resnet", "caffe", 1.001e-5, _resnet50, {"layout": "keras"}),
    "densenet121": Family("DenseNet121", "densenet", "torch", 1.001e-5, _densenet121, {"layout": "keras"}),
    "vgg16": Family("VGG16", "vgg16", "caffe", 1e-3, _vgg16, {"batch_norm": False}),
    "convnext_tiny": Family("ConvNeXtTiny", "convnext", "in-model", 1e-3, _convnext_tiny),
}


def family_of(name: str) -> Family:
    from edgecnn.zoo import resolve_name

    key = resolve_name(name)
    if key not in FAMILIES:
        raise UsageError(f"{key} has no Keras Applications counterpart to take weights from "
                         f"(families with one: {', '.join(FAMILIES)})")
    return FAMILIES[key]


# ---- reading weights -------------------------------------------------------------------------------------------

class WeightFile:
    """Keras layer name → its weights in Keras' order, from an .h5 (``save_weights`` or a whole-model save) or
    from a built Keras model; ``names`` in the file's order (weightless layers included)."""

    def __init__(self, layers: dict[str, list[np.ndarray]], names: list[str], source: str):
        self.layers = layers
        self.names = names
        self.source = source

    @classmethod
    def from_h5(cls, path: str | os.PathLike) -> "WeightFile":
        import h5py

        try:
            handle = h5py.File(str(path), "r")
        except OSError as exc:
            raise EdgecnnError(f"{path}: not an HDF5 weight file ({str(exc).splitlines()[0][:120]})") from exc
        with handle as f:
            root = f["model_weights"] if "model_weights" in f else f
            if "layer_names" not in root.attrs:
                raise EdgecnnError(f"{path}: an HDF5 file without Keras weights (no layer_names attribute)")
            names = [_text(n) for n in root.attrs["layer_names"]]
            layers: dict[str, list[np.ndarray]] = {}
            for name in names:
                group = root[name]
                weight_names = [_text(w) for w in group.attrs.get("weight_names", [])]
                # A nested model (ConvNeXt's stem) stores all its layers' weights in one group: split them.
                for weight_name in weight_names:
                    owner = weight_name.rsplit("/", 1)[0] if "/" in weight_name else name
                    layers.setdefault(owner, []).append(np.asarray(group[weight_name]))
        return cls(layers, names, str(path))

    @classmethod
    def from_model(cls, model, source: str) -> "WeightFile":
        layers: dict[str, list[np.ndarray]] = {}
        names: list[str] = []
        for layer in _flat_layers(model):
            names.append(layer.name)
            for weight in layer.weights:
                layers.setdefault(weight.name.rsplit("/", 1)[0].split(":")[0], []).append(weight.numpy())
        return cls(layers, names, source)

    def get(self, name: str) -> list[np.ndarray] | None:
        return self.layers.get(name)


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _flat_layers(model) -> Iterator[Any]:
    for layer in model.layers:
        if hasattr(layer, "layers") and hasattr(layer, "inputs"):
            yield from _flat_layers(layer)
        else:
            yield layer


def download_imagenet(name: str, include_top: bool, width: float = 1.0) -> WeightFile:
    """The ImageNet weights through Keras Applications itself (its URLs, its ~/.keras/models cache, its hashes)."""
    from edgecnn._tf import keras

    family = family_of(name)
    kwargs: dict[str, Any] = {"weights": IMAGENET, "include_top": include_top}
    if not include_top:
        kwargs["input_shape"] = (224, 224, 3)
    if "mobilenet" in family.module and width != 1.0:
        kwargs["alpha"] = width
    try:
        model = getattr(keras.applications, family.keras_name)(**kwargs)
    except Exception as exc:  # noqa: BLE001 - a download failure surfaces as many exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = first.rsplit(" -- ", 1)[-1][:160]  # Keras: "URL fetch failure on <url>: None -- <reason>"
        raise EdgecnnError(f"cannot download the ImageNet weights of Keras Applications' {family.keras_name} "
                           f"({reason}); where the network allows, keras.applications.{family.keras_name}"
                           "(weights='imagenet') fetches them into ~/.keras/models: pass that .h5 as --weights") from exc
    return WeightFile.from_model(model, f"ImageNet ({family.keras_name})")


# ---- converters: Keras weights → zoo weights -------------------------------------------------------------------

def _bn_weights(keras_bn: list[np.ndarray], zoo_bn, keras_eps: float, conv_bias: np.ndarray | None = None):
    """[gamma, beta, mean, var] for the zoo BN: the conv bias folded into the mean, the epsilon into the variance."""
    if len(keras_bn) != 4:
        raise _Mismatch(f"expected gamma, beta, mean and variance for '{zoo_bn.name}', got {len(keras_bn)} arrays")
    gamma, beta, mean, var = (np.asarray(w, dtype=np.float64) for w in keras_bn)
    if conv_bias is not None:
        mean = mean - conv_bias  # BN(conv + b) = BN'(conv) with mean' = mean - b
    var = np.maximum(var + keras_eps - float(zoo_bn.epsilon), 0.0)
    return [gamma, beta, mean, var]  # float64 here: set_weights rounds once, to the model's own dtype


class _Loader:
    """Applies the :class:`Pair` list of a family to a zoo model."""

    def __init__(self, model, weights: WeightFile, family: Family):
        self.model = model
        self.weights = weights
        self.family = family
        self.by_name = {layer.name: layer for layer in model.layers}
        self.loaded: list[str] = []

    def layer(self, name: str):
        if name not in self.by_name:
            raise EdgecnnError(f"edgecnn's model has no layer '{name}' (a zoo definition changed?)")
        return self.by_name[name]

    def keras(self, name: str) -> list[np.ndarray] | None:
        return self.weights.get(name)

    def set(self, name: str, values: list[np.ndarray], from_name: str) -> None:
        layer = self.layer(name)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(v.shape) for v in values]
        if expected != got:
            raise _Mismatch(f"layer '{name}' takes weights of shapes {expected}, the file's '{from_name}' has {got}")
        layer.set_weights(values)
        self.loaded.append(name)


class _Mismatch(EdgecnnError):
    pass


def _copy(loader: _Loader, pair: Pair, values: list[list[np.ndarray]]) -> None:
    loader.set(pair.zoo[0], values[0], pair.keras[0])


def _conv_bn_converter(loader: _Loader, pair: Pair, values: list[list[np.ndarray]]) -> None:
    conv, bn = (loader.layer(n) for n in pair.zoo)
    conv_values, bn_values = values
    wanted = len(conv.get_weights())
    bias = conv_values[1] if len(conv_values) == 2 and wanted == 1 else None
    loader.set(pair.zoo[0], conv_values[:wanted] if wanted < len(conv_values) else conv_values, pair.keras[0])
    loader.set(pair.zoo[1], _bn_weights(bn_values, bn, loader.family.bn_epsilon, bias), pair.keras[1])


def _bn_converter(loader: _Loader, pair: Pair, values: list[list[np.ndarray]]) -> None:
    loader.set(pair.zoo[0], _bn_weights(values[0], loader.layer(pair.zoo[0]), loader.family.bn_epsilon),
               pair.keras[0])


def _dense_from_conv(loader: _Loader, pair: Pair, values: list[list[np.ndarray]]) -> None:
    kernel, *rest = values[0]
    loader.set(pair.zoo[0], [kernel.reshape(kernel.shape[-2], kernel.shape[-1]), *rest], pair.keras[0])


def _conv_from_dense(loader: _Loader, pair: Pair, values: list[list[np.ndarray]]) -> None:
    kernel, *rest = values[0]
    loader.set(pair.zoo[0], [kernel.reshape(1, 1, *kernel.shape), *rest], pair.keras[0])


def _depthwise_from_grouped(loader: _Loader, pair: Pair, values: list[list[np.ndarray]]) -> None:
    kernel, *rest = values[0]
    loader.set(pair.zoo[0], [np.transpose(kernel, (0, 1, 3, 2)), *rest], pair.keras[0])


_CONVERTERS = {"copy": _copy, "conv_bn": _conv_bn_converter, "bn": _bn_converter,
               "dense_from_conv": _dense_from_conv, "conv_from_dense": _conv_from_dense,
               "depthwise_from_grouped": _depthwise_from_grouped}


# ---- input scaling ---------------------------------------------------------------------------------------------

def input_scaling(family: Family, weights: WeightFile) -> tuple[np.ndarray, np.ndarray, bool]:
    """(a, b, bgr): Keras Applications computes ``pixel × a + b`` per channel (RGB order of the pixels) and, when
    ``bgr``, feeds the channels reversed — what happens to raw 0–255 RGB pixels before the first conv."""
    ones = np.ones(3)
    if family.preprocessing == "tf":
        return ones / 127.5, -ones, False
    if family.preprocessing == "caffe":
        return ones, -_CAFFE_MEAN_BGR[::-1], True
    if family.preprocessing == "torch":
        return 1.0 / (255.0 * _TORCH_STD), -_TORCH_MEAN / _TORCH_STD, False
    if family.keras_name.startswith("MobileNetV3"):
        return ones / 127.5, -ones, False  # Rescaling(1/127.5, -1) inside, or the same outside without it
    if family.keras_name.startswith("ConvNeXt"):
        return 1.0 / (255.0 * _TORCH_STD), -_TORCH_MEAN / _TORCH_STD, False  # its fixed Normalization layer
    # EfficientNet: Rescaling(1/255) → Normalization(adapted mean/variance stored in the file) → for its
    # ImageNet weights a second Rescaling(1/sqrt(stddev)) (keras.applications.efficientnet explains why).
    norm = next((weights.get(n) for n in weights.names if n.startswith("normalization") and weights.get(n)), None)
    a, b = ones / 255.0, np.zeros(3)
    if norm is not None:
        mean, variance = np.asarray(norm[0], np.float64).reshape(-1), np.asarray(norm[1], np.float64).reshape(-1)
        std = np.maximum(np.sqrt(variance), 1e-7)
        a, b = a / std, (b - mean) / std
    if sum(1 for n in weights.names if n.startswith("rescaling")) >= 2:
        extra = 1.0 / np.sqrt(_TORCH_STD)
        a, b = a * extra, b * extra
    return a, b, False


# ---- the public API --------------------------------------------------------------------------------------------

@dataclass
class Import:
    """What :func:`create_pretrained` did: the scaling to record in preprocess.json and what it loaded."""

    scale: float
    offset: float
    loaded_layers: int
    head_loaded: bool
    new_layers: list[str]
    source: str
    notes: list[str] = field(default_factory=list)


# Where a MobileNet weight file shows its width (alpha): output channels of a layer / the same at alpha 1.
_WIDTH_PROBES = {"mobilenet_v1": ("conv_pw_13", 1024), "mobilenet_v2": ("block_16_project", 320),
                 "mobilenet_v3_small": ("expanded_conv_10/project", 96),
                 "mobilenet_v3_large": ("expanded_conv_14/project", 160)}


def file_width(name: str, weights: WeightFile) -> float | None:
    """The width multiplier (Keras' alpha) a MobileNet weight file was made at; None for other families."""
    from edgecnn.zoo import resolve_name

    probe = _WIDTH_PROBES.get(resolve_name(name))
    values = weights.get(probe[0]) if probe else None
    if not values:
        return None
    return round(values[0].shape[-1] / probe[1], 4)


def weight_knobs(name: str, knobs: dict[str, Any]) -> dict[str, Any]:
    """The knobs a pretrained body needs (its Keras layout, its ImageNet stem) over the user's; a conflicting
    user knob is a UsageError."""
    family = family_of(name)
    needed = {"stem": "imagenet", **family.knobs}
    for key, value in needed.items():
        if key in knobs and knobs[key] != value:
            raise UsageError(f"Keras Applications weights need {key}={value} for {name}, not {knobs[key]}")
    return {**knobs, **needed}


def read_weights(weights: str | os.PathLike, name: str, include_top: bool = True, width: float = 1.0) -> WeightFile:
    if str(weights) == IMAGENET:
        return download_imagenet(name, include_top, width)
    path = Path(weights)
    if not path.is_file():
        raise EdgecnnError(f"{path}: no such weight file (give a Keras Applications .h5 or 'imagenet')")
    return WeightFile.from_h5(path)


def create_pretrained(name: str, weights: str | os.PathLike, input_shape: tuple[int, int, int] | None = None,
                      num_classes: int | None = None, *, load_head: bool = True, **knobs: Any):
    """``(model, Import)``: zoo model ``name`` with Keras Applications weights (module docstring).

    ``load_head=False`` leaves the classifier new even when the file's fits (transfer learning: the run's classes
    are not the file's, whatever their number).

    The model expects ``pixel × Import.scale + Import.offset`` as input (record it in preprocess.json).
    """
    from edgecnn.zoo import create_model, get_spec

    spec = get_spec(name)
    family = family_of(name)
    knobs = weight_knobs(spec.name, knobs)
    shape = tuple(int(v) for v in (input_shape or spec.canonical_input))
    if shape[2] not in (1, 3):
        raise UsageError(f"pretrained weights need 1 (grey) or 3 (RGB) input channels, got {shape[2]}")
    classes = int(num_classes if num_classes is not None else spec.canonical_classes)
    width = float(knobs.get("width", 1.0))
    source = read_weights(weights, spec.name, include_top=classes == 1000, width=width)
    a, b, bgr = input_scaling(family, source)
    per_channel = not (np.all(a == a[0]) and np.all(b == b[0]))
    # With per-channel scaling the body reads three channels; an input layer makes them from grey pixels.
    body = create_model(spec.name, input_shape=(*shape[:2], 3 if per_channel else shape[2]), num_classes=classes,
                        **knobs)
    loader = _Loader(body, source, family)
    first_conv = _first_conv(body)
    pairs = family.pairs(body)
    for pair in [p for p in pairs if not p.head]:
        values = [source.get(k) for k in pair.keras]
        missing = [k for k, v in zip(pair.keras, values) if v is None]
        if missing:
            raise EdgecnnError(f"{source.source}: no weights for layer '{missing[0]}', which {spec.name} needs: is "
                               f"it a Keras Applications {family.keras_name} weight file?")
        if pair.zoo[0] == first_conv:
            values[0] = _first_conv_kernel(values[0], body.inputs[0].shape[-1], bgr)
        try:
            _CONVERTERS[pair.how](loader, pair, values)
        except _Mismatch as exc:
            hint = f" (built with width={width:g}: is the file's alpha the same?)" if "width" in spec.knobs else ""
            raise EdgecnnError(f"{source.source} does not fit {spec.name}: {exc}{hint}") from exc
    head_loaded, why_not = (_load_head(loader, [p for p in pairs if p.head], source) if load_head
                            else (False, "transfer learning: new classes"))
    head = [n for p in pairs if p.head for n in p.zoo]
    notes = [f"{len(loader.loaded)} layers from {source.source}"]
    model, new_layers = body, ([] if head_loaded else head)
    scale, offset = float(a[0]), float(b[0])
    if per_channel:
        from edgecnn.keras_rewrite import prepend_input_affine

        model = prepend_input_affine(body, a, b, in_channels=shape[2], name="input_normalization")
        new_layers = [*new_layers, "input_normalization"]
        notes.append("Keras Applications' per-channel input scaling as a frozen 1×1 depthwise layer "
                     "'input_normalization'")
        scale, offset = 1.0, 0.0
    if bgr:
        notes.append("BGR channel order folded into the first conv's kernel")
    if shape[2] == 1 and not per_channel:
        notes.append("first conv's kernel summed over R, G, B for grey input")
    notes.append("classifier loaded" if head_loaded else f"new classifier for {classes} classes ({why_not})")
    return model, Import(scale=scale, offset=offset, loaded_layers=len(loader.loaded), head_loaded=head_loaded,
                         new_layers=new_layers, source=source.source, notes=notes)


def _load_head(loader: _Loader, pairs: list[Pair], source: WeightFile) -> tuple[bool, str]:
    """All of the classifier or none of it (a half-loaded head is neither pretrained nor fresh)."""
    layers = [loader.layer(n) for p in pairs for n in p.zoo]
    fresh = [layer.get_weights() for layer in layers]
    before = len(loader.loaded)
    for pair in pairs:
        values = [source.get(k) for k in pair.keras]
        reason = None
        if any(v is None for v in values):
            reason = "the file has no classifier"
        else:
            try:
                _CONVERTERS[pair.how](loader, pair, values)
            except _Mismatch:
                reason = f"the file's '{pair.keras[0]}' has other shapes"
        if reason:
            for layer, values_ in zip(layers, fresh):
                layer.set_weights(values_)
            del loader.loaded[before:]
            return False, reason
    return True, ""


def _first_conv(model) -> str:
    for layer in model.layers:
        if type(layer).__name__ in ("Conv2D", "DepthwiseConv2D"):
            return layer.name
    raise EdgecnnError(f"{model.name} has no convolution")


def _first_conv_kernel(values: list[np.ndarray], channels: int, bgr: bool) -> list[np.ndarray]:
    """Keras' first conv reads B, G, R when ``bgr``: reverse its input channels so it reads R, G, B. A grey body
    sums the kernel over them (the same as feeding the grey image as RGB)."""
    kernel, *rest = values
    if bgr:
        kernel = kernel[:, :, ::-1, :]
    if channels == 1:
        kernel = kernel.sum(axis=2, keepdims=True)
    return [np.ascontiguousarray(kernel), *rest]


# ---- the other way: a zoo model's weights as a Keras Applications file -----------------------------------------

def _inverse_bn(zoo_values: list[np.ndarray], zoo_eps: float, keras_eps: float) -> list[np.ndarray]:
    gamma, beta, mean, var = (np.asarray(v, np.float64) for v in zoo_values)
    return [gamma, beta, mean, np.maximum(var + zoo_eps - keras_eps, 0.0)]


def save_keras_weights(model, name: str, path: str | os.PathLike, scale: float, offset: float) -> Path:
    """Write ``model`` (a zoo model in its Keras Applications layout, e.g. a run trained with
    ``stem="imagenet"``) as the ``.h5`` weight file of the Keras Applications model — Keras itself loads it
    (``keras.applications.MobileNetV2(weights=path, ...)``) — recording its input size for transfer learning.

    ``scale``/``offset`` (the run's preprocess.json) must be the input scaling Keras Applications uses for the
    family, or the weights would be read with other inputs than they were trained on.
    """
    import h5py

    from edgecnn.fileio import atomic_path
    from edgecnn.transfer import INPUT_SIZE_ATTR

    family = family_of(name)
    a, b, bgr = input_scaling(family, WeightFile({}, [], "defaults"))
    if not (np.allclose(a, scale, rtol=1e-5) and np.allclose(b, offset, rtol=1e-5, atol=1e-6)):
        raise EdgecnnError(f"{name}: the model takes pixel × {scale:g} + {offset:g}, but Keras Applications' "
                           f"{family.keras_name} weights are read with pixel × {a[0]:g} + {b[0]:g} per channel; "
                           "train with that input scaling to export its weights")
    by_name = {layer.name: layer for layer in model.layers}
    height, width, channels = (int(v) for v in model.inputs[0].shape[1:])
    classes = int(model.outputs[0].shape[-1])
    kwargs: dict[str, Any] = {"input_shape": (height, width, 3), "classes": classes}
    if name.startswith("mobilenet") and "width" in (spec_knobs := _knobs_of(model)):
        kwargs["alpha"] = spec_knobs["width"]
    target = keras_application(name, **kwargs)
    keras_layers = {layer.name: layer for layer in _flat_layers(target)}
    first_conv = _first_conv(model)
    zoo_eps_of = {n: float(getattr(layer, "epsilon", 0.0)) for n, layer in by_name.items()}
    for pair in family.pairs(model):
        zoo_values = [by_name[n].get_weights() for n in pair.zoo]
        kernel_layer = keras_layers[pair.keras[0]]
        if pair.zoo[0] == first_conv:
            kernel = zoo_values[0][0]
            if kernel.shape[2] == 1:
                kernel = np.repeat(kernel / 3.0, 3, axis=2)  # on grey-as-RGB pixels: the same sum
            if bgr:
                kernel = kernel[:, :, ::-1, :]
            zoo_values[0] = [np.ascontiguousarray(kernel), *zoo_values[0][1:]]
        main = zoo_values[0]
        if pair.how == "dense_from_conv":
            main = [main[0].reshape(1, 1, *main[0].shape), *main[1:]]
        elif pair.how == "conv_from_dense":
            main = [main[0].reshape(main[0].shape[-2], main[0].shape[-1]), *main[1:]]
        elif pair.how == "depthwise_from_grouped":
            main = [np.transpose(main[0], (0, 1, 3, 2)), *main[1:]]
        elif pair.how == "bn":
            main = _inverse_bn(main, zoo_eps_of[pair.zoo[0]], family.bn_epsilon)
        if pair.how == "conv_bn" and len(kernel_layer.get_weights()) == 2 and len(main) == 1:
            main = [main[0], np.zeros(main[0].shape[-1])]  # Keras' conv bias: the BN holds it
        kernel_layer.set_weights(main)
        if pair.how == "conv_bn":
            keras_layers[pair.keras[1]].set_weights(
                _inverse_bn(zoo_values[1], zoo_eps_of[pair.zoo[1]], family.bn_epsilon))
    path = Path(path)
    with atomic_path(path) as tmp:
        target.save_weights(str(tmp), save_format="h5")
        with h5py.File(str(tmp), "a") as f:
            f.attrs[INPUT_SIZE_ATTR] = np.array([height, width], np.int64)
    return path


def _knobs_of(model) -> dict[str, Any]:
    """The width a zoo model was built at, read back from its first pointwise layer (MobileNets)."""
    widths = {"mobilenet_v1": ("block13_pointwise_conv", 1024), "mobilenet_v2": ("block16_project_conv", 320),
              "mobilenet_v3_small": ("block10_project_conv", 96), "mobilenet_v3_large": ("block14_project_conv", 160)}
    probe = widths.get(model.name)
    if not probe:
        return {}
    layer = model.get_layer(probe[0])
    return {"width": round(int(layer.filters) / probe[1], 4)}


def keras_preprocess(name: str):
    """Keras Applications' own ``preprocess_input`` for the family (tests compare against it)."""
    from edgecnn._tf import keras

    family = family_of(name)
    return getattr(keras.applications, family.module).preprocess_input


def keras_application(name: str, **kwargs: Any):
    """Keras Applications' model of the family (``weights=None`` by default; tests save its weights)."""
    from edgecnn._tf import keras

    kwargs.setdefault("weights", None)
    return getattr(keras.applications, family_of(name).keras_name)(**kwargs)


__all__ = ["FAMILIES", "IMAGENET", "Import", "WeightFile", "create_pretrained", "input_scaling",
           "keras_application", "keras_preprocess", "read_weights", "weight_knobs"]
