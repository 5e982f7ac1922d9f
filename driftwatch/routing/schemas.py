"""Pydantic shapes of the routing policy routers read, and of manual control: pins and the answers
to demotion recommendations (requests and responses)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from driftwatch.routing.routes import ClassRoute

RecommendationStatus = Literal["open", "accepted", "rejected", "superseded"]


class TierModel(BaseModel):
    tier: str
    model: str | None = Field(description="Model routers use on this tier; null when the policy names none")


class ClassRouteOut(BaseModel):
    tier: str
    model: str | None
    pinned: bool = Field(description="A person pinned the class: automatic promotion and demotion skip it")
    cooldown_until: datetime | None = Field(description="No automatic tier change before this moment")
    source: Literal["decided", "configured"] = Field(
        description="decided: a promotion, demotion or pin put it there; configured: the policy file"
    )

    @classmethod
    def from_route(cls, route: ClassRoute) -> ClassRouteOut:
        return cls(
            tier=route.tier,
            model=route.model,
            pinned=route.pinned,
            cooldown_until=route.cooldown_until,
            source="decided" if route.source == "decided" else "configured",
        )


class RoutingPolicy(BaseModel):
    """What routers read: ``classes.get(task_class, default)`` is where to send a call."""

    version: str = Field(description="Hash of the content (the ETag without quotes); changes iff it does")
    generated_at: datetime
    tiers: list[TierModel] = Field(description="Cheapest first")
    default: TierModel = Field(description="Route of a class not listed in classes")
    classes: dict[str, ClassRouteOut] = Field(
        description="Every known class: configured, decided, or seen in traffic (of those, the "
        "DRIFTWATCH_MAX_TASK_CLASSES busiest)"
    )
    unlisted_classes: int = Field(
        0,
        description="Classes seen in traffic beyond the busiest DRIFTWATCH_MAX_TASK_CLASSES, left out of "
        "classes: none is configured or decided, so each is routed by default",
    )


class ClassChange(BaseModel):
    """The answer to a pin or unpin: the class's route now and the audit row written (if any)."""

    task_class: str
    route: ClassRouteOut
    decision_id: int | None = Field(description="Audit-log row; null when nothing changed")


class PinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: str = Field(description="One of the policy's tiers")


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=4000, description="Why; kept in the audit log")


class RecommendationOut(BaseModel):
    """Read from a :class:`Recommendation` row with ``model_validate`` (its evidence is stored as JSON)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    task_class: str
    from_tier: str
    to_tier: str
    status: RecommendationStatus
    monthly_savings_usd: float | None = Field(description="Projected, net of the shadow evaluation's cost")
    savings_low_usd: float | None
    savings_high_usd: float | None
    shadow_cost_monthly_usd: float
    evidence: dict[str, Any]
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None

    @field_validator("evidence", mode="before")
    @classmethod
    def _stored_json(cls, evidence: object) -> object:
        return orjson.loads(evidence) if isinstance(evidence, str) else evidence


class RecommendationPage(BaseModel):
    items: list[RecommendationOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page; null at the end")


class RecommendationDecision(BaseModel):
    """The answer to an accept or reject: the recommendation now and the audit rows written."""

    recommendation: RecommendationOut
    decision_ids: list[int]
    route: ClassRouteOut = Field(description="The class's route after the decision")
