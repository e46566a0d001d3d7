"""Make the small real .tflite files in tests/data that the runtime-half tests use (run once, commit the output).

    python tools/make_test_models.py            # writes tests/data/tiny_cnn_*.tflite

Needs the [train] extra (TensorFlow). The runtime tests themselves never import TensorFlow.

The model (28×28×1 Fashion-MNIST, input = pixel/255, pad resize, 10 classes) is known layer by layer so
tests can check op counts, parameters and MACs by hand:

    conv1  Conv2D(8, 3×3, stride 2, same, relu)   28×28×1 → 14×14×8    params 80    MACs 14·14·8·9    = 14,112
    dw     DepthwiseConv2D(3×3, same, relu)        14×14×8 → 14×14×8    params 80    MACs 14·14·8·9    = 14,112
    pw     Conv2D(16, 1×1, relu)                   14×14×8 → 14×14×16   params 144   MACs 14·14·16·8   = 25,088
    pool   MaxPool2D(2)                            → 7×7×16
    gap    GlobalAveragePooling2D                  → 16
    fc     Dense(10, softmax)                                           params 170   MACs 160
    total params 474, MACs 53,472

Files written:
- tiny_cnn_float32.tflite  float32, trained for a few epochs on 6,000 Fashion-MNIST images (~65% accuracy)
- tiny_cnn_int8.tflite     the same weights, full int8 with int8 input/output
- tiny_cnn_custom_op.tflite the float32 model with its SOFTMAX turned into a custom op "EdgecnnNoSuchOp" that no
                           runtime has (a valid flatbuffer the interpreter cannot run)
- tiny_sparse.tflite       6×6×4 → Conv2D(8, 3×3) → Flatten → Dense(16), 80% of the weights zero, stored in
                           TFLite's sparse format (DENSIFY ops)
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data"


def _idx(name: str) -> np.ndarray:
    """One idx file of Fashion-MNIST, found and validated as `edgecnn train` finds it (Debian's package here)."""
    from edgecnn.data import find_fashion_mnist, read_idx

    folder = find_fashion_mnist()
    if folder is None:
        raise SystemExit("Fashion-MNIST not found: apt-get install dataset-fashion-mnist (or set EDGECNN_DATA)")
    return read_idx(folder / name)


def build_and_train(seed: int = 0):
    sys.path.insert(0, str(ROOT))
    from edgecnn._tf import keras, tf

    tf.random.set_seed(seed)
    np.random.seed(seed)
    layers = keras.layers
    inp = keras.Input((28, 28, 1), name="image")
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv1")(inp)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(x)
    x = layers.Conv2D(16, 1, activation="relu", name="pw")(x)
    x = layers.MaxPool2D(2, name="pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    out = layers.Dense(10, activation="softmax", name="fc")(x)
    model = keras.Model(inp, out, name="tiny_cnn")
    assert model.count_params() == 474, model.count_params()

    x_train = _idx("train-images-idx3-ubyte.gz")[:6000, :, :, None].astype(np.float32) / 255.0
    y_train = _idx("train-labels-idx1-ubyte.gz")[:6000].astype(np.int64)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=15, batch_size=64, verbose=2)
    return model, x_train


def convert(model, x_train) -> tuple[bytes, bytes]:
    from edgecnn._tf import tf

    float_model = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]

    def representative():
        for i in range(0, 200):
            yield [x_train[i:i + 1]]

    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return float_model, conv.convert()


def with_custom_op(model_bytes: bytes) -> bytes:
    """Turn the SOFTMAX into a custom op no runtime registers (TF-free flatbuffer edit)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))
    for code in model.operatorCodes:
        if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.SOFTMAX:
            code.builtinCode = schema.BuiltinOperator.CUSTOM
            code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
            code.customCode = "EdgecnnNoSuchOp"
    for op in model.subgraphs[0].operators:
        if max(model.operatorCodes[op.opcodeIndex].builtinCode,
               model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode) == schema.BuiltinOperator.CUSTOM:
            op.builtinOptionsType = 0
            op.builtinOptions = None
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def sparse_model(seed: int = 0) -> bytes:
    """A small conv + dense model with 80% zero weights, converted with TFLite's sparse weight format
    (``Optimize.EXPERIMENTAL_SPARSITY``: weights stored compressed, DENSIFY ops in front)."""
    from edgecnn._tf import keras, tf

    rng = np.random.default_rng(seed)
    inp = keras.Input((6, 6, 4), name="x")
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inp)
    x = keras.layers.Flatten(name="flat")(x)
    out = keras.layers.Dense(16, name="fc")(x)
    model = keras.Model(inp, out, name="tiny_sparse")
    for layer in model.layers:
        if layer.weights:
            weights = layer.get_weights()
            weights[0][rng.random(weights[0].shape) < 0.8] = 0.0
            layer.set_weights(weights)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    return conv.convert()


def main() -> None:
    model, x_train = build_and_train()
    float_bytes, int8_bytes = convert(model, x_train)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "tiny_cnn_float32.tflite").write_bytes(float_bytes)
    (OUT / "tiny_cnn_int8.tflite").write_bytes(int8_bytes)
    (OUT / "tiny_cnn_custom_op.tflite").write_bytes(with_custom_op(float_bytes))
    (OUT / "tiny_sparse.tflite").write_bytes(sparse_model())
    for name in ("tiny_cnn_float32", "tiny_cnn_int8", "tiny_cnn_custom_op", "tiny_sparse"):
        print(f"{name}.tflite: {(OUT / f'{name}.tflite').stat().st_size} bytes")


if __name__ == "__main__":
    main()
