"""POST /v1/traces over real HTTP into SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import time

import httpx
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from sqlalchemy import Engine, func, select

from driftwatch.db.models import Call, ClassHour
from driftwatch.shadow.providers.base import SHADOW_MARKER_ATTRIBUTE
from tests.support.otlp import export_request, llm_attributes, make_span, to_otlp_json
from tests.support.server import ServerThread

PROTOBUF = {"content-type": "application/x-protobuf"}


def _stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(Call)) or 0)


def test_protobuf_export_is_committed_before_the_200(server: ServerThread, engine: Engine) -> None:
    request = export_request([make_span() for _ in range(3)])

    response = httpx.post(
        f"{server.base_url}/v1/traces", content=request.SerializeToString(), headers=PROTOBUF
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")
    assert _stored(engine) == 3  # read straight after the 200: no waiting for a background flush


def test_json_and_gzip_are_accepted_and_answered_in_kind(server: ServerThread, engine: Engine) -> None:
    body = gzip.compress(to_otlp_json(export_request([make_span(), make_span()])))

    response = httpx.post(
        f"{server.base_url}/v1/traces",
        content=body,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    assert _stored(engine) == 2


def test_resending_the_same_batch_stores_nothing_twice(server: ServerThread, engine: Engine) -> None:
    body = export_request([make_span() for _ in range(5)]).SerializeToString()

    for _ in range(3):
        assert httpx.post(f"{server.base_url}/v1/traces", content=body, headers=PROTOBUF).status_code == 200

    assert _stored(engine) == 5
    classes = httpx.get(f"{server.base_url}/v1/classes").json()["items"]
    assert [(item["task_class"], item["calls"]) for item in classes] == [("faq", 5)]


def test_bad_spans_are_reported_as_partial_success_and_the_good_ones_kept(
    server: ServerThread, engine: Engine
) -> None:
    spans = [make_span(), make_span(trace_id=bytes(16)), make_span(span_id=b"\x01\x02"), make_span()]

    response = httpx.post(
        f"{server.base_url}/v1/traces", content=export_request(spans).SerializeToString(), headers=PROTOBUF
    )

    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 2
    assert "trace id must be 16 non-zero bytes" in partial.error_message
    assert "span id must be 8 non-zero bytes" in partial.error_message
    assert _stored(engine) == 2


def test_non_llm_spans_are_counted_not_stored(server: ServerThread, engine: Engine) -> None:
    spans = [make_span({"http.route": "/checkout"}, name="GET /checkout"), make_span()]

    response = httpx.post(
        f"{server.base_url}/v1/traces", content=export_request(spans).SerializeToString(), headers=PROTOBUF
    )

    assert response.status_code == 200
    assert _stored(engine) == 1
    metrics = httpx.get(f"{server.base_url}/metrics").text
    assert 'driftwatch_ingest_spans_received_total{kind="other"} 1.0' in metrics
    assert 'driftwatch_ingest_spans_received_total{kind="llm"} 1.0' in metrics


def test_wrong_content_type_is_415(server: ServerThread) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/traces", content=b"hello", headers={"content-type": "text/plain"}
    )

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_undecodable_protobuf_is_400_with_a_status_message(server: ServerThread, engine: Engine) -> None:
    body = export_request([make_span()]).SerializeToString()[:-7]

    response = httpx.post(f"{server.base_url}/v1/traces", content=body, headers=PROTOBUF)

    assert response.status_code == 400
    assert "undecodable protobuf" in Status.FromString(response.content).message
    assert _stored(engine) == 0


def test_body_over_the_limit_is_413(start_server, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    server = start_server(max_request_bytes=2_000)
    body = export_request([make_span(llm_attributes(prompt="x" * 5_000))]).SerializeToString()

    response = httpx.post(f"{server.base_url}/v1/traces", content=body, headers=PROTOBUF)

    assert response.status_code == 413
    assert _stored(engine) == 0


def test_gzip_bomb_is_413_without_inflating_it(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(max_request_bytes=100_000)
    bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB of zeros in about 50 KB

    response = httpx.post(
        f"{server.base_url}/v1/traces",
        content=bomb,
        headers={**PROTOBUF, "content-encoding": "gzip"},
    )

    assert response.status_code == 413


def test_driftwatchs_own_shadow_calls_are_counted_never_stored(server: ServerThread, engine: Engine) -> None:
    marked = {**llm_attributes(), SHADOW_MARKER_ATTRIBUTE: "true"}  # as baggage puts it on the span
    spans = [make_span(marked), make_span()]

    response = httpx.post(
        f"{server.base_url}/v1/traces", content=export_request(spans).SerializeToString(), headers=PROTOBUF
    )
    from_a_shadow_service = httpx.post(
        f"{server.base_url}/v1/traces",
        content=export_request([make_span()], resource={SHADOW_MARKER_ATTRIBUTE: True}).SerializeToString(),
        headers=PROTOBUF,
    )

    assert (response.status_code, from_a_shadow_service.status_code) == (200, 200)
    assert _stored(engine) == 1
    metrics = httpx.get(f"{server.base_url}/metrics").text
    assert 'driftwatch_ingest_spans_received_total{kind="shadow"} 2.0' in metrics
    assert 'driftwatch_ingest_spans_received_total{kind="llm"} 1.0' in metrics


def test_a_gzip_body_of_several_members_is_read_whole(server: ServerThread, engine: Engine) -> None:
    # Concatenated protobuf messages merge, so two gzipped halves make one request with every span.
    first_half = export_request([make_span(), make_span()]).SerializeToString()
    second_half = export_request([make_span()]).SerializeToString()

    response = httpx.post(
        f"{server.base_url}/v1/traces",
        content=gzip.compress(first_half) + gzip.compress(second_half),
        headers={**PROTOBUF, "content-encoding": "gzip"},
    )

    assert response.status_code == 200
    assert _stored(engine) == 3


def test_gzip_members_are_held_to_the_limit_together_and_trailing_bytes_refused(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(max_request_bytes=100_000)
    member = gzip.compress(b"\0" * 60_000)  # each under the limit, the two together over it
    valid = gzip.compress(export_request([make_span()]).SerializeToString())

    def post(body: bytes) -> int:
        headers = {**PROTOBUF, "content-encoding": "gzip"}
        return httpx.post(f"{server.base_url}/v1/traces", content=body, headers=headers).status_code

    assert post(member + member) == 413
    assert post(valid + b"trailing garbage") == 400
    assert post(valid + valid[:10]) == 400  # a second member cut short


def test_a_span_sent_again_with_the_content_it_lacked_fills_its_call_once(
    server: ServerThread, engine: Engine
) -> None:
    attributes = llm_attributes()
    without_content = {key: value for key, value in attributes.items() if "messages" not in key}
    first = make_span(without_content)
    again = make_span(
        attributes, trace_id=first.trace_id, span_id=first.span_id, start_ns=first.start_time_unix_nano
    )

    for span in (first, again, again):
        body = export_request([span]).SerializeToString()
        assert httpx.post(f"{server.base_url}/v1/traces", content=body, headers=PROTOBUF).status_code == 200

    with engine.connect() as connection:
        prompt, completion = connection.execute(select(Call.prompt, Call.completion)).one()
        rolled_up = connection.execute(select(func.sum(ClassHour.calls))).scalar_one()
    assert prompt is not None and completion is not None
    assert (_stored(engine), rolled_up) == (1, 1)  # filled, not counted again


def test_spans_from_before_2000_or_more_than_a_day_ahead_are_refused_with_the_reason(
    server: ServerThread, engine: Engine
) -> None:
    now_ns = time.time_ns()
    hour, day = 3600 * 10**9, 86400 * 10**9
    spans = [
        make_span(start_ns=946_684_799 * 10**9),  # 1999-12-31T23:59:59Z
        make_span(start_ns=now_ns + 2 * day),
        make_span(start_ns=now_ns + hour),  # a clock a little ahead is not refused
        make_span(start_ns=946_684_800 * 10**9),  # 2000-01-01T00:00:00Z
    ]

    response = httpx.post(
        f"{server.base_url}/v1/traces", content=export_request(spans).SerializeToString(), headers=PROTOBUF
    )

    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 2
    assert "start time out of range (before 2000-01-01 or more than a day ahead)" in partial.error_message
    assert _stored(engine) == 2
