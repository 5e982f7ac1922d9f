"""Bounded, batched, idempotent writer: the only path from ingest into the store.

Requests hand their call rows (from spans) and content events (from log records) to
:meth:`CallWriter.write` and wait; writer threads take whatever is pending (group commit: many
requests, one transaction, :func:`~driftwatch.ingest.store.commit_batch`), commit, and only then wake
the requests, so an HTTP 200 means the rows are durable.  When more than ``queue_limit`` rows are
waiting, :meth:`write` refuses at once with :class:`Overloaded` (503 + Retry-After) instead of growing
memory.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from driftwatch.errors import BadRequest, DriftwatchError, Overloaded
from driftwatch.ingest.class_cap import TaskClassCap
from driftwatch.ingest.logs import EventRow
from driftwatch.ingest.metrics import Metrics
from driftwatch.ingest.records import CallRow
from driftwatch.ingest.store import commit_batch

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Submission:
    calls: Sequence[CallRow]
    events: Sequence[EventRow]
    done: Future[None]

    @property
    def size(self) -> int:
        return len(self.calls) + len(self.events)


class CallWriter:
    def __init__(
        self,
        engine: Engine,
        metrics: Metrics,
        *,
        queue_limit: int,
        batch_limit: int,
        threads: int,
        retry_after_seconds: int,
        class_cap: TaskClassCap | None = None,
    ) -> None:
        self._engine = engine
        self._class_cap = class_cap
        self._metrics = metrics
        self._queue_limit = queue_limit
        self._batch_limit = batch_limit
        self._thread_count = threads
        self._retry_after_seconds = retry_after_seconds
        self._pending: deque[_Submission] = deque()
        self._rows_held = 0  # waiting or being written: what bounds memory
        self._condition = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []

    @property
    def full(self) -> bool:
        return self._rows_held >= self._queue_limit

    def start(self) -> None:
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._run, name=f"driftwatch-writer-{index}", daemon=True)
            for index in range(self._thread_count)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish everything already accepted, then stop the threads."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    async def write(self, calls: Sequence[CallRow], events: Sequence[EventRow] = ()) -> None:
        """Commit ``calls`` and ``events``; raises :class:`Overloaded` when the queue is full."""
        if calls or events:
            await asyncio.wrap_future(self.submit(calls, events))

    def submit(self, calls: Sequence[CallRow], events: Sequence[EventRow] = ()) -> Future[None]:
        submission = _Submission(calls, events, Future())
        with self._condition:
            if self._stopping:
                raise Overloaded("shutting down", retry_after_seconds=self._retry_after_seconds)
            # An oversized request is still taken when nothing else waits, or it could never get in.
            if self._rows_held and self._rows_held + submission.size > self._queue_limit:
                raise Overloaded(
                    f"write queue full ({self._rows_held} spans and log records waiting); retry later",
                    retry_after_seconds=self._retry_after_seconds,
                )
            self._pending.append(submission)
            self._rows_held += submission.size
            self._metrics.write_queue_spans.set(self._rows_held)
            self._condition.notify()
        return submission.done

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._stopping:
                    self._condition.wait()
                if not self._pending:
                    return
                batch = [self._pending.popleft()]
                size = batch[0].size
                while self._pending and size + self._pending[0].size <= self._batch_limit:
                    size += self._pending[0].size
                    batch.append(self._pending.popleft())
            self._write_batch(batch, size)

    def _write_batch(self, batch: list[_Submission], size: int) -> None:
        try:
            self._commit(batch)
        finally:
            with self._condition:
                self._rows_held -= size
                self._metrics.write_queue_spans.set(self._rows_held)

    def _commit(self, batch: list[_Submission]) -> None:
        """Commit ``batch`` in one transaction and settle each request's future with the outcome."""
        calls = [row for submission in batch for row in submission.calls]
        events = [event for submission in batch for event in submission.events]
        started = time.perf_counter()
        try:
            outcome = commit_batch(self._engine, calls, events, datetime.now(UTC), self._class_cap)
        except Exception as error:
            if len(batch) > 1 and refused_data(error):
                # One request's rows can fail the whole group commit.  Committed on their own, the
                # other requests get in and only that one is refused; otherwise every exporter in the
                # group would be told to retry, and the poison request would come back forever.
                log.warning("a group of %d requests failed (%s); committing each alone", len(batch), error)
                for submission in batch:
                    self._commit([submission])
                return
            log.exception("writing %d calls and %d content events failed", len(calls), len(events))
            failure = self._failure(error)
            for submission in batch:
                submission.done.set_exception(failure)
            return
        self._metrics.write_seconds.observe(time.perf_counter() - started)
        self._metrics.calls_stored.inc(outcome.calls_inserted)
        self._metrics.calls_duplicate.inc(len(calls) - outcome.calls_inserted)
        self._metrics.content_events_stored.inc(outcome.events_inserted)
        self._metrics.calls_content_filled.inc(outcome.calls_filled)
        self._metrics.calls_overflowed.inc(outcome.calls_overflowed)
        for submission in batch:
            submission.done.set_result(None)

    def _failure(self, error: Exception) -> DriftwatchError:
        """A store that refuses a request's values will refuse them again: 400, so the exporter drops
        the request instead of retrying it.  Anything else (store down, locked, a bug) is a 503: the
        request may succeed later and the exporter keeps it."""
        if refused_data(error):
            reason = str(getattr(error, "orig", None) or error).splitlines()[0][:300]
            return BadRequest(f"the store refused this request's values ({type(error).__name__}: {reason})")
        return Overloaded(
            f"the store could not commit: {type(error).__name__}",
            retry_after_seconds=self._retry_after_seconds,
        )


def refused_data(error: Exception) -> bool:
    """The store (or the driver converting a value for it) refused a value, not the connection."""
    if isinstance(error, DataError | IntegrityError):
        return True
    if isinstance(error, DBAPIError):  # operational, interface, programming errors: not the data's fault
        return False
    return isinstance(error, StatementError | ValueError | TypeError | OverflowError)
