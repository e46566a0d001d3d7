"""EfficientNet — Tan & Le 2019, EfficientNet: Rethinking Model Scaling for CNNs, arXiv:1905.11946."""
from __future__ import annotations

from edgecnn.zoo import blocks
from edgecnn.zoo.blocks import layers
from edgecnn.zoo.registry import register_model

# EfficientNet-B0 stages (paper Table 1): (kernel, repeats, output channels, expansion, first stride).
_B0 = ((3, 1, 16, 1, 1), (3, 2, 24, 6, 2), (5, 2, 40, 6, 2), (3, 3, 80, 6, 2), (5, 3, 112, 6, 1),
       (5, 4, 192, 6, 2), (3, 1, 320, 6, 1))


@register_model("efficientnet_b0", family="efficientnet",
                paper="Tan & Le 2019, EfficientNet: Rethinking Model Scaling for CNNs, arXiv:1905.11946",
                params=5_288_548, macs=385_814_752, min_input=16, small_input=(28, 28, 1))
def efficientnet_b0(input_shape=(224, 224, 3), num_classes=1000, width=1.0, activation="swish", dropout=0.2,
                    drop_connect=0.2, stem="auto"):
    """EfficientNet-B0 (MBConv blocks with squeeze-excite, swish).

    Canonical (224×224×3, 1000 classes, width 1.0): 5,288,548 params (paper 5.3 M; torchvision) and
    385.9 M multiply-accumulates (paper 0.39 B FLOPs). Keras' ``EfficientNetB0`` has the same trainable
    weights; its ``count_params`` (5,330,571) adds 42,016 BatchNorm moving statistics and 7 in its
    Rescaling/Normalization input layers, which edgecnn leaves to preprocessing (tfmot rejects them).

    Knobs: ``width`` (width coefficient, channels rounded to multiples of 8 — B1–B7 also scale depth and
    resolution, not done here), ``activation`` "swish" (paper) or "relu6" (for int8/Edge TPU targets, as in
    EfficientNet-Lite; the SE gate stays sigmoid), ``dropout`` before the classifier (0.2),
    ``drop_connect`` (stochastic depth, rising linearly to 0.2 over the blocks, as in the reference),
    ``stem`` "auto"|"imagenet"|"small" (small, auto below 64 px: the last stride-2 block keeps stride 1, so
    16× downsampling and ``min_input`` 16; see blocks.small_input_strides).
    The squeeze-excite ``Multiply`` needs an output-quantising QuantizeConfig for QAT (edgecnn.optimize).
    """
    blocks.check_activation(activation, ("swish", "relu6"), "efficientnet_b0")
    # BatchNorm momentum 0.9 (PyTorch's default) rather than Keras' 0.99: slower moving statistics leave
    # test accuracy at chance for the first epochs of a short training run.
    bn = dict(bn_epsilon=1e-3, bn_momentum=0.9)
    chosen = blocks.resolve_stem(stem, input_shape, model="efficientnet_b0", imagenet_min=32, small_min=16)
    inputs = layers.Input(shape=input_shape, name="input")
    x = blocks.conv_bn_act(inputs, blocks.make_divisible(32 * width), 3, 2, activation=activation, name="stem",
                           **bn)
    plan = [(k, out, e, s if i == 0 else 1) for k, r, out, e, s in _B0 for i in range(r)]
    strides = [row[-1] for row in plan]
    if chosen == "small":
        strides = blocks.small_input_strides(strides)
    for index, ((kernel, out, expansion, _), stride) in enumerate(zip(plan, strides)):
        in_channels = int(x.shape[-1])
        x = blocks.inverted_residual(
            x, expanded=in_channels * expansion, filters=blocks.make_divisible(out * width), kernel_size=kernel,
            strides=stride, activation=activation, name=f"block{index}",
            # SE squeezes to a quarter of the block's *input* channels (not the expanded ones).
            se_channels=max(1, int(in_channels * 0.25)), se_activation=activation, se_gate="sigmoid",
            drop_rate=drop_connect * index / len(plan), **bn)
    x = blocks.conv_bn_act(x, blocks.make_divisible(1280 * width), 1, activation=activation, name="top", **bn)
    outputs = blocks.classifier_head(x, num_classes, dropout=dropout)
    return blocks.keras.Model(inputs, outputs, name="efficientnet_b0")
