"""POST /v1/logs over real HTTP into SQLite and PostgreSQL: GenAI content events find their call."""

from __future__ import annotations

import gzip
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from driftwatch.auth.keys import create_key
from driftwatch.auth.scopes import Scope
from driftwatch.db.models import Call, ContentEvent
from driftwatch.ingest.content import reconcile_content
from tests.conftest import StartServer
from tests.support.databases import blocked_store
from tests.support.otlp import (
    export_request,
    genai_events,
    llm_attributes,
    logs_request,
    make_log_record,
    make_span,
    to_otlp_json,
)
from tests.support.patience import deadline
from tests.support.server import ServerThread, metric_value

PROTOBUF = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}
SYSTEM, USER, REPLY = "Answer in one word.", "Is the sky blue?", "Yes."
PROMPT = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]


def _span_without_content() -> Span:
    attributes = llm_attributes()
    del attributes["gen_ai.input.messages"], attributes["gen_ai.output.messages"]
    return make_span(attributes)


def _post_spans(server: ServerThread, spans: list[Span]) -> None:
    body = export_request(spans).SerializeToString()
    assert httpx.post(f"{server.base_url}/v1/traces", content=body, headers=PROTOBUF).status_code == 200


def _post_logs(server: ServerThread, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/logs", content=body, headers=headers or PROTOBUF)


def _content(engine: Engine, span: Span) -> tuple[Any, str | None]:
    with Session(engine) as session:
        call = session.scalars(select(Call).where(Call.span_id == span.span_id.hex())).one()
        return (orjson.loads(call.prompt) if call.prompt else None), call.completion


def _waiting(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(ContentEvent)) or 0)


