"""analyze_model on tiny models computed by hand, on DAGs/nested/wrapped models, and on Keras Applications."""
from __future__ import annotations

import pytest

pytest.importorskip("tf_keras")

from edgecnn._tf import keras  # noqa: E402
from edgecnn.analysis import analyze_model, format_count  # noqa: E402
from edgecnn.errors import EdgecnnError  # noqa: E402

L = keras.layers


def _row(analysis, name):
    return next(r for r in analysis.layers if r.name == name)


def test_chain_by_hand():
    x = inp = keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same", name="c1")(x)            # 3*3*3*4+4 = 112 params
    x = L.MaxPooling2D(2, name="p1")(x)                          # 4x4
    x = L.Conv2D(6, 3, padding="same", use_bias=False, name="c2")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, use_bias=False, name="dw")(x)
    x = L.BatchNormalization(name="bn")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(5, name="fc")(x)
    a = analyze_model(keras.Model(inp, out, name="tiny"))

    c1, p1, c2, dw, bn, gap, fc = (_row(a, n) for n in ("c1", "p1", "c2", "dw", "bn", "gap", "fc"))
    assert (c1.params, c1.macs, c1.receptive_field, c1.jump) == (112, 8 * 8 * 9 * 3 * 4, (3, 3), (1, 1))
    assert (p1.macs, p1.receptive_field, p1.jump) == (0, (4, 4), (2, 2))
    assert (c2.macs, c2.receptive_field) == (4 * 4 * 9 * 4 * 6, (4 + 2 * 2, 8))
    assert dw.output_shape == (2, 2, 12)
    assert (dw.macs, dw.receptive_field, dw.jump) == (2 * 2 * 9 * 6 * 2, (8 + 2 * 2, 12), (4, 4))
    assert (bn.params, bn.macs, bn.receptive_field) == (4 * 12, 0, (12, 12))
    assert gap.receptive_field == (12, 12)  # already larger than the 8 px input
    assert (fc.params, fc.macs) == (12 * 5 + 5, 12 * 5)
    assert a.params == 112 + 216 + 108 + 48 + 65
    assert a.trainable_params == a.params - 2 * 12  # BN moving mean/variance are not trainable
    assert a.macs == sum(r.macs for r in a.layers) == c1.macs + c2.macs + dw.macs + fc.macs
    assert a.input_shape == (8, 8, 3)


def test_global_pool_sees_whole_input_and_dilation():
    x = inp = keras.Input((32, 32, 1))
    x = L.Conv2D(2, 3, dilation_rate=2, padding="same", name="dil")(x)   # k_eff = 5
    x = L.GlobalMaxPooling2D(name="gmp")(x)
    out = L.Dense(3, name="fc")(x)
    a = analyze_model(keras.Model(inp, out))
    assert _row(a, "dil").receptive_field == (5, 5)
    assert _row(a, "dil").macs == 32 * 32 * 9 * 1 * 2
    assert _row(a, "gmp").receptive_field == (32, 32)
    assert _row(a, "fc").receptive_field == (32, 32)


