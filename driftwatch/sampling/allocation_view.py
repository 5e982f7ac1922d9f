"""The stored allocation of ``rate: auto`` as the sample job and ``GET /v1/classes`` read it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from driftwatch.db.models import ShadowAllocation
from driftwatch.stats.allocation import REASONS


def allocated_rates(session: Session) -> dict[str, float]:
    """task class → the rate auto allocated it (auto classes with traffic at the last allocation)."""
    return {
        name: rate
        for name, rate in session.execute(select(ShadowAllocation.task_class, ShadowAllocation.rate))
    }


def stored_allocation(session: Session, classes: Collection[str] | None = None) -> list[AllocationView]:
    """The stored allocation by class name (of ``classes`` only, when given)."""
    query = select(ShadowAllocation).order_by(ShadowAllocation.task_class)
    if classes is not None:
        query = query.where(ShadowAllocation.task_class.in_(sorted(classes)))
    return [AllocationView.model_validate(row, from_attributes=True) for row in session.scalars(query)]


class AllocationView(BaseModel):
    """What ``rate: auto`` gave a class at its last allocation, and why."""

    task_class: str
    tier: str
    rate: float = Field(description="The share of the class's calls sampled.")
    reason: str = Field(description=f"Why this rate: one of {', '.join(REASONS)}.")
    traffic_per_day: float = Field(description="Calls a day on sampled tiers, over shadow.auto.traffic_days.")
    cost_per_sample_usd: float
    money_at_risk_usd: float | None = Field(
        description="Calls a day times the price difference to the reference tier; null: a price unknown."
    )
    samples_to_detect: float | None = Field(
        description="Expected samples after a drop of shadow.auto.drop before the alarm; null: not detectable."
    )
    reference_samples_needed: int = Field(
        description="Evaluations still needed for a reference (0: has one)."
    )
    expected_delay_days: float | None = Field(description="Expected days from such a drop to the alarm.")
    days_to_reference: float | None = Field(description="Unprotected: days to a reference at this rate.")
    computed_at: datetime
