"""How many shadow samples a class needs per day to catch a given drop in time, and what that costs.

The detector (``detector.py``) needs a number of samples *after* a drop that no test can beat by
much: Lorden's bound ``L = log(A) / KL(after || reference)`` (Lorden 1971) for an alarm threshold
``A``.  The planner asks for ``L + P90_SPREAD * sqrt(L)`` samples, the detector's 90th-percentile
delay — 9 drops in 10 detected within the window — and spreads them over the window.  Why that form:
the alarm is the first passage of a random walk with positive drift over a level, and the spread of
such a passage time grows as the square root of its mean (the central limit theorem for first passage
times; Gut, "Stopped Random Walks", 2009).  So one constant fits short and long delays alike, where a
plain factor on ``L`` is too tight for the first and too generous for the second.  The constant is
measured by simulating the detector itself from scratch at the drop (``R_0 = 0``, the slowest case)
in ``bench/detection.py``.

A drop of 5 points from 0.95 has ``KL ≈ 0.021`` nats per sample: hundreds of samples whatever the
test.  The levers are more samples per day or a larger minimum detectable drop, and the plan's message
says so with numbers when the need is large.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

from driftwatch.stats.detector import AlarmThreshold, bernoulli_kl
from driftwatch.stats.reference import baseline_reference

P90_SPREAD: Final = 7.0
"""``(p90 delay - L) / sqrt(L)`` from scratch, rounded up; bench/README.md "Detection quality" measures it."""

DEFAULT_THRESHOLD: Final = AlarmThreshold()
"""One class, false alarms at most 1% within 10,000 healthy samples."""

LARGE_NEED: Final = 1_000
"""From this many samples per detection on, the message spells out the levers."""


@dataclass(frozen=True, slots=True)
class SamplingPlan:
    """Samples a class needs; ``None`` counts mean the drop cannot be detected as asked (see ``message``).

    ``samples_needed`` counts samples after the drop for 9 detections in 10, ``samples_per_day`` spreads
    them over ``within_days``; ``reference`` is the rate the detector compares against.
    """

    baseline: float
    drop: float
    within_days: float
    reference: float | None
    lorden_bound: float | None
    samples_needed: int | None
    samples_per_day: int | None
    message: str


def plan_sampling(
    baseline: float,
    drop: float,
    within_days: float,
    *,
    threshold: AlarmThreshold = DEFAULT_THRESHOLD,
    baseline_samples: int | None = None,
) -> SamplingPlan:
    """Plan the samples to detect a drop from ``baseline`` to ``baseline - drop`` within ``within_days``.

    ``threshold`` is the detector's (horizon, alpha and number of classes of the deployment).  With
    ``baseline_samples`` the reference is the 95% lower bound a baseline window of that size would give
    (``baseline_reference``) rather than ``baseline`` itself as a declared floor; part of the drop then
    goes to the bound's margin, which makes detection slower.
    """
    if not 0 < drop < baseline < 1:
        raise ValueError(f"need 0 < drop < baseline < 1, got drop {drop} from {baseline}")
    if not within_days > 0:
        raise ValueError(f"the window must be positive, got {within_days} days")
    plan = SamplingPlan(baseline, drop, within_days, None, None, None, None, "")
    reference = baseline
    if baseline_samples is not None:
        learned = baseline_reference(round(baseline * baseline_samples), baseline_samples)
        if learned.rate is None:
            return replace(plan, message=f"{learned.message}: declare a floor for the class instead")
        reference = learned.rate
    after = baseline - drop
    if after >= reference:
        return replace(
            plan,
            reference=reference,
            message=f"a drop to {after:.3f} stays above the reference {reference:.4f} (the baseline's lower"
            " bound): a longer baseline window or a declared floor is needed to see it",
        )
    bound = _lorden(reference, after, threshold)
    needed = samples_to_detect(reference, after, threshold)
    per_day = math.ceil(needed / within_days)
    message = f"{per_day} samples/day: {needed} samples after a drop to {after:.3f} detect it within"
    message += f" {within_days:g} days 9 times in 10"
    if needed >= LARGE_NEED:
        # One concrete alternative: twice the drop (KL about fourfold), kept short of a zero rate.
        larger = min(2 * drop, (drop + baseline) / 2)
        larger_needed = _p90_delay(_lorden(reference, baseline - larger, threshold))
        message += (
            "; the levers are more samples per day or a larger minimum detectable drop"
            f" (a drop of {larger:.3f} needs {math.ceil(larger_needed / within_days)} samples/day)"
        )
    return replace(
        plan,
        reference=reference,
        lorden_bound=bound,
        samples_needed=needed,
        samples_per_day=per_day,
        message=message,
    )


def _lorden(reference: float, after: float, threshold: AlarmThreshold) -> float:
    return threshold.log_value / bernoulli_kl(after, reference)


def samples_to_detect(reference: float, after: float, threshold: AlarmThreshold = DEFAULT_THRESHOLD) -> int:
    """Samples after a fall to ``after`` that a detector on ``reference`` needs to catch it 9 times in 10
    (the planner's model: Lorden's bound plus the measured spread); needs ``0 < after < reference < 1``."""
    if not 0 < after < reference < 1:
        raise ValueError(f"need 0 < after < reference < 1, got {after} below {reference}")
    return _p90_delay(_lorden(reference, after, threshold))


def daily_cost(plan: SamplingPlan, cost_per_sample: float) -> float | None:
    """What the plan costs per day at ``cost_per_sample`` (shadow call plus judge); ``None`` if no plan."""
    if cost_per_sample < 0:
        raise ValueError(f"a cost cannot be negative, got {cost_per_sample}")
    return None if plan.samples_per_day is None else plan.samples_per_day * cost_per_sample


def _p90_delay(bound: float) -> int:
    return math.ceil(bound + P90_SPREAD * math.sqrt(bound))
