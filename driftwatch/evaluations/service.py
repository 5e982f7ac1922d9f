"""Receiving evaluations from elsewhere, and listing every evaluation back.

A batch is checked item by item: good items are stored, bad ones are reported with their index and
what was wrong, and items already stored (same source and id) count as duplicates, not errors, so a
client can re-send a whole batch after a timeout without thinking.

A verdict is about a tier, since detectors watch a class per tier: the item's own, else its linked
call's, else the tier the class was routed to at the verdict's time (the routing audit log; a class
never moved is on its configured or the default tier, as routers are told).  A verdict whose tier
so found is one the policy no longer has is refused with the reason, never stored where no detector
would read it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.errors import PayloadTooLarge
from driftwatch.evaluations import repository, writer
from driftwatch.evaluations.repository import EvaluationFilter, LinkedCall
from driftwatch.evaluations.schemas import (
    MAX_BATCH,
    EvaluationBatch,
    EvaluationIn,
    EvaluationOut,
    EvaluationPage,
    EvaluationReceipt,
    Rejection,
)
from driftwatch.routing.routes import tiers_at, unseen_classes


def receive(session: Session, batch: EvaluationBatch, policy: Policy, now: datetime) -> EvaluationReceipt:
    """Store the valid, new items of ``batch``; flushes only (the request's session commits).

    An item about a class driftwatch has never seen (``routing.unseen_classes``) is refused like an
    invalid one, with the reason.
    """
    if len(batch.evaluations) > MAX_BATCH:
        raise PayloadTooLarge(
            f"{len(batch.evaluations)} evaluations in one request; send at most {MAX_BATCH} per request"
        )
    context = {"now": now, "tiers": policy.tiers}
    checked: list[tuple[int, EvaluationIn]] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(batch.evaluations):
        try:
            checked.append((index, EvaluationIn.model_validate(item, context=context)))
        except ValidationError as error:
            rejected.append(Rejection(index=index, id=_item_id(item), error=_describe(error)))
    unseen = unseen_classes(session, policy, {item.task_class for _, item in checked})
    rejected += [
        Rejection(index=index, id=item.id, error=f"task_class: {_UNSEEN.format(item.task_class)}")
        for index, item in checked
        if item.task_class in unseen
    ]
    valid = [(index, item) for index, item in checked if item.task_class not in unseen]
    calls = repository.calls_by_span(
        session, {(item.trace_id, item.span_id) for _, item in valid if item.trace_id and item.span_id}
    )
    linked = [(index, item, calls.get((item.trace_id or "", item.span_id or ""))) for index, item in valid]
    routed = tiers_at(
        session,
        policy,
        {(item.task_class, item.timestamp or now) for _, item, call in linked if not _tier_of(item, call)},
    )
    rows = []
    for index, item, call in linked:
        tier = _tier_of(item, call) or routed[item.task_class, item.timestamp or now]
        if tier not in policy.tiers and not _tier_of(item, call):
            gone = _GONE_TIER.format(item.task_class, tier, list(policy.tiers))
            rejected.append(Rejection(index=index, id=item.id, error=gone))
            continue
        rows.append(_row(item, call, tier, now))
    accepted = writer.insert_new(session, rows)
    rejected.sort(key=lambda rejection: rejection.index)
    return EvaluationReceipt(accepted=accepted, duplicates=len(rows) - accepted, rejected=rejected)


_UNSEEN = (
    "driftwatch has never seen class {!r} (no stored call, not in the policy file): send its calls first, "
    "or name it under classes: in the policy file"
)
_GONE_TIER = (
    "tier: none given, and class '{}' was routed to tier '{}' then, which the policy no longer has "
    "(tiers: {}): give the tier the verdict is about"
)


def _tier_of(item: EvaluationIn, call: LinkedCall | None) -> str | None:
    return item.tier or (call.tier if call else None)


def list_page(session: Session, where: EvaluationFilter, limit: int, cursor: str | None) -> EvaluationPage:
    rows, next_cursor = repository.list_evaluations(session, where, limit, cursor)
    return EvaluationPage(items=[EvaluationOut.from_row(row) for row in rows], next_cursor=next_cursor)


def _row(item: EvaluationIn, call: LinkedCall | None, tier: str, now: datetime) -> dict[str, Any]:
    # A verdict on a stored call is about that call's model unless the client says otherwise.
    return {
        "source": item.source,
        "external_id": item.id,
        "call_id": call.id if call else None,
        "trace_id": item.trace_id,
        "span_id": item.span_id,
        "task_class": item.task_class,
        "tier": tier,
        "model": item.model or (call.model if call else None),
        "acceptable": item.outcome == "acceptable",
        "score": item.score,
        "rationale": item.rationale,
        "shadow_cost_usd": 0.0,
        "judge_cost_usd": 0.0,
        "evaluated_at": item.timestamp or now,
        "created_at": now,
    }


def _item_id(item: Any) -> str | None:
    """The id to name a rejected item by, when it has a usable one."""
    candidate = item.get("id") if isinstance(item, dict) else None
    return candidate if isinstance(candidate, str) and len(candidate) <= 255 else None


def _describe(error: ValidationError) -> str:
    """``field: message`` per problem, the way the API words request validation errors."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        if problem["loc"]
        else problem["msg"]
        for problem in error.errors()
    )
