"""Rewrite a user's functional tf_keras model into the form tfmot can prune and quantise, with the same outputs.

tfmot refuses most real-world graphs (tests/test_keras_rewrite.py::test_tfmot_refuses_the_original): raw TF ops on
Keras tensors (``x + 3`` becomes a ``TFOpLambda`` layer), models nested in models, preprocessing layers and custom
layers. Keras Applications has all of them: MobileNetV3's hard-swish is ``x * relu6(x + 3) * (1/6)`` in raw ops,
EfficientNet starts with Rescaling + Normalization, ConvNeXt nests its stem in a Sequential, adds its residuals
with ``+`` and has its own LayerScale layer. :func:`rewrite_for_tfmot` rebuilds such a model from layer objects,
the way edgecnn's zoo is built (edgecnn/zoo/blocks.py), in two passes over the graph:

1. **Layers** — every node in topological order, nested models inlined:

   ============================================================  ==============================================
   found                                                         becomes
   ============================================================  ==============================================
   a functional or Sequential model used as a layer               its layers, inlined
   ``relu6(x + 3) * (1/6)`` (raw ops + ReLU(6))                   HardSigmoid; ``x * HardSigmoid(x)`` → HardSwish
   ``a + b``, ``a - b``, ``a * b`` on two tensors (raw ops)       Add / Subtract / Multiply
   ``x + c``, ``x - c``, ``x * c``, ``x / c`` (scalar constant)   ScalarAffine
   ``tf.nn.relu``, ``relu6``, ``sigmoid``, ``swish``, ``tanh``    ReLU / Activation
   Keras Applications' ConvNeXt LayerScale, StochasticDepth       edgecnn LayerScale, Dropout of whole samples
   Conv2D with ``groups`` = its channels (ConvNeXt)               DepthwiseConv2D (same weights, transposed)
   Dense on a 4-D tensor (ConvNeXt)                               1×1 Conv2D (same weights)
   an activation inside a layer that tfmot cannot fake-quantise   a separate Activation layer
   ============================================================  ==============================================

2. **Preprocessing** — Rescaling/Normalization layers that directly follow the input are folded into the
   input scaling (``preprocess.json``'s ``scale``/``offset``) when they treat every channel alike; a
   per-channel one (ConvNeXt's ImageNet mean/std) becomes one frozen 1×1 DepthwiseConv2D (a per-channel
   ``x * a + b`` that tfmot and the int8 converter take). Elsewhere in the graph they become ScalarAffine or
   the same depthwise layer.

Every other layer is a fresh copy with the same weights. What cannot be rewritten — a raw TF op with no layer
equivalent, a subclassed model, a custom layer tfmot cannot take — raises :class:`EdgecnnError` naming the
layer. :func:`prepare_for_tfmot` runs both passes, checks on real images that the result computes what the
original did (max |difference| of the outputs) and says what changed.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from edgecnn.errors import EdgecnnError
from edgecnn.preprocess import PreprocessSpec, to_float_input

# The largest output difference the rewrite may cause (reassociated float32 arithmetic, e.g. a folded scale
# or a Dense run as a 1×1 conv, moves outputs by ~1e-6); anything above is a rewrite bug, not rounding.
OUTPUT_TOLERANCE = 1e-3
CHECK_IMAGES = 32

# Activations tfmot's QuantizeAwareActivation can fake-quantise inside a Conv2D/Dense/DepthwiseConv2D
# (tensorflow_model_optimization/.../quantize_aware_activation.py); others move to their own layer.
_TFMOT_INLINE_ACTIVATIONS = frozenset({"linear", "relu", "swish", "gelu", "softmax", "sigmoid", "tanh"})
_LAYERS_WITH_ACTIVATION = ("Conv2D", "DepthwiseConv2D", "Dense", "SeparableConv2D", "Conv2DTranspose")
_PREPROCESSING = ("Rescaling", "Normalization")

# Raw TF ops (TFOpLambda ``symbol``) by what they compute.
_BINARY_OPS = {"__operators__.add": "add", "math.add": "add", "math.add_n": "add",
               "math.subtract": "subtract", "__operators__.sub": "subtract",
               "math.multiply": "multiply", "__operators__.mul": "multiply",
               "math.truediv": "divide", "math.divide": "divide", "__operators__.truediv": "divide"}
_UNARY_OPS = {"nn.relu": ("ReLU", {}), "nn.relu6": ("ReLU", {"max_value": 6.0}),
              "math.sigmoid": ("Activation", {"activation": "sigmoid"}),
              "nn.sigmoid": ("Activation", {"activation": "sigmoid"}),
              "math.tanh": ("Activation", {"activation": "tanh"}), "nn.tanh": ("Activation", {"activation": "tanh"}),
              "nn.swish": ("Activation", {"activation": "swish"}), "nn.silu": ("Activation", {"activation": "swish"}),
              "nn.gelu": ("Activation", {"activation": "gelu"}),
              "nn.softmax": ("Activation", {"activation": "softmax"})}
_TENSOR_LAYER = {"add": "Add", "subtract": "Subtract", "multiply": "Multiply"}

Log = Callable[[str], None]


@dataclass
class Rewrite:
    """The rewritten model, the input scaling it expects, and what changed (``changes``: description → count)."""

    model: Any
    spec: PreprocessSpec
    changes: Counter = field(default_factory=Counter)
    max_abs_diff: float | None = None
    images_checked: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def notes(self) -> list[str]:
        lines = [f"{count}× {what}" if count > 1 else what for what, count in self.changes.items()]
        if self.max_abs_diff is not None:
            lines.append(f"same outputs as the original on {self.images_checked} images "
                         f"(max |difference| {self.max_abs_diff:.2g})")
        return lines


def _cannot(layer, what: str) -> EdgecnnError:
    return EdgecnnError(f"cannot prepare layer '{layer.name}' ({what}) for pruning/QAT: convert without --prune "
                        "and --qat (plain --int8 takes any graph the converter takes), or rebuild that part "
                        "from Keras layers")


def _is_keras_tensor(value: Any) -> bool:
    return hasattr(value, "_keras_history")


def _scalar(value: Any) -> float | None:
    """A Python/NumPy scalar (or 1-element array) as float, else None."""
    if _is_keras_tensor(value):
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 else None


class _GraphRebuilder:
    """Walks a functional model node by node and rebuilds it; ``layer_rule`` decides what each node becomes."""

    def __init__(self):
        from edgecnn._tf import keras

        self.keras = keras
        self.copies: dict[int, Any] = {}
        self.names: set[str] = set()
        self.reasons: dict[str, str] = {}  # new layer name → what it replaced (counted if it survives)

    # -- names and copies ---------------------------------------------------------------------------------

    def unique(self, name: str) -> str:
        base = "".join(c if c.isalnum() or c in "_-./" else "_" for c in name) or "layer"
        candidate, n = base, 1
        while candidate in self.names:
            n += 1
            candidate = f"{base}_{n}"
        self.names.add(candidate)
        return candidate

    def make(self, class_name: str, reason: str | None = None, **config: Any):
        """A new built-in (or edgecnn custom) layer; ``reason`` is reported if it ends up in the model."""
        from edgecnn.zoo import custom_layers

        cls = getattr(custom_layers, class_name, None) or getattr(self.keras.layers, class_name)
        config["name"] = self.unique(config.get("name") or class_name.lower())
        layer = cls(**config)
        if reason:
            self.reasons[layer.name] = reason
        return layer

    def copy(self, layer, prefix: str = ""):
        """A fresh layer with the same config (weights are set after its first call); shared layers stay shared."""
        if id(layer) in self.copies:
            return self.copies[id(layer)], False
        config = layer.get_config()
        name = layer.name if layer.name not in self.names else f"{prefix}{layer.name}"
        config["name"] = self.unique(name)
        new = layer.__class__.from_config(config)
        self.copies[id(layer)] = new
        return new, True

    def call_copy(self, layer, args, kwargs, prefix: str = ""):
        new, fresh = self.copy(layer, prefix)
        out = new(*args, **kwargs)
        if fresh:
            new.set_weights(layer.get_weights())
        return out

    # -- the walk -----------------------------------------------------------------------------------------

    def run(self, model, inputs: Sequence[Any], apply_node: Callable, prefix: str = "") -> list[Any]:
        """Rebuild ``model``'s graph on ``inputs`` (new tensors); returns its new outputs."""
        values: dict[int, Any] = {id(t): v for t, v in zip(model.inputs, inputs)}
        for depth in sorted(model._nodes_by_depth, reverse=True):
            for node in model._nodes_by_depth[depth]:
                if node.is_input:
                    continue
                if not all(id(t) in values for t in node.keras_inputs):
                    continue  # a node of another model that shares this layer
                args = _map(node.call_args, values)
                kwargs = {k: v for k, v in _map(node.call_kwargs, values).items() if k != "name"}
                outputs = apply_node(node, args, kwargs, prefix)
                for old, new in zip(_flatten(node.outputs), _flatten(outputs)):
                    values[id(old)] = new
        return [values[id(t)] for t in model.outputs]

    def finish(self, inputs, outputs, name: str):
        model = self.keras.Model(inputs, outputs, name=name)
        kept = {layer.name for layer in model.layers}
        changes = Counter(reason for layer_name, reason in self.reasons.items() if layer_name in kept)
        return model, changes


