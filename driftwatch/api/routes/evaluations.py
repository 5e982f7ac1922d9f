"""``POST /v1/evaluations`` (verdicts from elsewhere) and ``GET /v1/evaluations`` (every verdict)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from driftwatch.api.deps import SessionDep, requires
from driftwatch.api.routes.calls import ListingDep
from driftwatch.api.state import NowDep, PolicyDep
from driftwatch.auth.scopes import Scope
from driftwatch.evaluations import service
from driftwatch.evaluations.repository import EvaluationFilter
from driftwatch.evaluations.schemas import (
    MAX_BATCH,
    EvaluationBatch,
    EvaluationPage,
    EvaluationReceipt,
    StoredOutcome,
)

router = APIRouter(tags=["evaluations"])


@router.post(
    "/v1/evaluations",
    response_model=EvaluationReceipt,
    summary="Receive quality verdicts from elsewhere (human review, task success, user feedback)",
    dependencies=[requires(Scope.EVALUATIONS)],
    responses={
        200: {"description": "Valid new items stored; duplicates counted; invalid items listed"},
        413: {"description": f"More than {MAX_BATCH} evaluations in one request"},
        422: {"description": "Not JSON, or not an object with an evaluations list"},
    },
)
def post_evaluations(
    session: SessionDep, policy: PolicyDep, now: NowDep, batch: EvaluationBatch
) -> EvaluationReceipt:
    """Items are checked one by one: the valid ones are stored, each invalid one is listed with its
    index and what was wrong, and one already stored (same ``source`` and ``id``) counts as a
    duplicate, so re-sending a batch is harmless.  An item about a task class driftwatch has never
    seen (no stored call, not in the policy file) is refused with that reason.  Verdicts move traffic
    only when their ``source`` is in the policy's ``decisions.sources`` (default: driftwatch's own
    shadow evaluations); others raise degraded alerts only."""
    return service.receive(session, batch, policy, now)


@router.get(
    "/v1/evaluations",
    response_model=EvaluationPage,
    summary="List evaluations, newest first",
    dependencies=[requires(Scope.READ)],
)
def list_evaluations(
    session: SessionDep,
    listing: ListingDep,
    source: str | None = None,
    outcome: Annotated[
        StoredOutcome | None, Query(description="acceptable, unacceptable or undecided")
    ] = None,
) -> EvaluationPage:
    where = EvaluationFilter(**asdict(listing.where), source=source, outcome=outcome)
    return service.list_page(session, where, listing.limit, listing.cursor)
