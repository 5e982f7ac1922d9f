"""``GET /v1/savings``: the savings ledger per task class and UTC day."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from driftwatch.api.deps import SessionDep
from driftwatch.api.state import NowDep, PolicyDep
from driftwatch.ledger import service
from driftwatch.ledger.schemas import SavingsLedger

router = APIRouter(tags=["savings"])


@router.get(
    "/v1/savings",
    response_model=SavingsLedger,
    summary="Per class and UTC day: spend, the reference-tier counterfactual, shadow spend, promotion cost, net",
)
def get_savings(
    session: SessionDep,
    policy: PolicyDep,
    now: NowDep,
    since: Annotated[
        date | None, Query(description="First UTC day, inclusive (default: 30 days before until)")
    ] = None,
    until: Annotated[
        date | None,
        Query(description=f"UTC day to stop before (default: tomorrow); at most {service.MAX_DAYS} days"),
    ] = None,
    task_class: Annotated[
        str | None, Query(min_length=1, max_length=255, description="Only this class; default: all")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=service.MAX_CLASSES_PER_PAGE, description="Classes per page, busiest first")
    ] = service.CLASSES_PER_PAGE,
    offset: Annotated[int, Query(ge=0, description="Classes to skip: next_offset of the previous page")] = 0,
) -> SavingsLedger:
    """Read from the hourly rollup, shadow spend per day and the audit log's promotions, never from the
    calls themselves; ``docs/savings.md`` defines each term."""
    start, end = service.window(since, until, now.date())
    ledger = service.build(session, policy, start, end, task_class, offset=offset, limit=limit)
    return SavingsLedger.of(ledger)
