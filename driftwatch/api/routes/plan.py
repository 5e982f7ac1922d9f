"""``GET /v1/plan``: how many shadow samples per day a class needs to catch a drop in time, and the cost."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from driftwatch.api.deps import SessionDep
from driftwatch.overview.plan import CostedPlan, PlanQuery, make_plan

router = APIRouter(tags=["planning"])


@router.get(
    "/v1/plan",
    response_model=CostedPlan,
    summary="Plan shadow samples per day to detect a drop within a time, and their cost",
    responses={422: {"description": "A rate, drop, duration or count out of range"}},
)
def get_plan(request: Request, session: SessionDep, query: Annotated[PlanQuery, Query()]) -> CostedPlan:
    """``plan.message`` says what the need means, and names the levers (more samples per day, a larger
    minimum detectable drop) when it is large; ``cost`` is per sample and per day at current prices."""
    return make_plan(session, request.app.state.policy, datetime.now(UTC), query)
