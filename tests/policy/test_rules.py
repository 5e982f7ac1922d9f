"""The pure rules: who gets promoted, who only gets an alert and why, and what the evidence holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from driftwatch.config import ClassConfig
from driftwatch.policy.rules import Route, Signal, decide
from driftwatch.stats.detector import AlarmThreshold, DetectorState, assess, update

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
START = NOW - timedelta(days=2)
PROMOTING = ClassConfig(auto_promote=True, acceptance_floor=0.95)


def _signal(accepted: int = 60, samples: int = 100) -> Signal:
    state = update(DetectorState(0.95), [True] * accepted + [False] * (samples - accepted))
    threshold = AlarmThreshold(horizon=10_000, alpha=0.01, classes=3)
    return Signal(
        task_class="extraction",
        tier="cheap",
        assessment=assess(state, threshold, flagged=True),
        reference_rate=0.95,
        reference_source="floor",
        accepted=accepted,
        window_start=START,
        alpha=0.01,
        horizon=10_000,
        classes=3,
    )


def test_a_degraded_class_that_may_move_is_promoted_one_tier_up() -> None:
    outcome = decide(_signal(), PROMOTING, Route("cheap", False, None), "mid", NOW)

    assert outcome.promote_to == "mid"
    assert outcome.promotion_reason is not None and "from cheap to mid" in outcome.promotion_reason
    assert outcome.reason == (
        "acceptance on cheap fell below the declared floor of 95.0%: the drift test alarmed with "
        "60 of 100 accepted (60.0%) since Nov 21, 12:00:00 UTC"
    )


@pytest.mark.parametrize(
    ("config", "route", "above", "why"),
    [
        (PROMOTING, Route("cheap", True, None), "mid", "pinned to cheap"),
        (PROMOTING, Route("cheap", False, NOW + timedelta(minutes=1)), "mid", "in cool-down until"),
        (ClassConfig(acceptance_floor=0.95), Route("cheap", False, None), "mid", "auto_promote is off"),
        (PROMOTING, Route("premium", False, None), None, "already the top tier"),
    ],
)
def test_otherwise_it_is_an_alert_that_says_why(
    config: ClassConfig, route: Route, above: str | None, why: str
) -> None:
    outcome = decide(_signal(), config, route, above, NOW)

    assert outcome.promote_to is None
    assert "alert only" in outcome.reason and why in outcome.reason


def test_a_cool_down_that_has_ended_holds_nothing() -> None:
    outcome = decide(_signal(), PROMOTING, Route("cheap", False, NOW), "mid", NOW)

    assert outcome.promote_to == "mid"


def test_the_evidence_names_the_test_its_threshold_and_the_rates_it_compared() -> None:
    evidence = decide(_signal(), PROMOTING, Route("cheap", False, None), "mid", NOW).evidence

    assert evidence["threshold"] == pytest.approx(3 * 10_000 / 0.01)
    assert evidence["log_statistic"] > 0 and evidence["e_value"] > 0
    assert evidence["reference_rate"] == 0.95 and evidence["reference_source"] == "floor"
    assert (evidence["samples"], evidence["accepted"], evidence["acceptance_rate"]) == (100, 60, 0.6)
    low, high = evidence["acceptance_interval"]
    assert low < 0.6 < high
    assert evidence["window_start"] == START.isoformat()
    assert (evidence["alpha"], evidence["horizon"], evidence["classes"]) == (0.01, 10_000, 3)
