"""GoogLeNet (Inception v1): Szegedy et al. 2014, Going Deeper with Convolutions, arXiv:1409.4842 (torchvision layout)."""
from __future__ import annotations

from edgecnn._tf import keras
from edgecnn.zoo.blocks import conv_bn_act, resolve_stem
from edgecnn.zoo.registry import register_model
from edgecnn.zoo.simple import check_knobs, scaled

layers = keras.layers

# Inception modules: (1×1, 3×3 reduce, 3×3, "5×5" reduce, "5×5", pool projection), from the paper's Table 1.
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def _inception(x, spec, width, activation, five_kernel, name):
    """Four parallel branches (1×1 | 1×1→3×3 | 1×1→k×k | 3×3 max-pool→1×1) concatenated on channels."""
    c1, r3, c3, r5, c5, pp = (scaled(c, width) for c in spec)
    cba = dict(activation=activation, bn_epsilon=1e-3)
    b1 = conv_bn_act(x, c1, 1, name=f"{name}_b1", **cba)
    b2 = conv_bn_act(x, r3, 1, name=f"{name}_b2_reduce", **cba)
    b2 = conv_bn_act(b2, c3, 3, name=f"{name}_b2", **cba)
    b3 = conv_bn_act(x, r5, 1, name=f"{name}_b3_reduce", **cba)
    b3 = conv_bn_act(b3, c5, five_kernel, name=f"{name}_b3", **cba)
    b4 = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_b4_pool")(x)
    b4 = conv_bn_act(b4, pp, 1, name=f"{name}_b4", **cba)
    return layers.Concatenate(name=f"{name}_concat")([b1, b2, b3, b4])


@register_model("googlenet", family="googlenet", paper="Szegedy et al. 2014, Going Deeper with Convolutions "
                "(Inception v1), arXiv:1409.4842", params=6_624_904, macs=1_498_376_192,
                small_input=(32, 32, 1), min_input=8, aliases=("inception_v1",))
def googlenet(input_shape=(224, 224, 3), num_classes=1000, width: float = 1.0, activation: str = "relu",
              stem: str = "auto", five_kernel: int = 3, dropout: float = 0.2):
    """Stem → Inception 3a–3b → pool → 4a–4e → pool → 5a–5b → global average pool → Dropout → classifier.

    Canonical (224×224×3, 1000 classes): 6,624,904 trainable params (torchvision googlenet without the
    auxiliary heads; Keras also counts the BN moving statistics) and 1.50 G MACs. Like torchvision, every
    conv is conv → BN → activation and the "5×5" branch uses a 3×3 kernel (``five_kernel=5`` gives the
    paper's 5×5: ≈ 7.0 M params). Max-pools round up (torchvision's ceil_mode), done as "same" padding.
    Stem: ``imagenet`` is 7×7/2 conv → 3×3/2 pool → 1×1 → 3×3 → 3×3/2 pool (32× overall, needs ≥ 32 px);
    ``small`` is 3×3/1 conv → 1×1 → 3×3 → 3×3/2 pool (8× overall, needs ≥ 8 px, so 32 px ends at 4×4);
    ``auto`` picks small below 64 px. Channels × ``width``.
    """
    check_knobs("googlenet", width, activation)
    chosen = resolve_stem(stem, input_shape, model="googlenet", imagenet_min=32, small_min=8)
    cba = dict(activation=activation, bn_epsilon=1e-3)
    inputs = keras.Input(input_shape, name="input")
    if chosen == "imagenet":
        x = conv_bn_act(inputs, scaled(64, width), 7, 2, name="conv1", **cba)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    else:
        x = conv_bn_act(inputs, scaled(64, width), 3, 1, name="conv1", **cba)
    x = conv_bn_act(x, scaled(64, width), 1, name="conv2", **cba)
    x = conv_bn_act(x, scaled(192, width), 3, name="conv3", **cba)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    for key in ("3a", "3b"):
        x = _inception(x, INCEPTION[key], width, activation, five_kernel, f"inception{key}")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool3")(x)
    for key in ("4a", "4b", "4c", "4d", "4e"):
        x = _inception(x, INCEPTION[key], width, activation, five_kernel, f"inception{key}")
    x = layers.MaxPooling2D(2, strides=2, padding="same", name="pool4")(x)
    for key in ("5a", "5b"):
        x = _inception(x, INCEPTION[key], width, activation, five_kernel, f"inception{key}")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="googlenet")
