"""Hostile input: generated bodies against ``POST /v1/traces`` and ``POST /v1/logs`` of a real server,
on SQLite and on PostgreSQL.

Every answer must be a 2xx (an OTLP response, ``partial_success`` for rejected items) or a 4xx with an
error body — never a 5xx — and the server must still take a valid export afterwards.  The process's
peak RSS (the server runs in it) may not grow past :data:`BOMB_RSS_GROWTH_BOUND` while a gzip bomb
that expands to four times that is refused, nor past :data:`PEAK_RSS_GROWTH_BOUND` while it is fed
generated bodies with deep nesting and huge attributes.

Examples per test are counted and asserted: :data:`EXAMPLES` bodies per test and backend here;
``bench/fuzz_ingest.py`` sends the same kinds of bodies 10,000 times and more (docs/reliability.md, "Hostile input").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from driftwatch.db.models import Call
from tests.conftest import StartServer
from tests.reliability.fuzz_target import FuzzTarget, send_examples
from tests.reliability.hostile_bodies import (
    PROTOBUF,
    HostileRequest,
    gzip_bomb,
    json_requests,
    many_attributes_request,
    protobuf_requests,
    raw_requests,
)
from tests.support.otlp import export_request, llm_attributes, logs_request, make_log_record, make_span

MAX_REQUEST_BYTES = 2 << 20
GZIP_BOMB_BYTES = 256 << 20  # expands to 128 times the request limit
BOMB_RSS_GROWTH_BOUND = 64 << 20  # a bomb is refused while it streams, never held inflated (seen: +1 MiB)
# Bodies in flight (64 x 2 MiB at most), their decoded copies and hypothesis's own examples: +57 MiB
# seen on a fresh process, +202 MiB late in a full suite run; what matters is that it is bounded.
PEAK_RSS_GROWTH_BOUND = 512 << 20
# x 2 backends = 1,000 bodies in the suite; bench/fuzz_ingest.py sends 10,000+ (building bodies is the cost)
EXAMPLES = {"protobuf": 200, "json": 100, "raw": 200}


def _peak_rss_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := current RSS


def _rss(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field_name} in /proc/self/status")


@pytest.fixture
def target(start_server: StartServer) -> Iterator[FuzzTarget]:
    server = start_server(max_request_bytes=MAX_REQUEST_BYTES)
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        yield FuzzTarget(client)


def _fuzz(target: FuzzTarget, strategy: st.SearchStrategy[HostileRequest], examples: int) -> None:
    gzip_bomb(GZIP_BOMB_BYTES)  # built before the peak is reset: the test's own bytes are not the server's
    _peak_rss_reset()
    before = _rss("VmRSS")

    send_examples(target, strategy, examples)
    growth = _rss("VmHWM") - before
    print(f"{sum(target.statuses.values())} bodies: {dict(target.statuses)}; peak RSS +{growth >> 20} MiB")
    assert sum(target.statuses.values()) >= examples
    assert growth < PEAK_RSS_GROWTH_BOUND
    target.still_serves()


def test_protobuf_bodies_get_no_5xx(target: FuzzTarget) -> None:
    _fuzz(target, protobuf_requests(), EXAMPLES["protobuf"])


def test_otlp_json_bodies_get_no_5xx(target: FuzzTarget) -> None:
    _fuzz(target, json_requests(), EXAMPLES["json"])


def test_raw_bodies_gzip_bombs_and_odd_headers_get_no_5xx(target: FuzzTarget) -> None:
    bomb = HostileRequest("/v1/traces", {"content-type": PROTOBUF, "content-encoding": "gzip"}, b"")
    body = gzip_bomb(GZIP_BOMB_BYTES)
    _peak_rss_reset()
    before = _rss("VmRSS")
    target.send(HostileRequest(bomb.path, bomb.headers, body))
    assert _rss("VmHWM") - before < BOMB_RSS_GROWTH_BOUND
    assert target.statuses[413] == 1  # the bomb itself is under the limit on the wire
    target.send(HostileRequest("/v1/traces", {"content-type": PROTOBUF}, many_attributes_request(20_000)))
    _fuzz(target, raw_requests(), EXAMPLES["raw"])


def test_a_body_streamed_past_the_limit_without_a_length_is_refused(target: FuzzTarget) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_REQUEST_BYTES // (64 << 10) + 2):
            yield bytes(64 << 10)

    response = target.client.post("/v1/traces", content=chunks(), headers={"content-type": PROTOBUF})

    assert response.status_code == 413
    target.still_serves()


def test_json_nested_past_every_parser_limit_is_a_400(target: FuzzTarget) -> None:
    body = '{"resourceSpans": ' + "[" * 100_000 + "]" * 100_000 + "}"
    target.send(HostileRequest("/v1/traces", {"content-type": "application/json"}, body.encode()))
    assert target.statuses == Counter({400: 1})


def test_nul_characters_are_dropped_not_a_failed_batch(target: FuzzTarget, engine: Engine) -> None:
    """Regression: PostgreSQL text cannot hold NUL, and one such span failed its whole write batch
    with a 503 (other clients' spans in the batch too), so exporters re-sent it forever."""
    attributes = llm_attributes(task_class="fa\x00q", model="haiku\x00", completion="30\x00 days.")
    span = make_span(attributes, name="chat\x00")
    span.status.message = "bad\x00"
    without_completion = llm_attributes()
    del without_completion["gen_ai.output.messages"]
    span_without_content = make_span(without_completion)
    choice = {"index": 0, "message": {"role": "assistant", "content": "late\x00 reply"}}
    records = [make_log_record("gen_ai.choice", choice, span=span_without_content)]
    records.append(make_log_record("gen_ai.\x00.message", {"content": "x"}, span=span_without_content))

    for path, body in (
        ("/v1/traces", export_request([span, span_without_content]).SerializeToString()),
        ("/v1/logs", logs_request(records).SerializeToString()),
    ):
        target.send(HostileRequest(path, {"content-type": PROTOBUF}, body))

    assert target.statuses == Counter({200: 2})
    with engine.connect() as connection:
        stored = connection.execute(select(Call.task_class, Call.model, Call.completion, Call.status_message))
        assert sorted(tuple(row) for row in stored) == [
            ("faq", "claude-haiku-4-5", "late reply", None),
            ("faq", "haiku", "30 days.", "bad"),
        ]
