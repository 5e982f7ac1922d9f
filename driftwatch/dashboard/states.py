"""What the page says a class is doing (pure): its detector's status, unless a recent move says more.

A class promoted after a degradation starts a new detector on its new tier, which reads "not enough
samples" for a while; on its own that hides the most important thing that happened to the class.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from driftwatch.routing.decision_schemas import ClassDetection
from driftwatch.stats.detector import Status

MOVES = ("promoted", "demoted")
"""The decisions that put a class on a new tier by themselves (pins are shown by the route)."""


class ClassState(BaseModel):
    state: str = Field(
        description="degraded, promoted, demoted, or the detector's status (healthy, degrading-watch, "
        "not enough samples); not tracked without a detector"
    )
    label: str = Field(description="What the page's badge says, e.g. 'promoted to premium'")
    detail: str = Field(description="One sentence: what happened and what the detector says now")
    since: datetime | None = Field(description="When the move happened (moves only)")


class Move(BaseModel):
    """The newest promotion or demotion of a class."""

    kind: str
    from_tier: str | None
    to_tier: str | None
    at: datetime


def class_state(
    detection: ClassDetection | None, tier: str, move: Move | None, window_since: datetime
) -> ClassState:
    """Degraded first (it needs someone now); then a move that put the class on ``tier``, while it is
    in the window or the detector on the new tier has no verdict yet; else the detector's status."""
    status = detection.status if detection is not None else None
    if status == Status.DEGRADED.value:
        assert detection is not None
        return ClassState(state="degraded", label="degraded", detail=detection.message, since=None)
    fresh = (
        move is not None
        and move.to_tier == tier
        and (move.at >= window_since or status in (None, Status.NOT_ENOUGH_SAMPLES.value))
    )
    if move is not None and fresh:
        before = "after degrading" if move.kind == "promoted" else "at parity"
        now = f"its detector on {tier}: {status}" if status else f"no detector on {tier} yet"
        detail = f"{move.kind} from {move.from_tier} to {tier} {before} on {move.from_tier}; {now}"
        return ClassState(state=move.kind, label=f"{move.kind} to {tier}", detail=detail, since=move.at)
    if detection is None:
        return ClassState(state="not tracked", label="not tracked", detail="", since=None)
    return ClassState(state=detection.status, label=detection.status, detail=detection.message, since=None)
