"""Build OTLP trace and log requests the way exporters do, in protobuf and in the OTLP JSON encoding."""

from __future__ import annotations

import base64
import itertools
import os
from typing import Any

import orjson
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

START_NS = 1_763_800_000_000_000_000  # 2025-11-22T08:26:40Z
_counter = itertools.count(1)


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(item) for item in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=key_values(value)))
    return AnyValue(string_value=str(value))


def key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in attributes.items()]


def llm_attributes(
    *,
    task_class: str | None = "faq",
    tier: str | None = "cheap",
    model: str = "claude-haiku-4-5",
    input_tokens: int = 1000,
    output_tokens: int = 200,
    prompt: str = "What is the refund policy?",
    completion: str = "30 days.",
) -> dict[str, Any]:
    """Attributes of a current-semconv GenAI chat span, as the OTel GenAI conventions specify."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
        "gen_ai.input.messages": orjson.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]
        ).decode(),
        "gen_ai.output.messages": orjson.dumps(
            [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": completion}],
                    "finish_reason": "stop",
                }
            ]
        ).decode(),
    }
    if task_class is not None:
        attributes["driftwatch.task_class"] = task_class
    if tier is not None:
        attributes["driftwatch.tier"] = tier
    return attributes


def make_span(
    attributes: dict[str, Any] | None = None,
    *,
    trace_id: bytes | None = None,
    span_id: bytes | None = None,
    name: str = "chat claude-haiku-4-5",
    start_ns: int | None = None,
    error: bool = False,
    events: list[tuple[str, dict[str, Any]]] | None = None,
) -> Span:
    number = next(_counter)
    start = start_ns if start_ns is not None else START_NS + number * 1_000_000
    return Span(
        trace_id=trace_id if trace_id is not None else os.urandom(16),
        span_id=span_id if span_id is not None else os.urandom(8),
        name=name,
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=start + 500_000_000,
        attributes=key_values(attributes if attributes is not None else llm_attributes()),
        events=[
            Span.Event(name=event_name, time_unix_nano=start, attributes=key_values(event_attributes))
            for event_name, event_attributes in events or []
        ],
        status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_UNSET),
    )


def export_request(spans: list[Span], resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=key_values(resource or {"service.name": "router-app"})),
                scope_spans=[ScopeSpans(spans=spans)],
            )
        ]
    )


def make_log_record(
    event_name: str,
    body: Any = None,
    *,
    span: Span | None = None,
    attributes: dict[str, Any] | None = None,
    time_ns: int = 0,
    observed_ns: int | None = None,
) -> LogRecord:
    """A log record as the OTel SDK exports an event: ``event_name`` set, ids of the span it was
    emitted in (none when ``span`` is None), an observed time, usually no ``time_unix_nano``."""
    record = LogRecord(
        event_name=event_name,
        time_unix_nano=time_ns,
        observed_time_unix_nano=observed_ns if observed_ns is not None else START_NS + next(_counter),
        attributes=key_values(attributes or {}),
    )
    if span is not None:
        record.trace_id = span.trace_id
        record.span_id = span.span_id
        record.flags = 1
    if body is not None:
        record.body.CopyFrom(any_value(body))
    return record


def logs_request(
    records: list[LogRecord], resource: dict[str, Any] | None = None
) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=key_values(resource or {"service.name": "router-app"})),
                scope_logs=[ScopeLogs(log_records=records)],
            )
        ]
    )


def genai_events(span: Span, *, system: str, user: str, reply: str) -> list[LogRecord]:
    """What openai-v2 (semconv 1.30 path) and Traceloop with ``use_attributes=False`` send for one call."""
    return [
        make_log_record("gen_ai.system.message", {"content": system}, span=span),
        make_log_record("gen_ai.user.message", {"content": user}, span=span),
        make_log_record(
            "gen_ai.choice",
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}},
            span=span,
        ),
    ]


_ID_HOLDERS = (("resourceSpans", "scopeSpans", "spans"), ("resourceLogs", "scopeLogs", "logRecords"))


def to_otlp_json(request: Message) -> bytes:
    """The OTLP JSON encoding: protobuf's JSON mapping, but trace and span ids as hex, not base64."""
    document = MessageToDict(request)
    for resources_key, scopes_key, items_key in _ID_HOLDERS:
        for resource in document.get(resources_key, []):
            for scope in resource.get(scopes_key, []):
                for item in scope.get(items_key, []):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in item:
                            item[key] = _base64_to_hex(item[key])
    return orjson.dumps(document)


def _base64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()