def _flatten(structure) -> list:
    from edgecnn._tf import tf

    return tf.nest.flatten(structure)


def _map(structure, values: dict[int, Any]):
    from edgecnn._tf import tf

    return tf.nest.map_structure(lambda v: values[id(v)] if _is_keras_tensor(v) else v, structure)


# ---- pass 1: layers ----------------------------------------------------------------------------------------

class _LayerPass:
    """Inline nested models; raw TF ops, foreign custom layers and awkward layer forms → tfmot-ready layers."""

    def __init__(self, rebuilder: _GraphRebuilder):
        self.rb = rebuilder
        self.keras = rebuilder.keras
        # id(new tensor) → (pattern, source tensor): how hard-sigmoid/hard-swish are recognised.
        self.origin: dict[int, tuple[str, Any]] = {}
        self.inlined: list[str] = []
        self.rules = {"TFOpLambda": self._raw_op, "ReLU": self._relu, "Multiply": self._multiply,
                      "GlobalAveragePooling2D": self._global_pool, "Reshape": self._reshape,
                      "LayerScale": self._layer_scale, "StochasticDepth": self._stochastic_depth,
                      "Conv2D": self._conv2d, "Dense": self._dense}

    def apply(self, node, args, kwargs, prefix):
        layer = node.layer
        if isinstance(layer, self.keras.Model):
            return self._inline(layer, args, kwargs, prefix)
        rule = self.rules.get(type(layer).__name__)
        if rule is not None:
            out = rule(layer, args, kwargs, prefix)
            if out is not None:
                return out
        self._check_known(layer)
        return self._with_split_activation(layer, args, kwargs, prefix)

    # -- nested models --

    def _inline(self, model, args, kwargs, prefix):
        if not getattr(model, "_is_graph_network", False):
            if type(model).__name__ == "Sequential":
                x = _flatten(args)[0]
                for inner in model.layers:
                    x = self.apply(_FakeNode(inner), (x,), {}, f"{prefix}{model.name}_")
                self._reason_inlined(model)
                return x
            raise _cannot(model, f"a subclassed {type(model).__name__} model")
        inputs = _flatten(args)
        if kwargs.get("training") is False:
            self._freeze_batch_norm(model)
        outputs = self.rb.run(model, inputs, self.apply, prefix=f"{prefix}{model.name}_")
        self._reason_inlined(model)
        return outputs[0] if len(outputs) == 1 else outputs

    def _reason_inlined(self, model) -> None:
        self.inlined.append(f"{type(model).__name__} '{model.name}'")

    def _freeze_batch_norm(self, model) -> None:
        """A model called with training=False keeps its BatchNorm in inference mode: after inlining, the same
        is had with trainable=False on its BatchNorm layers (Keras 2 runs them in inference mode then)."""
        for inner in model.layers:
            if type(inner).__name__ == "BatchNormalization":
                inner.trainable = False

    # -- raw TF ops --

    def _raw_op(self, layer, args, kwargs, prefix):
        symbol = getattr(layer, "symbol", "") or ""
        operands = _flatten(list(args)) + [v for k, v in kwargs.items() if k in ("x", "y")]
        if symbol in _BINARY_OPS:
            return self._binary(layer, _BINARY_OPS[symbol], operands, symbol)
        if symbol in _UNARY_OPS and len(operands) >= 1 and _is_keras_tensor(operands[0]):
            class_name, config = _UNARY_OPS[symbol]
            out = self.rb.make(class_name, f"raw op tf.{symbol} → {class_name}", name=_short(layer.name),
                               **config)(operands[0])
            if symbol == "nn.relu6" and self.origin.get(id(operands[0]), ("",))[0] == "plus3":
                self.origin[id(out)] = ("relu6_plus3", self.origin[id(operands[0])][1])
            return out
        raise _cannot(layer, f"raw TensorFlow op tf.{symbol or layer.name}, no Keras layer equivalent")

    def _binary(self, layer, op: str, operands: list, symbol: str):
        tensors = [v for v in operands if _is_keras_tensor(v)]
        constants = [v for v in operands if not _is_keras_tensor(v)]
        if len(tensors) >= 2 and not constants and op in _TENSOR_LAYER:
            if op == "multiply" and len(tensors) == 2:
                fused = self._hard_swish(tensors)
                if fused is not None:
                    return fused
            class_name = _TENSOR_LAYER[op]
            return self.rb.make(class_name, f"raw op tf.{symbol} on two tensors → {class_name}",
                                name=_short(layer.name))(tensors)
        if len(tensors) == 1 and len(constants) == 1 and _scalar(constants[0]) is not None:
            c = _scalar(constants[0])
            x = tensors[0]
            tensor_first = _is_keras_tensor(operands[0])
            if op == "divide" and not tensor_first:
                raise _cannot(layer, f"raw op tf.{symbol}: a constant divided by a tensor")
            scale, offset = {"add": (1.0, c), "multiply": (c, 0.0), "divide": (1.0 / c, 0.0),
                             "subtract": (1.0, -c) if tensor_first else (-1.0, c)}[op]
            source = self.origin.get(id(x))
            if op in ("multiply", "divide") and offset == 0.0 and abs(scale - 1.0 / 6.0) < 1e-6 \
                    and source and source[0] == "relu6_plus3":
                out = self.rb.make("HardSigmoid", "hard-sigmoid relu6(x + 3) / 6 in raw ops → HardSigmoid",
                                   name=f"{_short(layer.name)}_hard_sigmoid")(source[1])
                self.origin[id(out)] = ("hard_sigmoid", source[1])
                return out
            out = self.rb.make("ScalarAffine", f"raw op tf.{symbol} with a constant → ScalarAffine",
                               name=_short(layer.name), scale=scale, offset=offset)(x)
            if op == "add" and c == 3.0:
                self.origin[id(out)] = ("plus3", x)
            return out
        raise _cannot(layer, f"raw op tf.{symbol} on {len(tensors)} tensors and non-scalar constants")

    def _relu(self, layer, args, kwargs, prefix):
        x = _flatten(args)[0]
        out = self.rb.call_copy(layer, (x,), {}, prefix)
        is_relu6 = (layer.max_value is not None and float(layer.max_value) == 6.0
                    and not float(layer.negative_slope) and not float(layer.threshold))
        if is_relu6 and self.origin.get(id(x), ("",))[0] == "plus3":
            self.origin[id(out)] = ("relu6_plus3", self.origin[id(x)][1])
        return out

    def _hard_swish(self, tensors: list):
        for a, b in ((tensors[0], tensors[1]), (tensors[1], tensors[0])):
            source = self.origin.get(id(b))
            if source and source[0] == "hard_sigmoid" and source[1] is a:
                return self.rb.make("HardSwish", "hard-swish x * relu6(x + 3) / 6 → HardSwish",
                                    name="hard_swish")(a)
        return None

    def _multiply(self, layer, args, kwargs, prefix):
        tensors = _flatten(args)
        if len(tensors) == 2:
            return self._hard_swish(tensors)
        return None

    def _global_pool(self, layer, args, kwargs, prefix):
        x = _flatten(args)[0]
        out = self.rb.call_copy(layer, (x,), {}, prefix)
        if not getattr(layer, "keepdims", False):
            self.origin[id(out)] = ("pooled", x)
        return out

    def _reshape(self, layer, args, kwargs, prefix):
        """Squeeze-excite's pool → Reshape(1, 1, C) becomes a pool that keeps its dims: the Reshape of a
        dynamic batch converts to SHAPE/STRIDED_SLICE/PACK/RESHAPE ops that XNNPACK does not take."""
        x = _flatten(args)[0]
        source = self.origin.get(id(x))
        if not source or source[0] != "pooled" or tuple(layer.target_shape) != (1, 1, int(x.shape[-1])):
            return None
        return self.rb.make("GlobalAveragePooling2D", "pool → Reshape(1, 1, C) → pool keeping its dims",
                            name=layer.name, keepdims=True)(source[1])

    # -- Keras Applications' custom layers --

    def _layer_scale(self, layer, args, kwargs, prefix):
        if type(layer).__module__.startswith("edgecnn"):
            return None
        gamma = [w for w in layer.get_weights()]
        if len(gamma) != 1 or gamma[0].ndim != 1:
            return None
        new = self.rb.make("LayerScale", "Keras Applications LayerScale → edgecnn LayerScale (prunable, QAT-able)",
                           name=layer.name, init_value=float(getattr(layer, "init_values", 1e-6)))
        out = new(_flatten(args)[0])
        new.set_weights(gamma)
        return out

    def _stochastic_depth(self, layer, args, kwargs, prefix):
        rate = float(getattr(layer, "drop_path_rate", 0.0))
        # Drop-path of whole samples with 1/keep rescaling is exactly Dropout with noise_shape (batch, 1, 1, 1).
        x = _flatten(args)[0]
        noise = (None,) + (1,) * (len(x.shape) - 1)
        return self.rb.make("Dropout", "StochasticDepth → Dropout of whole samples", name=layer.name, rate=rate,
                            noise_shape=noise)(x)

    # -- layer forms --

    def _conv2d(self, layer, args, kwargs, prefix):
        x = _flatten(args)[0]
        channels = int(x.shape[-1])
        groups = int(getattr(layer, "groups", 1))
        if groups == 1 or not (groups == channels == layer.filters):
            return None
        weights = layer.get_weights()
        new = self.rb.make("DepthwiseConv2D", "Conv2D with groups = channels → DepthwiseConv2D",
                           name=layer.name, kernel_size=layer.kernel_size, strides=layer.strides,
                           padding=layer.padding, dilation_rate=layer.dilation_rate, use_bias=layer.use_bias)
        out = new(x)
        new.set_weights([np.transpose(weights[0], (0, 1, 3, 2)), *weights[1:]])
        return self._activation_after(layer, out)

    def _dense(self, layer, args, kwargs, prefix):
        x = _flatten(args)[0]
        if len(x.shape) != 4:
            return None
        weights = layer.get_weights()
        new = self.rb.make("Conv2D", "Dense on a 4-D tensor → 1×1 Conv2D", name=layer.name, filters=layer.units,
                           kernel_size=1, use_bias=layer.use_bias)
        out = new(x)
        new.set_weights([weights[0].reshape(1, 1, *weights[0].shape), *weights[1:]])
        return self._activation_after(layer, out)

    def _activation_after(self, layer, out):
        name = _activation_name(layer)
        if name in ("linear", None):
            return out
        return self.rb.make("Activation", None, name=f"{layer.name}_{name}", activation=layer.activation)(out)

    def _with_split_activation(self, layer, args, kwargs, prefix):
        """Copy the layer; an activation tfmot cannot fake-quantise inside it moves to its own layer."""
        name = _activation_name(layer)
        if type(layer).__name__ not in _LAYERS_WITH_ACTIVATION or name in _TFMOT_INLINE_ACTIVATIONS or name is None:
            return self.rb.call_copy(layer, args, kwargs, prefix)
        config = layer.get_config()
        config.update(activation="linear", name=self.rb.unique(layer.name))
        new = layer.__class__.from_config(config)
        out = new(*args, **kwargs)
        new.set_weights(layer.get_weights())
        self.rb.copies[id(layer)] = new
        return self.rb.make("Activation", f"activation {name} inside a layer → its own Activation layer",
                            name=f"{layer.name}_{name}", activation=layer.activation)(out)

    def _check_known(self, layer) -> None:
        """Layers of tf_keras and edgecnn pass; a foreign custom layer cannot be cloned by tfmot."""
        module = type(layer).__module__
        if module.startswith(("tf_keras", "keras", "edgecnn", "tensorflow")):
            return
        raise _cannot(layer, f"custom layer {type(layer).__name__} from {module}")


