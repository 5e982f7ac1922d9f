"""Overload: a blocked store fills the bounded write queue, ingest answers 503 + Retry-After, and
recovers by itself once the store commits again, with every acknowledged span stored exactly once.

The store is blocked deterministically from another connection: on SQLite a write transaction held
open (``BEGIN IMMEDIATE``), on PostgreSQL an ``EXCLUSIVE`` lock on ``call``.  Readers are not blocked,
so the test can watch the queue through ``/metrics`` while the writer waits.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sqlalchemy import Engine, select

from driftwatch.db.models import Call
from tests.conftest import StartServer
from tests.support.databases import blocked_store
from tests.support.otlp import export_request, make_span, to_otlp_json
from tests.support.patience import deadline, patient
from tests.support.server import ServerThread, metric_value

PROTOBUF = {"content-type": "application/x-protobuf"}
UNAVAILABLE = 14  # google.rpc.Code
WAIT_SECONDS = 20  # generous deadline for polls; the happy path takes milliseconds


def _body(spans: list[Span]) -> bytes:
    return export_request(spans).SerializeToString()


def _export(server: ServerThread, spans: list[Span]) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/traces", content=_body(spans), headers=PROTOBUF, timeout=60)


def _wait_queued(server: ServerThread, spans: int) -> None:
    """Wait until the writer holds exactly ``spans`` spans (waiting for or in a commit)."""
    give_up = deadline(WAIT_SECONDS)
    while (queued := metric_value(server, "driftwatch_ingest_write_queue_spans")) != spans:
        assert time.monotonic() < give_up, f"write queue holds {queued} spans, expected {spans}"
        time.sleep(0.01)


def _stored(engine: Engine) -> Counter[tuple[str, str]]:
    with engine.connect() as connection:
        return Counter(
            (row.trace_id, row.span_id) for row in connection.execute(select(Call.trace_id, Call.span_id))
        )


def _keys(spans: list[Span]) -> set[tuple[str, str]]:
    return {(span.trace_id.hex(), span.span_id.hex()) for span in spans}


def _assert_overloaded_protobuf(response: httpx.Response, retry_after: int) -> Status:
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(retry_after)
    assert response.headers["content-type"] == "application/x-protobuf"
    status = Status.FromString(response.content)
    assert status.code == UNAVAILABLE
    return status


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=8) as executor:
        yield executor


def test_a_full_write_queue_answers_503_then_recovers_and_stores_every_acknowledged_span_once(
    start_server: StartServer, engine: Engine, database_url: str, pool: ThreadPoolExecutor
) -> None:
    server = start_server(write_queue_spans=7, retry_after_seconds=7)
    a, b, c, d, e = ([make_span() for _ in range(size)] for size in (2, 2, 2, 1, 1))
    waiting: list[Future[httpx.Response]] = []

    with blocked_store(engine, database_url) as release:
        waiting.append(pool.submit(_export, server, a))
        _wait_queued(server, 2)
        waiting.append(pool.submit(_export, server, a))  # the exporter timed out and re-sent the batch
        _wait_queued(server, 4)
        waiting.append(pool.submit(_export, server, b))
        _wait_queued(server, 6)

        no_room = _export(server, c)  # 6 held + 2 > 7: refused by the queue itself

        waiting.append(pool.submit(_export, server, d))
        _wait_queued(server, 7)
        full = _export(server, e)  # queue exactly full: refused before the body is read
        full_json = httpx.post(
            f"{server.base_url}/v1/traces",
            content=to_otlp_json(export_request(e)),
            headers={"content-type": "application/json"},
        )
        assert not any(future.done() for future in waiting)  # nothing acknowledged before its commit
        release()

        acknowledged = [future.result(timeout=patient(WAIT_SECONDS)) for future in waiting]

    assert "write queue full" in _assert_overloaded_protobuf(no_room, retry_after=7).message
    _assert_overloaded_protobuf(full, retry_after=7)
    assert full_json.status_code == 503
    assert full_json.headers["retry-after"] == "7"
    assert full_json.json()["error"] == "overloaded"
    assert [response.status_code for response in acknowledged] == [200, 200, 200, 200]

    _wait_queued(server, 0)
    retried = _export(server, c)  # what an exporter does after Retry-After
    later = [make_span()]
    fresh = _export(server, later)

    assert retried.status_code == 200
    assert fresh.status_code == 200
    stored = _stored(engine)
    assert set(stored) == _keys([*a, *b, *c, *d, *later])  # e was never acknowledged, so never stored
    assert max(stored.values()) == 1
    classes = httpx.get(f"{server.base_url}/v1/classes").json()["items"]
    assert sum(item["calls"] for item in classes) == len(stored)  # the rollup counted nothing twice
    assert metric_value(server, 'driftwatch_ingest_requests_refused_total{status="503"}') == 3


def test_a_refusal_because_the_queue_is_full_says_so(
    start_server: StartServer, engine: Engine, database_url: str, pool: ThreadPoolExecutor
) -> None:
    server = start_server(write_queue_spans=1)

    with blocked_store(engine, database_url) as release:
        waiting = pool.submit(_export, server, [make_span()])
        _wait_queued(server, 1)
        refused = _export(server, [make_span()])
        release()
        assert waiting.result(timeout=patient(WAIT_SECONDS)).status_code == 200

    message = _assert_overloaded_protobuf(refused, retry_after=2).message
    assert "queue" in message  # an operator must tell a slow store from too many clients


def test_a_batch_larger_than_the_queue_is_taken_when_nothing_else_waits(
    start_server: StartServer, engine: Engine, database_url: str, pool: ThreadPoolExecutor
) -> None:
    # Otherwise a batch larger than the queue could never get in, however often it is retried.
    server = start_server(write_queue_spans=2)
    big = [make_span() for _ in range(5)]

    with blocked_store(engine, database_url) as release:
        waiting = pool.submit(_export, server, big)
        _wait_queued(server, 5)
        refused = _export(server, [make_span()])
        release()
        taken = waiting.result(timeout=patient(WAIT_SECONDS))

    assert taken.status_code == 200
    assert refused.status_code == 503
    assert set(_stored(engine)) == _keys(big)


def test_requests_beyond_max_concurrent_requests_get_503(
    start_server: StartServer, engine: Engine, database_url: str, pool: ThreadPoolExecutor
) -> None:
    server = start_server(max_concurrent_requests=2, retry_after_seconds=3)
    first, second, third = [make_span()], [make_span()], [make_span()]

    with blocked_store(engine, database_url) as release:
        waiting = [pool.submit(_export, server, first), pool.submit(_export, server, second)]
        _wait_queued(server, 2)  # both admitted and waiting for their commit

        refused = _export(server, third)
        reads = httpx.get(f"{server.base_url}/v1/calls")  # the limit is on exports, not on the API

        release()
        assert [future.result(timeout=patient(WAIT_SECONDS)).status_code for future in waiting] == [200, 200]

    status = _assert_overloaded_protobuf(refused, retry_after=3)
    assert "too many export requests" in status.message
    assert reads.status_code == 200
    assert _export(server, third).status_code == 200
    assert set(_stored(engine)) == _keys([*first, *second, *third])
