"""Per-layer parameters, multiply-accumulates and receptive field of a tf_keras functional model.

``analyze_model(model)`` walks the model's graph (a DAG: branches, residual adds, concatenations, nested
models, tfmot wrappers) node by node and reports, for each layer call, its output shape, weights, MACs
and receptive field. MACs follow the convention of the papers, for ONE image (batch excluded):

- ``Conv2D``: H_out·W_out·k_h·k_w·(C_in/groups)·C_out (bias adds are not counted)
- ``DepthwiseConv2D``: H_out·W_out·k_h·k_w·C_in·depth_multiplier
- ``SeparableConv2D``: its depthwise part plus its 1×1 pointwise part
- ``Conv2DTranspose``: H_in·W_in·k_h·k_w·C_in·C_out
- ``Dense``: inputs·units, times the spatial positions when applied to a 4-D tensor
- everything else (BN, activations, pooling, adds, custom layers): 0

Receptive field (RF) is tracked per spatial axis in input pixels with the usual recurrence
``rf_out = rf_in + (k_eff - 1)·jump_in`` and ``jump_out = jump_in·stride`` (k_eff = dilation·(k-1)+1),
where "jump" is the distance in input pixels between neighbouring outputs. Where branches meet, the
largest inbound RF wins. Global pooling and a Dense on a flat vector see the whole input, so their RF is
at least the input size. Theoretical RFs can exceed the input (Keras' ResNet50 reaches 483 px at 224 px input).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from edgecnn._tf import keras, tf
from edgecnn.errors import EdgecnnError

_L = keras.layers


@dataclass
class LayerInfo:
    """One layer call in the graph."""

    name: str
    type: str
    output_shape: tuple[int | None, ...]   # without the batch axis
    params: int                             # all weights, trainable or not
    macs: int
    receptive_field: tuple[int, int]        # (height, width) in input pixels
    jump: tuple[float, float]               # (height, width) input pixels between neighbouring outputs

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["output_shape"] = list(self.output_shape)
        # One number each for the common square case; both axes kept for non-square kernels.
        d["receptive_field"] = max(self.receptive_field)
        d["receptive_field_hw"] = list(self.receptive_field)
        d["jump"] = _int_if_whole(max(self.jump))
        return d


@dataclass
class ModelAnalysis:
    """Totals and per-layer rows for one model; ``macs`` is for one image."""

    name: str
    params: int
    trainable_params: int
    macs: int
    input_shape: tuple[int | None, ...]
    layers: list[LayerInfo] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "macs": self.macs,
            "input_shape": list(self.input_shape),
            "layers": [layer.as_json() for layer in self.layers],
        }


@dataclass(frozen=True)
class _RF:
    """Receptive field state of one tensor: size and jump per spatial axis."""

    rf: tuple[float, float] = (1, 1)
    jump: tuple[float, float] = (1, 1)


def analyze_model(model: Any) -> ModelAnalysis:
    """Analyse a built tf_keras functional (or Sequential-with-Input) model; see the module docstring."""
    if not getattr(model, "_is_graph_network", False):
        raise EdgecnnError(
            f"cannot analyse {type(model).__name__} '{getattr(model, 'name', '?')}': only functional tf_keras "
            "models (or Sequential models with an Input) have a graph to walk"
        )
    input_shape = tuple(model.inputs[0].shape[1:])
    whole = tuple(float(v) for v in input_shape[:2] if v is not None)
    whole_input = (whole[0], whole[1]) if len(whole) == 2 else None
    rows: list[LayerInfo] = []
    states = {id(t): _RF() for t in model.inputs}
    _walk(model, states, rows, prefix="", whole_input=whole_input)
    trainable = int(sum(int(math.prod(w.shape)) for w in model.trainable_weights))
    return ModelAnalysis(
        name=model.name,
        params=int(model.count_params()),
        trainable_params=trainable,
        macs=int(sum(r.macs for r in rows)),
        input_shape=input_shape,
        layers=rows,
    )


def _walk(model: Any, states: dict[int, _RF], rows: list[LayerInfo], prefix: str,
          whole_input: tuple[float, float] | None) -> None:
    """Visit the model's nodes from inputs to outputs, filling ``states`` (tensor id → RF) and ``rows``."""
    calls: dict[str, int] = {}
    for depth in sorted(model._nodes_by_depth, reverse=True):  # deepest = inputs come first
        for node in model._nodes_by_depth[depth]:
            layer = node.layer
            inputs = tf.nest.flatten(node.keras_inputs)
            outputs = tf.nest.flatten(node.outputs)
            if isinstance(layer, _L.InputLayer):
                for t in outputs:
                    states.setdefault(id(t), _RF())
                continue
            in_states = [states.get(id(t), _RF()) for t in inputs]
            if getattr(layer, "_is_graph_network", False):
                # A nested model: map its inputs to our states, expand its layers with a prefix.
                for inner_t, outer in zip(tf.nest.flatten(layer.inputs), in_states):
                    states[id(inner_t)] = outer
                _walk(layer, states, rows, prefix=f"{prefix}{layer.name}/", whole_input=whole_input)
                for inner_t, outer_t in zip(tf.nest.flatten(layer.outputs), outputs):
                    states[id(outer_t)] = states.get(id(inner_t), _RF())
                continue
            merged = max(in_states, key=lambda s: max(s.rf), default=_RF())
            core = _unwrap(layer)
            out_state = _propagate(core, merged, inputs, outputs, whole_input)
            for t in outputs:
                states[id(t)] = out_state
            count = calls.get(layer.name, 0) + 1
            calls[layer.name] = count
            name = prefix + layer.name + (f"#{count}" if count > 1 else "")
            out_shape = tuple(outputs[0].shape[1:]) if outputs else ()
            rows.append(LayerInfo(
                name=name,
                type=type(layer).__name__ if core is layer else f"{type(layer).__name__}({type(core).__name__})",
                output_shape=out_shape,
                params=int(layer.count_params()) if count == 1 else 0,  # shared weights counted once
                macs=_macs(core, inputs, outputs),
                receptive_field=(int(math.ceil(out_state.rf[0])), int(math.ceil(out_state.rf[1]))),
                jump=out_state.jump,
            ))


