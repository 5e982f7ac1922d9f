"""Reading the audit log back: every decision, newest first, with stable keyset pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from driftwatch.db.keyset import newest_first_page, within
from driftwatch.db.models import Decision
from driftwatch.routing.decision_schemas import DecisionOut, DecisionPage


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    task_class: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_page(session: Session, where: DecisionFilter, limit: int, cursor: str | None) -> DecisionPage:
    """One page of decisions matching ``where``, newest first; ``next_cursor`` continues it."""
    query = within(select(Decision), Decision.created_at, where.since, where.until)
    if where.task_class is not None:
        query = query.where(Decision.task_class == where.task_class)
    if where.kind is not None:
        query = query.where(Decision.kind == where.kind)
    rows, next_cursor = newest_first_page(session, query, Decision.created_at, Decision.id, limit, cursor)
    return DecisionPage(items=[DecisionOut.from_row(row) for row in rows], next_cursor=next_cursor)
