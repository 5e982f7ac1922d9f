"""The one announcement that the task-class cap was reached: a ``classes.capped`` event.

Ingest stores calls of classes first seen beyond ``DRIFTWATCH_MAX_TASK_CLASSES`` under ``overflow``
(``ingest/class_cap.py``) and counts them in a metric; ``GET /v1/classes`` says so in a notice.  This
step of the ``decide`` job tells the webhooks once: the first run that finds ``overflow`` calls in
the rollup queues the event, and its outbox key (one per store) keeps every later run, on any
replica, from queueing it again.  Ingest itself writes no events: it stays upstream of them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select

from driftwatch.db.engine import session_factory
from driftwatch.db.models import ClassHour, OutboxEvent
from driftwatch.events.outbox import emit, idempotency_key
from driftwatch.ingest.class_cap import OVERFLOW

EVENT_TYPE = "classes.capped"
_DEDUPE = "cap"
_KEY = idempotency_key(EVENT_TYPE, OVERFLOW, _DEDUPE)


def announce_overflow(engine: Engine, cap: int, now: datetime) -> bool:
    """Queue ``classes.capped`` if calls were stored under ``overflow`` and it was never queued;
    True when this run queued it.  Two reads when there is nothing to do."""
    sessions = session_factory(engine)
    with sessions() as session:
        queued = select(OutboxEvent.id).where(OutboxEvent.idempotency_key == _KEY)
        if session.scalar(queued) is not None:
            return False
        calls = session.scalar(select(func.sum(ClassHour.calls)).where(ClassHour.task_class == OVERFLOW))
    if not calls:
        return False
    payload = {
        "max_task_classes": cap,
        "overflow_calls": int(calls),
        "reason": (
            f"more than {cap} distinct task classes were sent (DRIFTWATCH_MAX_TASK_CLASSES): calls of "
            f"classes first seen after that are stored under the class {OVERFLOW!r}. A client that puts "
            "ids into the task class makes a class per call; fix its classification or raise the cap."
        ),
    }
    with sessions.begin() as session:
        emit(session, EVENT_TYPE, OVERFLOW, payload, now, dedupe=_DEDUPE)
    return True
