"""Deleting calls past ``DRIFTWATCH_CALL_RETENTION_DAYS``: the store of a busy router grows by the
prompt and completion of every call, and most of that is only needed for a few days (replay, review).

What stays: the hourly rollups (volume, spend and evaluation outcomes, so dashboards and savings keep
their history), the evaluations themselves (their ``call_id`` becomes null), decisions, detector
state and webhooks.  What goes with a call: its shadow samples (``ON DELETE CASCADE``).

Deleted oldest first, a batch per short transaction, so ingest and the other jobs are never held up
for long, and within a time budget per run: a store that was never pruned catches up over a few runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select

from driftwatch.db.engine import session_factory
from driftwatch.db.models import Call

BATCH = 5_000  # calls per transaction
TIME_BUDGET_SECONDS = 60.0  # per run; the next run goes on where this one stopped


@dataclass(frozen=True, slots=True)
class RetentionResult:
    """How many calls a run deleted, older than which moment, and whether it stopped early."""

    deleted: int
    cutoff: datetime
    more: bool

    def summary(self) -> str:
        left = "; more are left for the next run" if self.more else ""  # the time budget ran out
        return f"deleted {self.deleted} calls that started before {self.cutoff.isoformat()}{left}"


def delete_expired_calls(
    engine: Engine,
    now: datetime,
    days: float,
    *,
    batch: int = BATCH,
    time_budget_seconds: float = TIME_BUDGET_SECONDS,
    stopping: Callable[[], bool] = lambda: False,
) -> RetentionResult:
    """Delete calls started before ``days`` ago, ``batch`` per transaction, until none are left, the
    time budget is spent, or ``stopping()`` says so (``serve`` shutting down)."""
    cutoff = now - timedelta(days=days)
    sessions = session_factory(engine)
    deleted, started = 0, time.monotonic()
    while True:
        with sessions.begin() as session:
            oldest = select(Call.id).where(Call.start_time < cutoff).order_by(Call.start_time).limit(batch)
            removed = session.execute(delete(Call).where(Call.id.in_(oldest.scalar_subquery())))
            count = int(removed.rowcount)  # type: ignore[attr-defined]
        deleted += count
        if count < batch:
            return RetentionResult(deleted, cutoff, more=False)
        if time.monotonic() - started >= time_budget_seconds or stopping():
            return RetentionResult(deleted, cutoff, more=True)
