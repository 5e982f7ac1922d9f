"""The Langfuse import: pages of generations in, ``call`` rows and the advanced cursor committed together.

A run reads one window of start times, ``[start, end)``, newest first, one page per transaction: the
page's new calls (inserted as the OTLP writer inserts them: duplicates ignored, the hourly rollup and
waiting content updated) and the cursor saying which page comes next commit as one, so an interrupted
run resumes at the page it had not committed, and losing the process loses nothing.

The next run's window starts ``overlap`` before the end of the last completed one: Langfuse ingestion
is eventually consistent, and a generation that was written late, or that was still running (no end
time) when it was passed, is picked up by the next run. Calls are unique by trace id and span id, so
reading a generation twice stores it once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from driftwatch.config import Policy
from driftwatch.importers.cursor import CursorState, ImportBusy, ImportWindow, load_cursor, save_cursor
from driftwatch.importers.langfuse_client import (
    LangfuseClient,
    LangfuseCredentials,
    ObservationPage,
    RateLimitWaits,
)
from driftwatch.importers.langfuse_mapping import MappedGenerations, map_generations
from driftwatch.ingest.class_cap import TaskClassCap
from driftwatch.ingest.classify import Classifier
from driftwatch.ingest.records import CallMapper
from driftwatch.ingest.redaction import NO_REDACTION, Redactor
from driftwatch.ingest.store import write_batch
from driftwatch.prices.pricing import PriceTable

DEFAULT_OVERLAP = timedelta(minutes=15)
DEFAULT_PAGE_SIZE = 100
_REASONS_KEPT = 20  # the summary names a few reasons, not one per item


@dataclass(frozen=True, slots=True)
class ImportOptions:
    since: datetime | None = None
    """Start a new window here instead of where the last run stopped (or resuming a stopped run)."""
    overlap: timedelta = DEFAULT_OVERLAP
    page_size: int = DEFAULT_PAGE_SIZE
    project: str | None = None
    max_task_classes: int = 0
    """As ``DRIFTWATCH_MAX_TASK_CLASSES``: classes beyond it are imported as ``overflow``."""


@dataclass(slots=True)
class ImportProgress:
    """What one run did so far; the progress display and the summary line read it."""

    host: str = ""
    project: str = ""
    pages: int = 0
    read: int = 0
    imported: int = 0
    already_stored: int = 0
    skipped: int = 0
    unfinished: int = 0
    not_calls: int = 0
    skip_reasons: list[str] = field(default_factory=list)
    rate_limit_waits: int = 0
    rate_limit_seconds: float = 0.0

    def add_page(
        self, page: ObservationPage, mapped: MappedGenerations, inserted: int, waits: RateLimitWaits
    ) -> None:
        self.pages += 1
        self.read += len(page.observations) + page.malformed.rejected
        self.skipped += page.malformed.rejected + mapped.rejected
        self.imported += inserted
        self.already_stored += len(mapped.rows) - inserted
        self.unfinished += mapped.unfinished
        self.not_calls += mapped.not_calls
        room = max(0, _REASONS_KEPT - len(self.skip_reasons))
        self.skip_reasons.extend([*page.malformed.errors, *mapped.errors][:room])
        self.rate_limit_waits, self.rate_limit_seconds = waits.count, waits.seconds

    def summary(self) -> str:
        text = (
            f"langfuse {self.host} project {self.project}: imported {self.imported} new calls from "
            f"{self.read} generations in {self.pages} pages; {self.already_stored} already stored, "
            f"{self.skipped} skipped as malformed, {self.unfinished} still running (next run), "
            f"{self.not_calls} not calls"
        )
        if self.rate_limit_waits:
            text += f"; waited {self.rate_limit_seconds:.0f} s over {self.rate_limit_waits} rate-limit or retry pauses"
        return text


def source_name(host: str, project_id: str) -> str:
    """The ``import_cursor`` key of one Langfuse project on one host."""
    return f"langfuse:{host}:{project_id}"[:255]


def call_mapper(policy: Policy, *, capture_content: bool, redactor: Redactor = NO_REDACTION) -> CallMapper:
    return CallMapper(
        Classifier.from_policy(policy),
        PriceTable(policy.price_table()),
        capture_content=capture_content,
        redactor=redactor,
    )


def import_generations(
    engine: Engine,
    client: LangfuseClient,
    mapper: CallMapper,
    options: ImportOptions,
    clock: Callable[[], datetime],
    on_page: Callable[[ImportProgress], None] | None = None,
) -> ImportProgress:
    """Read the project's generations since the last run (or ``options.since``) into ``call``."""
    project = client.project(options.project)
    progress = ImportProgress(host=client.host, project=project.id)
    source = source_name(client.host, project.id)
    with engine.begin() as connection:
        saved = load_cursor(connection, source, clock())
    state = CursorState.from_text(saved)
    window = _window(state, options, clock())
    class_cap = TaskClassCap(options.max_task_classes)
    while True:
        page = client.generations(
            start=window.start, end=window.end, cursor=window.page, limit=options.page_size
        )
        mapped = map_generations(page.observations, mapper, unfinished_after=window.end - options.overlap)
        if page.next_cursor:
            state = CursorState(state.read_until, ImportWindow(window.start, window.end, page.next_cursor))
        else:
            state = CursorState(read_until=window.end)
        with engine.begin() as connection:
            inserted = write_batch(connection, mapped.rows, (), clock(), class_cap).calls_inserted
            saved = save_cursor(
                connection,
                source,
                expected=saved,
                state=state,
                imported=inserted,
                skipped=page.malformed.rejected + mapped.rejected,
                now=clock(),
            )
        progress.add_page(page, mapped, inserted, client.waits)
        if on_page is not None:
            on_page(progress)
        if state.window is None:
            return progress
        window = state.window


def _window(state: CursorState, options: ImportOptions, now: datetime) -> ImportWindow:
    if options.since is not None:
        return ImportWindow(options.since, now)
    if state.window is not None:
        return state.window  # a run that stopped part-way: go on from its next page
    start = state.read_until - options.overlap if state.read_until is not None else None
    return ImportWindow(start, now)


def scheduled_import(
    engine: Engine,
    policy: Policy,
    environ: Mapping[str, str],
    clock: Callable[[], datetime],
    *,
    capture_content: bool,
    redactor: Redactor = NO_REDACTION,
    max_task_classes: int = 0,
) -> str:
    """The ``import-langfuse`` job: one incremental run with the ``LANGFUSE_*`` variables; its summary.
    Another replica's run of the same project going on at the same time is an outcome, not a failure."""
    client = LangfuseClient(LangfuseCredentials.resolve(environ))
    try:
        mapper = call_mapper(policy, capture_content=capture_content, redactor=redactor)
        options = ImportOptions(max_task_classes=max_task_classes)
        return import_generations(engine, client, mapper, options, clock).summary()
    except ImportBusy as busy:
        return f"stopped: {busy.detail}"
    finally:
        client.close()
