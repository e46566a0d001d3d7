"""The registry's parameter and MAC counts (which the builders reproduce exactly: tests/test_zoo_classic.py,
tests/test_zoo_mobile.py) against an independent table — torchvision's model metadata and the papers — with
the tolerances stated in tests/reference_counts.py."""
from __future__ import annotations

import pytest

pytest.importorskip("tf_keras")  # the registry is filled by importing the zoo's builders

from reference_counts import NO_REFERENCE, REFERENCE  # noqa: E402

from edgecnn.zoo import get_spec, list_models  # noqa: E402


def test_every_registered_model_has_a_reference_or_says_why_not():
    assert set(list_models()) == set(REFERENCE) | set(NO_REFERENCE)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_registry_counts_match_the_independent_reference(name):
    spec, ref = get_spec(name), REFERENCE[name]
    assert ref.source
    if ref.params is not None:
        assert spec.published_params == pytest.approx(ref.params, rel=ref.params_tolerance, abs=0), ref.source
    if ref.macs is not None:
        assert spec.published_macs == pytest.approx(ref.macs, rel=ref.macs_tolerance), ref.source


def test_the_comparison_can_fail():
    # a count 1.5% off (e.g. a missing bias or a stride in the wrong place) is outside the torchvision tolerance
    ref = REFERENCE["resnet50"]
    assert 4.089e9 * 1.015 != pytest.approx(ref.macs, rel=ref.macs_tolerance)
    assert 25_557_033 != pytest.approx(ref.params, rel=ref.params_tolerance, abs=0)
