"""The benchmark's variants: name → how ``edgecnn convert`` produces it (TensorFlow-free registry).

A variant is one precision of :func:`edgecnn.convert.convert` plus the optimisation keywords that go with
it, written twice on purpose: as Python keywords (what the benchmark calls) and as the ``edgecnn convert``
flags a user types (what ``edgecnn recommend`` prints); tests/test_benchmark.py parses the flags with the
real command and checks that both say the same. Adding a variant is one call::

    register_variant(Variant("planned", "int8, precision plan (≤ 0.5 pt drop)", "int8",
                             recipe={"max_drop": 0.5}, recipe_flags=("--max-drop", "0.5"), needs_data=True))

Variants whose recipes are equal are converted in one ``convert`` call (e.g. float32, float16, dynamic and
int8 of the same trained model), so the float32 reference is converted once per recipe.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from edgecnn.errors import UsageError, closest_names

# `edgecnn convert` flag of each precision (convert.VARIANTS; "fp16" is the flag of float16).
PRECISION_FLAGS = {"float32": "--float32", "float16": "--fp16", "dynamic": "--dynamic", "int8": "--int8",
                   "uint8": "--uint8"}


@dataclass(frozen=True)
class Variant:
    """One row kind of the benchmark."""

    name: str                    # key in benchmarks.json and on the command line
    label: str                   # for tables and plots
    precision: str               # convert's variant: float32 | float16 | dynamic | int8 | uint8
    recipe: Mapping[str, Any] = field(default_factory=dict)  # more convert() keywords: {"qat": True}
    recipe_flags: tuple[str, ...] = ()  # the same as `edgecnn convert` flags: ("--qat",)
    needs_data: bool = False     # fine-tuning or a data-driven plan: only for trained models, not random weights
    default: bool = True         # measured when --variants is not given

    def __post_init__(self) -> None:
        if self.precision not in PRECISION_FLAGS:
            raise ValueError(f"variant {self.name}: unknown precision {self.precision!r}")

    @property
    def convert_flags(self) -> list[str]:
        """The ``edgecnn convert`` flags that make this variant."""
        return [PRECISION_FLAGS[self.precision], *self.recipe_flags]

    @property
    def recipe_key(self) -> tuple[tuple[str, Any], ...]:
        """Variants with the same key come out of one convert() call."""
        return tuple(sorted(self.recipe.items()))


VARIANTS: dict[str, Variant] = {}


def register_variant(variant: Variant) -> Variant:
    if variant.name in VARIANTS:
        raise ValueError(f"variant {variant.name} is registered already")
    VARIANTS[variant.name] = variant
    return variant


def default_variants() -> list[str]:
    return [name for name, v in VARIANTS.items() if v.default]


def parse_variants(text: str | None) -> list[str]:
    """``"float32,int8"`` (or ``"all"``, or None for the defaults) → registered names, in registry order."""
    if text is None or not text.strip():
        return default_variants()
    asked = [t.strip() for t in text.split(",") if t.strip()]
    if asked == ["all"]:
        return list(VARIANTS)
    for name in asked:
        if name not in VARIANTS:
            hint = closest_names(name, list(VARIANTS))
            raise UsageError(f"unknown variant {name!r}" + (f" (did you mean {', '.join(hint)}?)" if hint else "")
                             + f"; registered: {', '.join(VARIANTS)}")
    return [name for name in VARIANTS if name in asked]


register_variant(Variant("float32", "float32", "float32"))
register_variant(Variant("float16", "float16 weights", "float16"))
register_variant(Variant("dynamic", "dynamic range (int8 weights)", "dynamic"))
register_variant(Variant("int8", "int8 (post-training)", "int8"))
register_variant(Variant("qat_int8", "QAT int8", "int8", recipe={"qat": True}, recipe_flags=("--qat",),
                         needs_data=True))
register_variant(Variant("pruned_int8", "50%-pruned int8", "int8", recipe={"prune": 0.5},
                         recipe_flags=("--prune", "0.5"), needs_data=True))
register_variant(Variant("planned", "int8 plan (≤ 0.5 pt on validation)", "int8", recipe={"max_drop": 0.5},
                         recipe_flags=("--max-drop", "0.5"), needs_data=True))
