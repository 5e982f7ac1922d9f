"""The savings projection (pure): hand-computed figures, and no figure where it cannot be known."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from driftwatch.policy.savings import DayVolume, ForwardShadow, per_token_difference, project_savings
from driftwatch.prices.pricing import ModelPrice

OPUS = ModelPrice(input_per_mtok=5, output_per_mtok=25)
SONNET = ModelPrice(input_per_mtok=3, output_per_mtok=15)
START = date(2026, 11, 1)


def days(*volumes: tuple[int, int, float]) -> list[DayVolume]:
    return [
        DayVolume(START + timedelta(days=i), i_tok, o_tok, cost)
        for i, (i_tok, o_tok, cost) in enumerate(volumes)
    ]


def test_the_projection_is_thirty_mean_days_with_a_t_interval() -> None:
    # Gross per day: 1M x $2/M + 0.1M x $10/M = $3, and $6 on the second day; $1 shadow spend each.
    savings = project_savings(days((1_000_000, 100_000, 1.0), (2_000_000, 200_000, 1.0)), OPUS, SONNET, "")

    assert savings.gross_monthly_usd == pytest.approx(30 * 4.5)
    assert savings.shadow_monthly_usd == pytest.approx(30.0)
    assert savings.monthly_usd == pytest.approx(30 * 3.5)
    # Two days: sd of (2, 5) is 2.1213; t(0.975, 1) = 12.7062.
    half = 30 * 12.706204736174707 * 2.1213203435596424 / 2**0.5
    assert savings.low_usd == pytest.approx(105 - half)
    assert savings.high_usd == pytest.approx(105 + half)
    assert savings.days == 2 and savings.reason is None


def test_days_without_traffic_count_as_zero_savings() -> None:
    savings = project_savings(days((3_000_000, 0, 0.0), (0, 0, 0.0), (0, 0, 0.0)), OPUS, SONNET, "")

    assert savings.monthly_usd == pytest.approx(30 * 2.0)


def test_one_day_gives_a_figure_but_no_interval_and_no_day_gives_none() -> None:
    one = project_savings(days((1_000_000, 0, 0.0)), OPUS, SONNET, "")
    none = project_savings([], OPUS, SONNET, "")

    assert one.monthly_usd == pytest.approx(60.0) and one.low_usd is None and one.reason
    assert none.monthly_usd is None and none.reason == "no complete day of traffic on the tier yet"


def test_an_unknown_price_is_never_guessed() -> None:
    savings = project_savings(days((1_000_000, 0, 0.5)), OPUS, None, "no price for model 'x'")

    assert (savings.monthly_usd, savings.low_usd, savings.gross_monthly_usd) == (None, None, None)
    assert savings.reason == "no price for model 'x'"
    assert savings.shadow_monthly_usd == pytest.approx(15.0)
    assert savings.evidence()["reason"] == "no price for model 'x'"


def test_a_cheaper_tier_dearer_in_one_direction_subtracts() -> None:
    dearer_output = ModelPrice(input_per_mtok=1, output_per_mtok=30)

    per_input, per_output = per_token_difference(OPUS, dearer_output)
    assert per_input == pytest.approx(4e-6) and per_output == pytest.approx(-5e-6)


def forward(
    rate: float = 0.1, price: ModelPrice | None = OPUS, judge: float = 0.002, budget: float = 5.0
) -> ForwardShadow:
    return ForwardShadow(rate, "claude-opus-4-7", price, judge, budget)


def test_the_forward_sampling_on_the_cheaper_tier_is_subtracted_each_day() -> None:
    # Gross $3 a day; forward: 10% x (1M x $5 + 0.1M x $25 = $7.50 replayed + 1,000 calls x $0.002 judged).
    volume = [DayVolume(START, 1_000_000, 100_000, 0.5, calls=1_000)] * 2

    savings = project_savings(volume, OPUS, SONNET, "", forward())

    assert savings.forward_shadow_monthly_usd == pytest.approx(30 * 0.1 * 9.5)
    assert savings.monthly_usd == pytest.approx(30 * (3.0 - 0.5 - 0.95))
    assert savings.shadow_cost_monthly_usd == pytest.approx(30 * (0.5 + 0.95))
    terms = savings.evidence()
    assert terms["gross_monthly_usd"] == pytest.approx(90.0) and terms["shadow_monthly_usd"] == pytest.approx(
        15.0
    )
    assert terms["forward_shadow_monthly_usd"] == pytest.approx(28.5)
    assert terms["forward_shadow"]["rate"] == 0.1


def test_the_forward_sampling_costs_at_most_the_daily_budget() -> None:
    volume = [DayVolume(START, 100_000_000, 0, 0.0, calls=10)] * 2  # $500 of replays at 100%

    savings = project_savings(volume, OPUS, SONNET, "", forward(rate=1.0, budget=5.0))

    assert savings.forward_shadow_monthly_usd == pytest.approx(150.0)


def test_an_unpriced_reference_model_leaves_the_savings_unknown_not_guessed() -> None:
    savings = project_savings(days((1_000_000, 0, 0.0)), OPUS, SONNET, "", forward(price=None))

    assert savings.monthly_usd is None and savings.forward_shadow_monthly_usd is None
    assert savings.reason is not None and "reference model 'claude-opus-4-7'" in savings.reason


def test_a_cheaper_tier_that_is_not_sampled_adds_no_forward_cost() -> None:
    unsampled = ForwardShadow(0.0, "claude-opus-4-7", None, 0.0, 5.0, "tier 'mid' is not sampled")

    savings = project_savings(days((1_000_000, 0, 0.0)), OPUS, SONNET, "", unsampled)

    assert savings.monthly_usd == pytest.approx(60.0) and savings.forward_shadow_monthly_usd == 0.0
    assert savings.evidence()["forward_shadow"]["reason"] == "tier 'mid' is not sampled"
