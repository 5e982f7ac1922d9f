"""reconcile_content: the job that attaches content events a concurrent writer could not see, and
expires those whose call never came (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.models import Call, ContentEvent
from driftwatch.ingest import content
from driftwatch.ingest.classify import Classifier
from driftwatch.ingest.content import ReconcileResult, reconcile_content
from driftwatch.ingest.logs import ContentEventMapper, EventRow
from driftwatch.ingest.otlp import iter_spans
from driftwatch.ingest.records import CallMapper, CallRow
from driftwatch.ingest.store import commit_batch
from driftwatch.prices.pricing import PriceTable
from tests.support.otlp import export_request, genai_events, llm_attributes, logs_request, make_span

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
PROMPT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]


def _call_and_events(**completion: str) -> tuple[CallRow, list[EventRow]]:
    attributes = llm_attributes()
    del attributes["gen_ai.input.messages"], attributes["gen_ai.output.messages"]
    span: Span = make_span(attributes)
    policy = Policy()
    calls = CallMapper(Classifier.from_policy(policy), PriceTable(policy.price_table()), capture_content=True)
    [row] = calls.map(iter_spans(export_request([span]))).rows
    records = genai_events(span, system="Be brief.", user="Hi?", reply=completion.get("reply", "Hello."))
    events = ContentEventMapper(capture_content=True).map(logs_request(records)).events
    return row, events


def _store_apart(engine: Engine, row: CallRow, events: list[EventRow], received: datetime = NOW) -> None:
    """What two writer transactions racing each other leave behind: both committed, neither attached."""
    with engine.begin() as connection:
        content.insert_events(connection, events, received)
    with engine.begin() as connection:
        connection.execute(insert(Call), [row])


def _reconcile(engine: Engine, now: datetime = NOW, **options: bool) -> ReconcileResult:
    with Session(engine) as session, session.begin():
        return reconcile_content(session, now, DAY, **options)


def _content(engine: Engine, row: CallRow) -> tuple[object, str | None]:
    with Session(engine) as session:
        call = session.scalars(select(Call).where(Call.span_id == row["span_id"])).one()
        return (orjson.loads(call.prompt) if call.prompt else None), call.completion


def _waiting(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(ContentEvent)) or 0)


def test_reconcile_fills_a_call_that_raced_its_events_and_is_idempotent(engine: Engine) -> None:
    row, events = _call_and_events()
    _store_apart(engine, row, events)
    assert _content(engine, row) == (None, None)

    first = _reconcile(engine)
    second = _reconcile(engine)

    assert first == ReconcileResult(calls_filled=1, events_attached=3, events_expired=0)
    assert second == ReconcileResult(calls_filled=0, events_attached=0, events_expired=0)
    assert _content(engine, row) == (PROMPT, "Hello.")
    assert _waiting(engine) == 0


def test_reconcile_fills_only_what_is_missing(engine: Engine) -> None:
    row, events = _call_and_events()
    row["completion"] = "from the span"
    _store_apart(engine, row, events)

    assert _reconcile(engine).calls_filled == 1

    assert _content(engine, row) == (PROMPT, "from the span")


def test_reconcile_expires_events_whose_call_never_came(engine: Engine) -> None:
    _orphan, stale = _call_and_events()
    _recent_orphan, recent = _call_and_events()
    with engine.begin() as connection:
        content.insert_events(connection, stale, NOW - DAY - timedelta(seconds=1))
        content.insert_events(connection, recent, NOW - DAY + timedelta(seconds=1))

    result = _reconcile(engine)

    assert result == ReconcileResult(calls_filled=0, events_attached=0, events_expired=3)
    assert _waiting(engine) == 3  # the recent ones still wait for their call


def test_reconcile_with_capture_off_discards_instead_of_filling(engine: Engine) -> None:
    row, events = _call_and_events()
    _store_apart(engine, row, events)

    result = _reconcile(engine, capture_content=False)

    assert result == ReconcileResult(calls_filled=0, events_attached=0, events_expired=3)
    assert _content(engine, row) == (None, None)


def test_the_interleaved_race_loses_nothing(engine: Engine) -> None:
    # Two writer transactions in flight at once: the events' one checks for the call before the call's
    # one commits, and the call's one checks for events before the events' one commits.
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serializes writers: a write transaction always sees the previous commit")
    row, events = _call_and_events()
    with engine.connect() as events_writer, events_writer.begin():
        content.insert_events(events_writer, events, NOW)
        assert content.attach(events_writer, {row["trace_id"]}).calls_filled == 0
        outcome = commit_batch(engine, [row], [], NOW)
        assert (outcome.calls_inserted, outcome.calls_filled) == (1, 0)
    assert _content(engine, row) == (None, None)
    assert _waiting(engine) == 3

    assert _reconcile(engine).calls_filled == 1

    assert _content(engine, row) == (PROMPT, "Hello.")
