"""The classic zoo families: published sizes at canonical config, small inputs, minimum inputs, tfmot."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

pytest.importorskip("tf_keras")

from edgecnn._tf import keras, tf  # noqa: E402
from edgecnn.analysis import analyze_model  # noqa: E402
from edgecnn.errors import UsageError  # noqa: E402
from edgecnn.zoo import create_model, get_spec  # noqa: E402

from reference_counts import REFERENCE  # noqa: E402 - torchvision / paper counts, one source per row

CLASSIC = ["simple_cnn", "lenet5", "alexnet", "vgg11", "vgg16", "googlenet", "resnet18", "resnet34", "resnet50",
           "densenet121"]
ONE_PER_FAMILY = ["simple_cnn", "lenet5", "alexnet", "vgg11", "googlenet", "resnet18", "densenet121"]


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    keras.backend.clear_session()  # canonical VGG/AlexNet hold 0.5 GB of weights each


def _trainable(model) -> int:
    return sum(int(math.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("name", CLASSIC)
def test_canonical_matches_published(name):
    spec = get_spec(name)
    model = create_model(name)
    a = analyze_model(model)
    assert model.input_shape[1:] == spec.canonical_input
    assert model.output_shape == (None, spec.canonical_classes)
    # The registry holds exactly what the builder makes ...
    assert _trainable(model) == spec.published_params
    assert a.macs == spec.published_macs
    assert a.params == model.count_params() >= spec.published_params
    # ... and that agrees with the independent figures, within the tolerances stated in reference_counts.py.
    if name in REFERENCE:
        ref = REFERENCE[name]
        assert _trainable(model) == pytest.approx(ref.params, rel=ref.params_tolerance, abs=0), ref.source
        if ref.macs is not None:
            assert a.macs == pytest.approx(ref.macs, rel=ref.macs_tolerance), ref.source


def test_simple_cnn_by_hand():
    # conv 3·9·64 + 64·9·128 + 128·9·256 (no bias, BN follows), BN γβ, Dense 256·128+128, Dense 128·10+10.
    model = create_model("simple_cnn")
    assert _trainable(model) == 1728 + 73_728 + 294_912 + 2 * (64 + 128 + 256) + 32_896 + 1_290
    assert analyze_model(model).macs == 224 * 224 * 9 * 3 * 64 + 112 * 112 * 9 * 64 * 128 + 56 * 56 * 9 * 128 * 256 \
        + 256 * 128 + 128 * 10


def test_keras_applications_parity():
    apps = keras.applications
    vgg = create_model("vgg16")
    assert vgg.count_params() == apps.VGG16(weights=None).count_params() == 138_357_544
    keras.backend.clear_session()
    dense = create_model("densenet121")
    assert dense.count_params() == apps.DenseNet121(weights=None).count_params() == 8_062_504
    keras.backend.clear_session()
    # Keras' ResNet50 is v1 with conv biases; without those biases the weights are the same in number.
    ours, theirs = create_model("resnet50"), apps.ResNet50(weights=None)
    biases = sum(int(l.bias.shape[0]) for l in theirs.layers if isinstance(l, keras.layers.Conv2D) and l.use_bias)
    assert biases == 26_560
    assert theirs.count_params() - ours.count_params() == biases


@pytest.mark.parametrize("name", CLASSIC)
def test_small_inputs_build_and_graph_is_clean(name):
    for shape in ((28, 28, 1), (32, 32, 3)):
        model = create_model(name, shape, 10)
        assert model.output_shape == (None, 10)
        last = model.layers[-1]
        assert isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax
        for layer in model.layers:
            # tfmot needs plain Keras layers: no TFOpLambda, no nested models, no preprocessing layers.
            assert type(layer).__name__ not in ("TFOpLambda", "Rescaling", "Normalization", "Functional"), layer.name
            # Stable readable names, never Keras' numbered defaults.
            assert not re.fullmatch(r"[a-z_]+_\d+", layer.name) or re.search(r"\d[a-z]*_", layer.name), layer.name


@pytest.mark.parametrize("name", CLASSIC)
def test_min_input_is_true(name):
    n = get_spec(name).min_input
    assert create_model(name, (n, n, 1), 10).output_shape == (None, 10)
    with pytest.raises(UsageError, match=rf"at least {n}x{n}"):
        create_model(name, (n - 1, n - 1, 1), 10)


@pytest.mark.parametrize("name", ONE_PER_FAMILY)
def test_trains_one_step(name):
    spec = get_spec(name)
    model = create_model(name, spec.small_input, 10, width=0.25)
    rng = np.random.default_rng(0)
    x = rng.random((4, *spec.small_input), dtype=np.float32)
    y = rng.integers(0, 10, 4)
    # One eager step: tracing a graph for fit() takes minutes for DenseNet on 2 busy cores, and proves nothing more.
    optimizer = keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in grads)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    after = float(loss_fn(y, model(x, training=True)))
    assert np.isfinite(float(loss)) and float(loss) > 0 and np.isfinite(after)


def test_stem_choice():
    def first_kernel(model):
        return next(l for l in model.layers if isinstance(l, keras.layers.Conv2D)).kernel_size

    assert first_kernel(create_model("resnet18", (63, 63, 3), 10)) == (3, 3)   # auto: small below 64 px
    assert first_kernel(create_model("resnet18", (64, 64, 3), 10)) == (7, 7)
    assert first_kernel(create_model("resnet18", (64, 64, 3), 10, stem="small")) == (3, 3)
    assert first_kernel(create_model("lenet5", (32, 32, 1))) == (5, 5)
    with pytest.raises(UsageError, match="alexnet with the imagenet stem needs inputs of at least 63x63"):
        create_model("alexnet", (32, 32, 3), 10, stem="imagenet")
    with pytest.raises(UsageError, match="stem must be auto, imagenet or small"):
        create_model("vgg11", (32, 32, 3), 10, stem="tiny")
    # LeNet on 28 px pads C1, which is the same network as the classic one on a padded 32 px image.
    assert create_model("lenet5", (28, 28, 1)).count_params() == create_model("lenet5").count_params()


def test_knobs():
    half = create_model("resnet18", (32, 32, 1), 10, width=0.5)
    assert half.get_layer("conv1_conv").filters == 32
    assert half.count_params() < create_model("resnet18", (32, 32, 1), 10).count_params() / 3
    swish = create_model("googlenet", (32, 32, 1), 10, activation="swish", width=0.25)
    assert swish.get_layer("conv1_swish").activation is keras.activations.swish
    assert create_model("vgg11", (32, 32, 1), 10, batch_norm=True).get_layer("block1_conv1_bn")
    assert create_model("lenet5", activation="relu").get_layer("c1_relu")
    paper = create_model("googlenet", (32, 32, 1), 10, five_kernel=5, width=0.25)
    assert paper.get_layer("inception3a_b3_conv").kernel_size == (5, 5)
    with pytest.raises(UsageError, match="simple_cnn: width must be positive"):
        create_model("simple_cnn", (28, 28, 1), 10, width=0)
    with pytest.raises(UsageError, match="resnet18: activation must be one of relu, relu6"):
        create_model("resnet18", (32, 32, 1), 10, activation="rleu")
    with pytest.raises(UsageError, match="has no option depth"):
        create_model("resnet18", depth=3)


@pytest.mark.slow
@pytest.mark.parametrize("name", ONE_PER_FAMILY + ["resnet50"])
def test_tfmot_wraps_every_family(name):
    from edgecnn._tf import tfmot

    t = tfmot()
    model = create_model(name, get_spec(name).small_input, 10, width=0.25)
    pruned = t.sparsity.keras.prune_low_magnitude(model)
    assert any(type(l).__name__ == "PruneLowMagnitude" for l in pruned.layers)
    if name not in ("lenet5", "vgg11", "resnet18"):
        return  # QAT of GoogLeNet/ResNet-50 works too but costs a minute each; DenseNet needs edgecnn.optimize
    quantized = t.quantization.keras.quantize_model(model)
    assert any(type(l).__name__ == "QuantizeWrapperV2" for l in quantized.layers)
