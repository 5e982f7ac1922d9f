"""Coverage per class: the smallest drop caught within a window, checked against the planner, and when
and at what rate a class without a reference becomes protected."""

from __future__ import annotations

import math

import pytest

from driftwatch.stats.coverage import (
    ClassLoad,
    CoverageTarget,
    ReferencePlan,
    assess,
    coverage_rate,
    min_detectable_drop,
    projected_reference,
    protected_in_days,
    rate_to_protect,
    samples_per_day,
    samples_per_day_to_protect,
)
from driftwatch.stats.detector import AlarmThreshold
from driftwatch.stats.planner import plan_sampling, samples_to_detect
from driftwatch.stats.sequence import lower_bound

THRESHOLD = AlarmThreshold(10_000, 0.01, 39)
WEEK = CoverageTarget(drop=0.10, window_days=7)


def _sequence(accepted: int = 0, total: int = 0, rate: float | None = None) -> ReferencePlan:
    return ReferencePlan("confidence_sequence", rate, accepted, total, 300, 2_000, 0.005 / 39)


@pytest.mark.parametrize(("floor", "per_day"), [(0.95, 40), (0.9, 12.5), (0.8, 100), (0.97, 5)])
def test_the_smallest_detectable_drop_is_the_one_the_planner_plans_for_at_that_many_samples(
    floor: float, per_day: float
) -> None:
    drop = min_detectable_drop(floor, floor, per_day * 7, THRESHOLD)

    assert drop is not None
    enough = plan_sampling(floor, drop * 1.0001, 7, threshold=THRESHOLD)
    assert enough.samples_needed is not None and enough.samples_needed <= per_day * 7
    smaller = plan_sampling(floor, drop * 0.99, 7, threshold=THRESHOLD)
    assert smaller.samples_needed is not None and smaller.samples_needed > per_day * 7


def test_a_class_with_a_floor_and_enough_samples_is_protected_and_says_against_what() -> None:
    coverage = assess(ReferencePlan("floor", 0.95), ClassLoad(2_000, 0.05, 5.0), WEEK, THRESHOLD)

    assert coverage.protected and coverage.reason is None
    assert coverage.min_detectable_drop is not None and coverage.min_detectable_drop <= 0.10
    assert coverage.message == "protected against a 0.10 drop within 7 days"


def test_a_quiet_class_with_a_floor_is_unprotected_for_too_little_traffic_and_says_what_it_catches() -> None:
    coverage = assess(ReferencePlan("floor", 0.9), ClassLoad(250, 0.05, 5.0), WEEK, THRESHOLD)

    assert not coverage.protected and coverage.reason == "too_little_traffic"
    assert coverage.min_detectable_drop == pytest.approx(0.356, abs=0.001)
    assert "catches a 0.36 drop now" in coverage.message


def test_a_class_without_reference_is_protected_in_the_days_its_projected_reference_takes() -> None:
    plan, load = _sequence(95, 100), ClassLoad(4_000, 0.05, 50.0)
    coverage = assess(plan, load, WEEK, THRESHOLD)

    assert not coverage.protected and coverage.reason == "no_reference"
    assert coverage.protected_in_days is not None
    days = coverage.protected_in_days
    assert f"protected in ~{math.ceil(days)} days at the current rate" in coverage.message
    # That many days later, with the outcomes at the same rate, the class is protected; a day before, not.
    for later, protected in ((days + 0.1, True), (days - 1, False)):
        total = 20 * math.ceil((100 + 200 * later) / 20)  # 95% of it a whole number
        reference = float(lower_bound(round(0.95 * total), total, plan.delta))
        grown = _sequence(round(0.95 * total), total, reference if total >= 300 else None)
        assert assess(grown, load, WEEK, THRESHOLD).protected is protected


def test_the_rate_to_protect_a_class_protects_it_within_the_window_and_a_lower_one_does_not() -> None:
    plan = _sequence(190, 200)

    rate = rate_to_protect(plan, 3_000, WEEK, THRESHOLD)
    per_day = samples_per_day_to_protect(plan, WEEK, THRESHOLD)

    assert rate is not None and per_day is not None and rate == pytest.approx(per_day / 3_000)
    soon = protected_in_days(plan, per_day * 1.001, WEEK, THRESHOLD)
    assert soon is not None and soon <= 7
    later = protected_in_days(plan, per_day * 0.95, WEEK, THRESHOLD)
    assert later is None or later > 7


def test_no_rate_protects_a_class_with_too_little_traffic() -> None:
    assert rate_to_protect(_sequence(), 50, WEEK, THRESHOLD) is None