def test_dag_takes_largest_branch_and_groups_separable_dense4d():
    inp = keras.Input((16, 16, 8))
    a1 = L.Conv2D(8, 1, name="b1")(inp)                                # rf 1
    a2 = L.Conv2D(8, 5, padding="same", name="b2")(inp)                # rf 5
    a3 = L.Conv2D(8, 3, padding="same", groups=4, name="grouped")(a2)  # rf 7
    add = L.Add(name="add")([a1, a3])
    cat = L.Concatenate(name="cat")([add, a1])
    sep = L.SeparableConv2D(4, 3, padding="same", name="sep")(cat)     # rf 9
    d4 = L.Dense(6, name="dense4d")(sep)                               # pointwise on 16x16 positions
    a = analyze_model(keras.Model(inp, d4))
    assert _row(a, "add").receptive_field == (7, 7)
    assert _row(a, "cat").receptive_field == (7, 7)
    assert _row(a, "grouped").macs == 16 * 16 * 9 * (8 // 4) * 8
    assert _row(a, "sep").macs == 16 * 16 * 9 * 16 + 16 * 16 * 16 * 4
    assert _row(a, "sep").receptive_field == (9, 9)
    assert _row(a, "dense4d").macs == 16 * 16 * 4 * 6
    assert _row(a, "dense4d").receptive_field == (9, 9)  # a 4-D Dense is a 1x1 conv: no change


class _Scale(L.Layer):
    """A custom layer analysis knows nothing about."""

    def build(self, shape):
        self.s = self.add_weight(name="s", shape=(shape[-1],))

    def call(self, x):
        return x * self.s


def test_nested_model_and_custom_layer():
    inner_in = keras.Input((8, 8, 4))
    inner = keras.Model(inner_in, L.Conv2D(4, 3, padding="same", name="ic")(inner_in), name="inner")
    inp = keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same", name="stem")(inp)
    x = inner(x)
    x = _Scale(name="scale")(x)
    x = L.Flatten(name="flat")(x)
    out = L.Dense(2, name="fc")(x)
    model = keras.Model(inp, out)
    a = analyze_model(model)
    names = [r.name for r in a.layers]
    assert "inner/ic" in names
    assert _row(a, "inner/ic").receptive_field == (5, 5)
    assert _row(a, "inner/ic").macs == 8 * 8 * 9 * 4 * 4
    assert (_row(a, "scale").macs, _row(a, "scale").params, _row(a, "scale").receptive_field) == (0, 4, (5, 5))
    assert _row(a, "fc").macs == 8 * 8 * 4 * 2
    assert a.params == model.count_params()
    assert a.macs == 8 * 8 * 9 * 3 * 4 + 8 * 8 * 9 * 4 * 4 + 256 * 2


def test_json_shape():
    inp = keras.Input((4, 4, 1))
    out = L.Dense(2, name="fc")(L.Flatten()(inp))
    j = analyze_model(keras.Model(inp, out, name="m")).as_json()
    assert set(j) >= {"name", "params", "macs", "input_shape", "layers"}
    assert j["name"] == "m" and j["params"] == 34 and j["macs"] == 32 and j["input_shape"] == [4, 4, 1]
    fc = j["layers"][-1]
    assert fc == {"name": "fc", "type": "Dense", "output_shape": [2], "params": 34, "macs": 32,
                  "receptive_field": 4, "receptive_field_hw": [4, 4], "jump": 1}


def test_subclassed_model_is_refused():
    class Sub(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(EdgecnnError, match="functional"):
        analyze_model(Sub())


def test_format_count():
    assert format_count(11_689_512) == "11.69 M"
    assert format_count(1_819_066_368) == "1.82 G"
    assert format_count(999) == "999"


def test_mobilenet_v2_matches_published():
    # MobileNetV2 paper, Table 3: 300 M multiply-adds, 3.4 M params (3,538,984 with the 1000-way head).
    m = keras.applications.MobileNetV2(weights=None)
    a = analyze_model(m)
    assert a.params == m.count_params() == 3_538_984
    assert a.macs == pytest.approx(300e6, rel=0.01)
    assert len(a.layers) == len(m.layers) - 1  # every layer but the InputLayer, once


def test_vgg16_receptive_field_and_macs():
    # Published: 15.47 G MACs (torchvision), RF 196 px at conv5_3 and 212 px at pool5.
    m = keras.applications.VGG16(weights=None)
    a = analyze_model(m)
    assert a.params == 138_357_544
    assert a.macs == pytest.approx(15.47e9, rel=0.005)
    assert _row(a, "block5_conv3").receptive_field == (196, 196)
    assert _row(a, "block5_pool").receptive_field == (212, 212)
    assert _row(a, "block5_pool").jump == (32, 32)


def test_pruned_and_quantized_models_keep_macs():
    from edgecnn._tf import tfmot

    # A Sequential model with an Input is a graph too.
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, padding="same", name="c"),
                              L.ReLU(name="r"), L.GlobalAveragePooling2D(name="g"), L.Dense(2, name="fc")])
    pruned = tfmot().sparsity.keras.prune_low_magnitude(model)
    quantized = tfmot().quantization.keras.quantize_model(model)
    a, b, q = analyze_model(model), analyze_model(pruned), analyze_model(quantized)
    assert b.macs == q.macs == a.macs == 8 * 8 * 9 * 4 + 8
    assert _row(b, "prune_low_magnitude_c").type == "PruneLowMagnitude(Conv2D)"
    assert _row(b, "prune_low_magnitude_c").receptive_field == (3, 3)
    assert _row(q, "quant_fc").type == "QuantizeWrapperV2(Dense)"
    assert _row(q, "quant_fc").receptive_field == (8, 8)
