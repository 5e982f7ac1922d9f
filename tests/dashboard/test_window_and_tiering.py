"""The dashboard's pure parts: its time window and buckets, the range it opens on, what tiering saved,
and the state it shows for a class."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from driftwatch.calls.repository import ClassSummary
from driftwatch.dashboard.states import Move, class_state
from driftwatch.dashboard.tiering import tiering_savings
from driftwatch.dashboard.window import TimeRange, fitting_range, window
from driftwatch.prices.pricing import ModelPrice
from driftwatch.routing.decision_schemas import ClassDetection

NOW = datetime(2026, 11, 25, 14, 37, 5, tzinfo=UTC)
OPUS = ModelPrice(input_per_mtok=5, output_per_mtok=25)


def test_a_day_is_24_hours_ending_with_the_current_one() -> None:
    day = window(TimeRange.DAY, NOW)

    assert day.until == datetime(2026, 11, 25, 15, tzinfo=UTC)
    assert day.since == datetime(2026, 11, 24, 15, tzinfo=UTC)
    assert len(day.starts()) == 24 and day.starts()[-1] == datetime(2026, 11, 25, 14, tzinfo=UTC)
    assert day.key(day.starts()[-1]) == "2026-11-25 14"
    assert day.days() == ["2026-11-24", "2026-11-25"]


def test_a_week_is_hourly_and_a_month_daily() -> None:
    week, month = window(TimeRange.WEEK, NOW), window(TimeRange.MONTH, NOW)

    assert week.bucket == "hour" and len(week.starts()) == 168
    assert month.bucket == "day" and len(month.starts()) == 30
    assert month.until == datetime(2026, 11, 26, tzinfo=UTC)
    assert month.key(month.starts()[0]) == "2026-10-27"
    assert len(month.days()) == 30


def test_an_hour_is_sixty_minutes_ending_with_the_current_one() -> None:
    hour = window(TimeRange.HOUR, NOW + timedelta(minutes=17, seconds=40))

    assert hour.bucket == "minute" and hour.finer_than_hours and len(hour.starts()) == 60
    assert hour.until == datetime(2026, 11, 25, 14, 55, tzinfo=UTC)
    assert hour.key(hour.starts()[-1]) == "2026-11-25 14:54"


def test_a_moment_with_an_offset_is_bucketed_in_utc() -> None:
    new_york = NOW.astimezone(timezone(timedelta(hours=-5)))

    assert window(TimeRange.MONTH, new_york) == window(TimeRange.MONTH, NOW)


def summary(task_class: str, tier: str | None, calls: int, cost: float, unpriced: int = 0) -> ClassSummary:
    return ClassSummary(task_class, tier, calls, calls * 1000, calls * 200, cost, unpriced, NOW, NOW)


def test_savings_are_the_top_price_of_lower_tier_tokens_minus_their_cost() -> None:
    volume = [
        summary("extraction", "cheap", 100, 0.2),  # at the top: 100 x (1000 x 5 + 200 x 25) / 1e6 = 1.0
        summary("extraction", "mid", 10, 0.09),  # 0.1 at the top
        summary("codegen", "premium", 50, 0.5),  # already on the top tier: no saving
    ]

    result = tiering_savings(volume, "premium", "claude-opus-4-7", OPUS)

    assert result.would_have_cost_usd == pytest.approx(1.1)
    assert result.cost_usd == pytest.approx(0.29)
    assert result.achieved_usd == pytest.approx(0.81)
    assert result.by_class == pytest.approx({"extraction": 0.81})
    assert result.left_out_calls == 0 and result.reason is None


def test_unpriced_and_untiered_calls_are_left_out_not_guessed() -> None:
    volume = [
        summary("extraction", "cheap", 100, 0.2),
        summary("tagging", "cheap", 30, 0.01, unpriced=5),  # its tokens include calls of no known price
        summary("misc", None, 7, 0.0),
    ]

    result = tiering_savings(volume, "premium", "claude-opus-4-7", OPUS)

    assert result.achieved_usd == pytest.approx(0.8)
    assert result.left_out_calls == 37
    assert "tagging" not in result.by_class


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (None, "no model for the top tier 'premium'"),
        ("my-model", "no price for the top tier's model 'my-model'"),
    ],
)
def test_no_top_price_gives_no_figure_and_says_why(model: str | None, reason: str) -> None:
    result = tiering_savings([summary("extraction", "cheap", 100, 0.2)], "premium", model, None)

    assert result.achieved_usd is None and result.would_have_cost_usd is None
    assert result.reason is not None and reason in result.reason
    assert result.cost_usd == pytest.approx(0.2)


def test_a_quarter_hour_is_ninety_ten_second_buckets_ending_with_the_current_one() -> None:
    quarter = window(TimeRange.QUARTER, NOW)

    assert quarter.bucket == "10 seconds" and len(quarter.starts()) == 90
    assert quarter.until == datetime(2026, 11, 25, 14, 37, 10, tzinfo=UTC)
    assert quarter.since == datetime(2026, 11, 25, 14, 22, 10, tzinfo=UTC)
    assert quarter.key(quarter.starts()[-1]) == "2026-11-25 14:37:0"


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(seconds=30), TimeRange.QUARTER),
        (timedelta(minutes=14), TimeRange.QUARTER),
        (timedelta(minutes=20), TimeRange.HOUR),
        (timedelta(hours=5), TimeRange.DAY),
        (timedelta(days=3), TimeRange.WEEK),
        (timedelta(days=20), TimeRange.MONTH),
        (timedelta(days=40), TimeRange.MONTH),
    ],
)
def test_the_page_opens_on_the_shortest_range_that_holds_the_data(
    age: timedelta, expected: TimeRange
) -> None:
    assert fitting_range(NOW - age, NOW) == expected
    assert fitting_range((NOW - age).replace(tzinfo=None), NOW) == expected  # SQLite's naive UTC


def test_an_empty_store_opens_on_a_day() -> None:
    assert fitting_range(None, NOW) == TimeRange.DAY


def _detection(status: str) -> ClassDetection:
    return ClassDetection(
        task_class="legal-qa", tier="premium", status=status, message=f"detector says {status}", samples=10,
        e_value=None, evidence=None, reference_rate=0.68, reference_source="floor", baseline_samples=0,
        baseline_needed=None, window_start=NOW, alarmed_at=None,
    )  # fmt: skip


PROMOTION = Move(kind="promoted", from_tier="cheap", to_tier="premium", at=NOW - timedelta(minutes=5))


def test_a_class_promoted_in_the_window_reads_promoted_with_what_its_new_detector_says() -> None:
    state = class_state(_detection("not enough samples"), "premium", PROMOTION, NOW - timedelta(hours=1))

    assert (state.state, state.label, state.since) == ("promoted", "promoted to premium", PROMOTION.at)
    assert state.detail == (
        "promoted from cheap to premium after degrading on cheap; its detector on premium: not enough samples"
    )


def test_degraded_outranks_a_move_and_an_old_move_gives_way_to_a_detector_with_a_verdict() -> None:
    since = NOW + timedelta(minutes=1)  # the promotion is before the window

    assert class_state(_detection("degraded"), "premium", PROMOTION, since).state == "degraded"
    assert class_state(_detection("healthy"), "premium", PROMOTION, since).state == "healthy"
    assert class_state(_detection("not enough samples"), "premium", PROMOTION, since).state == "promoted"
    assert class_state(None, "cheap", None, since).label == "not tracked"
    # A class moved back down since its promotion is not shown as promoted.
    assert class_state(_detection("healthy"), "cheap", PROMOTION, NOW - timedelta(hours=1)).state == "healthy"
