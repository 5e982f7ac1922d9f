"""The reference rate from a baseline window: a one-sided Clopper-Pearson bound, or why there is none."""

from __future__ import annotations

import pytest
from scipy.stats import beta  # type: ignore[import-untyped]

from driftwatch.stats.reference import baseline_reference


@pytest.mark.parametrize(("accepted", "total"), [(1_900, 2_000), (2_000, 2_000), (1_234, 5_000), (1, 2_000)])
def test_the_bound_is_the_exact_one_sided_clopper_pearson_bound(accepted: int, total: int) -> None:
    reference = baseline_reference(accepted, total)

    # The textbook form: the 5% quantile of Beta(x, n - x + 1).
    assert reference.rate == pytest.approx(beta.ppf(0.05, accepted, total - accepted + 1), rel=1e-9)
    assert reference.rate is not None and reference.rate < accepted / total + 1e-12
    assert "lower bound" in reference.message


def test_a_known_value() -> None:
    reference = baseline_reference(1_900, 2_000)

    assert reference.rate == pytest.approx(0.9412, abs=1e-4)


def test_a_short_baseline_is_insufficient_and_says_so() -> None:
    reference = baseline_reference(1_899, 1_999)

    assert reference.rate is None
    assert reference.message == "insufficient baseline: 1999 of the 2000 samples needed"
    assert baseline_reference(95, 100, min_samples=100).rate is not None


def test_a_baseline_without_accepts_gives_no_reference() -> None:
    reference = baseline_reference(0, 3_000)

    assert reference.rate is None and "nothing can drop" in reference.message


def test_a_higher_confidence_gives_a_lower_bound() -> None:
    low, lower = baseline_reference(1_900, 2_000), baseline_reference(1_900, 2_000, confidence=0.99)

    assert low.rate is not None and lower.rate is not None and lower.rate < low.rate


@pytest.mark.parametrize(
    ("accepted", "total", "confidence"), [(-1, 2_000, 0.95), (2_001, 2_000, 0.95), (5, 2_000, 1.0)]
)
def test_impossible_inputs_are_refused(accepted: int, total: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        baseline_reference(accepted, total, confidence=confidence)
