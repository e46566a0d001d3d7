"""Building blocks shared by the zoo families, all made of tf_keras layer objects.

Rules every family follows so that tfmot can prune and quantise it and the converter can make full int8
(see docs/DEVELOPING.md): no raw TensorFlow ops on tensors (``x + y`` becomes a TFOpLambda layer that tfmot
rejects: use ``layers.Add()``), no nested models, no preprocessing layers (scaling lives in the input
pipeline, recorded in preprocess.json), custom layers subclass ``PrunableLayer`` and are serialisable.
"""
from __future__ import annotations

from edgecnn._tf import keras

layers = keras.layers

# BatchNorm moving-average momentum 0.9 (PyTorch's default) for every family, not Keras' 0.99: with 0.99 the
# moving statistics lag so far behind the weights in a short fine-tune or a few-epoch run that the model in
# inference mode predicts one class (measured: simple_cnn 3 epochs on 6k Fashion-MNIST images, val accuracy
# 0.21 with 0.99 vs 0.76 with 0.9).
BN_MOMENTUM = 0.9


def activation_layer(activation: str, name: str):
    """A Keras layer for an activation name: relu, relu6, hard_swish, swish, gelu, sigmoid, hard_sigmoid."""
    if activation == "relu":
        return layers.ReLU(name=name)
    if activation == "relu6":
        return layers.ReLU(6.0, name=name)
    if activation in ("hard_swish", "hard_sigmoid"):
        from edgecnn.zoo import custom_layers

        return custom_layers.HardSwish(name=name) if activation == "hard_swish" else custom_layers.HardSigmoid(name=name)
    if activation in ("swish", "silu", "gelu", "sigmoid", "tanh"):
        return layers.Activation("swish" if activation == "silu" else activation, name=name)
    raise ValueError(f"unknown activation {activation!r}")


def conv_bn_act(x, filters: int, kernel_size: int | tuple[int, int], strides: int = 1, *,
                activation: str | None = "relu", name: str, padding: str = "same",
                use_bias: bool = False, bn_epsilon: float = 1e-3, bn_momentum: float = BN_MOMENTUM):
    """Conv2D → BatchNormalization → activation (the activation is skipped when ``None``)."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=bn_epsilon, momentum=bn_momentum, name=f"{name}_bn")(x)
    if activation:
        x = activation_layer(activation, f"{name}_{activation}")(x)
    return x


def dwconv_bn_act(x, kernel_size: int, strides: int = 1, *, activation: str | None = "relu", name: str,
                  padding: str = "same", bn_epsilon: float = 1e-3, bn_momentum: float = BN_MOMENTUM):
    """DepthwiseConv2D → BatchNormalization → activation."""
    x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding=padding, use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(epsilon=bn_epsilon, momentum=bn_momentum, name=f"{name}_bn")(x)
    if activation:
        x = activation_layer(activation, f"{name}_{activation}")(x)
    return x


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channel counts to a multiple of ``divisor`` (MobileNet/EfficientNet rule), never down >10%."""
    min_value = min_value or divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


def classifier_head(x, num_classes: int, *, dropout: float = 0.0, name: str = "head"):
    """Global average pooling → optional dropout → Dense logits with softmax."""
    x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.Dense(num_classes, activation="softmax", name=f"{name}_logits")(x)


# --- mobile families (MobileNet v1–v3, EfficientNet, ConvNeXt) -------------------------------------------

#: Below this input side, ``stem="auto"`` picks the small-input layout (see :func:`resolve_stem`).
SMALL_STEM_BELOW = 64


def resolve_stem(stem: str, input_shape: tuple[int, int, int], *, model: str, imagenet_min: int, small_min: int,
                 small_below: int = SMALL_STEM_BELOW, large: str = "imagenet") -> str:
    """Choose ``"imagenet"`` or ``"small"`` for ``stem="auto"|"imagenet"|"small"`` and check the input fits.

    ImageNet stems downsample hard (AlexNet's 11×11/4, ResNet's 7×7/2 + max-pool, 32× in all for the mobile
    families), which leaves a 28–32 px image with nothing to classify, so small images get each family's
    small-input layout (each family says how — the MobileNets and EfficientNet keep the last stride-2 stage at
    stride 1, see :func:`small_input_strides`). ``auto`` takes it when the shorter side is below
    ``small_below``. ``*_min`` is the smallest side each layout builds at (the last feature map at least 1×1
    without relying on padding). ``large`` renames the big stem where "imagenet" is the wrong word (LeNet's
    is ``classic``). Raises :class:`~edgecnn.errors.UsageError` otherwise.
    """
    from edgecnn.errors import UsageError

    if stem not in ("auto", large, "small"):
        raise UsageError(f"{model}: stem must be auto, {large} or small, got {stem!r}")
    side = min(int(input_shape[0]), int(input_shape[1]))
    chosen = stem if stem != "auto" else ("small" if side < small_below else large)
    need = imagenet_min if chosen == large else small_min
    if side < need:
        raise UsageError(f"{model} with the {chosen} stem needs inputs of at least {need}x{need} pixels, "
                         f"got {input_shape[0]}x{input_shape[1]}")
    return chosen


