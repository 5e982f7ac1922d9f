"""Runs the jobs on intervals inside ``driftwatch serve`` (APScheduler, one thread per job at most)."""

from __future__ import annotations

import logging
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler

from driftwatch.scheduler.jobs import JobContext, run_job

logger = logging.getLogger(__name__)


class JobScheduler:
    """Every job runs at most once at a time per process (``max_instances=1``), and missed ticks are
    merged rather than replayed (``coalesce``): a slow run delays the next one, never piles them up."""

    def __init__(self, context: JobContext, intervals: dict[str, float]) -> None:
        self._context = context
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

    def shutdown(self) -> None:
        self._scheduler.shutdown(wait=True)

    def _run(self, name: str) -> None:
        try:
            summary = run_job(name, self._context)
        except Exception:
            logger.exception("job %s failed", name)
        else:
            if not summary.idle:  # errors and runs that did something only; job_state keeps every run
                logger.info("job %s: %s", name, summary)
