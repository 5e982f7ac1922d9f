"""Coverage of a class: the smallest drop its detector would catch within a window, or why none (pure).

The model is the planner's (``planner.py``): a fall from the class's rate ``b`` to ``b - d`` tested
against reference ``r`` needs ``samples_to_detect(r, b - d)`` samples after the fall for 9 detections
in 10.  A class samples ``s`` outcomes a day (its calls on sampled tiers times its rate, no more than
its daily budget buys), so within ``W`` days it has ``s * W`` of them: the smallest drop ``d`` whose
need fits is the class's *minimum detectable drop*, and the class is *protected* against a target drop
when it has a reference and that target is at least as large.

A class without a reference yet (no floor declared, its confidence sequence still short of
``min_samples``) is protected later: after ``n`` outcomes at its rate ``b`` the sequence's bound would
be about ``lower_bound(b n, n, delta)``, and the class is protected from the first ``n`` at which that
reference sees the target drop within the window.  ``protected_in_days`` is the time to that ``n`` at
the current rate; :func:`samples_per_day_to_protect` inverts it: the least samples a day with which
the class is protected within the window from now (its reference learned and its detector fast enough).
That figure divided by the calls a day is the rate coverage-first sampling asks for
(:func:`rate_to_protect`, also what a budget allocator takes as its first constraint).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from driftwatch.stats.detector import AlarmThreshold
from driftwatch.stats.planner import P90_SPREAD, samples_to_detect
from driftwatch.stats.sequence import lower_bound

FloatArray = npt.NDArray[np.float64]

FLOOR, SEQUENCE, WINDOW = "floor", "confidence_sequence", "baseline"
REASONS: Final = (
    "no_reference",
    "reference_too_loose",
    "no_provider",
    "no_content",
    "sampling_off",
    "budget",
    "too_little_traffic",
)
"""Why a class is unprotected; ``cause`` folds the first two into what keeps the reference away."""
ASSUMED_RATE: Final = 0.9
"""The rate drops are measured from before ``MIN_OUTCOMES`` outcomes: the sequence prior's mean."""
MIN_OUTCOMES: Final = 30
_GRID: Final = 64  # baseline sizes tried between now and the frozen reference (3% apart at most)


@dataclass(frozen=True, slots=True)
class CoverageTarget:
    """The drop to be protected against and the window to catch it in (policy ``coverage``)."""

    drop: float = 0.10
    window_days: float = 7.0

    def __post_init__(self) -> None:
        if not 0 < self.drop < 1 or not self.window_days > 0:
            raise ValueError(f"need 0 < drop < 1 and a positive window, got {self.drop}, {self.window_days}")


@dataclass(frozen=True, slots=True)
class ReferencePlan:
    """Where the class's reference comes from and how far it got.

    ``source`` is ``floor`` (``rate`` declared), ``confidence_sequence`` (a reference from
    ``min_samples`` outcomes on, tightening until ``max_samples``, error ``delta``) or ``baseline`` (a
    lower 95% bound once ``max_samples`` outcomes are in).  ``accepted`` of ``total`` outcomes so far.
    """

    source: str
    rate: float | None
    accepted: int = 0
    total: int = 0
    min_samples: int = 300
    max_samples: int = 2_000
    delta: float = 0.005

    @property
    def baseline(self) -> float:
        """The rate a drop is measured from: the floor, the outcomes so far, or an assumed rate."""
        if self.source == FLOOR and self.rate is not None:
            return self.rate
        return self.accepted / self.total if self.total >= MIN_OUTCOMES else ASSUMED_RATE


@dataclass(frozen=True, slots=True)
class ClassLoad:
    """What the class feeds its detector: calls a day on sampled tiers, the rate sampling them, the
    daily budget and what a sample costs (``None``: unknown, the budget caps nothing), and ``blocked``
    (``no_provider``, ``no_content``) when nothing can be evaluated whatever the rate."""

    calls_per_day: float
    rate: float
    daily_budget_usd: float
    cost_per_sample_usd: float | None = None
    blocked: str | None = None


@dataclass(frozen=True, slots=True)
class Coverage:
    """A class's protection: ``protected`` against ``target``, else ``reason`` (one of ``REASONS``)."""

    target: CoverageTarget
    protected: bool
    reason: str | None
    baseline: float
    samples_per_day: float
    budget_limited: bool
    min_detectable_drop: float | None
    protected_in_days: float | None
    message: str

    @property
    def cause(self) -> str | None:
        """What keeps the class unprotected, as an alert names it: a missing reference is a matter of
        samples, so of the budget or of too little traffic."""
        if self.reason in ("no_reference", "reference_too_loose"):
            return "budget" if self.budget_limited else "too_little_traffic"
        return self.reason


