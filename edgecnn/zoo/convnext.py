"""ConvNeXt — Liu et al. 2022, A ConvNet for the 2020s, arXiv:2201.03545."""
from __future__ import annotations

from edgecnn.zoo import blocks
from edgecnn.zoo.blocks import layers
from edgecnn.zoo.registry import register_model

# ConvNeXt-T: blocks and channels per stage (paper section 2.6).
_TINY_DEPTHS = (3, 3, 9, 3)
_TINY_DIMS = (96, 192, 384, 768)
_LN_EPS = 1e-6


def _block(x, dim: int, *, drop_path: float, layer_scale: float, name: str):
    """7×7 depthwise → LayerNorm → 1×1 conv to 4·dim → GELU → 1×1 conv back → layer scale → drop path → Add.

    The pointwise layers are 1×1 Conv2D, not Dense on a 4-D tensor (same weights, but Dense adds ~72 shape ops
    in TFLite and runs about 2× slower).
    """
    from edgecnn.zoo.custom_layers import LayerScale

    shortcut = x
    x = layers.DepthwiseConv2D(7, padding="same", use_bias=True, name=f"{name}_depthwise")(x)
    x = layers.LayerNormalization(epsilon=_LN_EPS, name=f"{name}_ln")(x)
    x = layers.Conv2D(4 * dim, 1, name=f"{name}_pw1")(x)
    x = layers.Activation("gelu", name=f"{name}_gelu")(x)
    x = layers.Conv2D(dim, 1, name=f"{name}_pw2")(x)
    if layer_scale:
        x = LayerScale(layer_scale, name=f"{name}_layer_scale")(x)
    if drop_path:
        # Stochastic depth as Dropout over whole samples: Keras' 1/(1-rate) scaling is exactly drop-path's.
        x = layers.Dropout(drop_path, noise_shape=(None, 1, 1, 1), name=f"{name}_drop_path")(x)
    return layers.Add(name=f"{name}_add")([shortcut, x])


@register_model("convnext_tiny", family="convnext", paper="Liu et al. 2022, A ConvNet for the 2020s, arXiv:2201.03545",
                params=28_589_128, macs=4_455_531_264, min_input=16, small_input=(28, 28, 1))
def convnext_tiny(input_shape=(224, 224, 3), num_classes=1000, width=1.0, dropout=0.0, drop_path=0.1,
                  layer_scale=1e-6, stem="auto"):
    """ConvNeXt-T.

    Canonical (224×224×3, 1000 classes, width 1.0): 28,589,128 params (paper 28 M; torchvision and Keras'
    ``ConvNeXtTiny`` agree exactly) and 4.455 G multiply-accumulates (paper 4.5 G FLOPs, torchvision 4.46).
    Built flat for tfmot: the stem is two layers in the main graph (Keras nests it in a Sequential model),
    no Normalization input layer, pointwise layers as 1×1 Conv2D, LayerScale a custom PrunableLayer.

    Knobs: ``width`` scales the stage widths (multiples of 8), ``dropout`` before the classifier (0),
    ``drop_path`` (stochastic depth, rising linearly to 0.1 for T), ``layer_scale`` initial value (0 turns
    it off), ``stem`` "auto"|"imagenet"|"small". The ImageNet stem is a 4×4 stride-4 "patchify" conv; the
    small stem (auto below 64 px) is 2×2 stride 2, so the network downsamples 16× and a 28 px image ends
    in a 1×1 map (downsampling convs are unpadded: ``min_input`` 16; ImageNet stem 32).
    QAT needs output-quantising QuantizeConfigs for LayerNormalization and LayerScale (edgecnn.optimize).
    """
    chosen = blocks.resolve_stem(stem, input_shape, model="convnext_tiny", imagenet_min=32, small_min=16)
    dims = [blocks.make_divisible(d * width) for d in _TINY_DIMS]
    patch = 4 if chosen == "imagenet" else 2
    inputs = layers.Input(shape=input_shape, name="input")
    x = layers.Conv2D(dims[0], patch, strides=patch, name="stem_conv")(inputs)
    x = layers.LayerNormalization(epsilon=_LN_EPS, name="stem_ln")(x)
    total = sum(_TINY_DEPTHS)
    index = 0
    for stage, (depth, dim) in enumerate(zip(_TINY_DEPTHS, dims)):
        if stage:
            x = layers.LayerNormalization(epsilon=_LN_EPS, name=f"downsample{stage}_ln")(x)
            x = layers.Conv2D(dim, 2, strides=2, name=f"downsample{stage}_conv")(x)
        for _ in range(depth):
            x = _block(x, dim, drop_path=drop_path * index / max(1, total - 1), layer_scale=layer_scale,
                       name=f"stage{stage}_block{index}")
            index += 1
    x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    x = layers.LayerNormalization(epsilon=_LN_EPS, name="head_ln")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="head_logits")(x)
    return blocks.keras.Model(inputs, outputs, name="convnext_tiny")
