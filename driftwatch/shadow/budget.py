"""Per-class daily shadow budgets: reserve before spending, settle after, release on failure.

A reservation is one conditional UPDATE (``spent + reserved + estimate <= budget``), atomic on both
SQLite and PostgreSQL, so concurrent workers and replicas cannot together run a class over budget.
Each reservation is remembered on its sample row (amount and day), so a crashed worker's reservation
is released when its sample is claimed again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from driftwatch.db.dialect_insert import insert_ignoring_conflicts
from driftwatch.db.models import ShadowSpend


def budget_day(moment: datetime) -> str:
    """Budgets reset at midnight UTC."""
    return moment.date().isoformat()


def reserve(session: Session, task_class: str, day: str, amount: float, budget: float) -> bool:
    session.execute(
        insert_ignoring_conflicts(session, ShadowSpend).values(
            task_class=task_class, day=day, reserved_usd=0.0, spent_usd=0.0
        )
    )
    reserved = session.execute(
        update(ShadowSpend)
        .where(
            ShadowSpend.task_class == task_class,
            ShadowSpend.day == day,
            ShadowSpend.spent_usd + ShadowSpend.reserved_usd + amount <= budget,
        )
        .values(reserved_usd=ShadowSpend.reserved_usd + amount)
    )
    return bool(reserved.rowcount)  # type: ignore[attr-defined]


def release(session: Session, task_class: str, day: str | None, amount: float) -> None:
    if day is None or amount == 0:
        return
    session.execute(
        update(ShadowSpend)
        .where(ShadowSpend.task_class == task_class, ShadowSpend.day == day)
        .values(reserved_usd=ShadowSpend.reserved_usd - amount)
    )


def settle(session: Session, task_class: str, day: str | None, reserved: float, spent: float) -> None:
    """Swap the reservation for what was really spent (on the day it was reserved)."""
    if day is None:
        return
    session.execute(
        update(ShadowSpend)
        .where(ShadowSpend.task_class == task_class, ShadowSpend.day == day)
        .values(reserved_usd=ShadowSpend.reserved_usd - reserved, spent_usd=ShadowSpend.spent_usd + spent)
    )


def spend_on(session: Session, day: str) -> dict[str, tuple[float, float]]:
    """task class → (spent, reserved) on one day."""
    rows = session.execute(
        select(ShadowSpend.task_class, ShadowSpend.spent_usd, ShadowSpend.reserved_usd).where(
            ShadowSpend.day == day
        )
    )
    return {task_class: (spent, reserved) for task_class, spent, reserved in rows}
