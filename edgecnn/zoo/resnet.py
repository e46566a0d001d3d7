"""ResNet: He et al. 2015, Deep Residual Learning for Image Recognition, arXiv:1512.03385 (torchvision v1.5 layout)."""
from __future__ import annotations

import functools

from edgecnn._tf import keras
from edgecnn.errors import UsageError
from edgecnn.zoo.blocks import activation_layer, conv_bn_act, resolve_stem
from edgecnn.zoo.registry import register_model
from edgecnn.zoo.simple import check_knobs, scaled

layers = keras.layers

PAPER = "He et al. 2015, Deep Residual Learning for Image Recognition, arXiv:1512.03385"
BN = dict(bn_epsilon=1e-5)  # torchvision's BatchNorm epsilon
#: "zoo" (edgecnn's own: "same" padding, stride on the 3×3 conv) or "keras" (Keras Applications' ResNet50).
LAYOUTS = ("zoo", "keras")


def _basic(x, filters, strides, activation, name):
    """Two 3×3 convs; the shortcut is a strided 1×1 conv + BN when the shape changes."""
    shortcut = x
    y = conv_bn_act(x, filters, 3, strides, activation=activation, name=f"{name}_1", **BN)
    y = conv_bn_act(y, filters, 3, activation=None, name=f"{name}_2", **BN)
    if strides != 1 or int(x.shape[-1]) != filters:
        shortcut = conv_bn_act(x, filters, 1, strides, activation=None, name=f"{name}_shortcut", **BN)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return activation_layer(activation, f"{name}_out")(y)


def _bottleneck(x, filters, strides, activation, name, stride_on_reduce=False):
    """1×1 reduce → 3×3 (carries the stride, "v1.5" as torchvision) → 1×1 expand to 4× filters.

    ``stride_on_reduce``: the stride on the first 1×1 instead ("v1", Keras Applications' ResNet50)."""
    out = filters * 4
    shortcut = x
    first, second = (strides, 1) if stride_on_reduce else (1, strides)
    y = conv_bn_act(x, filters, 1, first, activation=activation, name=f"{name}_1", **BN)
    y = conv_bn_act(y, filters, 3, second, activation=activation, name=f"{name}_2", **BN)
    y = conv_bn_act(y, out, 1, activation=None, name=f"{name}_3", **BN)
    if strides != 1 or int(x.shape[-1]) != out:
        shortcut = conv_bn_act(x, out, 1, strides, activation=None, name=f"{name}_shortcut", **BN)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return activation_layer(activation, f"{name}_out")(y)


def check_layout(model: str, layout: str) -> None:
    if layout not in LAYOUTS:
        raise UsageError(f"{model}: layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")


def imagenet_stem(inputs, filters: int, activation: str, layout: str, **bn):
    """7×7/2 conv → BN → act → 3×3/2 max-pool. ``layout="zoo"`` pads both "same" (TF's rule: an even input
    gets its extra pixel on the bottom/right); ``"keras"`` pads 3 and 1 pixels on every side first, as Keras
    Applications (and torchvision) do, so pretrained weights see their pixels where they were trained."""
    if layout == "keras":
        x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
        x = conv_bn_act(x, filters, 7, 2, activation=activation, name="conv1", padding="valid", **bn)
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)  # after ReLU, zero padding is max-pool's -inf padding
        return layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = conv_bn_act(inputs, filters, 7, 2, activation=activation, name="conv1", **bn)
    return layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)