def test_content_events_after_the_span_fill_its_call(server: ServerThread, engine: Engine) -> None:
    span = _span_without_content()
    _post_spans(server, [span])
    assert _content(engine, span) == (None, None)

    response = _post_logs(
        server, logs_request(genai_events(span, system=SYSTEM, user=USER, reply=REPLY)).SerializeToString()
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert not ExportLogsServiceResponse.FromString(response.content).HasField("partial_success")
    assert _content(engine, span) == (PROMPT, REPLY)  # committed before the 200
    assert _waiting(engine) == 0


def test_content_from_log_records_is_stored_exactly_as_content_on_a_span(
    server: ServerThread, engine: Engine
) -> None:
    on_span = make_span(llm_attributes(prompt=USER, completion=REPLY))
    in_logs = _span_without_content()
    records = [
        make_log_record("gen_ai.user.message", {"content": USER}, span=in_logs),
        make_log_record("gen_ai.choice", {"index": 0, "message": {"content": REPLY}}, span=in_logs),
    ]

    _post_spans(server, [on_span, in_logs])
    assert _post_logs(server, logs_request(records).SerializeToString()).status_code == 200

    with engine.connect() as connection:
        stored = connection.execute(select(Call.prompt, Call.completion).order_by(Call.id)).all()
    assert stored[0] == stored[1]
    assert stored[0].prompt is not None


def test_content_events_before_the_span_wait_for_it_json_and_gzip(
    server: ServerThread, engine: Engine
) -> None:
    span = _span_without_content()
    body = gzip.compress(
        to_otlp_json(logs_request(genai_events(span, system=SYSTEM, user=USER, reply=REPLY)))
    )

    response = _post_logs(server, body, {**JSON, "content-encoding": "gzip"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    assert _waiting(engine) == 3
    _post_spans(server, [span])
    assert _content(engine, span) == (PROMPT, REPLY)
    assert _waiting(engine) == 0


def test_the_operation_details_event_carries_both_sides(server: ServerThread, engine: Engine) -> None:
    # openai-v2 with util-genai 1.x (EVENT_ONLY / SPAN_AND_EVENT): structured messages, no body.
    span = _span_without_content()
    details = make_log_record(
        "gen_ai.client.inference.operation.details",
        span=span,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.input.messages": [
                {"role": "system", "parts": [{"type": "text", "content": SYSTEM}]},
                {"role": "user", "parts": [{"type": "text", "content": USER}]},
            ],
            "gen_ai.output.messages": [
                {"role": "assistant", "parts": [{"type": "text", "content": REPLY}], "finish_reason": "stop"}
            ],
        },
    )
    _post_spans(server, [span])

    assert _post_logs(server, to_otlp_json(logs_request([details])), JSON).status_code == 200

    assert _content(engine, span) == (PROMPT, REPLY)


def test_content_on_the_span_is_never_overwritten_by_events(server: ServerThread, engine: Engine) -> None:
    span = make_span(llm_attributes(prompt="from the span", completion="span reply"))
    events = logs_request(genai_events(span, system=SYSTEM, user=USER, reply=REPLY)).SerializeToString()

    assert _post_logs(server, events).status_code == 200
    _post_spans(server, [span])

    assert _content(engine, span) == ([{"role": "user", "content": "from the span"}], "span reply")
    assert _waiting(engine) == 3  # a complete call costs ingest no lookup: the reconcile job drops them
    with Session(engine) as session, session.begin():
        reconcile_content(session, datetime.now(UTC), timedelta(hours=24))
    assert _content(engine, span) == ([{"role": "user", "content": "from the span"}], "span reply")
    assert _waiting(engine) == 0


def test_resent_logs_are_stored_once(server: ServerThread, engine: Engine) -> None:
    span = _span_without_content()
    body = logs_request(genai_events(span, system=SYSTEM, user=USER, reply=REPLY)).SerializeToString()

    for _ in range(3):
        assert _post_logs(server, body).status_code == 200
    assert _waiting(engine) == 3
    _post_spans(server, [span])
    assert _post_logs(server, body).status_code == 200  # and once more after the call took them

    assert _content(engine, span) == (PROMPT, REPLY)  # no message doubled
    assert _waiting(engine) == 0
    assert metric_value(server, "driftwatch_ingest_content_events_stored_total") == 6  # 3 new, 3 re-sent late


def test_completion_arriving_in_a_later_batch_fills_the_rest(server: ServerThread, engine: Engine) -> None:
    span = _span_without_content()
    system, user, choice = genai_events(span, system=SYSTEM, user=USER, reply=REPLY)
    _post_spans(server, [span])

    assert _post_logs(server, logs_request([system, user]).SerializeToString()).status_code == 200
    assert _content(engine, span) == (PROMPT, None)
    assert _post_logs(server, logs_request([choice]).SerializeToString()).status_code == 200

    assert _content(engine, span) == (PROMPT, REPLY)


def test_events_are_ordered_by_time_not_by_arrival(server: ServerThread, engine: Engine) -> None:
    span = _span_without_content()
    first = make_log_record("gen_ai.user.message", {"content": "first"}, span=span, observed_ns=2_000)
    second = make_log_record("gen_ai.assistant.message", {"content": "second"}, span=span, observed_ns=3_000)
    third = make_log_record("gen_ai.user.message", {"content": "third"}, span=span, time_ns=4_000)

    for record in (third, first, second):
        assert _post_logs(server, logs_request([record]).SerializeToString()).status_code == 200
    _post_spans(server, [span])

    prompt, _completion = _content(engine, span)
    assert [message["content"] for message in prompt] == ["first", "second", "third"]
    assert [message["role"] for message in prompt] == ["user", "assistant", "user"]


def test_content_events_without_ids_are_rejected_with_a_reason(server: ServerThread, engine: Engine) -> None:
    span = _span_without_content()
    records = [
        make_log_record("gen_ai.user.message", {"content": USER}),  # Traceloop Anthropic, events mode
        make_log_record("gen_ai.choice", {"index": 0, "message": {"content": REPLY}}),
        make_log_record("gen_ai.user.message", {"content": USER}, span=span),
    ]

    response = _post_logs(server, logs_request(records).SerializeToString())

    assert response.status_code == 200
    partial = ExportLogsServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_log_records == 2
    assert "trace id must be 16 non-zero bytes" in partial.error_message
    assert "cannot be attached to a call" in partial.error_message
    assert _waiting(engine) == 1


def test_bad_hex_ids_in_json_reject_only_that_record(server: ServerThread, engine: Engine) -> None:
    span = _span_without_content()
    document = orjson.loads(
        to_otlp_json(logs_request(genai_events(span, system=SYSTEM, user=USER, reply=REPLY)))
    )
    document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["spanId"] = "not-hex"

    response = _post_logs(server, orjson.dumps(document), JSON)

    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedLogRecords"] == "1"  # int64: a string in OTLP JSON
    assert _waiting(engine) == 2


def test_other_log_records_are_counted_not_stored(server: ServerThread, engine: Engine) -> None:
    span = _span_without_content()
    records = [
        make_log_record("", "GET /checkout 200", span=span),  # an application log line
        make_log_record("", "startup complete"),  # no ids either: still not an error
        make_log_record("gen_ai.user.message", {}, span=span),  # capture off in the app: no content
        make_log_record("gen_ai.choice", {"index": 0, "message": {"role": "assistant"}}, span=span),
        make_log_record("gen_ai.user.message", {"content": USER}, span=span),
    ]

    response = _post_logs(server, logs_request(records).SerializeToString())

    assert response.status_code == 200
    assert not ExportLogsServiceResponse.FromString(response.content).HasField("partial_success")
    assert _waiting(engine) == 1
    prefix = "driftwatch_ingest_log_records_received_total"
    assert metric_value(server, f'{prefix}{{kind="other"}}') == 2
    assert metric_value(server, f'{prefix}{{kind="empty"}}') == 2
    assert metric_value(server, f'{prefix}{{kind="content"}}') == 1


def test_capture_content_off_stores_no_content(start_server: StartServer, engine: Engine) -> None:
    server = start_server(capture_content=False)
    span = _span_without_content()
    _post_spans(server, [span])

    response = _post_logs(
        server, logs_request(genai_events(span, system=SYSTEM, user=USER, reply=REPLY)).SerializeToString()
    )

    assert response.status_code == 200
    assert _content(engine, span) == (None, None)
    assert _waiting(engine) == 0
    assert metric_value(server, 'driftwatch_ingest_log_records_received_total{kind="not_captured"}') == 3


def test_wrong_content_type_is_415(server: ServerThread) -> None:
    response = _post_logs(server, b"hello", {"content-type": "text/plain"})

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_undecodable_protobuf_is_400_with_a_status_message(server: ServerThread) -> None:
    span = _span_without_content()
    body = logs_request(genai_events(span, system=SYSTEM, user=USER, reply=REPLY)).SerializeToString()[:-5]

    response = _post_logs(server, body)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    assert "undecodable protobuf ExportLogsServiceRequest" in Status.FromString(response.content).message


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"resourceLogs": "nope"}'])
def test_malformed_json_is_400(server: ServerThread, body: bytes) -> None:
    response = _post_logs(server, body, JSON)

    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_body_over_the_limit_is_413_even_when_gzipped(start_server: StartServer, engine: Engine) -> None:
    server = start_server(max_request_bytes=2_000)
    span = _span_without_content()
    body = logs_request([make_log_record("gen_ai.user.message", {"content": "x" * 50_000}, span=span)])

    plain = _post_logs(server, body.SerializeToString())
    zipped = _post_logs(
        server, gzip.compress(body.SerializeToString()), {**PROTOBUF, "content-encoding": "gzip"}
    )

    assert (plain.status_code, zipped.status_code) == (413, 413)
    assert Status.FromString(zipped.content).code == 8  # RESOURCE_EXHAUSTED
    assert _waiting(engine) == 0


