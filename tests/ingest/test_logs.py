"""Log records → GenAI content events (pure, no store)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from driftwatch.ingest.logs import ContentEventMapper, MappedLogs
from driftwatch.ingest.messages import completion_from_events, prompt_from_events
from driftwatch.ingest.otlp import EventView
from driftwatch.ingest.shadow_marker import SHADOW_MARKER_ATTRIBUTE
from tests.support.otlp import logs_request, make_log_record, make_span

SPAN = make_span()


def _map(*records: Any, resource: dict[str, Any] | None = None, capture_content: bool = True) -> MappedLogs:
    return ContentEventMapper(capture_content=capture_content).map(logs_request(list(records), resource))


def _views(mapped: MappedLogs) -> list[EventView]:
    return [EventView(event["name"], 0, orjson.loads(event["payload"])) for event in mapped.events]


def test_an_event_row_names_its_span_and_keeps_only_content_fields() -> None:
    record = make_log_record(
        "gen_ai.user.message",
        {"content": "Hi?"},
        span=SPAN,
        attributes={"gen_ai.system": "openai", "gen_ai.message.role": "developer"},
    )

    [event] = _map(record).events

    assert (event["trace_id"], event["span_id"]) == (SPAN.trace_id.hex(), SPAN.span_id.hex())
    assert event["name"] == "gen_ai.user.message"
    assert orjson.loads(event["payload"]) == {"content": "Hi?", "gen_ai.message.role": "developer"}
    assert event["event_time"] is not None


def test_the_digest_is_the_same_for_a_resent_record_and_differs_for_another() -> None:
    record = make_log_record("gen_ai.user.message", {"content": "Hi?"}, span=SPAN, observed_ns=5)
    later = make_log_record("gen_ai.user.message", {"content": "Hi?"}, span=SPAN, observed_ns=6)

    first, again, other = (_map(item).events[0]["digest"] for item in (record, record, later))

    assert first == again != other


def test_older_sdks_name_the_event_in_an_attribute_and_may_send_plain_text_bodies() -> None:
    record = make_log_record("", "Hello.", span=SPAN, attributes={"event.name": "gen_ai.choice"})

    mapped = _map(record)

    assert completion_from_events(_views(mapped)) == [{"role": "assistant", "content": "Hello."}]


def test_role_events_become_the_prompt_in_order_with_their_roles() -> None:
    mapped = _map(
        make_log_record("gen_ai.developer.message", {"content": "Be brief."}, span=SPAN),
        make_log_record("gen_ai.user.message", {"content": [{"type": "text", "text": "Hi?"}]}, span=SPAN),
        make_log_record("gen_ai.tool.message", {"content": "42", "id": "call_1"}, span=SPAN),
    )

    assert prompt_from_events(_views(mapped)) == [
        {"role": "developer", "content": "Be brief."},  # any role: openai-v2 names the event after it
        {"role": "user", "content": "Hi?"},
        {"role": "tool", "content": "42"},
    ]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("gen_ai.user.message", {}),
        ("gen_ai.choice", {"index": 0, "finish_reason": "stop", "message": {"role": "assistant"}}),
        ("gen_ai.client.inference.operation.details", None),
    ],
)
def test_genai_events_without_content_are_counted_as_empty(name: str, body: Any) -> None:
    mapped = _map(make_log_record(name, body, span=SPAN, attributes={"gen_ai.operation.name": "chat"}))

    assert (mapped.events, mapped.empty_events, mapped.rejected) == ([], 1, 0)


@pytest.mark.parametrize(
    "name", ["gen_ai.message", "gen_ai..message", "app.user.message", "gen_ai.evaluation.result"]
)
def test_other_event_names_are_not_content(name: str) -> None:
    mapped = _map(make_log_record(name, {"content": "Hi?"}, span=SPAN))

    assert (mapped.events, mapped.other_records) == ([], 1)


def test_shadow_calls_content_is_not_kept() -> None:
    marked = make_log_record(
        "gen_ai.user.message", {"content": "Hi?"}, span=SPAN, attributes={SHADOW_MARKER_ATTRIBUTE: True}
    )
    from_shadow_service = make_log_record("gen_ai.user.message", {"content": "Hi?"}, span=SPAN)

    assert _map(marked).shadow_records == 1
    assert _map(from_shadow_service, resource={SHADOW_MARKER_ATTRIBUTE: "true"}).shadow_records == 1


def test_with_capture_off_content_events_are_only_counted_even_without_ids() -> None:
    mapped = _map(
        make_log_record("gen_ai.user.message", {"content": "Hi?"}, span=SPAN),
        make_log_record("gen_ai.user.message", {"content": "Hi?"}),
        capture_content=False,
    )

    assert (mapped.events, mapped.uncaptured_events, mapped.rejected) == ([], 2, 0)


def test_a_record_without_any_timestamp_is_left_for_the_writer_to_stamp() -> None:
    record = make_log_record("gen_ai.user.message", {"content": "Hi?"}, span=SPAN, observed_ns=0)

    assert _map(record).events[0]["event_time"] is None
