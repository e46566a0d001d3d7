"""The model registry: every family file registers its builders here with the paper's numbers.

A builder is a plain functional tf_keras builder ``fn(input_shape, num_classes, **knobs) -> keras.Model``.
The registry knows, for each name, the canonical (paper) configuration, the published parameter count and
multiply-accumulates there, the default small configuration for training on small images, and the smallest
input the builder accepts. It has no TensorFlow import of its own.
"""
from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from edgecnn.errors import UsageError, closest_names

IMAGENET_INPUT = (224, 224, 3)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    builder: Callable[..., Any]
    paper: str
    published_params: int | None
    published_macs: int | None
    canonical_input: tuple[int, int, int] = IMAGENET_INPUT
    canonical_classes: int = 1000
    small_input: tuple[int, int, int] = (32, 32, 1)
    min_input: int = 32
    aliases: tuple[str, ...] = ()
    knobs: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, ModelSpec] = {}
_ALIASES: dict[str, str] = {}


def register_model(
    name: str,
    *,
    family: str,
    paper: str,
    params: int | None,
    macs: int | None,
    canonical_input: tuple[int, int, int] = IMAGENET_INPUT,
    canonical_classes: int = 1000,
    small_input: tuple[int, int, int] = (32, 32, 1),
    min_input: int = 32,
    aliases: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator that registers a builder under ``name`` (and ``aliases``)."""

    def decorate(builder: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY or name in _ALIASES:
            raise ValueError(f"model name registered twice: {name}")
        signature = inspect.signature(builder)
        knobs = {
            p.name: p.default
            for p in signature.parameters.values()
            if p.name not in ("input_shape", "num_classes") and p.default is not inspect.Parameter.empty
        }
        _REGISTRY[name] = ModelSpec(
            name=name, family=family, builder=builder, paper=paper,
            published_params=params, published_macs=macs,
            canonical_input=tuple(canonical_input), canonical_classes=canonical_classes,
            small_input=tuple(small_input), min_input=min_input, aliases=tuple(aliases), knobs=knobs,
        )
        for alias in aliases:
            _ALIASES[alias] = name
        return builder

    return decorate


def _ensure_loaded() -> None:
    # Family modules register themselves on import; importing the zoo package imports them all.
    import edgecnn.zoo  # noqa: F401


def resolve_name(name: str) -> str:
    """The registered name for ``name`` or an alias of it; unknown names raise a UsageError."""
    _ensure_loaded()
    key = name.strip().lower().replace("-", "_")
    if key in _REGISTRY:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    candidates = sorted(_REGISTRY) + sorted(_ALIASES)
    close = closest_names(key, candidates)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UsageError(f"unknown model '{name}'{hint} (see `edgecnn models`)")


def get_spec(name: str) -> ModelSpec:
    return _REGISTRY[resolve_name(name)]


def list_models(pattern: str = "*") -> list[str]:
    """Registered names (not aliases) matching a glob pattern, in registration order."""
    _ensure_loaded()
    return [n for n in _REGISTRY if fnmatch.fnmatch(n, pattern)]


def all_aliases() -> dict[str, str]:
    _ensure_loaded()
    return dict(_ALIASES)


def create_model(
    name: str,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    weights: str | None = None,
    **knobs: Any,
):
    """Build a registered model. Defaults are the canonical (paper) configuration.

    ``weights``: a Keras Applications ``.h5`` file or ``"imagenet"`` for the families that have a Keras
    Applications counterpart (edgecnn.pretrained): the model is built in that layout with those weights and a
    new classifier when ``num_classes`` differs; it expects ``pixel × scale + offset`` as given by its
    ``edgecnn_input_scaling`` attribute (``edgecnn.pretrained.create_pretrained`` says more).
    Unknown knobs and inputs below the family's minimum raise :class:`UsageError` with a clear message.
    """
    if weights is not None:
        from edgecnn.pretrained import create_pretrained

        model, loaded = create_pretrained(name, weights, input_shape, num_classes, **knobs)
        model.edgecnn_input_scaling = (loaded.scale, loaded.offset)
        return model
    spec = get_spec(name)
    shape = tuple(int(v) for v in (input_shape or spec.canonical_input))
    if len(shape) != 3:
        raise UsageError(f"input_shape must be (height, width, channels), got {shape}")
    if min(shape[:2]) < spec.min_input:
        raise UsageError(
            f"{spec.name} needs inputs of at least {spec.min_input}x{spec.min_input} pixels, got {shape[0]}x{shape[1]}"
        )
    if shape[2] < 1:
        raise UsageError(f"input channels must be at least 1, got {shape[2]}")
    unknown = sorted(k for k, v in knobs.items() if k not in spec.knobs)
    if unknown:
        known = ", ".join(spec.knobs) or "none"
        raise UsageError(f"{spec.name} has no option {', '.join(unknown)} (its options: {known})")
    classes = int(num_classes if num_classes is not None else spec.canonical_classes)
    if classes < 1:
        raise UsageError(f"num_classes must be at least 1, got {classes}")
    return spec.builder(input_shape=shape, num_classes=classes, **knobs)
