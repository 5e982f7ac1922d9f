"""Per task class: what the evaluations say, and how its shadow evaluation is doing (pure; no I/O).

``GET /v1/classes`` shows these beside each class's volume, so the dashboard can show an acceptance
rate with its confidence interval, and say plainly why there is none ("enable content capture").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from driftwatch.db.models import SampleStatus
from driftwatch.detection.score_drift import ScoreDrift
from driftwatch.evaluations.repository import OutcomeCounts
from driftwatch.overview.coverage import ClassCoverageOut
from driftwatch.routing.decision_schemas import ClassDetection
from driftwatch.sampling.allocation_view import AllocationView
from driftwatch.stats.proportions import Interval, wilson_interval


class Tally(BaseModel):
    evaluations: int = Field(description="Decided evaluations (acceptable or unacceptable).")
    acceptable: int
    undecided: int = Field(description="No judge could decide; not in evaluations nor in the rate.")
    acceptance_rate: float | None = Field(description="acceptable / evaluations; null when none.")
    acceptance_interval: Interval | None = Field(description="Wilson 95% interval; null when none.")


class TierTally(Tally):
    tier: str | None


class ClassEvaluations(Tally):
    by_source: dict[str, Tally] = Field(description="The same counts per source (shadow, human-review, …).")
    by_tier: list[TierTally] = Field(description="The same counts per tier, cheapest first.")


class SampleCounts(BaseModel):
    pending: int = 0
    running: int = 0
    done: int = 0
    unevaluable: int = 0
    skipped_budget: int = 0
    failed: int = 0


class ShadowStatus(BaseModel):
    rate: float = Field(description="Share of the class's calls on sampled tiers that are shadow-evaluated.")
    daily_budget_usd: float
    day: str = Field(description="Today, UTC (YYYY-MM-DD): the day the spend below is counted on.")
    spent_today_usd: float
    reserved_today_usd: float = Field(description="Held by evaluations running now.")
    samples: SampleCounts = Field(description="Shadow samples per status, all time.")
    rate_setting: Literal["fixed", "auto"] = Field(
        "fixed", description="auto: `rate` is what the budget-optimal allocation gave the class."
    )
    allocation: AllocationView | None = Field(
        None, description="rate: auto — the class's last allocation and why (null before its first)."
    )
    coverage_rate: float | None = Field(
        None, description="Raised rate sampling it until it has a reference (coverage first); null: `rate`."
    )

    @computed_field(description="What most needs saying about the class's shadow evaluation, or null.")
    def notice(self) -> str | None:
        return shadow_notice(self)


class ClassQuality(BaseModel):
    task_class: str
    evaluation: ClassEvaluations
    shadow: ShadowStatus
    detection: ClassDetection | None = Field(
        None,
        description="The drift detector on the class's current tier, fed by the sources decisions.sources "
        "lists (its alarm may promote the class); null if not tracked yet.",
    )
    other_sources_detection: ClassDetection | None = Field(
        None,
        description="The detector fed by every other source (human review, user feedback, …) on the "
        "current tier: its alarm raises a degraded alert only; null until such verdicts arrive.",
    )
    scores: ScoreDrift | None = Field(
        None, description="Judge scores since the detector's window started vs before; null if none."
    )
    coverage: ClassCoverageOut | None = Field(
        None, description="What drop its detector would catch in time, or why none; null until assessed."
    )


def class_evaluations(counts: Iterable[OutcomeCounts], tiers: Sequence[str]) -> dict[str, ClassEvaluations]:
    """Fold per (class, tier, source) counts into each class's totals, by source and by tier."""
    per_class: dict[str, list[OutcomeCounts]] = defaultdict(list)
    for row in counts:
        per_class[row.task_class].append(row)
    order = {tier: position for position, tier in enumerate(tiers)}
    return {task_class: _fold(rows, order) for task_class, rows in per_class.items()}


def empty_evaluations() -> ClassEvaluations:
    return ClassEvaluations(**_tally([]), by_source={}, by_tier=[])


def _fold(rows: list[OutcomeCounts], order: dict[str, int]) -> ClassEvaluations:
    by_source: dict[str, list[OutcomeCounts]] = defaultdict(list)
    by_tier: dict[str | None, list[OutcomeCounts]] = defaultdict(list)
    for row in rows:
        by_source[row.source].append(row)
        by_tier[row.tier].append(row)
    # Policy order (cheapest first); tiers no longer in the policy after them, "no tier" last.
    tiers = sorted(by_tier, key=lambda tier: (tier is None, order.get(tier or "", len(order)), tier or ""))
    return ClassEvaluations(
        **_tally(rows),
        by_source={source: Tally(**_tally(by_source[source])) for source in sorted(by_source)},
        by_tier=[TierTally(tier=tier, **_tally(by_tier[tier])) for tier in tiers],
    )


def _tally(rows: list[OutcomeCounts]) -> dict[str, Any]:
    total = sum(row.total for row in rows)
    decided = sum(row.decided for row in rows)
    acceptable = sum(row.acceptable for row in rows)
    return {
        "evaluations": decided,
        "acceptable": acceptable,
        "undecided": total - decided,
        "acceptance_rate": acceptable / decided if decided else None,
        "acceptance_interval": wilson_interval(acceptable, decided),
    }


def shadow_notice(status: ShadowStatus) -> str | None:
    """Why shadow evaluation gives a class no results (most fundamental first), or None when all is well."""
    samples = status.samples
    total = sum(samples.model_dump().values())
    if samples.unevaluable and samples.unevaluable == total:
        return (
            f"0 evaluable calls - enable content capture: none of the {total} sampled calls has a "
            "stored prompt and completion to replay"
        )
    if status.daily_budget_usd == 0:
        return "shadow evaluation is off for this class: its daily budget is $0"
    if status.spent_today_usd + status.reserved_today_usd >= status.daily_budget_usd:
        return (
            f"daily shadow budget spent (${status.spent_today_usd:.2f} of ${status.daily_budget_usd:.2f}); "
            "evaluation resumes at 00:00 UTC"
        )
    if samples.failed and not samples.done and not samples.pending and not samples.running:
        return f"every shadow evaluation failed ({samples.failed}); check the reference tier's provider"
    if status.rate == 0 and status.allocation is not None:
        return f"rate: auto gives this class no samples now ({status.allocation.reason})"
    if status.rate == 0:
        return "sampling is off for this class: its rate is 0"
    if status.coverage_rate is not None:
        return (
            f"sampling raised to {status.coverage_rate:.1%} (from {status.rate:.1%}) until the class has a "
            "reference: coverage first"
        )
    return None


def sample_counts(by_status: dict[str, int]) -> SampleCounts:
    known = {status.value for status in SampleStatus}
    return SampleCounts(**{status: count for status, count in by_status.items() if status in known})
