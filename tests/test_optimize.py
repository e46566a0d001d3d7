"""edgecnn.optimize: argument checks, pruning schedules, the QAT annotation rule, pruning and (prune-preserving)
QAT on small models with real Fashion-MNIST images (in-process: no conversion happens here)."""
from __future__ import annotations

import numpy as np
import pytest

from edgecnn.errors import UsageError

tf_needed = pytest.importorskip("tensorflow")

from edgecnn import optimize  # noqa: E402
from edgecnn._tf import keras  # noqa: E402
from edgecnn.preprocess import PreprocessSpec  # noqa: E402

L = keras.layers


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, float("nan"), "x"])
def test_sparsity_outside_0_1_is_a_usage_error(value):
    with pytest.raises(UsageError, match=r"\[0, 1\)"):
        optimize.check_sparsity(value)


def test_sparsity_inside_range():
    assert optimize.check_sparsity(0) == 0.0
    assert optimize.check_sparsity("0.5") == 0.5


@pytest.mark.parametrize("pattern, expected", [("2:4", (2, 4)), (" 1 : 4 ", (1, 4)), (None, None)])
def test_parse_pattern(pattern, expected):
    assert optimize.parse_pattern(pattern) == expected


@pytest.mark.parametrize("pattern", ["4:2", "2-4", "0:4", "a:b"])
def test_bad_pattern(pattern):
    with pytest.raises(UsageError, match="N:M"):
        optimize.parse_pattern(pattern)


def test_schedule_short_is_constant_every_step_long_is_polynomial():
    short = optimize.pruning_schedule(0.5, 20)
    long = optimize.pruning_schedule(0.5, 2000)
    assert type(short).__name__ == "ConstantSparsity" and short.get_config()["config"]["frequency"] == 1
    assert type(long).__name__ == "PolynomialDecay"
    config = long.get_config()["config"]
    assert config["final_sparsity"] == 0.5 and config["end_step"] == 1400


def _toy_model(with_custom: bool = True):
    """Conv-BN-ReLU, a BN after an Add (not foldable), AveragePooling2D, a custom layer, Dense softmax."""
    inp = keras.Input((28, 28, 1))
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="c1")(inp)
    x = L.BatchNormalization(name="c1_bn")(x)
    x = L.ReLU(name="c1_relu")(x)
    y = L.Conv2D(8, 3, padding="same", name="c2")(x)
    x = L.Add(name="add")([x, y])
    x = L.BatchNormalization(name="add_bn")(x)
    x = L.AveragePooling2D(name="avg")(x)
    if with_custom:
        from edgecnn.zoo.custom_layers import HardSwish

        x = HardSwish(name="hswish")(x)
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="c3")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inp, L.Dense(10, activation="softmax", name="logits")(x))


def test_annotation_rule_one_rule_for_all_layers():
    model = _toy_model()
    rules = {layer.name: optimize.annotation_rule(layer) for layer in model.layers}
    assert rules["avg"] == "noop"          # else: same-scale constraint failure in the int8 converter
    assert rules["add_bn"] == "output"     # BN after Add cannot be folded
    assert rules["c1_bn"] == "default"     # folded into c1
    assert rules["hswish"] == "output"     # custom layer: registry does not support it
    assert rules["c1"] == rules["logits"] == rules["add"] == "default"


@pytest.fixture(scope="module")
def fashion():
    from edgecnn.data import load_dataset

    spec = PreprocessSpec(28, 28, 1)
    ds = load_dataset("fashion_mnist", spec, seed=0, limit=512)
    return optimize.FineTuneData(ds.x_train, ds.y_train, spec)


def test_finetune_data_scales_like_preprocess(fashion):
    from edgecnn.preprocess import to_float_input

    x, y = next(iter(fashion.tf_dataset(8, shuffle=False)))
    np.testing.assert_array_equal(x.numpy(), to_float_input(fashion.x[:8], fashion.spec))
    np.testing.assert_array_equal(y.numpy(), fashion.y[:8])


