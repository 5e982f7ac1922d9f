"""The sampling planner: its monotonicity, its paths, and its accuracy against the detector itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftwatch.stats.detector import (
    DEFAULT_DROPS,
    AlarmThreshold,
    advance,
    log_likelihood_ratios,
    log_mixture,
    lorden_delay,
)
from driftwatch.stats.planner import LARGE_NEED, P90_SPREAD, SamplingPlan, daily_cost, plan_sampling


def _per_day(plan: SamplingPlan) -> int:
    assert plan.samples_per_day is not None, plan.message
    return plan.samples_per_day


def test_the_plan_is_the_calibrated_lorden_bound_spread_over_the_window() -> None:
    plan = plan_sampling(0.95, 0.05, 7)

    bound = lorden_delay(0.95, 0.90, AlarmThreshold().value)
    assert plan.lorden_bound == pytest.approx(bound)
    assert plan.samples_needed == math.ceil(bound + P90_SPREAD * math.sqrt(bound))
    assert plan.samples_per_day == math.ceil(plan.samples_needed / 7)
    assert plan.reference == 0.95


def test_a_bigger_drop_needs_fewer_samples() -> None:
    needs = [_per_day(plan_sampling(0.95, drop, 7)) for drop in (0.01, 0.02, 0.05, 0.1, 0.2, 0.4)]

    assert needs == sorted(needs, reverse=True) and len(set(needs)) == len(needs)


def test_a_longer_window_needs_fewer_samples_per_day_but_the_same_total() -> None:
    plans = [plan_sampling(0.9, 0.05, days) for days in (1, 3, 7, 30)]

    per_day = [plan.samples_per_day or 0 for plan in plans]
    assert per_day == sorted(per_day, reverse=True) and per_day[-1] > 0
    assert len({plan.samples_needed for plan in plans}) == 1


def test_more_classes_or_a_learned_reference_cost_more_samples() -> None:
    declared = _per_day(plan_sampling(0.95, 0.05, 7))

    assert _per_day(plan_sampling(0.95, 0.05, 7, threshold=AlarmThreshold(classes=50))) > declared
    assert (
        _per_day(plan_sampling(0.95, 0.05, 7, baseline_samples=2_000))
        > _per_day(plan_sampling(0.95, 0.05, 7, baseline_samples=20_000))
        > declared
    )


def test_a_large_need_names_the_levers() -> None:
    plan = plan_sampling(0.95, 0.02, 7)

    assert plan.samples_needed is not None and plan.samples_needed >= LARGE_NEED
    assert "more samples per day or a larger minimum detectable drop" in plan.message
    assert f"a drop of 0.040 needs {_per_day(plan_sampling(0.95, 0.04, 7))} samples/day" in plan.message
    assert "levers" not in plan_sampling(0.95, 0.2, 7).message


def test_a_drop_inside_the_baselines_margin_cannot_be_planned() -> None:
    plan = plan_sampling(0.95, 0.005, 7, baseline_samples=2_000)

    assert plan.samples_per_day is None and plan.reference is not None and plan.reference < 0.945
    assert "declared floor" in plan.message
    assert daily_cost(plan, 0.01) is None


def test_an_insufficient_baseline_is_said() -> None:
    plan = plan_sampling(0.95, 0.05, 7, baseline_samples=500)

    assert plan.samples_per_day is None and "insufficient baseline" in plan.message


def test_the_caller_prices_the_plan() -> None:
    plan = plan_sampling(0.95, 0.05, 7)

    assert plan.samples_per_day is not None
    assert daily_cost(plan, 0.004) == pytest.approx(plan.samples_per_day * 0.004)
    with pytest.raises(ValueError):
        daily_cost(plan, -1.0)


@pytest.mark.parametrize(
    ("baseline", "drop", "days"), [(0.95, 0.0, 7), (0.95, 0.96, 7), (1.0, 0.1, 7), (0.9, 0.1, 0)]
)
def test_impossible_plans_are_refused(baseline: float, drop: float, days: float) -> None:
    with pytest.raises(ValueError):
        plan_sampling(baseline, drop, days)


def test_the_plan_covers_nine_detections_in_ten_of_the_detector_itself() -> None:
    # From scratch at the drop, as the planner assumes; bench/detection.py does this at scale.
    threshold, replications = AlarmThreshold(), 400
    accept_llr, reject_llr = log_likelihood_ratios(0.9)
    rng = np.random.default_rng(13)
    log_r = np.full((replications, len(DEFAULT_DROPS)), -np.inf)
    delay = np.zeros(replications)
    for t in range(1, 3_000):
        log_r = advance(log_r, accept_llr, reject_llr, rng.random(replications) < 0.8)
        fresh = (delay == 0) & (log_mixture(log_r) >= threshold.log_value)
        delay[fresh] = t
        if delay.all():
            break

    planned = plan_sampling(0.9, 0.1, 1, threshold=threshold).samples_needed
    assert planned is not None
    assert np.quantile(delay, 0.9) <= planned <= 1.3 * np.quantile(delay, 0.9)
