"""The one writer of ``evaluation`` and its hourly rollup ``evaluation_hour``.

Every evaluation, whether judged by the shadow runner or received from elsewhere, is inserted here,
and the rollup counts exactly the rows inserted, in the caller's transaction: nothing else writes
either table (``tests/test_architecture.py`` keeps it so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, insert, text
from sqlalchemy.orm import Session

from driftwatch.db.dialect_insert import dialect_insert, insert_ignoring_conflicts
from driftwatch.db.models import Evaluation
from driftwatch.evaluations.rollup import Counted, add_to_rollup


def insert_shadow(session: Session, rows: Sequence[Mapping[str, Any]]) -> set[int]:
    """Insert shadow evaluations, each unless its sample already has one; returns the sample ids
    whose evaluation was new.

    A sample re-run after a lost lease may be judged twice; the unique key keeps the first verdict
    and the rollup counts only rows actually inserted.  The runner hands over all the evaluations of
    one group commit at once: one multi-row insert and one rollup upsert for the group, not per row.
    """
    if not rows:
        return set()
    statement = insert_ignoring_conflicts(session, Evaluation).returning(Evaluation.sample_id)
    inserted = set(session.connection().execute(statement, list(rows)).scalars())
    add_to_rollup(
        session,
        [
            (row["task_class"], row.get("tier"), row["source"], row["evaluated_at"], row["acceptable"])
            for row in rows
            if row["sample_id"] in inserted
        ],
    )
    return inserted


def insert_new(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows whose ``(source, external_id)`` is new; returns how many were new.

    ``ON CONFLICT DO NOTHING`` makes a re-sent verdict a no-op on SQLite and PostgreSQL alike, also
    when two requests carry it at once.  Ids follow the order of ``rows`` (the request's), since the
    detectors take outcomes in id order.  On PostgreSQL the rows go in key order, with ids drawn from
    the sequence beforehand, so concurrent batches that overlap take their locks in the same order and
    cannot deadlock; SQLite has one writer at a time and takes them as they come.
    """
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        ids = sorted(session.scalars(_NEXT_EVALUATION_IDS, {"count": len(rows)}))
        numbered = [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
        rows = sorted(numbered, key=lambda row: (row["source"], row["external_id"]))
    statement = (
        dialect_insert(session, Evaluation)
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(
            Evaluation.task_class,
            Evaluation.tier,
            Evaluation.source,
            Evaluation.evaluated_at,
            Evaluation.acceptable,
        )
    )
    inserted: list[Counted] = [
        (row.task_class, row.tier, row.source, row.evaluated_at, row.acceptable)
        for row in session.execute(statement, rows)
    ]
    add_to_rollup(session, inserted)
    return len(inserted)


_NEXT_EVALUATION_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('evaluation', 'id')) FROM generate_series(1, :count)"
)


def insert_counted(bind: Session | Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert evaluation rows as given (no conflict handling) and count them in the rollup, in the
    caller's transaction: for stores filled in bulk, such as benchmark and test seeds."""
    if not rows:
        return
    bind.execute(insert(Evaluation), rows)
    add_to_rollup(
        bind,
        [
            (row["task_class"], row.get("tier"), row["source"], row["evaluated_at"], row.get("acceptable"))
            for row in rows
        ],
    )
