"""``shadow.rate: auto`` in the store: each auto class's demand from its recent traffic, the allocation
(:mod:`driftwatch.stats.allocation`), kept in ``shadow_allocation`` and read by the sample job.

Per auto class with calls on a sampled tier in the last ``shadow.auto.traffic_days``:

* traffic: its calls a day on sampled tiers (over the days it has been seen, at most the window);
* the cost of a sample: the replay on the reference tier at its average tokens plus its LLM judges'
  upper estimate (``sampling/plan.py``, what ``driftwatch plan`` prices);
* money at risk a day: its traffic times the price difference per call between the reference tier
  (at its average tokens) and what its calls cost on their tier; unknown prices stay ``None`` in the
  table and weigh as the reference price per call (a cheap tier costs little next to it);
* samples to detect: the planner's expected samples after a drop of ``shadow.auto.drop`` from the
  class's reference (declared floor, the detector's reference, its baseline so far, else
  :data:`ASSUMED_ACCEPTANCE`), at the deployment's alarm threshold;
* a reference still needed: :func:`reference_samples_needed`.

The sample job calls :func:`refresh_allocation` at the start of each run: a new allocation when the
last is older than ``shadow.auto.every_hours``, when the policy sections it reads have changed, or when
there is none; serialised on a ``job_state`` row so replicas compute it once.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from driftwatch.config import DecisionConfig, Policy
from driftwatch.db.job_states import job_state
from driftwatch.db.models import ClassHour, DetectorRow, JobState, ShadowAllocation
from driftwatch.prices.pricing import PriceTable
from driftwatch.sampling.tiers import current_tiers
from driftwatch.shadow.sample_cost import replay_and_judge_cost
from driftwatch.stats.allocation import AllocationPlan, ClassDemand, allocate
from driftwatch.stats.detector import AlarmThreshold
from driftwatch.stats.planner import plan_sampling

ALLOCATION_STATE = "sample.allocation"
ASSUMED_ACCEPTANCE = 0.9
"""The acceptance rate assumed of a class with neither a floor nor 50 evaluations of its own."""
OWN_RATE_FROM = 50
UNPRICED_SAMPLE_USD = 0.01
"""The cost of a sample when no model's price is known: the split is then by samples, not dollars."""
LISTED_FEED = "listed"  # the detector whose alarm may promote (driftwatch.detection.detectors.LISTED)


def reference_samples_needed(
    floor: float | None, reference_rate: float | None, baseline_total: int, decisions: DecisionConfig
) -> int:
    """Evaluations a class still needs before its detector has a reference (0: it has one).

    The minimal "needs a reference" test of coverage-first sampling (issue 18): a declared floor or a
    reference already learned protects the class; otherwise it waits for ``min_baseline_samples``
    outcomes (``baseline: confidence_sequence``) or ``baseline_samples`` (``window``).
    """
    if floor is not None or reference_rate is not None:
        return 0
    wanted = decisions.baseline_samples
    if decisions.baseline == "confidence_sequence":
        wanted = min(decisions.min_baseline_samples, decisions.baseline_samples)
    return max(0, wanted - baseline_total)


@dataclass(frozen=True, slots=True)
class ClassTraffic:
    task_class: str
    tier: str
    calls_per_day: float
    input_tokens: int
    output_tokens: int
    cost_per_call_usd: float | None  # what a call costs on its tier; None: unpriced


@dataclass(frozen=True, slots=True)
class Computed:
    """An allocation with what went into it: the demands, and the money at risk as known (None: a price
    unknown, weighed as the reference price per call)."""

    plan: AllocationPlan
    demands: tuple[ClassDemand, ...]
    tiers: dict[str, str]
    money_known: dict[str, float | None]