def small_input_strides(strides: list[int]) -> list[int]:
    """The strides of the small-input layout: the *last* stride-2 layer keeps stride 1 (32× → 16×).

    Why the last one and not the stem (the usual CIFAR adaptation): dropping the stem's stride makes every
    layer see 4× the pixels, and early full-resolution depthwise layers are the slowest per MAC on a CPU;
    on MobileNetV2 at 28×28 that is 21.8 M MACs and ~3.3× the training time per epoch of the ImageNet
    layout, against 10.4 M MACs and ~1.6× when the last stage keeps stride 1 instead. The stem's 2× still
    leaves a 14×14 map, plenty for 28 px digits and clothes, and the last stage gets a 2×2 map instead of 1×1.
    """
    out = list(strides)
    last = max(i for i, s in enumerate(out) if s == 2)
    out[last] = 1
    return out


def check_activation(activation: str, allowed: tuple[str, ...], model: str) -> None:
    """UsageError unless ``activation`` is one of ``allowed`` (a knob value, so a user's typo)."""
    from edgecnn.errors import UsageError

    if activation not in allowed:
        raise UsageError(f"{model}: activation must be one of {', '.join(allowed)}, got {activation!r}")


def squeeze_excite(x, squeeze_channels: int, *, activation: str = "relu", gate: str = "hard_sigmoid", name: str):
    """Squeeze-and-excitation (Hu et al. 2018) from layer objects only, as tfmot needs.

    GlobalAveragePooling2D(keepdims) → 1×1 Conv2D (bias) → activation → 1×1 Conv2D (bias) → gate → Multiply.
    Keeping dims (instead of Dense on a vector + Reshape) avoids RESHAPE ops and keeps the convs 1×1 CONV_2D.
    """
    channels = int(x.shape[-1])
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = layers.Conv2D(squeeze_channels, 1, use_bias=True, name=f"{name}_reduce")(s)
    s = activation_layer(activation, f"{name}_{activation}")(s)
    s = layers.Conv2D(channels, 1, use_bias=True, name=f"{name}_expand")(s)
    s = activation_layer(gate, f"{name}_{gate}")(s)
    return layers.Multiply(name=f"{name}_excite")([x, s])


def inverted_residual(x, *, expanded: int, filters: int, kernel_size: int, strides: int, activation: str,
                      name: str, se_channels: int | None = None, se_activation: str = "relu",
                      se_gate: str = "hard_sigmoid", drop_rate: float = 0.0,
                      bn_epsilon: float = 1e-3, bn_momentum: float = BN_MOMENTUM):
    """MobileNetV2/V3 and EfficientNet (MBConv) block: expand 1×1 → depthwise k×k → [SE] → project 1×1 (linear).

    The expansion conv is skipped when ``expanded`` equals the input channels (first blocks). The residual is
    a ``layers.Add`` when shape is kept; ``drop_rate`` > 0 adds stochastic depth ("drop connect") as a Dropout
    that drops whole samples of the branch (``noise_shape=(None, 1, 1, 1)``; Keras scales by 1/(1-rate),
    which is exactly stochastic depth's rescaling) — a built-in layer, so tfmot needs nothing special.
    """
    bn = dict(bn_epsilon=bn_epsilon, bn_momentum=bn_momentum)
    in_channels = int(x.shape[-1])
    inputs = x
    if expanded != in_channels:
        x = conv_bn_act(x, expanded, 1, activation=activation, name=f"{name}_expand", **bn)
    x = dwconv_bn_act(x, kernel_size, strides, activation=activation, name=f"{name}_depthwise", **bn)
    if se_channels:
        x = squeeze_excite(x, se_channels, activation=se_activation, gate=se_gate, name=f"{name}_se")
    x = conv_bn_act(x, filters, 1, activation=None, name=f"{name}_project", **bn)
    if strides == 1 and in_channels == filters:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}_drop")(x)
        x = layers.Add(name=f"{name}_add")([inputs, x])
    return x
