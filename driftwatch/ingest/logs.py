"""Pure: an OTLP logs request → the GenAI content events in it, as ``content_event`` rows to store.

A log record is a content event when its event name (the OTLP ``event_name`` field, or the ``event.name``
attribute older SDKs set) is a GenAI content event (``gen_ai.user.message``, ``gen_ai.choice``,
``gen_ai.client.inference.operation.details`` …) and it carries message text, in its body (a map, or
plain text) or its attributes.  Everything else — application logs, GenAI events sent empty because the
app does not capture content, driftwatch's own shadow calls — is counted and ignored.  A content event
without a valid trace and span id can never be attached to a call: it is rejected, and the response's
``partial_success`` says so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from driftwatch.ingest import genai
from driftwatch.ingest.messages import (
    EVENT_CONTENT_KEYS,
    event_has_content,
    is_content_event,
    json_value,
    text,
)
from driftwatch.ingest.otlp import AttributeValue, Rejections, any_value, attributes_to_dict, id_problem
from driftwatch.ingest.records import nanos_to_datetime, storable
from driftwatch.ingest.redaction import NO_REDACTION, Redactor

EventRow = dict[str, Any]


@dataclass(slots=True)
class MappedLogs(Rejections):
    """The content events found in one request, and what happened to every other log record in it."""

    events: list[EventRow] = field(default_factory=list)
    other_records: int = 0
    empty_events: int = 0
    shadow_records: int = 0
    uncaptured_events: int = 0

    def counts(self) -> dict[str, int]:
        """Log records by what they turned out to be (the ``kind`` label of the received-records metric)."""
        return {
            "content": len(self.events),
            "empty": self.empty_events,
            "other": self.other_records,
            "shadow": self.shadow_records,
            "not_captured": self.uncaptured_events,
            "rejected": self.rejected,
        }


class ContentEventMapper:
    """Picks the GenAI content events out of log records, under the content switch: with
    ``capture_content=False`` nothing is kept (they are only counted); what is kept is redacted first."""

    def __init__(self, *, capture_content: bool, redactor: Redactor = NO_REDACTION) -> None:
        self._capture_content = capture_content
        self._redactor = redactor

    def map(self, request: ExportLogsServiceRequest) -> MappedLogs:
        mapped = MappedLogs()
        for resource_logs in request.resource_logs:
            resource = attributes_to_dict(resource_logs.resource.attributes)
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    self._map_record(record, resource, mapped)
        return mapped

    def _map_record(self, record: LogRecord, resource: dict[str, AttributeValue], mapped: MappedLogs) -> None:
        attributes = attributes_to_dict(record.attributes)
        name = record.event_name or text(attributes.get("event.name")) or ""
        if not is_content_event(name):
            mapped.other_records += 1
            return
        if genai.is_shadow(attributes, resource):
            mapped.shadow_records += 1
            return
        payload = _payload(record, attributes)
        if not event_has_content(name, payload):
            mapped.empty_events += 1
            return
        if not self._capture_content:
            mapped.uncaptured_events += 1
            return
        problem = id_problem(record.trace_id, record.span_id)
        if problem:
            mapped.reject(f"log record {name!r}: {problem}; its content cannot be attached to a call")
            return
        mapped.events.append(_row(record, name, self._redactor.document(payload)))


def _payload(record: LogRecord, attributes: dict[str, AttributeValue]) -> dict[str, AttributeValue]:
    """The fields the content rules read: the attributes, overlaid by the body, where the GenAI
    conventions put an event's content (``{"content": …}``, ``{"index", "message": {…}}``)."""
    payload = {key: value for key, value in attributes.items() if key in EVENT_CONTENT_KEYS}
    body = json_value(any_value(record.body)) if record.HasField("body") else None
    if isinstance(body, dict):
        payload.update((key, value) for key, value in body.items() if key in EVENT_CONTENT_KEYS)
    elif isinstance(body, str) and body:
        payload["content"] = body
    return payload


def _row(record: LogRecord, name: str, payload: dict[str, AttributeValue]) -> EventRow:
    nanos = record.time_unix_nano or record.observed_time_unix_nano
    document = orjson.dumps(payload, default=str, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(b"%s\0%d\0%s" % (name.encode(), nanos, document)).hexdigest()
    return {
        "trace_id": record.trace_id.hex(),
        "span_id": record.span_id.hex(),
        "digest": digest,
        "name": storable(name),  # the role in a gen_ai.{role}.message name is anything sent
        # No usable timestamp: the writer stamps the arrival time, so the event still sorts sensibly.
        "event_time": nanos_to_datetime(nanos) if nanos else None,
        "payload": document.decode("utf-8"),
    }
