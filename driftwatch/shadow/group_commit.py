"""Group commit for the runner: many small units of database work share one transaction.

Hundreds of evaluations finish per second, each with a few row updates.  One transaction each would
make the store's commit (an fsync on SQLite with ``synchronous=FULL``, a WAL flush on PostgreSQL) the
bottleneck; instead one thread takes every unit waiting and commits them together.  Each unit still
commits before its caller continues, so "committed" keeps meaning what it says.  Units must not
commit or roll back themselves; a unit that raises is retried alone, so it cannot undo its neighbours.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

R = TypeVar("R")


@dataclass(slots=True)
class _Unit:
    work: Callable[..., Any]
    args: tuple[object, ...]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


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
                results = [unit.work(session, *unit.args) for unit in group]
        except Exception as failure:
            if len(group) == 1:
                group[0].loop.call_soon_threadsafe(_resolve, group[0].future, None, failure)
                return
            for unit in group:  # find the unit that failed; the others commit on their own
                self._commit([unit])
            return
        for unit, result in zip(group, results, strict=True):
            unit.loop.call_soon_threadsafe(_resolve, unit.future, result, None)


def _resolve(future: asyncio.Future[Any], result: object, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
