"""``GET /v1/decisions``: the audit log of every promotion, demotion, pin, alert and recommendation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from driftwatch.api.deps import SessionDep
from driftwatch.api.routes.calls import as_utc
from driftwatch.policy import audit
from driftwatch.routing.decision_schemas import DecisionPage

router = APIRouter(tags=["decisions"])


@router.get("/v1/decisions", response_model=DecisionPage, summary="The audit log of decisions, newest first")
def list_decisions(
    session: SessionDep,
    task_class: str | None = None,
    kind: Annotated[
        str | None, Query(description="degraded, promoted, demoted, pinned, unpinned, recommended, …")
    ] = None,
    since: Annotated[datetime | None, Query(description="Inclusive, ISO 8601 (UTC if no offset)")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive, ISO 8601 (UTC if no offset)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> DecisionPage:
    """Each decision with who or what made it, why, and the evidence behind it (a JSON object)."""
    where = audit.DecisionFilter(task_class, kind, as_utc(since), as_utc(until))
    return audit.list_page(session, where, limit, cursor)
