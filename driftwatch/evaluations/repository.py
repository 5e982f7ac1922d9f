"""Queries over ``evaluation``, and the per-class counts of the shadow queue that explain them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import case, func, select, tuple_
from sqlalchemy.orm import Session

from driftwatch.calls.repository import CallFilter
from driftwatch.db.keyset import newest_first_page, within
from driftwatch.db.models import Call, CallSpan, Evaluation, EvaluationHour, ShadowSample
from driftwatch.evaluations.rollup import HOUR, hour_of, on_the_hour
from driftwatch.evaluations.schemas import StoredOutcome


@dataclass(frozen=True, slots=True)
class EvaluationFilter(CallFilter):
    """The filters of the calls list (task class, tier, time window), plus source and outcome."""

    source: str | None = None
    outcome: StoredOutcome | None = None


@dataclass(frozen=True, slots=True)
class LinkedCall:
    id: int
    tier: str | None
    model: str | None


@dataclass(frozen=True, slots=True)
class OutcomeCounts:
    """Evaluations of one task class, tier and source: all of them, the decided ones, the acceptable."""

    task_class: str
    tier: str | None
    source: str
    total: int
    decided: int
    acceptable: int


def calls_by_span(session: Session, spans: Collection[tuple[str, str]]) -> dict[tuple[str, str], LinkedCall]:
    """The stored calls among ``(trace_id, span_id)`` pairs, by the call's own span or any other span
    of a call several spans reported (an indexed lookup each for a whole batch)."""
    if not spans:
        return {}
    wanted = sorted(spans)
    own = select(Call.trace_id, Call.span_id, Call.id, Call.tier, Call.model).where(
        tuple_(Call.trace_id, Call.span_id).in_(wanted)
    )
    other = (
        select(CallSpan.trace_id, CallSpan.span_id, Call.id, Call.tier, Call.model)
        .join(Call, Call.id == CallSpan.call_id)
        .where(tuple_(CallSpan.trace_id, CallSpan.span_id).in_(wanted))
    )
    return {
        (trace, span): LinkedCall(call_id, tier, model)
        for query in (own, other)
        for trace, span, call_id, tier, model in session.execute(query)
    }


def list_evaluations(
    session: Session, where: EvaluationFilter, limit: int, cursor: str | None
) -> tuple[list[Evaluation], str | None]:
    """Newest first by ``evaluated_at``; keyset pagination, stable while new evaluations arrive."""
    query = where.apply(select(Evaluation), Evaluation.task_class, Evaluation.tier, Evaluation.evaluated_at)
    if where.source is not None:
        query = query.where(Evaluation.source == where.source)
    if where.outcome == "undecided":
        query = query.where(Evaluation.acceptable.is_(None))
    elif where.outcome is not None:
        query = query.where(Evaluation.acceptable == (where.outcome == "acceptable"))
    return newest_first_page(session, query, Evaluation.evaluated_at, Evaluation.id, limit, cursor)


def outcome_counts(session: Session, since: datetime | None, until: datetime | None) -> list[OutcomeCounts]:
    """One aggregate over the window: a row per task class, tier and source, never a row per verdict.

    The whole hours of the window are read from the hourly rollup; only the verdicts of a partial
    hour at either end (a bound off the hour) are counted one by one."""
    whole_since = since if since is None or on_the_hour(since) else hour_of(since) + HOUR
    whole_until = until if until is None or on_the_hour(until) else hour_of(until)
    if whole_since is not None and whole_until is not None and whole_since >= whole_until:
        return _scanned_outcome_counts(session, since, until)  # within one hour, or two partial ones
    parts = [_rolled_up_outcome_counts(session, whole_since, whole_until)]
    if whole_since != since:
        parts.append(_scanned_outcome_counts(session, since, whole_since))
    if whole_until != until:
        parts.append(_scanned_outcome_counts(session, whole_until, until))
    return _summed(parts)


def _summed(parts: list[list[OutcomeCounts]]) -> list[OutcomeCounts]:
    if len(parts) == 1:
        return parts[0]
    totals: dict[tuple[str, str | None, str], list[int]] = {}
    for counts in chain.from_iterable(parts):
        total = totals.setdefault((counts.task_class, counts.tier, counts.source), [0, 0, 0])
        total[0] += counts.total
        total[1] += counts.decided
        total[2] += counts.acceptable
    return [OutcomeCounts(*key, *numbers) for key, numbers in totals.items()]


def _scanned_outcome_counts(
    session: Session, since: datetime | None, until: datetime | None
) -> list[OutcomeCounts]:
    acceptable = func.coalesce(func.sum(case((Evaluation.acceptable.is_(True), 1), else_=0)), 0)
    keys = (Evaluation.task_class, Evaluation.tier, Evaluation.source)
    counts = (func.count(), func.count(Evaluation.acceptable), acceptable)
    return _grouped(session, keys, counts, Evaluation.evaluated_at, since, until)


def _rolled_up_outcome_counts(
    session: Session, since: datetime | None, until: datetime | None
) -> list[OutcomeCounts]:
    keys = (EvaluationHour.task_class, EvaluationHour.tier, EvaluationHour.source)
    counts = tuple(
        func.coalesce(func.sum(column), 0)
        for column in (EvaluationHour.evaluations, EvaluationHour.decided, EvaluationHour.acceptable)
    )
    return _grouped(session, keys, counts, EvaluationHour.hour, since, until)


def _grouped(
    session: Session,
    keys: tuple[Any, Any, Any],
    counts: tuple[Any, ...],
    moment: Any,
    since: datetime | None,
    until: datetime | None,
) -> list[OutcomeCounts]:
    """(task class, tier, source) ``keys`` and their (all, decided, acceptable) ``counts`` whose
    ``moment`` lies in the window; the rollup's "no tier" ("") reads as None, as in ``evaluation``."""
    query = within(select(*keys, *counts).group_by(*keys), moment, since, until)
    return [
        OutcomeCounts(task_class, tier or None, source, int(total), int(decided), int(acceptable))
        for task_class, tier, source, total, decided, acceptable in session.execute(query)
    ]


def sample_counts(session: Session) -> dict[str, dict[str, int]]:
    """task class → shadow samples per status, all time (the queue's current state)."""
    rows = session.execute(
        select(ShadowSample.task_class, ShadowSample.status, func.count()).group_by(
            ShadowSample.task_class, ShadowSample.status
        )
    )
    counts: dict[str, dict[str, int]] = {}
    for task_class, status, count in rows:
        counts.setdefault(task_class, {})[status] = int(count)
    return counts