def compute_allocation(
    session: Session, policy: Policy, now: datetime, *, every_class: bool = False
) -> Computed:
    """The allocation for the auto classes (``every_class``: all) with recent traffic that are on a
    sampled tier now (a class promoted to the reference tier has nothing left to sample)."""
    auto = policy.shadow.auto
    traffic = [
        t for t in recent_traffic(session, policy, now) if every_class or policy.shadow.is_auto(t.task_class)
    ]
    tiers = current_tiers(session, policy, {t.task_class for t in traffic})
    traffic = [t for t in traffic if tiers[t.task_class] in policy.sampled_tiers]
    prices = PriceTable(policy.price_table())
    detectors = _detectors(session, [t.task_class for t in traffic])
    threshold = AlarmThreshold(policy.decisions.horizon_samples, policy.decisions.alpha, max(1, len(traffic)))
    costs: dict[str, float | None] = {}
    reference_cost: dict[str, float | None] = {}
    for item in traffic:
        replay, judge, _ = replay_and_judge_cost(
            policy, prices, item.task_class, item.input_tokens, item.output_tokens
        )
        costs[item.task_class] = None if replay is None or judge is None else replay + judge
        reference_cost[item.task_class] = replay
    known = [cost for cost in costs.values() if cost]
    fallback = statistics.median(known) if known else UNPRICED_SAMPLE_USD
    demands, money_known = [], {}
    for item in traffic:
        cost = costs[item.task_class] or fallback
        replay = reference_cost[item.task_class]
        difference = None
        if replay is not None and item.cost_per_call_usd is not None:
            difference = max(0.0, replay - item.cost_per_call_usd)
        money_known[item.task_class] = None if difference is None else difference * item.calls_per_day
        weight = item.calls_per_day * (difference if difference is not None else replay or cost)
        floor = policy.class_config(item.task_class).acceptance_floor
        row = detectors.get((item.task_class, tiers[item.task_class]))
        reference = floor or (row.reference_rate if row else None)
        if reference is None and row is not None and row.baseline_total >= OWN_RATE_FROM:
            reference = row.baseline_accepted / row.baseline_total
        samples = _samples_to_detect(reference or ASSUMED_ACCEPTANCE, auto.drop, threshold)
        needed = reference_samples_needed(
            floor, row.reference_rate if row else None, row.baseline_total if row else 0, policy.decisions
        )
        cap = min(auto.max_rate, policy.shadow.budget_for(item.task_class) / (item.calls_per_day * cost))
        demands.append(
            ClassDemand(
                item.task_class,
                item.calls_per_day,
                cost,
                weight,
                samples,
                reference_samples_needed=needed,
                max_rate=cap,
                min_rate=min(auto.min_rate, cap),
            )
        )
    budget = auto.daily_budget_usd
    if budget is None:
        budget = auto.uniform_rate * sum(demand.unit_cost_usd for demand in demands)
    plan = allocate(demands, budget, coverage_days=auto.coverage_days)
    tier_of = {item.task_class: tiers[item.task_class] for item in traffic}
    return Computed(plan, tuple(demands), tier_of, money_known)


def _samples_to_detect(reference: float, drop: float, threshold: AlarmThreshold) -> float:
    """The planner's expected samples after a drop (Lorden's bound), ``inf`` when it cannot see it."""
    drop = min(drop, reference / 2)
    if not 0 < drop < reference < 1:
        return math.inf
    bound = plan_sampling(reference, drop, 1.0, threshold=threshold).lorden_bound
    return math.inf if bound is None else bound


def recent_traffic(session: Session, policy: Policy, now: datetime) -> list[ClassTraffic]:
    """Per class, its calls on sampled tiers in the last ``shadow.auto.traffic_days`` (busiest tier named)."""
    days = policy.shadow.auto.traffic_days
    since = now - timedelta(days=days)
    rows = session.execute(
        select(
            ClassHour.task_class,
            ClassHour.tier,
            func.sum(ClassHour.calls),
            func.sum(ClassHour.input_tokens),
            func.sum(ClassHour.output_tokens),
            func.sum(ClassHour.cost_usd),
            func.sum(ClassHour.priced_calls),
            func.min(ClassHour.hour),
        )
        .where(ClassHour.hour >= since, ClassHour.tier.in_(policy.sampled_tiers))
        .group_by(ClassHour.task_class, ClassHour.tier)
    ).all()
    by_class: dict[str, list[tuple[str, int, int, int, float, int, datetime]]] = {}
    for task_class, tier, calls, tokens_in, tokens_out, cost, priced, first in rows:
        # PostgreSQL sums BIGINT columns as NUMERIC: plain numbers from here on.
        row = (tier, int(calls), int(tokens_in), int(tokens_out), float(cost or 0), int(priced), first)
        by_class.setdefault(task_class, []).append(row)
    traffic = []
    for task_class, tiers in sorted(by_class.items()):
        calls = sum(row[1] for row in tiers)
        if not calls:
            continue
        first = min(row[6] for row in tiers)
        seen_days = min(days, max(1 / 24, (now - first).total_seconds() / 86_400))
        priced = sum(row[5] for row in tiers)
        traffic.append(
            ClassTraffic(
                task_class=task_class,
                tier=max(tiers, key=lambda row: row[1])[0],
                calls_per_day=calls / seen_days,
                input_tokens=round(sum(row[2] for row in tiers) / calls),
                output_tokens=round(sum(row[3] for row in tiers) / calls),
                cost_per_call_usd=sum(row[4] for row in tiers) / priced if priced else None,
            )
        )
    return traffic


