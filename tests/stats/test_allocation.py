"""Budget-optimal sample rates: within budget and caps, more to more money at risk, coverage first, and a
smaller money-weighted delay than one uniform rate at the same spend."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwatch.stats.allocation import (
    AT_CAP,
    COVERAGE,
    IDLE,
    OPTIMAL,
    SHORT,
    ClassDemand,
    allocate,
    uniform_rate,
    weighted_delay,
)

demands = st.builds(
    ClassDemand,
    task_class=st.just(""),
    traffic_per_day=st.floats(10, 50_000),
    cost_per_sample_usd=st.floats(1e-4, 0.2),
    money_at_risk_usd=st.floats(0, 5_000),
    samples_to_detect=st.floats(20, 5_000),
    max_rate=st.floats(0.01, 1),
)


def _named(items: list[ClassDemand]) -> list[ClassDemand]:
    return [
        ClassDemand(
            f"c{index}",
            d.traffic_per_day,
            d.cost_per_sample_usd,
            d.money_at_risk_usd,
            d.samples_to_detect,
            d.reference_samples_needed,
            d.max_rate,
        )
        for index, d in enumerate(items)
    ]


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.lists(demands, min_size=1, max_size=12), st.floats(0, 500))
def test_the_allocation_spends_at_most_the_budget_and_keeps_every_rate_within_its_cap(
    items: list[ClassDemand], budget: float
) -> None:
    classes = _named(items)

    plan = allocate(classes, budget, coverage_days=7)

    assert plan.spend_usd <= budget * (1 + 1e-9) + 1e-12
    for demand, item in zip(classes, plan.items, strict=True):
        assert 0 <= item.rate <= demand.max_rate
        assert item.spend_usd == pytest.approx(
            item.rate * demand.traffic_per_day * demand.cost_per_sample_usd
        )


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.lists(demands, min_size=2, max_size=12), st.floats(0.01, 0.9))
def test_auto_has_no_larger_weighted_delay_than_a_uniform_rate_at_the_same_spend(
    items: list[ClassDemand], share: float
) -> None:
    classes = [
        ClassDemand(
            d.task_class,
            d.traffic_per_day,
            d.cost_per_sample_usd,
            d.money_at_risk_usd + 1,
            d.samples_to_detect,
        )
        for d in _named(items)
    ]
    budget = share * sum(d.unit_cost_usd for d in classes)  # a uniform rate of `share` spends it
    uniform = uniform_rate(classes, budget)

    plan = allocate(classes, budget, coverage_days=7)

    assert uniform == pytest.approx(share)
    assert plan.spend_usd == pytest.approx(budget, rel=1e-6)
    auto = weighted_delay(classes, plan.rates())
    assert auto <= weighted_delay(classes, dict.fromkeys(plan.rates(), uniform)) * (1 + 1e-9)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(demands, st.floats(1.5, 20), st.floats(0.01, 0.5))
def test_a_class_with_more_money_at_risk_gets_a_higher_rate(
    demand: ClassDemand, factor: float, share: float
) -> None:
    base = ClassDemand("low", 1_000, 0.01, demand.money_at_risk_usd + 1, demand.samples_to_detect)
    richer = ClassDemand("high", 1_000, 0.01, base.money_at_risk_usd * factor, demand.samples_to_detect)
    budget = share * (base.unit_cost_usd + richer.unit_cost_usd)

    rates = allocate([base, richer], budget, coverage_days=7).rates()

    assert rates["high"] > rates["low"] or rates["high"] == richer.max_rate


def test_the_rates_are_the_closed_form_when_no_cap_binds() -> None:
    # r_i = theta * sqrt(w_i S_i / c_i) / T_i; theta makes the spend the budget.
    classes = [
        ClassDemand("a", 2_000, 0.02, 300.0, 400.0),
        ClassDemand("b", 500, 0.01, 50.0, 150.0),
        ClassDemand("c", 10_000, 0.03, 900.0, 900.0),
    ]
    slopes = [
        math.sqrt(d.money_at_risk_usd * d.samples_to_detect / d.cost_per_sample_usd) / d.traffic_per_day
        for d in classes
    ]
    theta = 20.0 / sum(s * d.unit_cost_usd for s, d in zip(slopes, classes, strict=True))

    plan = allocate(classes, 20.0, coverage_days=7)

    assert [item.rate for item in plan.items] == pytest.approx([theta * s for s in slopes], rel=1e-9)
    assert {item.reason for item in plan.items} == {OPTIMAL}
    assert plan.items[0].expected_delay_days == pytest.approx(400.0 / (plan.items[0].rate * 2_000))


def test_unprotected_classes_get_their_coverage_rate_before_protected_ones_get_anything() -> None:
    new = ClassDemand("new", 250, 0.02, 10.0, 300.0, reference_samples_needed=300)
    rich = ClassDemand("rich", 5_000, 0.02, 5_000.0, 300.0)
    coverage_spend = 300 / (250 * 7) * new.unit_cost_usd

    ample = allocate([new, rich], coverage_spend + 5.0, coverage_days=7)
    short = allocate([new, rich], coverage_spend / 2, coverage_days=7)

    assert ample.items[0].rate == pytest.approx(300 / (250 * 7)) and ample.items[0].reason == COVERAGE
    assert ample.items[0].days_to_reference == pytest.approx(7)
    assert ample.items[1].spend_usd == pytest.approx(5.0) and ample.items[1].reason == OPTIMAL
    assert short.items[0].reason == SHORT and short.items[0].spend_usd == pytest.approx(coverage_spend / 2)
    assert (short.items[1].rate, short.items[1].reason) == (0.0, IDLE)


def test_every_class_at_its_cap_when_the_budget_is_more_than_enough() -> None:
    classes = [ClassDemand("a", 100, 0.01, 5.0, 100.0, max_rate=0.3), ClassDemand("b", 100, 0.01, 0.0, 100.0)]

    plan = allocate(classes, 100.0, coverage_days=7)

    assert [(item.rate, item.reason) for item in plan.items] == [(0.3, AT_CAP), (0.0, IDLE)]


def test_a_drop_that_cannot_be_detected_gets_no_samples() -> None:
    classes = [ClassDemand("a", 100, 0.01, 5.0, math.inf), ClassDemand("b", 100, 0.01, 5.0, 100.0)]

    plan = allocate(classes, 0.2, coverage_days=7)

    assert plan.items[0].rate == 0.0 and plan.items[0].expected_delay_days is None
    assert plan.items[1].spend_usd == pytest.approx(0.2)
