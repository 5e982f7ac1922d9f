"""The routing policy routers poll (``GET /v1/policy``) and manual control: pins and the answers to
demotion recommendations.  Reading needs the ``read`` scope; changing anything ``admin``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from driftwatch.api.deps import ActorDep, SessionDep, requires
from driftwatch.auth.scopes import Scope
from driftwatch.policy import control, snapshot
from driftwatch.routing.schemas import (
    ClassChange,
    PinRequest,
    RecommendationDecision,
    RecommendationPage,
    RecommendationStatus,
    RejectRequest,
    RoutingPolicy,
)

router = APIRouter(tags=["policy"])
READ, ADMIN = [requires(Scope.READ)], [requires(Scope.ADMIN)]

RecommendationId = Annotated[int, Path(ge=1, lt=2**63)]
_NOT_OPEN: dict[int | str, dict[str, Any]] = {
    404: {"description": "No recommendation with this id"},
    409: {"description": "Not open (the detail names its status), or the class is pinned or has moved"},
}


@router.get(
    "/v1/policy",
    response_model=RoutingPolicy,
    summary="Where to route each task class: tier and model per class, and the default for the rest",
    responses={304: {"description": "Unchanged since the ETag sent in If-None-Match (no body)"}},
    dependencies=READ,
)
def get_policy(
    request: Request, session: SessionDep, if_none_match: Annotated[str | None, Header()] = None
) -> Response:
    """Send the last ``ETag`` back in ``If-None-Match``: the answer is 304 with no body until the
    policy changes. ``Cache-Control: no-cache`` lets caches keep it but makes them ask every time."""
    rendered = request.app.state.policy_documents.get(session, datetime.now(UTC))
    headers = {"ETag": rendered.etag, "Cache-Control": "no-cache"}
    if snapshot.etag_matches(if_none_match, rendered.etag):
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type="application/json", headers=headers)


@router.post(
    "/v1/policy/classes/{task_class:path}/pin",
    response_model=ClassChange,
    summary="Put a class on a tier and pin it there (automatic decisions leave it alone); 422 if no such tier",
    dependencies=ADMIN,
)
def pin_class(
    request: Request, session: SessionDep, actor: ActorDep, task_class: str, body: PinRequest
) -> ClassChange:
    return control.pin(session, request.app.state.policy, task_class, body.tier, actor, datetime.now(UTC))


@router.delete(
    "/v1/policy/classes/{task_class:path}/pin",
    response_model=ClassChange,
    summary="Unpin a class; it stays on its tier (no change, no audit row, when it was not pinned)",
    dependencies=ADMIN,
)
def unpin_class(request: Request, session: SessionDep, actor: ActorDep, task_class: str) -> ClassChange:
    return control.unpin(session, request.app.state.policy, task_class, actor, datetime.now(UTC))


@router.get(
    "/v1/recommendations",
    response_model=RecommendationPage,
    summary="Demotion recommendations, newest first",
    dependencies=READ,
)
def list_recommendations(
    session: SessionDep,
    status: Annotated[
        RecommendationStatus | None, Query(description="open, accepted, rejected, superseded")
    ] = None,
    task_class: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> RecommendationPage:
    return control.list_recommendations(
        session, status=status, task_class=task_class, limit=limit, cursor=cursor
    )


@router.post(
    "/v1/recommendations/{recommendation_id}/accept",
    response_model=RecommendationDecision,
    summary="Accept an open demotion recommendation: the class moves to its to_tier",
    responses=_NOT_OPEN,
    dependencies=ADMIN,
)
def accept_recommendation(
    request: Request, session: SessionDep, actor: ActorDep, recommendation_id: RecommendationId
) -> RecommendationDecision:
    return control.accept(session, request.app.state.policy, recommendation_id, actor, datetime.now(UTC))


@router.post(
    "/v1/recommendations/{recommendation_id}/reject",
    response_model=RecommendationDecision,
    summary="Reject an open demotion recommendation (optionally with a reason)",
    responses=_NOT_OPEN,
    dependencies=ADMIN,
)
def reject_recommendation(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    recommendation_id: RecommendationId,
    body: RejectRequest | None = None,
) -> RecommendationDecision:
    reason = body.reason if body else None
    policy = request.app.state.policy
    return control.reject(session, policy, recommendation_id, actor, datetime.now(UTC), reason)