def _detectors(session: Session, classes: Sequence[str]) -> dict[tuple[str, str], DetectorRow]:
    """The promoting feed's detectors of ``classes``: every row read, as an IN list of thousands of
    classes could pass SQLite's limit on parameters."""
    wanted = set(classes)
    if not wanted:
        return {}
    rows = session.scalars(select(DetectorRow).where(DetectorRow.feed == LISTED_FEED))
    return {(row.task_class, row.tier): row for row in rows if row.task_class in wanted}


def store_allocation(session: Session, computed: Computed, now: datetime) -> None:
    """Replace the stored allocation with ``computed``."""
    session.execute(delete(ShadowAllocation))
    demands = {demand.task_class: demand for demand in computed.demands}
    for item in computed.plan.items:
        demand = demands[item.task_class]
        session.add(
            ShadowAllocation(
                task_class=item.task_class,
                tier=computed.tiers[item.task_class],
                rate=item.rate,
                traffic_per_day=demand.traffic_per_day,
                cost_per_sample_usd=demand.cost_per_sample_usd,
                money_at_risk_usd=computed.money_known[item.task_class],
                samples_to_detect=demand.samples_to_detect
                if math.isfinite(demand.samples_to_detect)
                else None,
                reference_samples_needed=demand.reference_samples_needed,
                expected_delay_days=item.expected_delay_days,
                days_to_reference=item.days_to_reference,
                reason=item.reason,
                computed_at=now,
            )
        )
    session.flush()


def refresh_allocation(
    sessions: sessionmaker[Session], policy: Policy, now: datetime, *, force: bool = False
) -> bool:
    """Allocate anew when the stored allocation is older than ``shadow.auto.every_hours``, the policy
    sections it reads have changed, there is none, or ``force``; whether it did.

    The allocation is computed in a read-only session (tens of thousands of classes take seconds, and a
    write transaction would hold SQLite's lock from ingest that long), then stored in a short one that
    takes the ``job_state`` row and checks again, so of two replicas one stores it."""
    if not policy.shadow.any_auto:
        return False
    with sessions() as session:
        state = session.get(JobState, ALLOCATION_STATE)
        if not force and not _due(state, policy, now):
            return False
        computed = compute_allocation(session, policy, now)
    with sessions.begin() as session:
        state = job_state(session, ALLOCATION_STATE)
        if not force and not _due(state, policy, now):
            return False
        store_allocation(session, computed, now)
        state.cursor += 1
        state.last_finished_at, state.last_summary = now, _fingerprint(policy)
    return True


def _due(state: JobState | None, policy: Policy, now: datetime) -> bool:
    if state is None or state.last_finished_at is None or state.last_summary != _fingerprint(policy):
        return True
    return now - state.last_finished_at >= timedelta(hours=policy.shadow.auto.every_hours)


def _fingerprint(policy: Policy) -> str:
    """The policy sections the allocation reads, hashed: a changed budget, cap or class takes effect
    at the next sample run rather than ``every_hours`` later."""
    parts = (
        policy.shadow,
        policy.decisions,
        policy.classes,
        policy.defaults,
        policy.prices,
        policy.providers,
    )
    text = "|".join(part.model_dump_json() if isinstance(part, BaseModel) else repr(part) for part in parts)
    return "policy " + hashlib.sha256(text.encode()).hexdigest()[:16]
