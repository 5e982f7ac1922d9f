"""Reading the coverage snapshot back: per class for ``GET /v1/classes`` and the dashboard, and the
summary line ("31 of 39 classes protected against a 0.10 drop within 7 days")."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.models import ClassCoverage


class ClassCoverageOut(BaseModel):
    """A class's coverage as the ``coverage`` job last assessed it."""

    model_config = ConfigDict(from_attributes=True)

    protected: bool = Field(description="Its detector would catch a drop of `drop` within `window_days`.")
    reason: str | None = Field(
        description="Why not: no_reference, reference_too_loose, no_provider, no_content, sampling_off, "
        "budget or too_little_traffic; null when protected."
    )
    drop: float = Field(validation_alias="target_drop", description="The drop it is assessed against.")
    window_days: float
    min_detectable_drop: float | None = Field(
        description="Smallest drop from its rate caught within the window (9 times in 10); null: none yet."
    )
    protected_in_days: float | None = Field(
        description="Days until protected at the current rate (0 when it is); null: not at this rate."
    )
    calls_per_day: float = Field(description="Calls a day on sampled tiers, last 7 days.")
    samples_per_day: float = Field(description="Shadow evaluations a day its rate and budget give.")
    rate_to_protect: float | None = Field(
        description="Sample rate that protects it within the window; null: no rate up to 1 does."
    )
    coverage_rate: float | None = Field(
        description="The raised rate coverage-first sampling holds it at until it has a reference; null: none."
    )
    unprotected_since: datetime | None
    alerted_at: datetime | None = Field(description="When class.unprotected was raised for this stretch.")
    assessed_at: datetime
    message: str


class CoverageSummary(BaseModel):
    protected: int
    assessed: int
    drop: float
    window_days: float
    text: str


def coverage_of(session: Session, classes: Collection[str] | None) -> dict[str, ClassCoverageOut]:
    """The stored coverage of ``classes`` (``None``: every class), one query."""
    query = select(ClassCoverage)
    if classes is not None:
        query = query.where(ClassCoverage.task_class.in_(sorted(classes)))
    return {row.task_class: ClassCoverageOut.model_validate(row) for row in session.scalars(query)}


def coverage_summary(session: Session, policy: Policy) -> CoverageSummary | None:
    """How many of the assessed classes are protected against the policy's drop and window; ``None``
    before the job first ran."""
    drop, days = policy.coverage.drop, policy.coverage.window_days
    assessed, protected = session.execute(
        select(func.count(), func.count().filter(ClassCoverage.protected.is_(True)))
    ).one()
    if not assessed:
        return None
    text = f"{protected} of {assessed} classes protected against a {drop:.2f} drop within {days:g} days"
    return CoverageSummary(protected=protected, assessed=assessed, drop=drop, window_days=days, text=text)