@pytest.mark.slow
def test_prune_reaches_target_sparsity_and_strips(fashion):
    model = _toy_model()
    pruned = optimize.prune(model, 0.5, data=fashion, epochs=1, custom_objects=optimize.zoo_custom_objects())
    assert not any("prune_low_magnitude" in layer.name for layer in pruned.layers)
    sparsity = optimize.weight_sparsity(pruned)
    assert set(sparsity) == {"c1", "c2", "c3", "logits"}
    for name, value in sparsity.items():
        assert 0.45 <= value <= 0.55, (name, value)


@pytest.fixture(scope="module")
def fashion_with_validation():
    from edgecnn.data import load_dataset

    spec = PreprocessSpec(28, 28, 1)
    ds = load_dataset("fashion_mnist", spec, seed=0, limit=512)
    return optimize.FineTuneData(ds.x_train, ds.y_train, spec, ds.x_val, ds.y_val)


def _top1(model, images: np.ndarray, labels: np.ndarray, spec) -> float:
    from edgecnn.preprocess import to_float_input

    scores = model(to_float_input(images, spec), training=False).numpy()
    return float(np.mean(scores.argmax(axis=1) == labels))


@pytest.mark.slow
def test_pruning_retries_from_the_dense_model_when_over_budget(fashion_with_validation, monkeypatch):
    """A budget nothing can meet (-100 points: the pruned model 100 points *above* the dense one) prunes twice: the
    planned epoch, then again *from the dense weights* over twice the epochs with the gradual schedule, and returns
    the better on validation; a budget everything meets (100 points) stops after the planned epoch; without
    validation images, or without room in max_epochs, the plan is all there is."""
    data = fashion_with_validation
    spec = data.spec
    model = _toy_model(with_custom=False)
    dense = _top1(model, data.x_val, data.y_val, spec)  # before pruning: the clone shares (and changes) its layers
    dense_weights = [w.copy() for w in model.get_weights()]
    started_from: list[list[np.ndarray]] = []
    real = optimize._prune_and_fit

    def spy(model, *args, **kwargs):
        started_from.append([w.copy() for w in model.get_weights()])
        return real(model, *args, **kwargs)

    monkeypatch.setattr(optimize, "_prune_and_fit", spy)
    record: dict = {}
    pruned = optimize.prune(model, 0.5, data=data, epochs=1, recover_points=-100.0, record=record)
    assert [(a["epochs"], a["schedule"]) for a in record["attempts"]] == [(1, "auto"), (2, "polynomial")]
    assert record["epochs_run"] == 3 and record["max_epochs"] == 3
    assert len(started_from) == 2
    for before, dense_w in zip(started_from[1], dense_weights):  # the retry starts from the dense model
        np.testing.assert_array_equal(before, dense_w)
    assert record["dense_val_accuracy"] == pytest.approx(dense, abs=1e-5)
    # The returned model is the better attempt on validation (the earlier of equals).
    accuracies = [a["val_accuracy"] for a in record["attempts"]]
    best = accuracies.index(max(accuracies))
    assert [a["kept"] for a in record["attempts"]] == [i == best for i in range(2)]
    assert record["kept_epochs"] == record["attempts"][best]["epochs"]
    returned = _top1(pruned, data.x_val, data.y_val, spec)
    assert max(accuracies) == pytest.approx(returned, abs=1.5 / len(data.y_val))  # ≤ 1 image apart
    for a in record["attempts"]:
        assert a["val_drop_points"] == pytest.approx(100 * (dense - a["val_accuracy"]), abs=1e-2)
    assert all(0.45 <= v <= 0.55 for v in optimize.weight_sparsity(pruned).values())

    record = {}
    optimize.prune(_toy_model(with_custom=False), 0.5, data=data, epochs=1, recover_points=100.0, record=record)
    assert record["epochs_run"] == 1 and len(record["attempts"]) == 1 and record["kept_epochs"] == 1

    for name, kwargs, why in (("no validation", {"data": optimize.FineTuneData(data.x, data.y, spec)},
                               "no retry (no validation images)"),
                              ("no room", {"data": data, "max_epochs": 2, "recover_points": -100.0},
                               "no retry (--prune-max-epochs 2 leaves no room for 2 more)")):
        record, messages = {}, []
        optimize.prune(_toy_model(with_custom=False), 0.5, epochs=1, record=record, log=messages.append, **kwargs)
        assert record["epochs_run"] == 1 and record["kept_epochs"] == 1, name
        assert any(why in m for m in messages), (name, messages)


