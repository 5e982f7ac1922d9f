"""Per-class daily shadow budgets: reserve before spending, settle after, release on failure.

A reservation is one conditional UPDATE (``spent + reserved + estimate <= budget``), atomic on both
SQLite and PostgreSQL, so concurrent workers and replicas cannot together run a class over budget.
Each reservation is remembered on its sample row (amount and day), so a crashed worker's reservation
is released when its sample is claimed again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, and_, bindparam, select, update
from sqlalchemy.orm import Session

from driftwatch.db.dialect_insert import insert_ignoring_conflicts
from driftwatch.db.models import ShadowSpend


def budget_day(moment: datetime) -> str:
    """Budgets reset at midnight UTC."""
    return moment.date().isoformat()


# Built once with bound parameters: the runner reserves and settles for every evaluation, and a new
# statement per call (build, cache-key, ORM synchronisation) cost milliseconds of its one database
# thread each time.
_CLASS_DAY = and_(
    ShadowSpend.task_class == bindparam("spend_class"), ShadowSpend.day == bindparam("spend_day")
)
_RESERVE = (
    update(ShadowSpend)
    .where(
        _CLASS_DAY,
        ShadowSpend.spent_usd + ShadowSpend.reserved_usd + bindparam("amount", type_=Float)
        <= bindparam("limit", type_=Float),
    )
    .values(reserved_usd=ShadowSpend.reserved_usd + bindparam("amount", type_=Float))
)
_SETTLE = (
    update(ShadowSpend)
    .where(_CLASS_DAY)
    .values(
        reserved_usd=ShadowSpend.reserved_usd - bindparam("reserved", type_=Float),
        spent_usd=ShadowSpend.spent_usd + bindparam("spent", type_=Float),
    )
)


def reserve(session: Session, task_class: str, day: str, amount: float, budget: float) -> bool:
    connection = session.connection()
    connection.execute(
        insert_ignoring_conflicts(session, ShadowSpend),
        {"task_class": task_class, "day": day, "reserved_usd": 0.0, "spent_usd": 0.0},
    )
    where = {"spend_class": task_class, "spend_day": day}
    return bool(connection.execute(_RESERVE, {**where, "amount": amount, "limit": budget}).rowcount)


def held_in_flight(session: Session, task_class: str, day: str) -> float:
    """What evaluations running now have reserved of the class's day: room that may come back."""
    held = session.scalar(
        select(ShadowSpend.reserved_usd).where(ShadowSpend.task_class == task_class, ShadowSpend.day == day)
    )
    return float(held or 0.0)


def release(session: Session, task_class: str, day: str | None, amount: float) -> None:
    if amount != 0:
        settle(session, task_class, day, amount, 0.0)


def settle(session: Session, task_class: str, day: str | None, reserved: float, spent: float) -> None:
    """Swap the reservation for what was really spent (on the day it was reserved)."""
    if day is None:
        return
    where = {"spend_class": task_class, "spend_day": day}
    session.connection().execute(_SETTLE, {**where, "reserved": reserved, "spent": spent})


def spend_on(session: Session, day: str) -> dict[str, tuple[float, float]]:
    """task class → (spent, reserved) on one day."""
    rows = session.execute(
        select(ShadowSpend.task_class, ShadowSpend.spent_usd, ShadowSpend.reserved_usd).where(
            ShadowSpend.day == day
        )
    )
    return {task_class: (spent, reserved) for task_class, spent, reserved in rows}
