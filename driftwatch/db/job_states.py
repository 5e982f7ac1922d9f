"""Access to ``job_state`` rows: a job's cursor and the record of its runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from driftwatch.db.dialect_insert import insert_ignoring_conflicts
from driftwatch.db.models import JobState


def job_state(session: Session, name: str) -> JobState:
    """The job's row, created on first use and locked for this transaction on PostgreSQL, so two
    replicas running the same job at once take turns instead of doing the same work twice."""
    session.execute(insert_ignoring_conflicts(session, JobState).values(name=name, cursor=0, runs=0))
    state = session.scalars(
        select(JobState)
        .where(JobState.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return state


def job_state_cursor(session: Session, name: str) -> int:
    """The job's cursor as last committed, read without a lock (0 before its first run)."""
    return session.scalar(select(JobState.cursor).where(JobState.name == name)) or 0


def record_start(session: Session, name: str, now: datetime) -> None:
    state = job_state(session, name)
    state.runs += 1
    state.last_started_at = now
    state.last_status = "running"


def record_finish(session: Session, name: str, now: datetime, status: str, summary: str) -> None:
    state = job_state(session, name)
    state.last_finished_at = now
    state.last_status = status
    state.last_summary = summary[:2000]


def list_job_states(session: Session) -> list[JobState]:
    return list(session.scalars(select(JobState).order_by(JobState.name)))
