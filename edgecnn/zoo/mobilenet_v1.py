"""MobileNetV1 — Howard et al. 2017, MobileNets: Efficient CNNs for Mobile Vision Applications, arXiv:1704.04861."""
from __future__ import annotations

from edgecnn.zoo import blocks
from edgecnn.zoo.blocks import layers
from edgecnn.zoo.registry import register_model

# (pointwise filters, depthwise stride) of the 13 depthwise-separable layers, paper Table 1.
_LAYERS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
           (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


@register_model("mobilenet_v1", family="mobilenet",
                paper="Howard et al. 2017, MobileNets: Efficient CNNs for Mobile Vision Applications, arXiv:1704.04861",
                params=4_231_976, macs=568_740_352, min_input=16, small_input=(28, 28, 1))
def mobilenet_v1(input_shape=(224, 224, 3), num_classes=1000, width=1.0, activation="relu6", dropout=1e-3,
                 stem="auto"):
    """MobileNetV1 with width multiplier ``width`` (alpha; any value, channels are ``int(c * width)`` as in Keras).

    Canonical (224×224×3, 1000 classes, width 1.0): 4,231,976 params (paper 4.2 M) and 568.7 M
    multiply-accumulates (paper 569 M). Keras' ``MobileNet`` reports 4,253,864 from ``count_params`` — the
    same 4,231,976 trainable weights plus 21,888 BatchNorm moving means/variances; its 1×1 conv classifier
    has exactly the parameters of this Dense one.

    Knobs: ``width``; ``activation`` "relu6" (as in the TF reference) or "relu" (paper); ``dropout`` before
    the classifier (Keras' 1e-3); ``stem`` "auto"|"imagenet"|"small".

    Small inputs: the "small" layout (auto below 64 px) keeps the last stride-2 layer (to 1024 channels) at
    stride 1: 16× downsampling, 28 px → 2×2 at the end (``min_input`` 16; the ImageNet layout needs 32);
    see blocks.small_input_strides.
    """
    blocks.check_activation(activation, ("relu6", "relu"), "mobilenet_v1")
    # BatchNorm momentum 0.9 (PyTorch's default) rather than Keras' 0.99: slower moving statistics leave
    # test accuracy at chance for the first epochs of a short training run.
    bn = dict(bn_epsilon=1e-3, bn_momentum=0.9)
    chosen = blocks.resolve_stem(stem, input_shape, model="mobilenet_v1", imagenet_min=32, small_min=16)
    inputs = layers.Input(shape=input_shape, name="input")
    x = blocks.conv_bn_act(inputs, int(32 * width), 3, 2, activation=activation, name="stem", **bn)
    strides = [s for _, s in _LAYERS]
    if chosen == "small":
        strides = blocks.small_input_strides(strides)
    for i, ((filters, _), strides) in enumerate(zip(_LAYERS, strides), start=1):
        x = blocks.dwconv_bn_act(x, 3, strides, activation=activation, name=f"block{i}_depthwise", **bn)
        x = blocks.conv_bn_act(x, int(filters * width), 1, activation=activation, name=f"block{i}_pointwise", **bn)
    outputs = blocks.classifier_head(x, num_classes, dropout=dropout)
    return blocks.keras.Model(inputs, outputs, name="mobilenet_v1")
