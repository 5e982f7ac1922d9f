"""What to do about a class whose detector e-BH flagged (pure: no session, no clock, no I/O).

The rules, in the order they are applied:

* a flagged class is always reported: a ``degraded`` audit row with the evidence behind it, and a
  ``class.degraded`` event;
* it is moved one tier up only when the verdicts that raised the alarm come from the sources
  ``decisions.sources`` lists, its ``auto_promote`` is on, no person pinned it, its cool-down has
  passed, and a higher tier exists; otherwise the alert stands alone and its reason says why;
* nothing here ever moves a class down.  That is the hysteresis: a promoted class returns to a
  cheaper tier only through a demotion recommendation, after evidence of parity on that tier, so a
  class cannot flap between tiers on the noise of one detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from driftwatch.config import ClassConfig
from driftwatch.stats.detector import Assessment
from driftwatch.stats.proportions import wilson_interval


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the verdicts behind an alarm came from: the sources ``decisions.sources`` lists (which
    may move traffic), or others (which may not), by name."""

    listed: bool
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Signal:
    """One class's detector at the moment e-BH flagged it: everything the audit row must show."""

    task_class: str
    tier: str
    assessment: Assessment
    reference_rate: float
    reference_source: str  # "floor", "confidence_sequence" or "baseline"
    accepted: int  # accepted outcomes since the detector started (of ``assessment.samples``)
    window_start: datetime
    alpha: float
    horizon: int
    classes: int  # how many classes e-BH ran across
    alarm_evaluation: dict[str, Any] | None = None  # the evaluation at which the statistic was checked
    sources: Sources = Sources(listed=True, names=())


@dataclass(frozen=True, slots=True)
class Route:
    """Where the class is routed now, and what may hold it there."""

    tier: str
    pinned: bool
    cooldown_until: datetime | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The decision for a flagged class: always an alert; a promotion when ``promote_to`` is set."""

    reason: str
    evidence: dict[str, Any]
    promote_to: str | None
    promotion_reason: str | None


def evidence(signal: Signal) -> dict[str, Any]:
    """The audit evidence of an alarm: the test, its threshold, and the rates it compared."""
    assessment = signal.assessment
    samples = assessment.samples
    interval = wilson_interval(signal.accepted, samples)
    return {
        "test": "mixture Shiryaev-Roberts e-detector, e-BH across classes",
        "tier": signal.tier,
        "log_statistic": assessment.log_statistic,
        # e-BH flags r classes when e >= K / (alpha * r); a lone class needs R >= K * N / alpha.
        "threshold": signal.classes * signal.horizon / signal.alpha,
        "e_value": assessment.e_value,
        "reference_rate": signal.reference_rate,
        "reference_source": signal.reference_source,
        "samples": samples,
        "accepted": signal.accepted,
        "acceptance_rate": signal.accepted / samples if samples else None,
        "acceptance_interval": [interval.low, interval.high] if interval else None,
        "window_start": signal.window_start.isoformat(),
        "alpha": signal.alpha,
        "horizon": signal.horizon,
        "classes": signal.classes,
        "alarm_evaluation": signal.alarm_evaluation,
        "message": assessment.message,
        "sources": list(signal.sources.names),
        "sources_listed": signal.sources.listed,
    }


REFERENCE_NAMES = {
    "floor": "declared floor",
    "baseline": "baseline",
    "confidence_sequence": "baseline's running lower bound",
}


def moment(at: datetime) -> str:
    """A time as people read it in a reason: ``Dec 3, 14:05:09 UTC``."""
    utc = at.astimezone(UTC)
    return f"{utc:%b} {utc.day}, {utc:%H:%M:%S} UTC"


def decide(
    signal: Signal, config: ClassConfig, route: Route, tier_above: str | None, now: datetime
) -> Outcome:
    """The decision for a class e-BH flagged as degraded on ``route.tier``."""
    samples = signal.assessment.samples
    rate = signal.accepted / samples if samples else 0.0
    # The whole window's rate can still sit above the reference: the test alarms on the recent drop.
    reason = (
        f"acceptance on {signal.tier} fell below the {REFERENCE_NAMES.get(signal.reference_source, 'reference')} "
        f"of {signal.reference_rate:.1%}: the drift test alarmed with {signal.accepted:,} of {samples:,} "
        f"accepted ({rate:.1%}) "
        f"since {moment(signal.window_start)}"
    )
    held = _held_because(signal.sources, config, route, tier_above, now)
    if held is not None:
        return Outcome(f"{reason}; alert only: {held}", evidence(signal), None, None)
    promotion = f"promoted from {route.tier} to {tier_above} after degradation: {reason}"
    return Outcome(reason, evidence(signal), tier_above, promotion)


def _held_because(
    sources: Sources, config: ClassConfig, route: Route, tier_above: str | None, now: datetime
) -> str | None:
    # Verdicts from sources the operator did not list never move traffic, whatever else holds.  A
    # person's pin outranks the automation, and the cool-down outranks a fresh alarm: both are named
    # next so the reason tells the reader which lever to pull.
    if not sources.listed:
        named = ", ".join(sources.names) or "unlisted sources"
        return f"the verdicts come from sources not in decisions.sources ({named}), which move no class"
    if route.pinned:
        return f"the class is pinned to {route.tier}"
    if route.cooldown_until is not None and now < route.cooldown_until:
        return f"in cool-down until {moment(route.cooldown_until)}"
    if not config.auto_promote:
        return "auto_promote is off for this class"
    if tier_above is None:
        return f"{route.tier} is already the top tier"
    return None
