"""The product measures itself: ``edgecnn benchmark`` trains, converts, evaluates and times zoo models through
the same code users run, and writes benchmarks.json, BENCHMARKS.md and plots.

    from edgecnn import benchmark
    benchmark.run(["lenet5"], out="bench", quick=True)              # a couple of minutes
    benchmark.run(out="docs", configs=("small", "canonical"))       # every registry name (hours on 2 cores)

Modules: :mod:`~edgecnn.benchmark.variants` (the registry of variants: name → convert options),
:mod:`~edgecnn.benchmark.results` (benchmarks.json, settings, resume), :mod:`~edgecnn.benchmark.measure`
(one model, in a child process; the only module that imports TensorFlow, lazily),
:mod:`~edgecnn.benchmark.report` (markdown and plots), :mod:`~edgecnn.benchmark.run` (the orchestration).
Importing this package stays TensorFlow-free.
"""
from __future__ import annotations

from edgecnn.benchmark.results import Results, Settings, load_results
from edgecnn.benchmark.run import choose_models, run
from edgecnn.benchmark.variants import VARIANTS, Variant, register_variant

__all__ = ["run", "choose_models", "Settings", "Results", "load_results", "VARIANTS", "Variant", "register_variant"]