def samples_per_day(load: ClassLoad) -> tuple[float, bool]:
    """Outcomes a day the class's detector gets, and whether the budget is what limits them."""
    wanted = max(0.0, load.calls_per_day * load.rate)
    if load.daily_budget_usd <= 0:
        return 0.0, wanted > 0
    if load.cost_per_sample_usd and load.cost_per_sample_usd > 0:
        affordable = load.daily_budget_usd / load.cost_per_sample_usd
        if affordable < wanted:
            return affordable, True
    return wanted, False


def min_detectable_drop(
    baseline: float, reference: float, samples: float, threshold: AlarmThreshold
) -> float | None:
    """The smallest drop from ``baseline`` that a detector on ``reference`` catches 9 times in 10
    within ``samples`` samples; ``None`` when not even a fall to almost zero is caught."""
    if samples <= 0 or not 0 < reference < 1 or not 0 < baseline < 1:
        return None
    low, high = max(0.0, baseline - reference), baseline * (1 - 1e-9)
    if samples_to_detect(reference, baseline - high, threshold) > samples:
        return None
    for _ in range(60):  # the need falls as the drop grows: bisect to well below a rounding step
        middle = (low + high) / 2
        if samples_to_detect(reference, baseline - middle, threshold) <= samples:
            high = middle
        else:
            low = middle
    return high


def samples_per_day_to_protect(
    plan: ReferencePlan, target: CoverageTarget, threshold: AlarmThreshold
) -> float | None:
    """The least outcomes a day with which the class is protected against ``target`` within its
    window from now: its reference learned (if it has none) *and* the drop caught in time by then;
    ``None`` when no rate does it (the drop reaches zero, or stays above every reference)."""
    sizes, need = _needs(plan, target, threshold)
    if sizes.size == 0:
        return None
    per_day = np.maximum(need, sizes - plan.total) / target.window_days
    best = float(np.min(per_day))
    return best if math.isfinite(best) else None


def rate_to_protect(
    plan: ReferencePlan, calls_per_day: float, target: CoverageTarget, threshold: AlarmThreshold
) -> float | None:
    """The sample rate that protects the class within the window at ``calls_per_day``; ``None`` when
    no rate up to 1 does (too little traffic: only a larger drop, a longer window or a floor help)."""
    needed = samples_per_day_to_protect(plan, target, threshold)
    if needed is None or calls_per_day <= 0:
        return None
    rate = needed / calls_per_day
    return rate if rate <= 1 else None


def coverage_rate(
    plan: ReferencePlan, load: ClassLoad, target: CoverageTarget, threshold: AlarmThreshold, cap: float
) -> float | None:
    """Coverage first: the rate a class without a reference is raised to, or ``None`` for its normal
    rate.  The rate that protects it within the window (:func:`rate_to_protect`), no higher than
    ``cap`` nor than its daily budget buys; when no rate protects it in time, as high as those allow,
    so its reference comes as soon as it can.  A class with a reference (or a floor), one that
    cannot be evaluated, or one whose rate or budget is 0 (sampling turned off) is left alone."""
    if plan.rate is not None or load.blocked or load.calls_per_day <= 0:
        return None
    if load.rate <= 0 or load.daily_budget_usd <= 0:
        return None
    ceiling = cap
    if load.cost_per_sample_usd and load.cost_per_sample_usd > 0:
        ceiling = min(ceiling, load.daily_budget_usd / load.cost_per_sample_usd / load.calls_per_day)
    needed = rate_to_protect(plan, load.calls_per_day, target, threshold)
    chosen = ceiling if needed is None else min(max(needed, load.rate), ceiling)
    return chosen if chosen > load.rate else None


def protected_in_days(
    plan: ReferencePlan, per_day: float, target: CoverageTarget, threshold: AlarmThreshold
) -> float | None:
    """Days until the class is protected at ``per_day`` outcomes a day (0 when it is now); ``None``
    when it never is at that rate."""
    sizes, need = _needs(plan, target, threshold)
    reachable = need <= per_day * target.window_days
    if per_day <= 0 or not reachable.any():
        return None
    return float(np.min((sizes[reachable] - plan.total) / per_day))


