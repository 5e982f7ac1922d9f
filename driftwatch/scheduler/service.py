"""Runs the jobs on intervals inside ``driftwatch serve`` (APScheduler, one thread per job at most)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler

from driftwatch.scheduler.jobs import JobContext, run_job

logger = logging.getLogger(__name__)


class JobScheduler:
    """Every job runs at most once at a time per process (``max_instances=1``), and missed ticks are
    merged rather than replayed (``coalesce``): a slow run delays the next one, never piles them up."""

    def __init__(self, context: JobContext, intervals: dict[str, float]) -> None:
        self._context = context
        self._running: set[str] = set()
        self._changed = threading.Condition()
        # Each run is logged once below, with what it did; APScheduler's own line per run is noise.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        # A run skipped because the previous one still runs is max_instances=1 doing its job, not news.
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        self._scheduler = BackgroundScheduler(timezone=UTC)
        for name, seconds in intervals.items():
            self._scheduler.add_job(
                self._run,
                "interval",
                seconds=seconds,
                args=[name],
                id=name,
                max_instances=1,
                coalesce=True,
            )

    def start(self) -> None:
        self._scheduler.start()

    def stop_jobs(self) -> None:
        """Ask running jobs to return at their next check (between transactions); start no new run."""
        self._context.stop.set()

    def shutdown(self, grace_seconds: float) -> list[str]:
        """Stop the jobs and wait at most ``grace_seconds`` for the running ones to return; returns
        the names of those still running then (the caller decides whether to exit without them).

        A job stops between its short transactions, so this takes well under a second unless a run
        waits on something outside the store (a provider or webhook call)."""
        self.stop_jobs()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        deadline = time.monotonic() + grace_seconds
        with self._changed:
            while self._running and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            return sorted(self._running)

    def _run(self, name: str) -> None:
        if self._context.stop.is_set():
            return
        with self._changed:
            self._running.add(name)
        try:
            summary = run_job(name, self._context)
        except Exception:
            logger.exception("job %s failed", name)
        else:
            if not summary.idle:  # errors and runs that did something only; job_state keeps every run
                logger.info("job %s: %s", name, summary)
        finally:
            with self._changed:
                self._running.discard(name)
                self._changed.notify_all()
