"""Group commit for the runner: many small units of database work share one transaction.

Hundreds of evaluations finish per second, each with a few row updates.  One transaction each would
make the store's commit (an fsync on SQLite with ``synchronous=FULL``, a WAL flush on PostgreSQL) the
bottleneck; instead one thread takes every unit waiting and commits them together.  Each unit still
commits before its caller continues, so "committed" keeps meaning what it says.  Units must not
commit or roll back themselves; a unit that raises is retried alone, so it cannot undo its neighbours.

Work that every evaluation does the same way can be *batched* (:meth:`GroupCommitter.run_batched`):
the group's units of one batched function are handed to it together, once, so it can do them in a
few statements instead of a few per unit (on PostgreSQL each statement is a round trip that the one
database thread waits for).  The units of a group were all waiting at once, so running the batched
ones after the others is just another order in which they could have arrived.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

R = TypeVar("R")
T = TypeVar("T")


@dataclass(slots=True)
class _Unit:
    work: Callable[..., Any]
    args: tuple[object, ...]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    batched: bool = False


class GroupCommitter:
    def __init__(self, sessions: sessionmaker[Session], max_group: int = 500) -> None:
        self._sessions = sessions
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="runner-commits", daemon=True)
        self._thread.start()

    async def run(self, work: Callable[..., R], *args: object) -> R:
        """Run ``work(session, *args)`` in a transaction shared with other waiting units."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.put(_Unit(work, args, future, loop))
        return await future

    async def run_batched(self, work: Callable[[Session, list[T]], Sequence[R]], item: T) -> R:
        """Have ``work(session, items)`` do ``item`` together with the other items given to the same
        ``work`` that are waiting: it returns one result per item, in their order."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.put(_Unit(work, (item,), future, loop, batched=True))
        return await future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stop = False
            while len(group) < self._max_group and not self._queue.empty():
                unit = self._queue.get()
                if unit is None:
                    stop = True
                    break
                group.append(unit)
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[_Unit]) -> None:
        try:
            with self._sessions.begin() as session:
                results = _run_group(session, group)
        except Exception as failure:
            if len(group) == 1:
                group[0].loop.call_soon_threadsafe(_resolve, group[0].future, None, failure)
                return
            for unit in group:  # find the unit that failed; the others commit on their own
                self._commit([unit])
            return
        for unit, result in zip(group, results, strict=True):
            unit.loop.call_soon_threadsafe(_resolve, unit.future, result, None)


def _run_group(session: Session, group: list[_Unit]) -> list[Any]:
    results: list[Any] = [None] * len(group)
    batches: dict[Callable[..., Any], list[int]] = {}
    for index, unit in enumerate(group):
        if unit.batched:
            batches.setdefault(unit.work, []).append(index)
        else:
            results[index] = unit.work(session, *unit.args)
    for work, indices in batches.items():
        outputs = work(session, [group[index].args[0] for index in indices])
        for index, output in zip(indices, outputs, strict=True):
            results[index] = output
    return results


def _resolve(future: asyncio.Future[Any], result: object, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
