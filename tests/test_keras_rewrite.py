"""edgecnn.keras_rewrite on small hand-built graphs with the constructs Keras Applications uses (raw-op
hard-swish, ``a + b`` residuals, nested models, Rescaling/Normalization, ConvNeXt-style grouped convs and 4-D
Dense), plus what cannot be rewritten. Outputs are compared with the original model's on real Fashion-MNIST
images; the expected input scaling is derived by hand. The Keras Applications families themselves go through
the whole convert command in test_keras_applications.py."""
from __future__ import annotations

import numpy as np
import pytest

from edgecnn import keras_rewrite, optimize
from edgecnn._tf import keras, tf
from edgecnn.convert import _alternatives, explain_converter_error
from edgecnn.data import load_dataset
from edgecnn.errors import EdgecnnError
from edgecnn.preprocess import PreprocessSpec

L = keras.layers
SPEC = PreprocessSpec(16, 16, 3, resize="bilinear", scale=1.0, offset=0.0)  # raw pixels, as Keras Apps take


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_dataset("fashion_mnist", SPEC, seed=0, limit=80).x_test[:16]


def _hard_swish_raw(x):
    return L.Multiply()([x, L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)])  # exactly keras.applications.mobilenet_v3's


def _user_model():
    """Rescaling → Normalization at the input, raw-op hard-swish, a raw-op residual, a raw-op constant, a nested
    functional block, SE pool → Reshape, a grouped conv and a Dense on a 4-D tensor."""
    inner_in = keras.Input((8, 8, 16))
    y = L.Conv2D(16, 3, padding="same", groups=16, name="grouped")(inner_in)
    y = L.Dense(16, name="dense4d")(y)
    inner = keras.Model(inner_in, inner_in + y, name="block")
    inp = keras.Input((16, 16, 3))
    x = L.Rescaling(1 / 255.0)(inp)
    x = L.Normalization(mean=0.5, variance=0.25)(x)
    x = L.Conv2D(16, 3, strides=2, padding="same", name="stem")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = _hard_swish_raw(x)
    x = inner(x)
    s = L.GlobalAveragePooling2D(name="se_squeeze")(x)
    s = L.Reshape((1, 1, 16), name="se_reshape")(s)
    s = L.Conv2D(16, 1, activation="sigmoid", name="se_expand")(s)
    x = L.Multiply(name="se_excite")([x, s])
    x = x * 0.5
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="user")


def test_rewrite_keeps_outputs_and_leaves_only_layers_tfmot_takes(images):
    model = _user_model()
    result = keras_rewrite.prepare_for_tfmot(model, SPEC, images)
    kinds = {type(layer).__name__ for layer in result.model.layers}
    assert not kinds & {"TFOpLambda", "Rescaling", "Normalization", "Functional", "Reshape"}, kinds
    assert {"HardSwish", "Add", "ScalarAffine", "DepthwiseConv2D"} <= kinds
    # Rescaling(1/255) then (x - 0.5) / sqrt(0.25): pixel × 1/127.5 - 1 (by hand), now in preprocess.json.
    assert result.spec.scale == pytest.approx(1 / 127.5, rel=1e-6)
    assert result.spec.offset == pytest.approx(-1.0, abs=1e-6)
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-5
    assert result.images_checked == 16
    by_name = {layer.name: layer for layer in result.model.layers}
    assert by_name["se_reshape"].keepdims is True  # the SE pool keeps its dims instead of a Reshape
    notes = " ".join(result.notes())
    assert "HardSwish" in notes and "inlined" in notes and "preprocess.json" in notes and "max |difference|" in notes
    # tfmot now takes the whole model: pruning without the selective fallback, and QAT annotation of every layer.
    wrapped, how = optimize.wrap_for_pruning(result.model, 0.5, custom_objects=optimize.zoo_custom_objects())
    assert how == "whole model"
    qat, counts = optimize.apply_quantization(result.model, custom_objects=optimize.zoo_custom_objects())
    assert "hard_swish" in " ".join(counts["output"])