def _unwrap(layer: Any) -> Any:
    """The layer inside tfmot's PruneLowMagnitude/QuantizeWrapper (any keras Wrapper), else the layer."""
    while isinstance(getattr(layer, "layer", None), _L.Layer) and isinstance(layer, _L.Wrapper):
        layer = layer.layer
    return layer


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    value = tuple(value)
    return (value[0], value[0]) if len(value) == 1 else (value[0], value[1])


def _propagate(layer: Any, state: _RF, inputs: list, outputs: list,
               whole_input: tuple[float, float] | None) -> _RF:
    """The RF state after ``layer`` given the (largest) inbound state."""

    def whole(s: _RF) -> _RF:
        if whole_input is None:
            return s
        return _RF((max(s.rf[0], whole_input[0]), max(s.rf[1], whole_input[1])), s.jump)

    if isinstance(layer, _L.Conv2DTranspose):
        strides = _pair(layer.strides)
        k = _pair(layer.kernel_size)
        rf = tuple(state.rf[i] + (k[i] - 1) * state.jump[i] / strides[i] for i in range(2))
        return _RF(rf, tuple(state.jump[i] / strides[i] for i in range(2)))
    if isinstance(layer, _L.Conv2D) or isinstance(layer, (_L.DepthwiseConv2D, _L.SeparableConv2D)):
        return _slide(state, _pair(layer.kernel_size), _pair(layer.strides), _pair(layer.dilation_rate))
    if isinstance(layer, (_L.MaxPooling2D, _L.AveragePooling2D)):
        return _slide(state, _pair(layer.pool_size), _pair(layer.strides), (1, 1))
    if isinstance(layer, (_L.GlobalAveragePooling2D, _L.GlobalMaxPooling2D)):
        return whole(state)
    if isinstance(layer, _L.UpSampling2D):
        size = _pair(layer.size)
        return _RF(state.rf, (state.jump[0] / size[0], state.jump[1] / size[1]))
    if isinstance(layer, _L.Dense) and inputs and len(inputs[0].shape) == 2:
        return whole(state)  # a Dense on a vector mixes every position of the image
    return state


def _slide(state: _RF, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int]) -> _RF:
    rf = tuple(state.rf[i] + (d[i] * (k[i] - 1)) * state.jump[i] for i in range(2))
    return _RF(rf, (state.jump[0] * s[0], state.jump[1] * s[1]))


def _dims(shape: Any) -> list[int]:
    """Shape without batch as ints; unknown sizes count as 0 (no MACs can be claimed for them)."""
    return [int(v) if v is not None else 0 for v in tuple(shape)[1:]]


def _macs(layer: Any, inputs: list, outputs: list) -> int:
    """Multiply-accumulates of one call of ``layer`` for one image (see the module docstring)."""
    if not inputs or not outputs:
        return 0
    in_shape, out_shape = _dims(inputs[0].shape), _dims(outputs[0].shape)
    if isinstance(layer, _L.SeparableConv2D):
        kh, kw = _pair(layer.kernel_size)
        c_in = in_shape[-1]
        mult = int(layer.depth_multiplier)
        positions = math.prod(out_shape[:-1])
        return positions * kh * kw * c_in * mult + positions * c_in * mult * out_shape[-1]
    if isinstance(layer, _L.DepthwiseConv2D):
        kh, kw = _pair(layer.kernel_size)
        return math.prod(out_shape[:-1]) * kh * kw * in_shape[-1] * int(layer.depth_multiplier)
    if isinstance(layer, _L.Conv2DTranspose):
        kh, kw = _pair(layer.kernel_size)
        return math.prod(in_shape[:-1]) * kh * kw * in_shape[-1] * out_shape[-1]
    if isinstance(layer, (_L.Conv1D, _L.Conv2D, _L.Conv3D)):
        # Conv1D/Conv3D follow the same rule with their own kernel rank.
        kernel = math.prod(tuple(layer.kernel_size))
        groups = int(getattr(layer, "groups", 1) or 1)
        return math.prod(out_shape[:-1]) * kernel * (in_shape[-1] // groups) * out_shape[-1]
    if isinstance(layer, _L.Dense):
        return math.prod(in_shape[:-1]) * in_shape[-1] * out_shape[-1]
    return 0


def _int_if_whole(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def format_count(n: int | float | None, unit: str = "") -> str:
    """Human count: 1,234 → '1.23 K', 11,689,512 → '11.69 M', 1.82e9 → '1.82 G'."""
    if n is None:
        return "-"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= size:
            return f"{n / size:.2f} {suffix}{unit}"
    return f"{int(n)}{(' ' + unit) if unit else ''}"
