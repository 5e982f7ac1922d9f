"""Score distributions, current vs baseline window: rank tests, effect sizes, and too few scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftwatch.stats.distributions import MIN_SCORES, compare_scores


def test_a_downward_shift_is_found_with_its_size() -> None:
    rng = np.random.default_rng(1)
    baseline = rng.normal(0.8, 0.05, 400)
    current = rng.normal(0.75, 0.05, 300)

    result = compare_scores(current.tolist(), baseline.tolist())

    assert result.enough_samples
    assert result.mann_whitney_p is not None and result.mann_whitney_p < 1e-10
    assert result.ks_p is not None and result.ks_p < 1e-10
    assert result.median_difference == pytest.approx(-0.05, abs=0.01)
    # For two normals one standard deviation apart: P(X < Y) = Phi(1 / sqrt(2)) ~ 0.76.
    assert result.probability_lower == pytest.approx(0.76, abs=0.04)
    assert (result.current_count, result.baseline_count) == (300, 400)


def test_an_upward_shift_is_not_a_degradation() -> None:
    rng = np.random.default_rng(2)

    result = compare_scores(rng.normal(0.85, 0.05, 300).tolist(), rng.normal(0.8, 0.05, 300).tolist())

    assert result.mann_whitney_p is not None and result.mann_whitney_p > 0.99
    assert result.ks_p is not None and result.ks_p < 1e-6  # the shape test sees any change
    assert result.probability_lower is not None and result.probability_lower < 0.5


def test_the_same_distribution_shows_nothing() -> None:
    rng = np.random.default_rng(3)

    result = compare_scores(rng.beta(8, 2, 200).tolist(), rng.beta(8, 2, 200).tolist())

    assert result.mann_whitney_p is not None and result.mann_whitney_p > 0.05
    assert result.ks_p is not None and result.ks_p > 0.05
    assert result.probability_lower == pytest.approx(0.5, abs=0.07)


def test_a_change_of_shape_at_the_same_median_is_seen_by_ks_only() -> None:
    rng = np.random.default_rng(4)
    baseline = rng.normal(0.7, 0.02, 500)
    current = np.concatenate([rng.normal(0.55, 0.02, 250), rng.normal(0.85, 0.02, 250)])

    result = compare_scores(current.tolist(), baseline.tolist())

    assert result.ks_p is not None and result.ks_p < 1e-10
    assert result.mann_whitney_p is not None and result.mann_whitney_p > 0.05


def test_fully_separated_windows_give_the_extreme_effect() -> None:
    result = compare_scores([0.1] * 20, [0.9] * 25)

    assert result.probability_lower == 1.0
    assert result.median_difference == pytest.approx(-0.8)
    assert result.mann_whitney_u == 0.0


def test_too_few_scores_is_said_not_tested() -> None:
    result = compare_scores([0.5] * (MIN_SCORES - 1), [0.9] * 500)

    assert not result.enough_samples
    assert result.mann_whitney_p is None and result.ks_p is None and result.probability_lower is None
    assert result.current_median == 0.5 and result.baseline_median == 0.9
    assert "not enough samples" in result.message and str(MIN_SCORES) in result.message
    assert compare_scores([], []).current_median is None


@pytest.mark.parametrize("bad", [[math.nan] * 30, [math.inf] * 30, [[0.5, 0.5]] * 30])
def test_scores_that_are_not_numbers_are_refused(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="current scores"):
        compare_scores(bad, [0.5] * 30)
