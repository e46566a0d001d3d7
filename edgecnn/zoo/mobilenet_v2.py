"""MobileNetV2 — Sandler et al. 2018, MobileNetV2: Inverted Residuals and Linear Bottlenecks, arXiv:1801.04381."""
from __future__ import annotations

from edgecnn.zoo import blocks
from edgecnn.zoo.blocks import layers
from edgecnn.zoo.registry import register_model

# (expansion t, output channels c, repeats n, first stride s), paper Table 2.
_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
           (6, 320, 1, 1))
# BatchNorm momentum 0.9 (PyTorch's default, as in torchvision) instead of Keras' 0.999: with 0.99 or more the
# moving statistics lag so far behind a fast-learning net that test accuracy sits at chance for the first epochs.
_BN = dict(bn_epsilon=1e-3, bn_momentum=0.9)


@register_model("mobilenet_v2", family="mobilenet", aliases=("mobilenet",),
                paper="Sandler et al. 2018, MobileNetV2: Inverted Residuals and Linear Bottlenecks, arXiv:1801.04381",
                params=3_504_872, macs=300_774_272, min_input=16, small_input=(28, 28, 1))
def mobilenet_v2(input_shape=(224, 224, 3), num_classes=1000, width=1.0, activation="relu6", dropout=0.2,
                 stem="auto"):
    """MobileNetV2 with width multiplier ``width`` (alpha).

    Canonical (224×224×3, 1000 classes, width 1.0): 3,504,872 params (paper 3.4 M; torchvision and the
    trainable weights of Keras' MobileNetV2 agree; Keras' ``count_params`` says 3,538,984 because it adds
    the 34,112 BatchNorm moving means/variances) and 300.8 M multiply-accumulates (paper 300 M).

    Knobs: ``width`` scales every layer (rounded to multiples of 8, last conv stays 1280 for width ≤ 1 as
    in the paper); ``activation`` "relu6" (paper) or "relu"; ``dropout`` before the classifier (0.2 as in
    torchvision; Keras has none); ``stem`` "auto"|"imagenet"|"small".

    Small inputs: the "small" layout (auto below 64 px) keeps the last stride-2 stage (160 channels) at
    stride 1, so the network downsamples 16× instead of 32× and a 28×28 Fashion-MNIST image ends in a 2×2
    map (``min_input`` 16; the ImageNet layout needs 32). The default training config is 28×28×1 at width
    1.0: 2,236,106 params, 10.4 M MACs with 10 classes — 28 px rather than padding to 32 saves 23% of the
    compute, and keeping the stem's stride (not the last stage's) costs half the training time of a
    stride-1 stem (21.8 M MACs); see blocks.small_input_strides. Measured (Keras fit, Adam 1e-3, batch 128,
    60k images, on a heavily shared 2-core machine): 335 CPU-seconds per epoch (~160 s of 2 cores) and
    81.9% Fashion-MNIST test accuracy after one epoch at a constant learning rate.
    """
    blocks.check_activation(activation, ("relu6", "relu"), "mobilenet_v2")
    chosen = blocks.resolve_stem(stem, input_shape, model="mobilenet_v2", imagenet_min=32, small_min=16)
    inputs = layers.Input(shape=input_shape, name="input")
    x = blocks.conv_bn_act(inputs, blocks.make_divisible(32 * width), 3, 2, activation=activation, name="stem",
                           **_BN)
    plan = [(t, c, s if i == 0 else 1) for t, c, n, s in _STAGES for i in range(n)]
    strides = [s for _, _, s in plan]
    if chosen == "small":
        strides = blocks.small_input_strides(strides)
    for index, ((t, c, _), s) in enumerate(zip(plan, strides)):
        x = blocks.inverted_residual(
            x, expanded=int(x.shape[-1]) * t, filters=blocks.make_divisible(c * width), kernel_size=3, strides=s,
            activation=activation, name=f"block{index}", **_BN)
    last = blocks.make_divisible(1280 * width) if width > 1.0 else 1280
    x = blocks.conv_bn_act(x, last, 1, activation=activation, name="top", **_BN)
    outputs = blocks.classifier_head(x, num_classes, dropout=dropout)
    return blocks.keras.Model(inputs, outputs, name="mobilenet_v2")
