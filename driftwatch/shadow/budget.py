"""Per-class daily shadow budgets: reserve before spending, settle after, release on failure.

A reservation is one conditional UPDATE (``spent + reserved + estimate <= budget``), atomic on both
SQLite and PostgreSQL, so concurrent workers and replicas cannot together run a class over budget.
Each reservation is remembered on its sample row (amount and day), so a crashed worker's reservation
is released when its sample is claimed again.

What is spent is booked twice: on the day it was spent (``shadow_spend``, what the budget guards) and
on the UTC day of the evaluated call (``shadow_cost_day``, what a class's savings are net of).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, and_, bindparam, select, update
from sqlalchemy.orm import Session

from driftwatch.db.dialect_insert import dialect_insert, insert_ignoring_conflicts
from driftwatch.db.models import ShadowCostDay, ShadowSpend


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
    """Reserve ``amount`` of the class's day unless that would exceed ``budget``.

    The class's row for the day is created only when the reservation finds none: on all but the
    first reservation of a day that saves a statement (a round trip on PostgreSQL).
    """
    connection = session.connection()
    parameters = {"spend_class": task_class, "spend_day": day, "amount": amount, "limit": budget}
    if connection.execute(_RESERVE, parameters).rowcount:
        return True
    connection.execute(
        insert_ignoring_conflicts(session, ShadowSpend),
        {"task_class": task_class, "day": day, "reserved_usd": 0.0, "spent_usd": 0.0},
    )
    return bool(connection.execute(_RESERVE, parameters).rowcount)


def held_in_flight(session: Session, task_class: str, day: str) -> float:
    """What evaluations running now have reserved of the class's day: room that may come back."""
    held = session.scalar(
        select(ShadowSpend.reserved_usd).where(ShadowSpend.task_class == task_class, ShadowSpend.day == day)
    )
    return float(held or 0.0)


def release(session: Session, task_class: str, day: str | None, amount: float) -> None:
    if amount != 0:
        settle(session, task_class, day, amount, 0.0)


def settle(
    session: Session,
    task_class: str,
    day: str | None,
    reserved: float,
    spent: float,
    call_day: str | None = None,
) -> None:
    """Swap the reservation for what was really spent (on the day it was reserved), and book what
    was spent on the day of the evaluated call."""
    if spent and call_day is not None:
        row = {"task_class": task_class, "day": call_day, "spent_usd": spent}
        session.connection().execute(_add_to_call_day(session), row)
    if day is None:
        return
    where = {"spend_class": task_class, "spend_day": day}
    session.connection().execute(_SETTLE, {**where, "reserved": reserved, "spent": spent})


@dataclass(frozen=True, slots=True)
class Settlement:
    """One evaluation's money: its reservation on ``day`` swapped for what it ``spent``."""

    task_class: str
    day: str | None
    reserved: float
    spent: float
    call_day: str | None = None


def settle_many(session: Session, settlements: Sequence[Settlement]) -> None:
    """:func:`settle` for many evaluations at once: summed per class and day, one statement each way
    (executed as one batch: a pipeline on PostgreSQL), keys in order so that concurrent workers lock
    the same rows in the same order."""
    spent_on: dict[tuple[str, str], float] = defaultdict(float)
    swapped_on: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for settlement in settlements:
        if settlement.spent and settlement.call_day is not None:
            spent_on[(settlement.task_class, settlement.call_day)] += settlement.spent
        if settlement.day is not None:
            swapped = swapped_on[(settlement.task_class, settlement.day)]
            swapped[0] += settlement.reserved
            swapped[1] += settlement.spent
    connection = session.connection()
    if spent_on:
        rows = [
            {"task_class": task_class, "day": day, "spent_usd": spent}
            for (task_class, day), spent in sorted(spent_on.items())
        ]
        connection.execute(_add_to_call_day(session), rows)
    if swapped_on:
        rows = [
            {"spend_class": task_class, "spend_day": day, "reserved": reserved, "spent": spent}
            for (task_class, day), (reserved, spent) in sorted(swapped_on.items())
        ]
        connection.execute(_SETTLE, rows)


_ADD_TO_CALL_DAY: dict[str, Any] = {}


def _add_to_call_day(session: Session) -> Any:
    """An upsert adding to the class's amount for the call's day, built once per dialect (see ``_RESERVE``)."""
    dialect = session.get_bind().dialect.name
    if dialect not in _ADD_TO_CALL_DAY:
        statement = dialect_insert(session, ShadowCostDay)
        _ADD_TO_CALL_DAY[dialect] = statement.on_conflict_do_update(
            index_elements=["task_class", "day"],
            set_={"spent_usd": ShadowCostDay.spent_usd + statement.excluded.spent_usd},
        )
    return _ADD_TO_CALL_DAY[dialect]


def spend_on(session: Session, day: str) -> dict[str, tuple[float, float]]:
    """task class → (spent, reserved) on one day."""
    rows = session.execute(
        select(ShadowSpend.task_class, ShadowSpend.spent_usd, ShadowSpend.reserved_usd).where(
            ShadowSpend.day == day
        )
    )
    return {task_class: (spent, reserved) for task_class, spent, reserved in rows}
