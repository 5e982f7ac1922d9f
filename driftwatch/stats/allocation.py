"""Budget-optimal sample rates (``shadow.rate: auto``): a day's shadow budget split across classes so that
the money-weighted expected detection delay is as small as the budget allows, coverage first.

The delay model is the planner's (``planner.py``): after a drop, the detector needs about ``S`` samples
(Lorden's bound ``log(A) / KL``, the expected delay), whatever the rate; a class with ``T`` calls a day
sampled at rate ``r`` gets ``r * T`` samples a day, so the drop is caught ``S / (r * T)`` days after it
starts.  A class's weight ``w`` is its money at risk per day (traffic times the price difference between
its tier and the reference tier); a sample costs ``c``.  The problem

    minimise  sum_i w_i * S_i / (r_i * T_i)   subject to   sum_i r_i * T_i * c_i <= B,  lo_i <= r_i <= hi_i

is convex (each term is convex in ``r_i``, the constraints linear), so its KKT point is the optimum:
``w_i S_i / (r_i^2 T_i) = lambda * T_i c_i`` gives ``r_i = clip(theta * a_i, lo_i, hi_i)`` with
``a_i = sqrt(w_i S_i / c_i) / T_i`` and one ``theta = lambda^(-1/2)`` for all classes, the value at which the
spend meets the budget (spend is piecewise linear and increasing in ``theta``,
so it is found exactly by a sweep over its kinks).  Note the
rate falls with traffic (``r ~ 1/sqrt(T)`` at equal price difference): a busy class gets more samples a day
but a smaller share of its calls.  docs/sampling-auto.md has the derivation in full.

Coverage comes first (issue 18): a class that still needs ``M`` evaluations before its detector has a
reference is given the rate that collects them within the coverage window, ``M / (T * days)`` (within its
cap), before any money goes to classes that are already protected.  When the budget cannot cover them
all, it is split among the unprotected classes alone by the same rule with ``M`` in place of ``S``
(money-weighted time to a reference), and the protected classes get nothing extra that day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

COVERAGE, SHORT, OPTIMAL, AT_CAP, IDLE = "coverage", "coverage, budget short", "optimal", "at cap", "idle"
REASONS: Final = (COVERAGE, SHORT, OPTIMAL, AT_CAP, IDLE)
"""Why a class got its rate: collecting a reference (in full, or what a short budget allows), the
optimum, its cap (policy cap or its own daily budget), or nothing to gain (no money at risk, no
detectable drop, or no budget left)."""


@dataclass(frozen=True, slots=True)
class ClassDemand:
    """What the allocation knows of one class (per UTC day)."""

    task_class: str
    traffic_per_day: float
    cost_per_sample_usd: float
    money_at_risk_usd: float
    samples_to_detect: float  # expected samples after a drop (math.inf: the drop cannot be detected)
    reference_samples_needed: int = 0  # > 0: unprotected, this many evaluations before a reference
    max_rate: float = 1.0
    min_rate: float = 0.0

    def __post_init__(self) -> None:
        if not (self.traffic_per_day > 0 and self.cost_per_sample_usd > 0):
            raise ValueError(f"{self.task_class}: traffic and the cost of a sample must be positive")
        if self.money_at_risk_usd < 0 or not self.samples_to_detect > 0 or self.reference_samples_needed < 0:
            raise ValueError(f"{self.task_class}: money at risk, samples and reference samples out of range")
        if not 0 <= self.min_rate <= self.max_rate <= 1:
            raise ValueError(f"{self.task_class}: need 0 <= min_rate <= max_rate <= 1")

    @property
    def unit_cost_usd(self) -> float:
        """Spend per day per unit of rate: a rate of 1 samples every call."""
        return self.traffic_per_day * self.cost_per_sample_usd

    def delay_days(self, rate: float) -> float:
        """Expected days from a drop to the alarm at ``rate`` (``inf`` at rate 0)."""
        return self.samples_to_detect / (rate * self.traffic_per_day) if rate > 0 else math.inf


@dataclass(frozen=True, slots=True)
class Allocation:
    task_class: str
    rate: float
    samples_per_day: float
    spend_usd: float
    expected_delay_days: float | None  # None: never (rate 0, or no reference yet)
    days_to_reference: float | None  # unprotected classes: days until their reference at this rate
    reason: str


@dataclass(frozen=True, slots=True)
class AllocationPlan:
    items: tuple[Allocation, ...]
    budget_usd: float
    spend_usd: float

    def rates(self) -> dict[str, float]:
        return {item.task_class: item.rate for item in self.items}


def allocate(demands: Sequence[ClassDemand], budget_usd: float, *, coverage_days: float) -> AllocationPlan:
    """Rates for ``demands`` spending at most ``budget_usd`` a day: unprotected classes first (a reference
    within ``coverage_days``), then the money-weighted delay of the protected ones minimised."""
    if budget_usd < 0 or not coverage_days > 0:
        raise ValueError(f"need a budget >= 0 and a positive window, got {budget_usd} and {coverage_days}")
    unprotected = [d for d in demands if d.reference_samples_needed > 0]
    protected = [d for d in demands if d.reference_samples_needed == 0]
    wanted = np.array([_coverage_rate(d, coverage_days) for d in unprotected])
    units = np.array([d.unit_cost_usd for d in unprotected])
    rates: dict[str, float] = {}
    reasons: dict[str, str] = {}
    if float(wanted @ units) > budget_usd:
        weights = [math.sqrt(d.money_at_risk_usd * d.reference_samples_needed) for d in unprotected]
        shares = _fill(unprotected, weights, np.zeros(len(unprotected)), wanted, budget_usd)
        rates.update(zip((d.task_class for d in unprotected), shares.tolist(), strict=True))
        reasons.update((d.task_class, SHORT) for d in unprotected)
        rates.update((d.task_class, 0.0) for d in protected)
        reasons.update((d.task_class, IDLE) for d in protected)
        return _plan(demands, rates, reasons, budget_usd)
    rates.update(zip((d.task_class for d in unprotected), wanted.tolist(), strict=True))
    reasons.update((d.task_class, COVERAGE) for d in unprotected)
    left = max(0.0, budget_usd - float(wanted @ units))
    weights = [
        math.sqrt(d.money_at_risk_usd * d.samples_to_detect) if math.isfinite(d.samples_to_detect) else 0.0
        for d in protected
    ]
    low = np.array([d.min_rate for d in protected])
    high = np.array([d.max_rate for d in protected])
    shares = _fill(protected, weights, low, high, left)
    for demand, weight, rate in zip(protected, weights, shares.tolist(), strict=True):
        rates[demand.task_class] = rate
        reasons[demand.task_class] = IDLE if weight == 0 or rate == 0 else AT_CAP
        if weight > 0 and 0 < rate < demand.max_rate * (1 - 1e-9):
            reasons[demand.task_class] = OPTIMAL
    return _plan(demands, rates, reasons, budget_usd)


def _coverage_rate(demand: ClassDemand, days: float) -> float:
    return min(demand.max_rate, demand.reference_samples_needed / (demand.traffic_per_day * days))


def _fill(
    demands: Sequence[ClassDemand], weights: Sequence[float], low: FloatArray, high: FloatArray, budget: float
) -> FloatArray:
    """``clip(theta * a, low, high)`` at the ``theta`` whose spend is ``budget`` (every class at ``high``
    when that fits; ``low`` scaled down when even that does not), ``a_i = weight_i / sqrt(c_i) / T_i`` with
    ``weight_i = sqrt(w_i * S_i)``.

    The spend is piecewise linear in ``theta``, its kinks where a class leaves ``low`` or reaches
    ``high``: a sweep over the sorted kinks finds ``theta`` exactly, in ``O(n log n)``, where a root
    finder would need a tolerance and fail to converge on weights that span hundreds of decades.
    """
    if not demands:
        return np.zeros(0)
    units = np.array([d.unit_cost_usd for d in demands])
    slope = np.array(
        [
            w / math.sqrt(d.cost_per_sample_usd) / d.traffic_per_day
            for d, w in zip(demands, weights, strict=True)
        ]
    )
    spend = float(low @ units)
    if spend >= budget:
        return low * (budget / spend) if spend > 0 else low.copy()
    moving = np.flatnonzero(slope > 0)
    top = low.copy()
    top[moving] = high[moving]
    if float(top @ units) <= budget:
        return top
    kinks = sorted(
        [(low[i] / slope[i], slope[i] * units[i]) for i in moving]
        + [(high[i] / slope[i], -slope[i] * units[i]) for i in moving]
    )
    theta = gradient = 0.0
    for at, change in kinks:
        reached = spend + gradient * (at - theta)
        if reached >= budget and gradient > 0:
            break
        theta, spend, gradient = at, reached, gradient + change
    theta += (budget - spend) / gradient
    rates = np.clip(theta * slope, low, high)
    # Rounding may leave the spend a hair over: take that off the part above ``low``.
    over = float(rates @ units) - budget
    if over > 0:
        free = float((rates - low) @ units)
        rates = low + (rates - low) * max(0.0, 1 - over / free) if free > 0 else low
    return np.asarray(rates, dtype=np.float64)


def _plan(
    demands: Sequence[ClassDemand], rates: Mapping[str, float], reasons: Mapping[str, str], budget: float
) -> AllocationPlan:
    items = []
    for demand in demands:
        rate = rates[demand.task_class]
        per_day = rate * demand.traffic_per_day
        needed = demand.reference_samples_needed
        delay = demand.delay_days(rate)
        items.append(
            Allocation(
                task_class=demand.task_class,
                rate=rate,
                samples_per_day=per_day,
                spend_usd=rate * demand.unit_cost_usd,
                expected_delay_days=delay if math.isfinite(delay) and not needed else None,
                days_to_reference=(needed / per_day if per_day > 0 else None) if needed else None,
                reason=reasons[demand.task_class],
            )
        )
    return AllocationPlan(tuple(items), budget, sum(item.spend_usd for item in items))


def weighted_delay(demands: Sequence[ClassDemand], rates: Mapping[str, float]) -> float:
    """The money-weighted mean expected delay in days, ``sum w_i d_i / sum w_i`` (``inf`` when a class
    with money at risk gets no samples)."""
    total = sum(d.money_at_risk_usd for d in demands)
    if total == 0:
        return 0.0
    weighted = sum(
        d.money_at_risk_usd * d.delay_days(rates[d.task_class]) for d in demands if d.money_at_risk_usd
    )
    return weighted / total


def uniform_rate(demands: Sequence[ClassDemand], budget_usd: float) -> float:
    """The one rate for every class that spends ``budget_usd`` a day (caps aside): what auto is compared to."""
    units = sum(d.unit_cost_usd for d in demands)
    return min(1.0, budget_usd / units) if units > 0 else 0.0
