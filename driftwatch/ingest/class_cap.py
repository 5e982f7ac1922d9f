"""A bound on how many task classes the store keeps apart.

A client that puts an id into the task class (a request id, a user id) makes a class per call; kept
apart, they would each get a rollup row, a detector, a metric series and a line on every page.  Past
``limit`` distinct classes, a call of a class not seen before is stored under ``overflow`` instead:
that client's own classification degrades, nothing else does.

The known classes are read from the rollup once, then kept in memory.  Replicas keep their own sets:
classes first seen by other replicas after a replica started count against its cap only when it sees
them, so N replicas keep at most N times the cap apart; it stays bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sqlalchemy import Connection, select

from driftwatch.db.models import ClassHour
from driftwatch.ingest.classify import UNCLASSIFIED
from driftwatch.ingest.records import CallRow

OVERFLOW = "overflow"
_NOT_COUNTED = frozenset({OVERFLOW, UNCLASSIFIED})


class TaskClassCap:
    """Admits at most ``limit`` distinct task classes (``overflow`` and ``unclassified`` aside);
    ``limit`` 0 admits every class."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._known: set[str] | None = None
        self._lock = threading.Lock()

    def apply(self, connection: Connection, rows: Sequence[CallRow]) -> int:
        """Move the rows of classes beyond the cap to ``overflow``; returns how many were moved."""
        if self.limit <= 0:
            return 0
        with self._lock:
            if self._known is None:
                stored = connection.execute(select(ClassHour.task_class).distinct()).scalars()
                self._known = {name for name in stored if name not in _NOT_COUNTED}
            known = self._known
            moved = 0
            for row in rows:
                name = row["task_class"]
                if name in known or name in _NOT_COUNTED:
                    continue
                if len(known) < self.limit:
                    # Admitted even if this transaction then fails: one class of the cap unused at worst.
                    known.add(name)
                else:
                    row["task_class"] = OVERFLOW
                    moved += 1
            return moved