def _resnet(name, blocks, block, input_shape, num_classes, width, activation, stem, layout):
    """Stem → four stages (64/128/256/512 × ``width``; stride 2 at the start of stages 2–4) → global
    average pooling → Dense(num_classes, softmax).

    Stem ``imagenet``: 7×7/2 conv → BN → act → 3×3/2 max-pool (32× overall, needs ≥ 32 px). ``small``:
    3×3/1 conv → BN → act, no pool (8× overall, needs ≥ 8 px; the usual CIFAR adaptation, so 32 px ends at
    4×4). ``auto`` picks small below 64 px. Convs have no bias (BN follows each).
    ``layout="keras"`` is Keras Applications' ResNet50 (what its weights need, edgecnn.pretrained): the stem
    padded on every side (:func:`imagenet_stem`) and, in bottlenecks, the stride on the first 1×1 conv ("v1").
    """
    check_knobs(name, width, activation)
    check_layout(name, layout)
    chosen = resolve_stem(stem, input_shape, model=name, imagenet_min=32, small_min=8)
    inputs = keras.Input(input_shape, name="input")
    stem_filters = scaled(64, width)
    if layout == "keras" and block is _bottleneck:
        block = functools.partial(_bottleneck, stride_on_reduce=True)
    if chosen == "imagenet":
        x = imagenet_stem(inputs, stem_filters, activation, layout, **BN)
    else:
        x = conv_bn_act(inputs, stem_filters, 3, 1, activation=activation, name="conv1", **BN)
    for stage, (count, filters) in enumerate(zip(blocks, (64, 128, 256, 512)), start=2):
        for i in range(1, count + 1):
            strides = 2 if (i == 1 and stage > 2) else 1
            x = block(x, scaled(filters, width), strides, activation, f"stage{stage}_block{i}")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


@register_model("resnet18", family="resnet", paper=PAPER, params=11_689_512, macs=1_814_073_344,
                small_input=(32, 32, 1), min_input=8)
def resnet18(input_shape=(224, 224, 3), num_classes=1000, width: float = 1.0, activation: str = "relu",
             stem: str = "auto", layout: str = "zoo"):
    """ResNet-18: basic blocks (2, 2, 2, 2).

    Canonical (224×224×3, 1000 classes): 11,689,512 trainable params (torchvision; Keras' count adds the BN
    moving statistics: 11,699,112), 1.81 G MACs (torchvision: 1.81 G). Stems as in :func:`_resnet`: ``auto`` (small below 64 px),
    ``imagenet`` (7×7/2 + max-pool, ≥ 32 px), ``small`` (3×3/1, ≥ 8 px).
    """
    return _resnet("resnet18", (2, 2, 2, 2), _basic, input_shape, num_classes, width, activation, stem,
                   layout)


@register_model("resnet34", family="resnet", paper=PAPER, params=21_797_672, macs=3_663_761_408,
                small_input=(32, 32, 1), min_input=8)
def resnet34(input_shape=(224, 224, 3), num_classes=1000, width: float = 1.0, activation: str = "relu",
             stem: str = "auto", layout: str = "zoo"):
    """ResNet-34: basic blocks (3, 4, 6, 3).

    Canonical (224×224×3, 1000 classes): 21,797,672 trainable params (torchvision), 3.66 G MACs (torchvision: 3.66 G).
    Stems: ``auto`` (small below 64 px), ``imagenet`` (≥ 32 px), ``small`` (3×3/1, ≥ 8 px).
    """
    return _resnet("resnet34", (3, 4, 6, 3), _basic, input_shape, num_classes, width, activation, stem,
                   layout)


@register_model("resnet50", family="resnet", paper=PAPER, params=25_557_032, macs=4_089_184_256,
                small_input=(32, 32, 1), min_input=8)
def resnet50(input_shape=(224, 224, 3), num_classes=1000, width: float = 1.0, activation: str = "relu",
             stem: str = "auto", layout: str = "zoo"):
    """ResNet-50: bottleneck blocks (3, 4, 6, 3), stride on the 3×3 conv (torchvision's "v1.5").

    Canonical (224×224×3, 1000 classes): 25,557,032 trainable params (torchvision), 4.09 G MACs (torchvision: 4.09 G).
    Keras Applications' ResNet50 is v1 (stride on the first 1×1, conv biases): 25,636,712 params incl. BN
    statistics and 3.86 G MACs; the difference in params is exactly its conv biases. ``layout="keras"`` builds
    that v1 graph without the biases (edgecnn.pretrained folds them into the BatchNorms): 3.86 G MACs and
    25,610,152 params incl. BN statistics, Keras' 25,636,712 minus its 26,560 conv biases.
    Stems: ``auto`` (small below 64 px), ``imagenet`` (≥ 32 px), ``small`` (3×3/1, ≥ 8 px).
    """
    return _resnet("resnet50", (3, 4, 6, 3), _bottleneck, input_shape, num_classes, width, activation, stem,
                   layout)
