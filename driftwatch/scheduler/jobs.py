"""The jobs, by name, runnable from the scheduler and from ``driftwatch jobs run NAME``.

Each job is safe to run on several replicas at once: ``sample`` serialises on its ``job_state`` row
and inserts with conflicts ignored, ``evaluate`` claims rows with a lease (SKIP LOCKED on
PostgreSQL), ``reconcile-content`` is idempotent, ``decide``, ``score-drift`` and ``recommend``
hold their ``job_state`` row in each transaction in which they write, and ``retention`` deletes by age,
which two replicas can do at once.  Every run is recorded in ``job_state``.

Jobs work in short transactions over bounded chunks (a store may hold tens of thousands of
classes), so none holds SQLite's write lock for long, and each checks ``JobContext.stop`` between
them, so ``serve`` can stop within seconds.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from driftwatch.clock import Clock, utc_now
from driftwatch.db.engine import session_factory
from driftwatch.db.job_states import record_finish, record_start
from driftwatch.scheduler import JOB_NAMES, SHADOW_JOBS

# Each job imports its stage when it runs: `driftwatch jobs run sample` loads neither scipy (decide)
# nor the provider SDKs (evaluate).
if TYPE_CHECKING:
    from sqlalchemy import Engine

    from driftwatch.config import Policy, Settings
    from driftwatch.shadow.runner import ShadowObserver

__all__ = ["JOBS", "SHADOW_JOBS", "JobContext", "job_intervals", "run_job"]


class JobSummary(str):
    """What a run did, as the line ``jobs run`` prints and ``job_state`` keeps; ``idle`` when it found
    nothing to do, so ``serve`` logs nothing for it (a tick every 5 s saying "0" is noise)."""

    idle: bool

    def __new__(cls, text: str, *, idle: bool = False) -> JobSummary:
        summary = super().__new__(cls, text)
        summary.idle = idle
        return summary


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class JobContext:
    engine: Engine
    settings: Settings
    policy: Policy
    clock: Clock = utc_now
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    worker_id: str = field(default_factory=default_worker_id)
    task_class: str | None = None
    shadow_observer: ShadowObserver | None = None  # serve passes its /metrics; workers have none
    # Set when serve shuts down: jobs check it between their transactions and return early.
    stop: threading.Event = field(default_factory=threading.Event)


# Calls sampled per transaction, and transactions per run: 10,000 calls of as many classes at a
# sampling rate of 1 held SQLite's write lock for 0.5-0.7 s in one transaction.
SAMPLE_CHUNK, SAMPLE_CHUNKS_PER_RUN = 2_000, 5


def sample(context: JobContext) -> JobSummary:
    from driftwatch.db.engine import is_sqlite
    from driftwatch.policy.allocation import refresh_allocation
    from driftwatch.sampling.service import sample_backlog

    settings = context.settings
    # PostgreSQL writers commit concurrently, so ids up to a full round of writer batches may still
    # appear behind the cursor; SQLite has one writer and commits ids in order.
    sqlite = is_sqlite(context.engine)
    lookback = 0 if sqlite else max(3, settings.writer_threads) * settings.write_batch_spans
    # rate: auto classes sample at the allocation's rates: renewed first when it is due.
    refresh_allocation(session_factory(context.engine), context.policy, context.clock())
    result = sample_backlog(
        context.engine,
        context.policy,
        context.clock,
        batch_size=settings.sample_batch_size,
        lookback_ids=lookback,
        time_budget_seconds=settings.sample_time_budget_seconds,
    )
    idle = result.scanned == 0 and result.reverse_sampled == 0 and result.reverse_no_provider == 0
    return JobSummary(result.summary(), idle=idle)


def watch_models(context: JobContext) -> JobSummary:
    from driftwatch.policy.model_change import run_model_watch

    settings = context.settings
    result = run_model_watch(
        context.engine,
        context.policy,
        context.clock,
        batch_size=settings.sample_batch_size,
        time_budget_seconds=settings.sample_time_budget_seconds,
        stopping=context.stop.is_set,
    )
    return JobSummary(result.summary(), idle=not (result.changes or result.ended))


def evaluate(context: JobContext) -> JobSummary:
    from driftwatch.shadow.runner import RunnerOptions
    from driftwatch.shadow.setup import shadow_runner

    settings = context.settings
    options = RunnerOptions(
        worker_id=context.worker_id,
        batch_size=settings.evaluate_batch,
        max_in_flight=settings.evaluate_max_in_flight,
        lease=timedelta(seconds=settings.evaluate_lease_seconds),
    )

    async def once() -> JobSummary:
        async with shadow_runner(
            context.engine, context.policy, options, context.clock, context.environ, context.shadow_observer
        ) as runner:
            result = await runner.run_once(context.task_class)
        return JobSummary(result.summary(), idle=result.claimed == 0)

    return asyncio.run(once())


def reconcile_content(context: JobContext) -> JobSummary:
    from driftwatch.ingest import content

    with session_factory(context.engine).begin() as session:
        result = content.reconcile_content(
            session, context.clock(), capture_content=context.settings.capture_content
        )
    text = (
        f"filled {result.calls_filled} calls from {result.events_attached} content events, "
        f"expired {result.events_expired}"
    )
    return JobSummary(text, idle=not (result.calls_filled or result.events_attached or result.events_expired))


def deliver(context: JobContext) -> JobSummary:
    from driftwatch.notify.delivery import DeliveryOptions, run_delivery

    options = DeliveryOptions.from_settings(context.settings, context.worker_id)
    run = run_delivery(context.engine, context.policy, options, context.clock, context.environ)
    result = asyncio.run(run)
    idle = not (result.queued or result.delivered or result.retrying or result.failed)
    return JobSummary(result.summary(), idle=idle)


def decide(context: JobContext) -> JobSummary:
    from driftwatch.policy.class_cap_event import announce_overflow
    from driftwatch.policy.decide import run_decide

    result = run_decide(context.engine, context.policy, context.clock(), stopping=context.stop.is_set)
    summary = result.summary()
    cap = context.settings.max_task_classes
    if cap > 0 and announce_overflow(context.engine, cap, context.clock()):
        summary += f"; announced that classes beyond the cap of {cap} are stored as overflow"
    return JobSummary(summary, idle=not (result.consumed or result.degraded or result.promoted))


def score_drift(context: JobContext) -> JobSummary:
    from driftwatch.detection.score_drift import run_score_drift

    result = run_score_drift(context.engine, context.clock(), stopping=context.stop.is_set)
    return JobSummary(result.summary(), idle=not result.detectors)


def recommend(context: JobContext) -> JobSummary:
    from driftwatch.policy.recommendations import run_recommendations

    result = run_recommendations(
        context.engine, context.policy, context.clock(), stopping=context.stop.is_set
    )
    return JobSummary(result.summary(), idle=not result.counts)


def coverage(context: JobContext) -> JobSummary:
    from driftwatch.policy.coverage import run_coverage

    result = run_coverage(context.engine, context.policy, context.clock(), stopping=context.stop.is_set)
    return JobSummary(result.summary(), idle=not (result.raised or result.restored or result.alerted))


def import_langfuse(context: JobContext) -> JobSummary:
    # Imported here: the Langfuse SDK takes a second to load, and most runs never import.
    from driftwatch.importers.langfuse_import import scheduled_import
    from driftwatch.ingest.redaction import Redactor

    text = scheduled_import(
        context.engine,
        context.policy,
        context.environ,
        context.clock,
        capture_content=context.settings.capture_content,
        redactor=Redactor(context.settings.redact_patterns),
        max_task_classes=context.settings.max_task_classes,
    )
    return JobSummary(text)  # opt-in and infrequent: every run is worth a line


def retention(context: JobContext) -> JobSummary:
    from driftwatch.calls.retention import delete_expired_calls

    days = context.settings.call_retention_days
    if days <= 0:
        return JobSummary("calls are kept forever (DRIFTWATCH_CALL_RETENTION_DAYS is 0)", idle=True)
    result = delete_expired_calls(context.engine, context.clock(), days, stopping=context.stop.is_set)
    return JobSummary(result.summary(), idle=result.deleted == 0)


JOBS: dict[str, Callable[[JobContext], JobSummary]] = {
    "reconcile-content": reconcile_content,
    "watch-models": watch_models,
    "sample": sample,
    "evaluate": evaluate,
    "decide": decide,
    "score-drift": score_drift,
    "recommend": recommend,
    "coverage": coverage,
    "deliver": deliver,
    "import-langfuse": import_langfuse,
    "retention": retention,
}
assert tuple(JOBS) == JOB_NAMES, "scheduler.JOB_NAMES must name every job, in order"


def job_intervals(settings: Settings) -> dict[str, float]:
    """Seconds between runs inside ``driftwatch serve``. Content is reconciled as often as calls are
    sampled, well inside the sampling grace period, so a replay finds the content that arrived late."""
    intervals = {
        "reconcile-content": settings.sample_interval_seconds,
        # The sentinel runs as often as sampling, so a boost starts within one interval of a change.
        "watch-models": settings.sample_interval_seconds,
        "sample": settings.sample_interval_seconds,
        "evaluate": settings.evaluate_interval_seconds,
        "decide": settings.decide_interval_seconds,
        "score-drift": settings.decide_interval_seconds,  # it follows the detectors' windows
        "recommend": settings.recommend_interval_seconds,
        "coverage": settings.decide_interval_seconds,
        "deliver": settings.deliver_interval_seconds,
    }
    if settings.langfuse_import_interval > 0:  # the import is opt-in: it needs Langfuse keys
        intervals["import-langfuse"] = settings.langfuse_import_interval
    if settings.call_retention_days > 0:
        intervals["retention"] = settings.retention_interval_seconds
    return intervals


def run_job(name: str, context: JobContext) -> JobSummary:
    """Run one job once and record it; the summary says what it did. Errors are recorded, then raised."""
    job = JOBS[name]
    sessions = session_factory(context.engine)
    with sessions.begin() as session:
        record_start(session, name, context.clock())
    try:
        summary = job(context)
    except Exception as error:
        with sessions.begin() as session:
            record_finish(session, name, context.clock(), "error", f"{type(error).__name__}: {error}")
        raise
    with sessions.begin() as session:
        record_finish(session, name, context.clock(), "ok", str(summary))  # a plain str for the driver
    return summary