def test_unauthenticated_protobuf_export_gets_a_protobuf_status(
    start_server: StartServer, engine: Engine
) -> None:
    server = start_server(require_auth=True)
    with Session(engine) as session, session.begin():
        key = create_key(session, "app", scopes={Scope.INGEST}).key
    body = logs_request([make_log_record("gen_ai.user.message", {"content": USER}, span=make_span())])

    refused = _post_logs(server, body.SerializeToString())
    accepted = _post_logs(server, body.SerializeToString(), {**PROTOBUF, "authorization": f"Bearer {key}"})

    assert refused.status_code == 401
    assert Status.FromString(refused.content).code == 16  # UNAUTHENTICATED
    assert accepted.status_code == 200


def test_a_key_without_the_ingest_scope_gets_permission_denied_in_protobuf(
    start_server: StartServer, engine: Engine
) -> None:
    server = start_server(require_auth=True)
    with Session(engine) as session, session.begin():
        reader = create_key(session, "dashboard", scopes={Scope.READ}).key
    body = logs_request([make_log_record("gen_ai.user.message", {"content": USER}, span=make_span())])

    refused = _post_logs(server, body.SerializeToString(), {**PROTOBUF, "authorization": f"Bearer {reader}"})

    assert refused.status_code == 403
    assert Status.FromString(refused.content).code == 7  # PERMISSION_DENIED


def test_a_full_write_queue_answers_503_to_logs_as_to_spans(
    start_server: StartServer, engine: Engine, database_url: str
) -> None:
    server = start_server(write_queue_spans=1, retry_after_seconds=5)
    span = _span_without_content()
    logs = logs_request(genai_events(span, system=SYSTEM, user=USER, reply=REPLY)).SerializeToString()

    with blocked_store(engine, database_url) as release, ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(_post_spans, server, [span])
        give_up = deadline(20)
        while metric_value(server, "driftwatch_ingest_write_queue_spans") != 1:
            assert time.monotonic() < give_up, "the span never reached the write queue"
            time.sleep(0.01)
        refused = _post_logs(server, logs)
        release()
        waiting.result(timeout=20)

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert Status.FromString(refused.content).code == 14  # UNAVAILABLE
    assert _post_logs(server, logs).status_code == 200  # what the exporter does after Retry-After
    assert _content(engine, span) == (PROMPT, REPLY)
