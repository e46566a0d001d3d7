"""The mobile half of the zoo: MobileNet v1/v2/v3, EfficientNet-B0, ConvNeXt-T.

Checks the published sizes, parity with tf_keras.applications, the small-input configurations, the knobs,
and what tfmot and the converter need (flat graphs of layer objects, serialisable prunable custom layers).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

tf_available = pytest.importorskip("tf_keras", reason="needs the [train] extra")

from edgecnn.errors import UsageError  # noqa: E402

MOBILE = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
          "convnext_tiny"]

from reference_counts import REFERENCE  # noqa: E402 - torchvision / paper counts, one source per row


def _keras_reference(name: str):
    """The tf_keras.applications twin, without weights or preprocessing layers where that is an option."""
    from edgecnn._tf import keras

    apps = keras.applications
    return {
        "mobilenet_v1": lambda: apps.MobileNet(weights=None),
        "mobilenet_v2": lambda: apps.MobileNetV2(weights=None),
        "mobilenet_v3_small": lambda: apps.MobileNetV3Small(weights=None, include_preprocessing=False),
        "mobilenet_v3_large": lambda: apps.MobileNetV3Large(weights=None, include_preprocessing=False),
        # EfficientNetB0 always has Rescaling + Normalization (7 non-trainable weights); edgecnn does that in
        # preprocessing because tfmot rejects those layers.
        "efficientnet_b0": lambda: apps.EfficientNetB0(weights=None),
        "convnext_tiny": lambda: apps.ConvNeXtTiny(weights=None, include_preprocessing=False),
    }[name]()


def _bn_moving_stats(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.non_trainable_weights if "moving_" in w.name)


@pytest.mark.slow
@pytest.mark.parametrize("name", MOBILE)
def test_canonical_matches_published_and_keras_applications(name):
    from edgecnn.analysis import analyze_model
    from edgecnn.zoo import create_model, get_spec

    spec = get_spec(name)
    model = create_model(name)
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1000)
    info = analyze_model(model)
    ref = REFERENCE[name]
    # Learnable weights (BatchNorm moving statistics are buffers, not parameters, as in the papers).
    assert info.trainable_params == spec.published_params
    assert info.trainable_params == pytest.approx(ref.params, rel=ref.params_tolerance, abs=0), ref.source
    assert info.params == info.trainable_params + _bn_moving_stats(model)
    assert info.macs == pytest.approx(ref.macs, rel=ref.macs_tolerance), ref.source
    assert info.macs == spec.published_macs

    reference = _keras_reference(name)
    keras_trainable = sum(int(np.prod(w.shape)) for w in reference.trainable_weights)
    assert keras_trainable == info.trainable_params
    # Keras' count_params differs only by its BatchNorm statistics (same layers as ours) and, for
    # EfficientNet, the 7 weights of its built-in input normalisation.
    extra = 7 if name == "efficientnet_b0" else 0
    assert reference.count_params() == info.params + extra


def _flat_graph_problems(model) -> list[str]:
    """Layers tfmot/the converter cannot take: raw TF ops, nested models, preprocessing layers."""
    bad_types = {"TFOpLambda", "SlicingOpLambda", "Lambda", "Functional", "Sequential", "Model", "Rescaling",
                 "Normalization"}
    return [f"{layer.name}:{type(layer).__name__}" for layer in model.layers if type(layer).__name__ in bad_types]


@pytest.mark.parametrize("name", MOBILE)
def test_small_inputs_build_flat_and_train_one_step(name):
    from edgecnn._tf import keras
    from edgecnn.zoo import create_model, get_spec

    spec = get_spec(name)
    assert spec.small_input == (28, 28, 1) and spec.min_input == 16
    # 28 px greyscale (trained below) and 32 px colour cover both sizes and both channel counts.
    model = create_model(name, input_shape=(32, 32, 3), num_classes=10)
    assert model.output_shape == (None, 10)
    assert _flat_graph_problems(model) == []
    last = model.layers[-1]
    assert isinstance(last, keras.layers.Dense) and last.activation.__name__ == "softmax"
    # One real training step at the default small configuration.
    model = create_model(name, input_shape=spec.small_input, num_classes=10)
    assert model.output_shape == (None, 10) and _flat_graph_problems(model) == []
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((8, *spec.small_input), dtype=np.float32)
    y = rng.integers(0, 10, 8)
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss) and loss > 0
    probs = model.predict(x[:2], verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", MOBILE)
def test_input_below_minimum_and_bad_knobs_are_usage_errors(name):
    from edgecnn.zoo import create_model

    with pytest.raises(UsageError, match="at least 16x16"):
        create_model(name, input_shape=(15, 15, 1), num_classes=10)
    # The builder itself knows the true limit of each stem (16× vs 32× downsampling).
    with pytest.raises(UsageError, match="imagenet stem needs inputs of at least 32x32"):
        create_model(name, input_shape=(28, 28, 1), num_classes=10, stem="imagenet")
    with pytest.raises(UsageError, match="stem must be"):
        create_model(name, input_shape=(28, 28, 1), num_classes=10, stem="tiny")
    if name != "convnext_tiny":
        with pytest.raises(UsageError, match="activation must be"):
            create_model(name, input_shape=(28, 28, 1), num_classes=10, activation="mish")
    # The smallest accepted input builds and ends in a 1×1 (or larger) map.
    model = create_model(name, input_shape=(16, 16, 1), num_classes=3)
    assert model.output_shape == (None, 3)


def _last_map(model) -> tuple[int, int]:
    pool = next(layer for layer in model.layers if layer.name == "head_pool")
    return tuple(pool.input_shape[1:3])


def _stem_stride(model) -> int:
    first_conv = next(layer for layer in model.layers if type(layer).__name__ == "Conv2D")
    return int(first_conv.strides[0])


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0"])
def test_auto_stem_switches_to_16x_downsampling_below_64_pixels(name):
    from edgecnn.zoo import create_model

    assert _last_map(create_model(name, input_shape=(63, 63, 3), num_classes=10)) == (4, 4)  # 16×
    assert _last_map(create_model(name, input_shape=(64, 64, 3), num_classes=10)) == (2, 2)  # 32×
    forced = create_model(name, input_shape=(63, 63, 3), num_classes=10, stem="imagenet")
    assert _last_map(forced) == (2, 2)
    small = create_model(name, input_shape=(28, 28, 1), num_classes=10)
    assert _last_map(small) == (2, 2) and _stem_stride(small) == 2


def test_convnext_small_stem_is_a_2x2_patchify():
    from edgecnn.zoo import create_model

    small = create_model("convnext_tiny", input_shape=(32, 32, 1), num_classes=10)
    big = create_model("convnext_tiny", input_shape=(64, 64, 1), num_classes=10)
    assert _stem_stride(small) == 2 and _stem_stride(big) == 4
    assert _last_map(small) == (2, 2) and _last_map(big) == (2, 2)


def test_knobs_change_the_network():
    from edgecnn.zoo import create_model
    from edgecnn.zoo.custom_layers import HardSwish

    def kinds(model):
        return {type(layer).__name__ for layer in model.layers}

    hs = create_model("mobilenet_v3_small", input_shape=(32, 32, 1), num_classes=10)
    relu6 = create_model("mobilenet_v3_small", input_shape=(32, 32, 1), num_classes=10, activation="relu6")
    assert any(isinstance(layer, HardSwish) for layer in hs.layers)
    assert "HardSwish" not in kinds(relu6) and "HardSigmoid" in kinds(relu6)  # the SE gate stays
    assert hs.count_params() == relu6.count_params()

    swish = create_model("efficientnet_b0", input_shape=(32, 32, 1), num_classes=10)
    eff_relu6 = create_model("efficientnet_b0", input_shape=(32, 32, 1), num_classes=10, activation="relu6",
                             drop_connect=0.0)
    acts = {layer.activation.__name__ for layer in eff_relu6.layers if type(layer).__name__ == "Activation"}
    assert acts == {"sigmoid"}  # only the SE gates
    assert any(getattr(layer, "activation", None).__name__ == "swish" for layer in swish.layers
               if type(layer).__name__ == "Activation")
    assert "Dropout" not in {type(layer).__name__ for layer in eff_relu6.layers if layer.name != "head_dropout"}

    for name in ("mobilenet_v2", "convnext_tiny"):
        full = create_model(name, input_shape=(32, 32, 1), num_classes=10)
        half = create_model(name, input_shape=(32, 32, 1), num_classes=10, width=0.5)
        assert half.count_params() < 0.6 * full.count_params(), name


def test_custom_layers_compute_what_they_claim_and_round_trip(tmp_path):
    from edgecnn._tf import keras
    from edgecnn.zoo import custom_layers as cl

    x = np.linspace(-5, 5, 21, dtype=np.float32).reshape(1, 1, 21, 1)
    relu6 = np.clip(x + 3, 0, 6)
    np.testing.assert_allclose(cl.HardSwish()(x).numpy(), x * relu6 / 6, atol=1e-6)
    np.testing.assert_allclose(cl.HardSigmoid()(x).numpy(), relu6 / 6, atol=1e-6)

    inputs = keras.layers.Input((4, 4, 3))
    y = keras.layers.Conv2D(5, 1)(inputs)
    y = cl.HardSwish(name="hs")(y)
    y = cl.LayerScale(0.5, name="ls")(y)
    y = cl.HardSigmoid(name="hsig")(y)
    model = keras.Model(inputs, y)
    assert model.get_layer("ls").get_weights()[0].tolist() == [0.5] * 5
    path = tmp_path / "custom.keras"
    model.save(path)
    # Registered serialisable: loads with no custom_objects argument.
    loaded = keras.models.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers][-3:] == ["HardSwish", "LayerScale", "HardSigmoid"]
    assert loaded.get_layer("ls").init_value == 0.5
    data = np.random.default_rng(1).normal(size=(2, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0), atol=1e-6)
    assert set(cl.CUSTOM_OBJECTS) >= {"HardSwish", "HardSigmoid", "LayerScale", "edgecnn>LayerScale"}
    for layer in (cl.HardSwish(), cl.HardSigmoid(), model.get_layer("ls")):
        assert layer.get_prunable_weights() == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v3_small", "convnext_tiny"])
def test_zoo_model_save_load_round_trip(name, tmp_path):
    from edgecnn._tf import keras
    from edgecnn.zoo import create_model

    model = create_model(name, input_shape=(32, 32, 3), num_classes=10)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(2).random((2, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", MOBILE)
def test_whole_model_prune_low_magnitude_wraps_every_family(name):
    from edgecnn._tf import tfmot
    from edgecnn.zoo import create_model

    from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import PruneLowMagnitude

    sparsity = tfmot().sparsity.keras
    model = create_model(name, input_shape=(16, 16, 1), num_classes=10)
    pruned = sparsity.prune_low_magnitude(model, pruning_schedule=sparsity.ConstantSparsity(0.5, 0, frequency=1))
    wrapped = {layer.layer.name for layer in pruned.layers if isinstance(layer, PruneLowMagnitude)}
    # Every layer but the input is wrapped (tfmot accepted each one), including the custom ones.
    assert wrapped == {layer.name for layer in model.layers if type(layer).__name__ != "InputLayer"}
    convs = [layer.name for layer in model.layers if type(layer).__name__ in ("Conv2D", "Dense")]
    assert convs and set(convs) <= wrapped


_CONVERT_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from edgecnn._tf import tf
    from edgecnn.zoo import create_model
    model = create_model(sys.argv[1], input_shape=(28, 28, 1), num_classes=10)
    rng = np.random.default_rng(0)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.random((1, 28, 28, 1), dtype=np.float32)] for _ in range(16))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    blob = conv.convert()
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_content=blob)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.set_tensor(inp["index"], np.zeros(inp["shape"], np.int8))
    it.invoke()
    ops = sorted({op["op_name"] for op in it._get_ops_details()})
    floats = [t["name"] for t in it.get_tensor_details() if t["dtype"] == np.float32]
    print("RESULT " + json.dumps({"ops": ops, "floats": floats, "out": str(it.get_tensor(out["index"]).dtype)}))
""")


@pytest.mark.slow
def test_mobilenet_v3_converts_to_full_int8_with_fused_hard_swish():
    # In a child process: the converter and a first invoke may crash natively.
    proc = subprocess.run([sys.executable, "-c", _CONVERT_SCRIPT, "mobilenet_v3_small"], capture_output=True,
                          text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-2000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["floats"] == [] and result["out"] == "int8"
    assert "HARD_SWISH" in result["ops"]  # the custom layer's x*relu6(x+3)/6 was fused into one op
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "MUL", "ADD", "MEAN", "FULLY_CONNECTED"} <= set(result["ops"])
