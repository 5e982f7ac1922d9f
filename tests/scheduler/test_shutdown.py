"""The scheduler inside ``serve`` shuts down in bounded time, whatever its jobs are doing."""

from __future__ import annotations

import time
from pathlib import Path

from driftwatch.config import Policy, Settings
from driftwatch.db import migrate
from driftwatch.db.engine import build_engine
from driftwatch.scheduler.jobs import JobContext
from driftwatch.scheduler.service import JobScheduler
from tests.support.databases import blocked_store
from tests.support.patience import patient

GRACE_SECONDS = 0.5


def test_shutdown_waits_for_a_stuck_job_no_longer_than_its_grace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = build_engine(url)
    migrate.upgrade(engine)
    context = JobContext(engine, Settings(database_url=url), Policy())
    scheduler = JobScheduler(context, {"decide": 0.05})
    try:
        with blocked_store(engine, url):  # the job waits for SQLite's write lock (30 s busy timeout)
            scheduler.start()
            time.sleep(0.5)
            started = time.monotonic()
            still_running = scheduler.shutdown(GRACE_SECONDS)
            took = time.monotonic() - started
        assert still_running == ["decide"]
        assert GRACE_SECONDS <= took < patient(GRACE_SECONDS + 0.5)
        assert context.stop.is_set()
    finally:
        scheduler.shutdown(30)  # the lock is released: the job returns, and nothing runs again
        engine.dispose()


def test_shutdown_returns_at_once_when_no_job_is_running(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = build_engine(url)
    migrate.upgrade(engine)
    scheduler = JobScheduler(JobContext(engine, Settings(database_url=url), Policy()), {"decide": 60})
    scheduler.start()

    started = time.monotonic()
    assert scheduler.shutdown(GRACE_SECONDS) == []
    assert time.monotonic() - started < patient(0.1)
    engine.dispose()