@pytest.mark.slow
def test_prune_2_of_4_pattern(fashion):
    pruned = optimize.prune(_toy_model(with_custom=False), 0.5, pattern="2:4", data=fashion, epochs=1)
    kernel = pruned.get_layer("c3").get_weights()[0]  # (3, 3, 8, 16): blocks of 4 along input channels
    blocks = np.moveaxis(kernel, 2, -1).reshape(-1, 4)
    assert np.all(np.count_nonzero(blocks, axis=1) <= 2)


@pytest.mark.slow
def test_qat_wraps_every_layer_and_prune_preserving_keeps_zeros(fashion):
    custom = optimize.zoo_custom_objects()
    pruned = optimize.prune(_toy_model(), 0.5, data=fashion, epochs=1, custom_objects=custom)
    qat = optimize.quantize_aware(pruned, data=fashion, epochs=1, preserve_sparsity=True, custom_objects=custom)
    names = [layer.name for layer in qat.layers]
    # Keras numbers a second QuantizeLayer in the same process "quantize_layer_1": match the prefix.
    assert any(n.startswith("quantize_layer") for n in names), names
    assert "quant_hswish" in names and "quant_avg" in names
    conv = qat.get_layer("quant_c3")
    kernel = next(w for w in conv.weights if w.name.endswith("kernel:0")).numpy()
    assert np.mean(kernel == 0) >= 0.45  # prune-preserving QAT kept the zeros while fine-tuning
    # Plain QAT on the unpruned model learns (loss finite, accuracy reported by fit).
    plain = optimize.quantize_aware(_toy_model(), data=fashion, epochs=1, custom_objects=custom)
    out = plain.predict(np.zeros((2, 28, 28, 1), np.float32), verbose=0)
    assert out.shape == (2, 10) and np.all(np.isfinite(out))


@pytest.mark.slow
def test_qat_activation_ranges_start_from_real_images_not_minus6_6(fashion):
    """tfmot starts every activation range at [-6, 6] and moves it 0.1% a step: a short QAT fine-tune
    would hand the converter ranges ~100× too wide for these activations. The ranges must start measured."""
    keras.utils.set_random_seed(0)
    model = _toy_model()
    x = fashion.x[:256].astype(np.float32) * np.float32(fashion.spec.scale) + np.float32(fashion.spec.offset)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(fashion.tf_dataset(32), epochs=3, verbose=0)  # decisive class scores: argmax agreement means something
    reference = model.predict(x, verbose=0).argmax(1)
    qat, _ = optimize.apply_quantization(model, custom_objects=optimize.zoo_custom_objects())
    untouched = np.mean(qat.predict(x, verbose=0).argmax(1) == reference)
    assert optimize.initialize_activation_ranges(qat, fashion) > 0
    ranges = {v.name: float(v.numpy()) for v in qat.variables if optimize._ACTIVATION_RANGE.search(v.name)}
    assert all(value <= 0 for name, value in ranges.items() if name.endswith("_min:0"))
    assert all(value > 0 for name, value in ranges.items() if name.endswith("_max:0"))
    assert not any(abs(value) == 6.0 for value in ranges.values()), ranges
    # The range of c3's ReLU output is what the float model produces on the same (first 128) images.
    measured = keras.Model(model.input, model.get_layer("c3").output)(x[:128]).numpy().max()
    assert ranges["quant_c3/post_activation_max:0"] == pytest.approx(measured, rel=0.1), measured
    started = np.mean(qat.predict(x, verbose=0).argmax(1) == reference)
    # 8-bit fake-quant of a briefly fitted toy keeps 0.93–1.0 of its top-1 answers (seen over seeds).
    assert started >= 0.85 and started >= untouched - 0.02, (untouched, started)
    # The BN statistics and weights were left as they were: only ranges moved.
    np.testing.assert_array_equal(qat.get_layer("quant_c3").weights[0].numpy() != 0,
                                  model.get_layer("c3").kernel.numpy() != 0)