class _FakeNode:
    """A Sequential without a graph: each layer applied in turn, as a node would be."""

    def __init__(self, layer):
        self.layer = layer


def _short(name: str) -> str:
    return name.replace("tf.__operators__.", "").replace("tf.math.", "").replace("tf.nn.", "").replace(".", "_")


def _activation_name(layer) -> str | None:
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", type(activation).__name__)


# ---- pass 2: preprocessing -----------------------------------------------------------------------------------

def affine_of(layer) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) such that the Rescaling/Normalization ``layer`` computes ``x * a + b`` (per channel, float64)."""
    kind = type(layer).__name__
    if kind == "Rescaling":
        scale = np.asarray(layer.scale, dtype=np.float64).reshape(-1)
        offset = np.asarray(layer.offset, dtype=np.float64).reshape(-1)
        return scale, offset
    if kind == "Normalization":
        axis = tuple(layer.axis) if isinstance(layer.axis, (tuple, list)) else (layer.axis,)
        if axis not in ((-1,), (3,)):
            raise _cannot(layer, f"Normalization over axis {axis}")
        from edgecnn._tf import keras

        mean = np.asarray(layer.mean, dtype=np.float64).reshape(-1)
        std = np.maximum(np.sqrt(np.asarray(layer.variance, dtype=np.float64).reshape(-1)), keras.backend.epsilon())
        if getattr(layer, "invert", False):
            return std, mean
        return 1.0 / std, -mean / std
    raise ValueError(kind)


def _compose(first: tuple[np.ndarray, np.ndarray], then: tuple[np.ndarray, np.ndarray]):
    (a1, b1), (a2, b2) = first, then
    return a1 * a2, b1 * a2 + b2


def _uniform(values: np.ndarray) -> bool:
    return bool(np.all(values == values.reshape(-1)[0]))


class _PreprocessPass:
    """Fold input preprocessing into the input scaling; turn any other Rescaling/Normalization into layers."""

    def __init__(self, rebuilder: _GraphRebuilder, model, spec: PreprocessSpec):
        self.rb = rebuilder
        self.spec = spec
        self.chain = _input_chain(model)
        self.chain_ids = {id(layer) for layer in self.chain}
        self.folded: str | None = None

    def apply(self, node, args, kwargs, prefix):
        layer = node.layer
        if id(layer) in self.chain_ids:
            return self._chain_step(layer, _flatten(args)[0])
        if type(layer).__name__ in _PREPROCESSING:
            a, b = affine_of(layer)
            return self._affine_layer(layer.name, a, b, _flatten(args)[0], type(layer).__name__)
        return self.rb.call_copy(layer, args, kwargs, prefix)

    def _chain_step(self, layer, x):
        if layer is not self.chain[-1]:
            return x  # nothing else reads the chain's intermediate tensors (checked in _input_chain)
        a, b = np.ones(1), np.zeros(1)
        for step in self.chain:
            a, b = _compose((a, b), affine_of(step))
        names = " + ".join(f"{type(step).__name__} '{step.name}'" for step in self.chain)
        if _uniform(a) and _uniform(b):
            old_scale, old_offset = float(self.spec.scale), float(self.spec.offset)
            a0, b0 = float(a.reshape(-1)[0]), float(b.reshape(-1)[0])
            self.spec = replace(self.spec, scale=old_scale * a0, offset=old_offset * a0 + b0)
            self.folded = (f"{names} moved into the input scaling (preprocess.json): input = pixel × "
                           f"{self.spec.scale:.6g} + {self.spec.offset:.6g} (was × {old_scale:.6g} + {old_offset:.6g})")
            return x
        return self._affine_layer(layer.name, a, b, x, names, at_input=True)

    def _affine_layer(self, name: str, a: np.ndarray, b: np.ndarray, x, what: str, at_input: bool = False):
        channels = int(x.shape[-1])
        if _uniform(a) and _uniform(b):
            return self.rb.make("ScalarAffine", f"{what} → ScalarAffine", name=name,
                                scale=float(a.reshape(-1)[0]), offset=float(b.reshape(-1)[0]))(x)
        if len(x.shape) != 4:
            raise EdgecnnError(f"cannot prepare layer '{name}' ({what} per channel on a {len(x.shape)}-D tensor) "
                               "for pruning/QAT: convert without --prune and --qat")
        a = np.broadcast_to(a, (channels,))
        b = np.broadcast_to(b, (channels,))
        where = "input " if at_input else ""
        layer = self.rb.make("DepthwiseConv2D", f"{where}per-channel {what} → a frozen 1×1 DepthwiseConv2D "
                             "(x × a + b per channel)", name=f"{name}_affine", kernel_size=1, use_bias=True,
                             trainable=False)
        out = layer(x)
        layer.set_weights([a.reshape(1, 1, channels, 1), b])
        return out


def _input_chain(model) -> list:
    """The Rescaling/Normalization layers that follow the single input, each the only reader of its input."""
    readers: dict[int, list] = {}
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            if node.is_input:
                continue
            for tensor in node.keras_inputs:
                readers.setdefault(id(tensor), []).append(node)
    outputs = {id(t) for t in model.outputs}
    chain = []
    tensor = model.inputs[0]
    while id(tensor) not in outputs:
        nodes = readers.get(id(tensor), [])
        if len(nodes) != 1 or type(nodes[0].layer).__name__ not in _PREPROCESSING:
            break
        if len(nodes[0].layer._inbound_nodes) != 1:
            break  # a shared preprocessing layer: leave it to the per-layer rule
        chain.append(nodes[0].layer)
        tensor = _flatten(nodes[0].outputs)[0]
    return chain


# ---- public API ----------------------------------------------------------------------------------------------

def input_preprocessing(model) -> str | None:
    """The preprocessing layers the input goes through first (e.g. "Rescaling 'rescaling'"), looking into a
    nested model that reads the input; None when the model starts with something else."""
    found: list[str] = []
    while True:
        readers = [node for node in model.inputs[0].node.layer._outbound_nodes]
        if len(model.inputs) != 1 or len(readers) != 1:
            break
        layer = readers[0].layer
        if isinstance(layer, _keras_model_class()) and getattr(layer, "_is_graph_network", False):
            model = layer
            continue
        if type(layer).__name__ in _PREPROCESSING:
            found.append(f"{type(layer).__name__} '{layer.name}'")
        break
    return " + ".join(found) or None


def _keras_model_class():
    from edgecnn._tf import keras

    return keras.Model


def needs_rewrite(model) -> bool:
    """True when the graph has something tfmot refuses (or that is worth changing) for pruning/QAT."""
    return bool(_rewrite_layers(model)[1]) or bool(_input_chain(model)) or any(
        type(layer).__name__ in _PREPROCESSING for layer in model.layers)


def _rewrite_layers(model):
    rb = _GraphRebuilder()
    layer_pass = _LayerPass(rb)
    inputs = [rb.keras.Input(shape=tuple(t.shape[1:]), name=rb.unique(t.name.split(":")[0].split("/")[0]),
                             dtype=t.dtype) for t in model.inputs]
    outputs = rb.run(model, inputs, layer_pass.apply)
    flat, changes = rb.finish(inputs, outputs, model.name)
    for what in layer_pass.inlined:
        changes[f"nested model {what} inlined"] += 1
    return flat, changes


def rewrite_for_tfmot(model, spec: PreprocessSpec) -> Rewrite:
    """Rebuild ``model`` from layers tfmot accepts (module docstring); ``spec`` is the model's input scaling.

    Returns a :class:`Rewrite` with the new model, the input scaling it expects (differs from ``spec`` only when
    input preprocessing layers were folded into it) and what changed; ``model`` itself is left as it was.
    """
    if len(model.inputs) != 1:
        raise EdgecnnError("cannot prepare a model with several inputs for pruning/QAT")
    flat, changes = _rewrite_layers(model)
    rb = _GraphRebuilder()
    pre = _PreprocessPass(rb, flat, spec)
    inputs = [rb.keras.Input(shape=tuple(flat.inputs[0].shape[1:]), name=flat.inputs[0].name.split(":")[0],
                             dtype=flat.inputs[0].dtype)]
    rb.names.add(inputs[0].name)
    outputs = rb.run(flat, inputs, pre.apply)
    final, more = rb.finish(inputs, outputs, model.name)
    changes.update(more)
    if pre.folded:
        changes[pre.folded] += 1
    return Rewrite(final, pre.spec, changes)


def prepend_input_affine(model, a: np.ndarray, b: np.ndarray, *, in_channels: int, name: str):
    """``model`` behind a frozen 1×1 DepthwiseConv2D computing ``x × a + b`` per channel (from one grey channel,
    ``depth_multiplier`` makes as many channels as ``a`` has). Weights are copied; ``model`` is unchanged."""
    rb = _GraphRebuilder()
    channels = len(a)
    inp = rb.keras.Input(shape=(*tuple(model.inputs[0].shape[1:3]), in_channels),
                         name=rb.unique(model.inputs[0].name.split(":")[0]))
    multiplier = channels if in_channels == 1 else 1
    if in_channels * multiplier != channels or int(model.inputs[0].shape[-1]) != channels:
        raise ValueError(f"{in_channels} input channels cannot become {channels} for {model.name}")
    layer = rb.make("DepthwiseConv2D", None, name=name, kernel_size=1, depth_multiplier=multiplier, use_bias=True,
                    trainable=False)
    x = layer(inp)
    layer.set_weights([np.asarray(a).reshape(1, 1, in_channels, multiplier), np.asarray(b).reshape(-1)])
    outputs = rb.run(model, [x], lambda node, args, kwargs, prefix: rb.call_copy(node.layer, args, kwargs))
    return rb.keras.Model(inp, outputs, name=model.name)


def max_output_difference(original, original_spec: PreprocessSpec, rewritten, rewritten_spec: PreprocessSpec,
                          images: np.ndarray) -> float:
    """max |original(x) - rewritten(x')| over ``images`` (uint8 NHWC), each model fed with its own scaling."""
    a = original(to_float_input(images, original_spec), training=False)
    b = rewritten(to_float_input(images, rewritten_spec), training=False)
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def prepare_for_tfmot(model, spec: PreprocessSpec, images: np.ndarray | None, log: Log | None = None,
                      tolerance: float = OUTPUT_TOLERANCE) -> Rewrite:
    """:func:`rewrite_for_tfmot`, checked on real ``images`` (uint8, adapted to ``spec``) and logged.

    A model that needs nothing comes back unchanged (the same object). Raises EdgecnnError when the rewritten
    model's outputs differ from the original's by more than ``tolerance``.
    """
    result = rewrite_for_tfmot(model, spec)
    if not result.changed:
        return Rewrite(model, spec)
    if images is not None and len(images):
        batch = np.asarray(images[:CHECK_IMAGES])
        result.max_abs_diff = max_output_difference(model, spec, result.model, result.spec, batch)
        result.images_checked = len(batch)
        if not result.max_abs_diff <= tolerance:
            raise EdgecnnError(f"rewriting {model.name} for pruning/QAT changed its outputs (max |difference| "
                               f"{result.max_abs_diff:.3g} on {len(batch)} images): please report this; convert "
                               "without --prune/--qat meanwhile")
    if log:
        log(f"rewrote {model.name} into layers tfmot can prune and quantise: " + "; ".join(result.notes()))
    return result
