"""False discovery control: BH and e-BH known answers, and the detector + e-BH family guarantee."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftwatch.stats.detector import (
    DEFAULT_DROPS,
    AlarmThreshold,
    DetectorState,
    advance,
    log_likelihood_ratios,
    log_mixture,
    log_statistic,
    update,
)
from driftwatch.stats.discovery import (
    adjusted_p_values,
    benjamini_hochberg,
    e_benjamini_hochberg,
    flag_degraded,
)


@pytest.mark.parametrize(
    ("p_values", "alpha", "rejected"),
    [
        # Sorted 0.01, 0.03, 0.04, 0.5 against 0.0125, 0.025, 0.0375, 0.05: only the first passes.
        ([0.01, 0.04, 0.03, 0.5], 0.05, [True, False, False, False]),
        # Step-up: 0.04 fails its own bar (0.025) but the larger 0.045 passes at rank 3 (0.05 * 3 / 3).
        ([0.045, 0.04, 0.001], 0.05, [True, True, True]),
        ([0.2, 0.3], 0.05, [False, False]),
        ([], 0.05, []),
    ],
)
def test_bh_known_answers(p_values: list[float], alpha: float, rejected: list[bool]) -> None:
    assert benjamini_hochberg(p_values, alpha) == rejected


def test_bh_adjusted_p_values() -> None:
    assert adjusted_p_values([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])


@pytest.mark.parametrize(
    ("e_values", "alpha", "rejected"),
    [
        # K = 3, alpha = 0.1: bars K / (alpha * k) are 30, 15, 10 for ranks 1, 2, 3.
        ([40, 10, 1], 0.1, [True, False, False]),
        ([20, 20, 20], 0.1, [True, True, True]),  # none alone reaches 30, all three reach 10
        ([16, 29, 9], 0.1, [True, True, False]),
        ([29, 1, 1], 0.1, [False, False, False]),
        ([math.inf, 0, 0], 0.1, [True, False, False]),
        ([], 0.1, []),
    ],
)
def test_e_bh_known_answers(e_values: list[float], alpha: float, rejected: list[bool]) -> None:
    assert e_benjamini_hochberg(e_values, alpha) == rejected


@pytest.mark.parametrize("bad", [[-1.0], [math.nan]])
def test_e_bh_refuses_what_is_not_an_e_value(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        e_benjamini_hochberg(bad, 0.1)


@pytest.mark.parametrize("bad", [[1.5], [-0.1]])
def test_bh_refuses_what_is_not_a_p_value(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        benjamini_hochberg(bad, 0.05)


def test_a_lone_degraded_class_needs_the_union_bound_threshold() -> None:
    horizon, alpha, classes = 10_000, 0.01, 20
    bar = AlarmThreshold(horizon=horizon, alpha=alpha, classes=classes).log_value
    others = {f"healthy-{k}": 0.0 for k in range(classes - 1)}

    assert flag_degraded(others | {"sick": bar + 1e-9}, horizon, alpha) == {"sick"}
    assert flag_degraded(others | {"sick": bar - 1e-6}, horizon, alpha) == frozenset()
    assert flag_degraded({"alone": math.log(horizon / alpha) + 1e-9}, horizon, alpha) == {"alone"}
    assert flag_degraded({"empty": -math.inf}, horizon, alpha) == frozenset()


def test_a_strongly_degraded_class_among_many_healthy_ones_is_flagged() -> None:
    rng = np.random.default_rng(21)
    horizon, alpha = 10_000, 0.05
    states = {f"class-{k}": update(DetectorState(0.95), rng.random(600) < 0.95) for k in range(30)}
    states["class-7"] = update(update(DetectorState(0.95), rng.random(200) < 0.95), rng.random(400) < 0.75)

    flagged = flag_degraded({name: log_statistic(state) for name, state in states.items()}, horizon, alpha)

    assert flagged == {"class-7"}


def test_with_every_class_healthy_the_family_rarely_alarms() -> None:
    # K healthy classes checked every 10 samples: P(any flag within the horizon) <= alpha.
    classes, horizon, alpha, replications = 5, 2_000, 0.1, 400
    accept_llr, reject_llr = log_likelihood_ratios(0.9)
    rng = np.random.default_rng(5)
    log_r = np.full((replications, classes, len(DEFAULT_DROPS)), -np.inf)
    alarmed = np.zeros(replications, dtype=np.bool_)
    for t in range(1, horizon + 1):
        log_r = advance(log_r, accept_llr, reject_llr, rng.random((replications, classes)) < 0.9)
        if t % 10:
            continue
        log_stat = log_mixture(log_r)
        # e-BH rejects nothing unless the largest e-value reaches 1 / alpha: skip the rest.
        for rep in np.flatnonzero(log_stat.max(axis=1) - math.log(horizon) >= -math.log(alpha)):
            by_class = {f"class-{k}": float(value) for k, value in enumerate(log_stat[rep])}
            alarmed[rep] |= bool(flag_degraded(by_class, horizon, alpha))

    share = alarmed.mean()
    assert share <= alpha + 2 * math.sqrt(alpha * (1 - alpha) / replications)