# ---- pruning recipe: schedule, layers kept dense ------------------------------------------------------------

def _schedule_trace(schedule, total_steps: int) -> list[tuple[int, float]]:
    """(step, sparsity) at every step the schedule updates the mask. tfmot's UpdatePruningStep numbers the
    batches of a fine-tune 1..total_steps (the wrapper increments its step before the mask update)."""
    trace = []
    for step in range(1, total_steps + 1):
        update, sparsity = schedule(step)
        if bool(update):
            trace.append((step, float(sparsity)))
    return trace


@pytest.mark.parametrize("total", [20, 125, 300, 1001, 2000])
def test_polynomial_schedule_ramps_gradually_and_reaches_the_target_inside_the_fine_tune(total):
    trace = _schedule_trace(optimize.pruning_schedule(0.5, total, "polynomial"), total)
    steps, values = zip(*trace)
    assert values[-1] == pytest.approx(0.5, abs=1e-6)       # the target itself, not the update before it
    assert steps[-1] <= 0.7 * total                          # and then ≥ 30% of the steps to recover
    assert all(b >= a for a, b in zip(values, values[1:]))   # never lowers sparsity
    assert len(trace) >= min(10, int(0.7 * total))           # many small mask updates, not one jump
    assert values[0] <= 0.5 * 0.3                            # the first update prunes a little
    # Zhu & Gupta's cubic: s(t) = s_f (1 - (1 - t / t_end)^3) at every update.
    end = steps[-1]
    for step, value in trace:
        assert value == pytest.approx(0.5 * (1 - (1 - step / end) ** 3), abs=1e-5)


def test_constant_schedule_is_one_shot():
    trace = _schedule_trace(optimize.pruning_schedule(0.5, 10, "constant"), 10)
    assert trace == [(step, 0.5) for step in range(1, 11)]


def test_unknown_schedule_names_the_choices():
    with pytest.raises(UsageError, match="polynomial"):
        optimize.pruning_schedule(0.5, 100, "cubic")


def test_smallest_layers_keeps_whole_size_groups_within_the_share():
    inp = keras.Input((8, 8, 1))
    x = L.Conv2D(4, 3, name="stem")(inp)                   # 36 weights
    a = L.Conv2D(4, 1, name="a")(x)                        # 16
    b = L.Conv2D(4, 1, name="b")(x)                        # 16
    x = L.Concatenate()([a, b])
    x = L.Conv2D(64, 3, name="big")(x)                     # 4608
    x = L.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, L.Dense(10, name="fc")(x))    # 640; total 5316
    assert optimize.prunable_sizes(model) == {"stem": 36, "a": 16, "b": 16, "big": 4608, "fc": 640}
    # Budget = share × 5316 weights; the two 16-weight layers go together or not at all.
    assert optimize.smallest_layers(model, share=0.004) == []                     # 32 > 21.3
    assert sorted(optimize.smallest_layers(model, share=0.01)) == ["a", "b"]      # 32 ≤ 53.2 < 68
    assert sorted(optimize.smallest_layers(model, share=0.02)) == ["a", "b", "stem"]  # 68 ≤ 106.3 < 708
    assert optimize.layers_to_keep(model, "first") == ["stem"]
    assert optimize.layers_to_keep(model, "none") == []
    assert optimize.layers_to_keep(model, ["fc"]) == ["fc"]
    with pytest.raises(UsageError, match="smallest"):
        optimize.layers_to_keep(model, "largest")


