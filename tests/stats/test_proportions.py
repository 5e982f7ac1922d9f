"""The Wilson interval: reference values, edge cases and the properties it must keep."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftwatch.stats.proportions import Interval, wilson_interval


def _closed_form(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson (1927), written out, to check the scipy call against."""
    share = successes / trials
    centre = share + z * z / (2 * trials)
    spread = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    scale = 1 + z * z / trials
    return (centre - spread) / scale, (centre + spread) / scale


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Published to four places: Newcombe (1998), "Two-sided confidence intervals for the single
        # proportion", method 3, and the usual 0 of n and n of n rows of such tables.
        (81, 263, 0.2553, 0.3662),
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (1, 1, 0.2065, 1.0),
    ],
)
def test_known_values(successes: int, trials: int, low: float, high: float) -> None:
    interval = wilson_interval(successes, trials)

    assert interval is not None
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


def test_no_trials_is_no_interval() -> None:
    assert wilson_interval(0, 0) is None


def test_results_are_plain_floats_for_json() -> None:
    interval = wilson_interval(3, 7)

    assert isinstance(interval, Interval)
    assert type(interval.low) is float
    assert type(interval.high) is float


def test_a_wider_confidence_gives_a_wider_interval() -> None:
    narrow, wide = wilson_interval(30, 40, 0.80), wilson_interval(30, 40, 0.99)

    assert narrow is not None and wide is not None
    assert wide.low < narrow.low < narrow.high < wide.high


@pytest.mark.parametrize(("successes", "trials"), [(-1, 5), (6, 5), (1, -1)])
def test_impossible_counts_are_refused(successes: int, trials: int) -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(successes, trials)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 95.0, -0.5])
def test_a_confidence_outside_zero_to_one_is_refused(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, confidence)


@given(st.integers(1, 1_000_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_the_interval_holds_the_observed_share_and_matches_the_formula(counts: tuple[int, int]) -> None:
    successes, trials = counts
    interval = wilson_interval(successes, trials)

    assert interval is not None
    assert 0.0 <= interval.low <= successes / trials <= interval.high <= 1.0
    low, high = _closed_form(successes, trials)
    assert interval.low == pytest.approx(low, abs=1e-9)
    assert interval.high == pytest.approx(high, abs=1e-9)
    mirrored = wilson_interval(trials - successes, trials)
    assert mirrored is not None
    assert mirrored.low == pytest.approx(1 - interval.high, abs=1e-9)
