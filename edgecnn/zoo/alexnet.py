"""AlexNet: Krizhevsky, Sutskever & Hinton 2012, ImageNet Classification with Deep CNNs, NeurIPS (torchvision's one-GPU variant)."""
from __future__ import annotations

from edgecnn._tf import keras
from edgecnn.zoo.blocks import activation_layer, resolve_stem
from edgecnn.zoo.registry import register_model
from edgecnn.zoo.simple import check_knobs, scaled

layers = keras.layers


@register_model("alexnet", family="alexnet", paper="Krizhevsky et al. 2012, ImageNet Classification with Deep "
                "Convolutional Neural Networks, NeurIPS", params=61_100_840, macs=714_188_480,
                small_input=(32, 32, 1), min_input=15)
def alexnet(input_shape=(224, 224, 3), num_classes=1000, width: float = 1.0, activation: str = "relu",
            stem: str = "auto", dropout: float = 0.5):
    """Five convs (64, 192, 384, 256, 256 × ``width``, three 3×3/2 max-pools) → Dropout → FC 4096 →
    Dropout → FC 4096 → Dense(num_classes, softmax), as torchvision (one tower, no LRN, conv biases).

    Canonical (224×224×3, 1000 classes): 61,100,840 params, 0.714 G MACs (torchvision).
    Stem: ``imagenet`` is 11×11 stride 4 after 2-pixel zero padding (needs ≥ 63 px); ``small`` is a 3×3
    stride-1 conv, so a 32 px image still has 3×3 features at the end (needs ≥ 15 px); ``auto`` picks small
    below 64 px. torchvision's adaptive 6×6 average pool is the identity at 224 px and is left out: at other
    sizes the first FC takes the flattened final map as it is (its size follows the input).
    """
    check_knobs("alexnet", width, activation)
    chosen = resolve_stem(stem, input_shape, model="alexnet", imagenet_min=63, small_min=15)
    act = activation

    def conv(x, filters, k, name, strides=1, padding="same"):
        x = layers.Conv2D(scaled(filters, width), k, strides=strides, padding=padding, name=f"{name}_conv")(x)
        return activation_layer(act, f"{name}_{act}")(x)

    inputs = keras.Input(input_shape, name="input")
    if chosen == "imagenet":
        x = layers.ZeroPadding2D(2, name="conv1_pad")(inputs)
        x = conv(x, 64, 11, "conv1", strides=4, padding="valid")
    else:
        x = conv(inputs, 64, 3, "conv1")
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = conv(x, 192, 5, "conv2")
    x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = conv(x, 384, 3, "conv3")
    x = conv(x, 256, 3, "conv4")
    x = conv(x, 256, 3, "conv5")
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    x = layers.Flatten(name="flatten")(x)
    for i in (6, 7):
        x = layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
        x = layers.Dense(scaled(4096, width), name=f"fc{i}")(x)
        x = activation_layer(act, f"fc{i}_{act}")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="alexnet")