def test_tfmot_refuses_the_original(images):
    with pytest.raises(EdgecnnError):
        optimize.apply_quantization(_user_model(), custom_objects=optimize.zoo_custom_objects())


def test_per_channel_normalization_becomes_a_frozen_depthwise_layer(images):
    inp = keras.Input((16, 16, 3))
    x = L.Normalization(mean=[100.0, 120.0, 140.0], variance=[400.0, 900.0, 1600.0], name="norm")(inp)
    out = L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(L.Conv2D(8, 3)(x)))
    model = keras.Model(inp, out)
    result = keras_rewrite.prepare_for_tfmot(model, SPEC, images)
    affine = result.model.get_layer("norm_affine")
    assert type(affine).__name__ == "DepthwiseConv2D" and not affine.trainable
    kernel, bias = affine.get_weights()
    np.testing.assert_allclose(kernel.reshape(-1), [1 / 20, 1 / 30, 1 / 40], rtol=1e-6)
    np.testing.assert_allclose(bias, [-5.0, -4.0, -3.5], rtol=1e-6)
    assert (result.spec.scale, result.spec.offset) == (1.0, 0.0)
    assert result.max_abs_diff < 1e-5


def test_nothing_to_change_returns_the_same_model(images):
    inp = keras.Input((16, 16, 3))
    out = L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(L.Conv2D(8, 3, activation="relu")(inp)))
    model = keras.Model(inp, out)
    result = keras_rewrite.prepare_for_tfmot(model, SPEC, images)
    assert result.model is model and not result.changed and result.notes() == []


def test_raw_op_without_a_layer_is_one_error_naming_it():
    inp = keras.Input((16, 16, 3))
    x = tf.math.cumsum(L.Conv2D(4, 3)(inp), axis=-1)
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(x)))
    with pytest.raises(EdgecnnError, match=r"cumsum.*without --prune and --qat") as info:
        keras_rewrite.rewrite_for_tfmot(model, SPEC)
    assert "\n" not in str(info.value)


def test_custom_layer_is_one_error_naming_it():
    class Doubler(L.Layer):
        def call(self, x):
            return 2 * x

    inp = keras.Input((16, 16, 3))
    model = keras.Model(inp, Doubler(name="doubler")(inp))
    with pytest.raises(EdgecnnError, match="'doubler'.*custom layer Doubler"):
        keras_rewrite.rewrite_for_tfmot(model, SPEC)


def test_input_preprocessing_is_found_through_a_nested_model():
    base_in = keras.Input((16, 16, 3))
    base = keras.Model(base_in, L.Conv2D(4, 3)(L.Rescaling(1 / 255.0, name="scale_in")(base_in)), name="base")
    inp = keras.Input((16, 16, 3))
    model = keras.Model(inp, L.Dense(2)(L.GlobalAveragePooling2D()(base(inp, training=False))))
    assert keras_rewrite.input_preprocessing(model) == "Rescaling 'scale_in'"
    assert keras_rewrite.input_preprocessing(base) == "Rescaling 'scale_in'"
    plain = keras.Model(inp, L.Conv2D(4, 3)(inp))
    assert keras_rewrite.input_preprocessing(plain) is None


def test_a_crash_of_the_qat_model_never_advises_qat():
    """The hint after a converter failure names what was not tried yet (issue 12: it advised --qat to a
    user who had given --qat)."""
    assert "--qat" not in _alternatives("int8", from_qat=True).split("without")[0]
    assert "without --qat" in _alternatives("int8", from_qat=True)
    assert "try --qat" in _alternatives("int8", from_qat=False)
    text = "loc(x): error: 'tfl.conv_2d' op quantization parameters violate the same scale constraint"
    assert "try --qat" not in explain_converter_error(text, "int8", True)
    assert "try --qat" in explain_converter_error(text, "int8", False)
