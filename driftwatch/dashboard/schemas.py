"""Pydantic shapes of ``GET /v1/dashboard``: everything the page at ``/`` draws, already aggregated."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from driftwatch.dashboard.states import ClassState
from driftwatch.dashboard.window import TimeRange
from driftwatch.overview.coverage import CoverageSummary
from driftwatch.overview.quality import ClassQuality
from driftwatch.routing.decision_schemas import DecisionOut
from driftwatch.routing.schemas import ClassRouteOut, RecommendationOut


class AcceptanceSeries(BaseModel):
    """Decided evaluations of one class on one tier per bucket, aligned with ``Dashboard.buckets``."""

    tier: str | None
    evaluations: list[int] = Field(description="Decided evaluations per bucket (undecided ones left out).")
    acceptable: list[int]
    rate: list[float | None] = Field(
        description="acceptable / evaluations, to 4 decimal places; null in a bucket without any."
    )
    low: list[float | None] = Field(description="Lower end of the bucket's Wilson 95% interval (4 places).")
    high: list[float | None] = Field(description="Upper end of the bucket's Wilson 95% interval (4 places).")


class Marker(BaseModel):
    """A decision drawn on the class's chart at the moment it was taken."""

    id: int
    kind: str
    from_tier: str | None
    to_tier: str | None
    at: datetime


class ClassPanel(ClassQuality):
    """One class: its route, the window's evaluations and shadow state (as ``GET /v1/classes``), its
    acceptance over time, the decisions to mark, and what its tiering saved."""

    route: ClassRouteOut
    state: ClassState = Field(
        description="What the page shows for the class: degraded, a recent move, or the detector's status"
    )
    calls: int = Field(description="Calls in the window (hour granularity), all tiers.")
    cost_usd: float = Field(description="What they cost (priced calls only).")
    savings_usd: float | None = Field(
        description="Top-tier cost of its priced lower-tier calls minus their cost."
    )
    acceptance: list[AcceptanceSeries] = Field(description="Per tier with evaluations in the window.")
    markers: list[Marker] = Field(description="Decisions in the window, oldest first (at most 200).")


class TierVolume(BaseModel):
    tier: str | None = Field(description="null: calls that named no tier")
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float = Field(description="Spend of the calls whose model has a price")
    unpriced_calls: int
    calls_per_bucket: list[int] = Field(description="Aligned with Dashboard.buckets")
    cost_per_bucket: list[float] = Field(description="Aligned with Dashboard.buckets")


class ShadowDay(BaseModel):
    day: str = Field(description="YYYY-MM-DD, UTC")
    spent_usd: float
    budget_usd: float = Field(description="Sum of the daily budgets of the classes shown")


class ShadowSpending(BaseModel):
    spent_usd: float = Field(description="Shadow-evaluation spend on the window's days")
    budget_usd: float = Field(description="Their budgets: per-class daily budget x days, summed")
    days: list[ShadowDay]


class TieringSavings(BaseModel):
    """What tiering saved in the window, and what is at stake."""

    top_tier: str
    top_model: str | None = Field(description="The model routers use on the top tier")
    achieved_usd: float | None = Field(
        description="What the priced calls on lower tiers would have cost on the top tier's model minus "
        "what they cost; null (see reason) when the top tier's model has no price"
    )
    would_have_cost_usd: float | None
    cost_usd: float = Field(description="What those calls cost")
    left_out_calls: int = Field(
        description="Lower-tier calls not counted: a class and tier with calls whose model has no price, "
        "and calls that named no tier"
    )
    reason: str | None
    at_risk_usd: float | None = Field(
        description="Of achieved_usd, the part earned on a tier where the class degraded (its detector says "
        "so now, or an alert in the window said so, before a promotion too): savings that came with lower "
        "quality, which a promotion gives back"
    )
    degraded_classes: list[str] = Field(description="The classes at_risk_usd counts, by name")
    open_recommendations: int
    recommended_monthly_usd: float = Field(
        description="Projected monthly savings of the open demotion recommendations, not yet taken"
    )


class DeliveryOut(BaseModel):
    id: int
    endpoint: str
    event_type: str
    task_class: str | None
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    last_status_code: int | None = Field(description="HTTP status of the last attempt; null: no answer")
    last_error: str | None


class Webhooks(BaseModel):
    pending: int
    delivered: int
    failed: int
    recent: list[DeliveryOut] = Field(description="Newest first")


class Dashboard(BaseModel):
    generated_at: datetime
    range: TimeRange = Field(description="The range asked for or, when none was, the one that fits the data")
    since: datetime
    until: datetime
    bucket: str = Field(description="minute, hour or day")
    buckets: list[datetime] = Field(description="Start of every bucket, oldest first; series align with it")
    tiers: list[str] = Field(description="The policy's tiers, cheapest first")
    classes: list[ClassPanel] = Field(description="A page of classes, busiest first (see next_offset)")
    total_classes: int = Field(description="Classes in the window, of which classes shows a page")
    next_offset: int | None = Field(description="offset of the next page of classes; null on the last")
    notices: list[str] = Field(description="e.g. that classes shows a page of them, and how to get the rest")
    volume: list[TierVolume] = Field(description="Calls and spend per tier in the window")
    shadow: ShadowSpending
    savings: TieringSavings
    recommendations: list[RecommendationOut] = Field(description="Open demotion recommendations")
    decisions: list[DecisionOut] = Field(description="The newest decisions (at most 20)")
    webhooks: Webhooks
    coverage: CoverageSummary | None = Field(
        None, description="How many classes are protected against the policy's drop; null before assessed"
    )
