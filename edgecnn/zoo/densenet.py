"""DenseNet: Huang et al. 2016, Densely Connected Convolutional Networks, arXiv:1608.06993 (torchvision layout)."""
from __future__ import annotations

from edgecnn._tf import keras
from edgecnn.zoo.blocks import BN_MOMENTUM, activation_layer, conv_bn_act, resolve_stem
from edgecnn.zoo.registry import register_model
from edgecnn.zoo.resnet import check_layout, imagenet_stem
from edgecnn.zoo.simple import check_knobs, scaled

layers = keras.layers

EPS = 1e-5  # torchvision's BatchNorm epsilon


def _bn_act_conv(x, filters, kernel, activation, name):
    """Pre-activation unit: BN → activation → conv (no bias). The BN does not follow a conv, so QAT needs
    an output-quantising QuantizeConfig for it (edgecnn.optimize does that)."""
    x = layers.BatchNormalization(epsilon=EPS, momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    x = activation_layer(activation, f"{name}_{activation}")(x)
    return layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)


def _dense_block(x, layers_count, growth, activation, name):
    """Each layer adds ``growth`` channels: BN-act-1×1 (4·growth) → BN-act-3×3 (growth), concatenated."""
    for i in range(1, layers_count + 1):
        y = _bn_act_conv(x, 4 * growth, 1, activation, f"{name}_layer{i}_1")
        y = _bn_act_conv(y, growth, 3, activation, f"{name}_layer{i}_2")
        x = layers.Concatenate(name=f"{name}_layer{i}_concat")([x, y])
    return x


def _transition(x, activation, name):
    """BN-act-1×1 conv halving the channels → 2×2 average pool."""
    x = _bn_act_conv(x, int(x.shape[-1]) // 2, 1, activation, name)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


@register_model("densenet121", family="densenet", paper="Huang et al. 2016, Densely Connected Convolutional "
                "Networks, arXiv:1608.06993", params=7_978_856, macs=2_834_161_664,
                small_input=(32, 32, 1), min_input=8)
def densenet121(input_shape=(224, 224, 3), num_classes=1000, width: float = 1.0, activation: str = "relu",
                stem: str = "auto", layout: str = "zoo"):
    """DenseNet-121 (BC): dense blocks of (6, 12, 24, 16) layers, growth rate 32 × ``width``,
    bottleneck 4·growth, compression 0.5 → BN → activation → global average pool → Dense(softmax).

    Canonical (224×224×3, 1000 classes): 7,978,856 trainable params (torchvision), 2.83 G MACs (torchvision: 2.83 G;
    2.87 G in counters that add BN/ReLU); the Keras
    count incl. BN moving statistics equals Keras Applications' DenseNet121 (8,062,504).
    Stem ``imagenet``: 7×7/2 conv (2·growth) → BN → act → 3×3/2 max-pool (32× overall, needs ≥ 32 px);
    ``small``: 3×3/1 conv → BN → act (8× overall, needs ≥ 8 px); ``auto`` picks small below 64 px.
    ``layout="keras"`` pads the ImageNet stem on every side as Keras Applications' DenseNet121 does (the only
    structural difference from it; see edgecnn.zoo.resnet.imagenet_stem), for its weights (edgecnn.pretrained).
    """
    check_knobs("densenet121", width, activation)
    check_layout("densenet121", layout)
    chosen = resolve_stem(stem, input_shape, model="densenet121", imagenet_min=32, small_min=8)
    growth = scaled(32, width)
    inputs = keras.Input(input_shape, name="input")
    if chosen == "imagenet":
        x = imagenet_stem(inputs, 2 * growth, activation, layout, bn_epsilon=EPS)
    else:
        x = conv_bn_act(inputs, 2 * growth, 3, 1, activation=activation, name="conv1", bn_epsilon=EPS)
    for b, count in enumerate((6, 12, 24, 16), start=1):
        x = _dense_block(x, count, growth, activation, f"block{b}")
        if b < 4:
            x = _transition(x, activation, f"transition{b}")
    x = layers.BatchNormalization(epsilon=EPS, momentum=BN_MOMENTUM, name="final_bn")(x)
    x = activation_layer(activation, f"final_{activation}")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="densenet121")