def test_the_projected_reference_is_the_confidence_sequence_and_never_falls_below_the_current_one() -> None:
    plan = _sequence(950, 1_000, rate=0.93)

    projected = projected_reference(plan, 0.95, [1_000, 1_500, 2_000, 5_000])

    assert projected[0] == pytest.approx(max(0.93, float(lower_bound(950, 1_000, plan.delta))))
    assert list(projected) == sorted(projected)
    assert projected[-1] == projected[-2]  # frozen after max_samples


def test_a_budget_that_buys_fewer_samples_than_the_rate_asks_limits_them_and_is_the_reason() -> None:
    load = ClassLoad(10_000, 0.05, daily_budget_usd=2.0, cost_per_sample_usd=0.1)

    assert samples_per_day(load) == (20.0, True)
    coverage = assess(ReferencePlan("floor", 0.95), load, WEEK, THRESHOLD)
    assert not coverage.protected and coverage.reason == "budget" and coverage.cause == "budget"


@pytest.mark.parametrize(
    ("load", "reason"),
    [
        (ClassLoad(5_000, 0.05, 5.0, blocked="no_content"), "no_content"),
        (ClassLoad(5_000, 0.05, 5.0, blocked="no_provider"), "no_provider"),
        (ClassLoad(5_000, 0.0, 5.0), "sampling_off"),
        (ClassLoad(5_000, 0.05, 0.0), "budget"),
    ],
)
def test_a_class_nothing_can_evaluate_names_why(load: ClassLoad, reason: str) -> None:
    coverage = assess(ReferencePlan("floor", 0.95), load, WEEK, THRESHOLD)

    assert not coverage.protected and coverage.reason == reason and coverage.cause == reason
    assert coverage.protected_in_days is None


def test_a_missing_reference_is_caused_by_too_little_traffic_or_the_budget() -> None:
    quiet = assess(_sequence(), ClassLoad(100, 0.05, 5.0), WEEK, THRESHOLD)
    poor = assess(_sequence(), ClassLoad(100_000, 0.05, 1.0, cost_per_sample_usd=0.1), WEEK, THRESHOLD)

    assert (quiet.reason, quiet.cause) == ("no_reference", "too_little_traffic")
    assert (poor.reason, poor.cause) == ("no_reference", "budget")


def test_the_vectorised_need_is_the_planners() -> None:
    from driftwatch.stats.coverage import _needs

    plan = _sequence(1_900, 2_000, rate=0.93)
    sizes, need = _needs(plan, WEEK, THRESHOLD)

    reference = float(projected_reference(plan, 0.95, [2_000])[0])
    assert need[0] == samples_to_detect(reference, 0.85, THRESHOLD)
    assert sizes[0] == 2_000


def test_coverage_first_raises_a_class_without_reference_to_the_rate_that_protects_it() -> None:
    plan, load = _sequence(190, 200), ClassLoad(2_000, 0.05, 50.0, cost_per_sample_usd=0.01)
    needed = rate_to_protect(plan, 2_000, WEEK, THRESHOLD)

    assert needed is not None and 0.05 < needed < 0.25
    assert coverage_rate(plan, load, WEEK, THRESHOLD, cap=0.25) == pytest.approx(needed)
    assert coverage_rate(plan, load, WEEK, THRESHOLD, cap=0.06) == pytest.approx(0.06)
    # $50 a day buys 5,000 samples, no limit here; $1 a day buys 100 of the 2,000 calls: 0.05.
    poor = ClassLoad(2_000, 0.02, 1.0, cost_per_sample_usd=0.01)
    assert coverage_rate(plan, poor, WEEK, THRESHOLD, cap=0.25) == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("plan", "load"),
    [
        (_sequence(1_900, 2_000, rate=0.93), ClassLoad(3_000, 0.05, 50.0)),  # it has a reference
        (ReferencePlan("floor", 0.95), ClassLoad(3_000, 0.05, 50.0)),
        (_sequence(), ClassLoad(3_000, 0.0, 50.0)),  # sampling turned off
        (_sequence(), ClassLoad(3_000, 0.05, 0.0)),
        (_sequence(), ClassLoad(3_000, 0.05, 50.0, blocked="no_content")),
        (_sequence(), ClassLoad(0, 0.05, 50.0)),
    ],
)
def test_coverage_first_leaves_alone_a_class_it_cannot_help_or_that_needs_no_help(
    plan: ReferencePlan, load: ClassLoad
) -> None:
    assert coverage_rate(plan, load, WEEK, THRESHOLD, cap=0.25) is None
