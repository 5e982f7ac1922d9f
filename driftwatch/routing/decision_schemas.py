"""Pydantic shapes of the decision side of the API: audit-log rows and each class's detector status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field

from driftwatch.db.models import Decision


class DecisionOut(BaseModel):
    id: int
    task_class: str
    kind: str = Field(description="degraded, promoted, demoted, pinned, unpinned, recommended, accepted, …")
    from_tier: str | None
    to_tier: str | None
    actor: str = Field(description='"driftwatch" for automatic decisions, else the person or key')
    reason: str
    evidence: dict[str, Any] = Field(description="Test statistic, threshold, rates, counts, window, …")
    created_at: datetime

    @classmethod
    def from_row(cls, row: Decision) -> DecisionOut:
        fields = {name: getattr(row, name) for name in cls.model_fields if name != "evidence"}
        return cls(**fields, evidence=orjson.loads(row.evidence))


class DecisionPage(BaseModel):
    items: list[DecisionOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page; null at the end")


class ClassDetection(BaseModel):
    """The drift detector of a class on its current tier, in plain terms."""

    task_class: str
    tier: str = Field(description="The class's current tier: the one its detector watches.")
    status: str = Field(description="healthy, degrading-watch, degraded, or not enough samples")
    message: str
    samples: int = Field(description="Outcomes the detector has seen since window_start.")
    e_value: float | None = Field(description="R / horizon, the value e-BH compares across classes.")
    evidence: float | None = Field(description="R over the alarm threshold of a lone class (1 = alarm).")
    reference_rate: float | None = Field(description="The acceptance rate tested against; null until known.")
    reference_source: str | None = Field(
        description="floor (declared), confidence_sequence (its running lower bound) or baseline (lower 95% bound of a window)."
    )
    baseline_samples: int = Field(description="Baseline outcomes collected (when no floor is declared).")
    baseline_needed: int | None = Field(description="Baseline outcomes needed; null with a floor.")
    window_start: datetime | None = Field(description="When the current detector started.")
    alarmed_at: datetime | None = Field(description="The last alarm on this tier, until the next horizon.")
