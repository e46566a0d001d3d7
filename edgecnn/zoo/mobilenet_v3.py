"""MobileNetV3 — Howard et al. 2019, Searching for MobileNetV3, arXiv:1905.02244."""
from __future__ import annotations

from edgecnn.zoo import blocks
from edgecnn.zoo.blocks import layers
from edgecnn.zoo.registry import register_model

_PAPER = "Howard et al. 2019, Searching for MobileNetV3, arXiv:1905.02244"

# (kernel, expanded channels, output channels, squeeze-excite, activation HS/RE, stride), paper Tables 1–2.
_LARGE = ((3, 16, 16, False, "RE", 1), (3, 64, 24, False, "RE", 2), (3, 72, 24, False, "RE", 1),
          (5, 72, 40, True, "RE", 2), (5, 120, 40, True, "RE", 1), (5, 120, 40, True, "RE", 1),
          (3, 240, 80, False, "HS", 2), (3, 200, 80, False, "HS", 1), (3, 184, 80, False, "HS", 1),
          (3, 184, 80, False, "HS", 1), (3, 480, 112, True, "HS", 1), (3, 672, 112, True, "HS", 1),
          (5, 672, 160, True, "HS", 2), (5, 960, 160, True, "HS", 1), (5, 960, 160, True, "HS", 1))
_SMALL = ((3, 16, 16, True, "RE", 2), (3, 72, 24, False, "RE", 2), (3, 88, 24, False, "RE", 1),
          (5, 96, 40, True, "HS", 2), (5, 240, 40, True, "HS", 1), (5, 240, 40, True, "HS", 1),
          (5, 120, 48, True, "HS", 1), (5, 144, 48, True, "HS", 1), (5, 288, 96, True, "HS", 2),
          (5, 576, 96, True, "HS", 1), (5, 576, 96, True, "HS", 1))


def _mobilenet_v3(name, config, last_conv, head, input_shape, num_classes, width, activation, dropout, stem):
    blocks.check_activation(activation, ("hard_swish", "relu6"), name)
    chosen = blocks.resolve_stem(stem, input_shape, model=name, imagenet_min=32, small_min=16)
    # The paper's "HS" layers use hard-swish; activation="relu6" swaps them for ReLU6 (the Edge TPU has no
    # HARD_SWISH); "RE" layers stay ReLU. The SE gate stays hard-sigmoid: it converts to ADD/RELU6/MUL,
    # which every target runs.
    hs = activation
    # BatchNorm momentum 0.9 (PyTorch's default) rather than Keras' 0.999: slower moving statistics leave
    # test accuracy at chance for the first epochs of a short training run.
    bn = dict(bn_epsilon=1e-3, bn_momentum=0.9)
    inputs = layers.Input(shape=input_shape, name="input")
    x = blocks.conv_bn_act(inputs, 16, 3, 2, activation=hs, name="stem", **bn)
    strides = [row[-1] for row in config]
    if chosen == "small":
        strides = blocks.small_input_strides(strides)
    for i, ((k, exp, out, se, act, _), s) in enumerate(zip(config, strides)):
        expanded = blocks.make_divisible(exp * width)
        x = blocks.inverted_residual(
            x, expanded=expanded, filters=blocks.make_divisible(out * width), kernel_size=k, strides=s,
            activation=hs if act == "HS" else "relu", name=f"block{i}",
            se_channels=blocks.make_divisible(expanded / 4) if se else None, se_activation="relu",
            se_gate="hard_sigmoid", **bn)
    x = blocks.conv_bn_act(x, blocks.make_divisible(last_conv * width), 1, activation=hs, name="top", **bn)
    # Head as in the paper and torchvision: pool, then a 1×1 layer without BN (Dense here; Keras uses an
    # equivalent 1×1 conv), activation, dropout, classifier. Its width is not shrunk for width < 1 (Keras).
    x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    x = layers.Dense(blocks.make_divisible(head * width) if width > 1.0 else head, name="head_dense")(x)
    x = blocks.activation_layer(hs, f"head_{hs}")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="head_logits")(x)
    return blocks.keras.Model(inputs, outputs, name=name)


@register_model("mobilenet_v3_large", family="mobilenet", paper=_PAPER, params=5_483_032, macs=216_589_760,
                min_input=16, small_input=(28, 28, 1))
def mobilenet_v3_large(input_shape=(224, 224, 3), num_classes=1000, width=1.0, activation="hard_swish",
                       dropout=0.2, stem="auto"):
    """MobileNetV3-Large.

    Canonical (224×224×3, 1000 classes, width 1.0): 5,483,032 params (torchvision; paper 5.4 M) and
    216.6 M multiply-accumulates (paper 219 M; torchvision 0.22 GFLOPS). Keras' ``MobileNetV3Large`` has the
    same trainable weights; its ``count_params`` adds the BatchNorm moving statistics.

    Knobs: ``width`` (alpha; channels rounded to multiples of 8), ``activation`` "hard_swish" (paper) or
    "relu6" (Edge TPU–friendly: no HARD_SWISH op), ``dropout`` before the classifier (0.2), ``stem``
    "auto"|"imagenet"|"small" (small, auto below 64 px: the last stride-2 block keeps stride 1, so 16×
    downsampling and ``min_input`` 16; see blocks.small_input_strides).
    """
    return _mobilenet_v3("mobilenet_v3_large", _LARGE, 960, 1280, input_shape, num_classes, width, activation,
                         dropout, stem)


@register_model("mobilenet_v3_small", family="mobilenet", paper=_PAPER, params=2_542_856, macs=56_510_400,
                min_input=16, small_input=(28, 28, 1))
def mobilenet_v3_small(input_shape=(224, 224, 3), num_classes=1000, width=1.0, activation="hard_swish",
                       dropout=0.2, stem="auto"):
    """MobileNetV3-Small.

    Canonical (224×224×3, 1000 classes, width 1.0): 2,542,856 params (torchvision; paper 2.9 M counts a
    different head) and 56.5 M multiply-accumulates (paper 56 M; torchvision 0.06 GFLOPS). Keras'
    ``MobileNetV3Small`` has the same trainable weights; its ``count_params`` adds BatchNorm moving statistics.

    Knobs as for :func:`mobilenet_v3_large`.
    """
    return _mobilenet_v3("mobilenet_v3_small", _SMALL, 576, 1024, input_shape, num_classes, width, activation,
                         dropout, stem)