def assess(
    plan: ReferencePlan, load: ClassLoad, target: CoverageTarget, threshold: AlarmThreshold
) -> Coverage:
    """The class's coverage against ``target`` at its current load."""
    per_day, limited = samples_per_day(load)
    baseline = plan.baseline
    window = f"a {target.drop:.2f} drop within {target.window_days:g} days"
    detectable = None
    if plan.rate is not None and not load.blocked:
        detectable = min_detectable_drop(baseline, plan.rate, per_day * target.window_days, threshold)
    found = (baseline, per_day, limited, detectable)
    if detectable is not None and detectable <= target.drop + 1e-12:
        return Coverage(target, True, None, *found, 0.0, f"protected against {window}")
    soon = None if load.blocked else protected_in_days(plan, per_day, target, threshold)
    reason = _reason(plan, load, target, threshold, per_day, limited, baseline)
    message = f"unprotected against {window}: {_EXPLAIN[reason]}"
    if soon is not None:
        message += f", protected in ~{math.ceil(soon)} days at the current rate"
    elif reason in ("no_reference", "reference_too_loose", "too_little_traffic", "budget"):
        message += ", not at the current rate"
    if detectable is not None:
        message += f" (catches a {detectable:.2f} drop now)"
    return Coverage(target, False, reason, *found, soon, message)


_EXPLAIN = {
    "no_reference": "no reference yet",
    "reference_too_loose": "the reference is still too loose to see it",
    "no_provider": "no provider for the reference tier, nothing is replayed",
    "no_content": "no stored content to replay (enable content capture)",
    "sampling_off": "its sample rate is 0",
    "budget": "the daily budget limits its samples",
    "too_little_traffic": "too little traffic for the samples it needs",
}


def _reason(
    plan: ReferencePlan,
    load: ClassLoad,
    target: CoverageTarget,
    threshold: AlarmThreshold,
    per_day: float,
    limited: bool,
    baseline: float,
) -> str:
    if load.blocked:
        return load.blocked
    if load.rate <= 0:
        return "sampling_off"
    if load.daily_budget_usd <= 0:
        return "budget"
    if plan.rate is None:
        return "no_reference"
    if baseline - target.drop >= plan.rate:
        return "reference_too_loose"
    wanted = load.calls_per_day * load.rate * target.window_days
    uncapped = min_detectable_drop(baseline, plan.rate, wanted, threshold)
    return "budget" if limited and uncapped is not None and uncapped <= target.drop else "too_little_traffic"


def projected_reference(plan: ReferencePlan, baseline: float, sizes: npt.ArrayLike) -> FloatArray:
    """The reference the class would have after ``sizes`` outcomes (``nan``: none yet), the outcomes
    after the ones so far arriving at rate ``baseline``."""
    n = np.asarray(sizes, dtype=np.float64)
    if plan.source == FLOOR:
        return np.full(n.shape, np.nan if plan.rate is None else plan.rate)
    capped = np.minimum(n, plan.max_samples)
    accepted = plan.accepted + baseline * np.maximum(0.0, capped - plan.total)
    if plan.source == SEQUENCE:
        bounds = lower_bound(np.minimum(accepted, capped), capped, plan.delta)
        bounds[capped < plan.min_samples] = np.nan
    else:
        from scipy.stats import beta  # type: ignore[import-untyped]  # no scipy-stubs installed

        # The window's one-sided 95% Clopper-Pearson bound, read once the window is full.
        bounds = np.where(capped >= plan.max_samples, beta.ppf(0.05, accepted, capped - accepted + 1), np.nan)
    current = np.nan if plan.rate is None else plan.rate
    return np.asarray(np.fmax(bounds, current), dtype=np.float64)


@lru_cache(maxsize=4_096)
def _needs(
    plan: ReferencePlan, target: CoverageTarget, threshold: AlarmThreshold
) -> tuple[FloatArray, FloatArray]:
    """Baseline sizes from now until the reference freezes, and the samples each one's reference
    needs to catch the target drop (``inf`` where there is no reference or it cannot see the drop).
    Cached: a class's assessment, its raised rate and its rate to protect all ask for the same one
    (the arrays are never written to)."""
    if plan.source == FLOOR:
        sizes = np.array([float(plan.total)])
    else:
        start = max(plan.total, min(plan.min_samples, plan.max_samples), 1)
        grid = np.round(np.geomspace(start, max(start, plan.max_samples), _GRID))
        sizes = np.unique(np.concatenate([[plan.total, start], grid]))
    baseline = plan.baseline
    after = baseline - target.drop
    if after <= 0:
        return sizes, np.full(sizes.shape, np.inf)
    references = projected_reference(plan, baseline, sizes)
    return sizes, _detection_samples(references, after, threshold)


def _detection_samples(references: FloatArray, after: float, threshold: AlarmThreshold) -> FloatArray:
    """:func:`planner.samples_to_detect` over many references at once (``inf`` where it is undefined)."""
    usable = np.isfinite(references) & (references > after) & (references < 1)
    q = np.where(usable, references, 0.5)
    kl = after * np.log(after / q) + (1 - after) * np.log((1 - after) / (1 - q))
    bound = np.divide(threshold.log_value, kl, out=np.full(q.shape, np.inf), where=usable & (kl > 0))
    return np.where(usable, np.ceil(bound + P90_SPREAD * np.sqrt(bound)), np.inf)