def test_compensated_sparsity_keeps_the_whole_model_at_the_target():
    sizes = {"stem": 100, "body": 900}
    # 0.5 of 1000 weights = 500 zeros, all from the 900 pruned ones.
    assert optimize.compensated_sparsity(0.5, sizes, ["stem"]) == pytest.approx(500 / 900)
    assert optimize.compensated_sparsity(0.5, sizes, []) == 0.5
    with pytest.raises(UsageError, match="cannot reach"):
        optimize.compensated_sparsity(0.95, sizes, ["stem"])   # 950 zeros from 900 weights
    with pytest.raises(UsageError, match="nothing left"):
        optimize.compensated_sparsity(0.5, sizes, ["stem", "body"])


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_distill_outside_0_1_is_a_usage_error(value):
    with pytest.raises(UsageError, match=r"distill must be in \[0, 1\]"):
        optimize.check_distill(value)


def test_teacher_probabilities_are_the_softmax_of_a_logits_model_in_image_order(fashion):
    inp = keras.Input((28, 28, 1))
    logits = L.Dense(10, name="logits")(L.Flatten()(inp))  # no softmax: a user model that outputs logits
    model = keras.Model(inp, logits)
    kernel, bias = model.get_layer("logits").get_weights()
    x = fashion.x[:300].reshape(300, -1).astype(np.float64) / 255.0  # PreprocessSpec default: pixel / 255
    z = x @ kernel + bias
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    subset = optimize.FineTuneData(fashion.x[:300], fashion.y[:300], fashion.spec)
    got = optimize.teacher_probabilities(model, subset, batch_size=64)
    assert got.shape == (300, 10)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.slow
def test_distillation_keeps_a_pruned_model_on_its_teacher_when_the_labels_are_wrong(fashion):
    """With every label replaced by a wrong one, fine-tuning on labels alone drags the pruned model away
    from what the dense model predicts; with ``distill=1`` the targets are the dense model's own
    predictions, so the pruned model keeps agreeing with it."""
    inp = keras.Input((28, 28, 1))
    hidden = L.Dense(64, activation="relu", name="hidden")(L.Flatten()(inp))
    teacher = keras.Model(inp, L.Dense(10, activation="softmax", name="out")(hidden))
    teacher.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    teacher.fit(fashion.tf_dataset(64, seed=0), epochs=5, verbose=0)
    x = fashion.tf_dataset(256, shuffle=False)
    teacher_says = teacher.predict(x, verbose=0).argmax(axis=1)
    assert np.mean(teacher_says == fashion.y) >= 0.6  # a teacher worth agreeing with
    wrong = optimize.FineTuneData(fashion.x, (fashion.y + 1 + np.arange(len(fashion.y)) % 9) % 10, fashion.spec)
    assert not np.any(wrong.y == fashion.y)

    agreement = {}
    for distill in (0.0, 1.0, None):  # None: prune's default, which distils from the dense model
        student = keras.models.clone_model(teacher)
        student.set_weights(teacher.get_weights())
        options = {} if distill is None else {"distill": distill}
        pruned = optimize.prune(student, 0.3, data=wrong, epochs=3, learning_rate=3e-3, **options)
        agreement[distill] = float(np.mean(pruned.predict(x, verbose=0).argmax(axis=1) == teacher_says))
    assert agreement[1.0] >= 0.8, agreement
    assert agreement[1.0] - agreement[0.0] >= 0.3, agreement
    assert agreement[None] >= 0.8, agreement
