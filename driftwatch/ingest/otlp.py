"""Pure OTLP decoding: request bytes → :class:`SpanView` objects, plus the OTLP response encoding.

Handles both OTLP/HTTP encodings: binary protobuf and the OTLP JSON mapping (lowerCamelCase keys,
hex trace/span ids, int64 as strings, enums as integers), for both signals driftwatch takes: traces
and logs.  A span (or log record) with unusable ids is rejected on its own and reported through
``partial_success``; only an undecodable request fails as a whole.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import orjson
from google.protobuf.json_format import MessageToJson, ParseDict
from google.protobuf.json_format import ParseError as JsonParseError
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from driftwatch.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

Encoding = Literal["protobuf", "json"]
Signal = Literal["traces", "logs"]
RequestT = TypeVar("RequestT", bound=Message)
AttributeValue = str | bool | int | float | bytes | list[Any] | dict[str, Any] | None

_CONTENT_TYPES: dict[str, Encoding] = {"application/x-protobuf": "protobuf", "application/json": "json"}
_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)
STATUS_CODE_ERROR = 2


@dataclass(frozen=True, slots=True)
class EventView:
    name: str
    time_unix_nano: int
    attributes: dict[str, AttributeValue]


@dataclass(frozen=True, slots=True)
class SpanView:
    """One span with its attributes as plain Python values, and its resource's attributes."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    name: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: dict[str, AttributeValue]
    resource: dict[str, AttributeValue]
    scope_name: str = ""
    events: tuple[EventView, ...] = ()
    status_code: int = 0
    status_message: str = ""


@dataclass(slots=True)
class Rejections:
    """Items of a request that were unusable: their count and a few of the reasons, for the
    response's ``partial_success``."""

    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < 5:  # the response names a few reasons, not one per item
            self.errors.append(reason)


@dataclass(slots=True)
class DecodedSpans(Rejections):
    spans: list[SpanView] = field(default_factory=list)


def request_encoding(content_type: str | None) -> Encoding:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        return _CONTENT_TYPES[media_type]
    except KeyError:
        raise UnsupportedMediaType(
            f"content type {media_type or '(none)'!r} is not OTLP/HTTP; "
            "send application/x-protobuf or application/json"
        ) from None


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip`` without ever holding more than ``limit`` bytes (gzip bombs).

    A gzip body may hold several members one after the other (RFC 1952; ``cat a.gz b.gz``): all are
    read, as gzip readers do, rather than the first alone, which would drop the rest in silence."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise UnsupportedMediaType(f"content encoding {encoding!r} is not supported; use gzip")
    data = bytearray()
    remaining = body
    try:
        while True:
            decompressor = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
            # Never 0 (which would mean "no limit"): more than ``limit`` bytes already raised.
            data += decompressor.decompress(remaining, limit + 1 - len(data))
            if len(data) > limit or decompressor.unconsumed_tail:
                raise PayloadTooLarge(f"decompressed body exceeds {limit} bytes")
            if not decompressor.eof:
                raise BadRequest(f"truncated {encoding} body")
            remaining = decompressor.unused_data
            if not remaining:
                return bytes(data)
            if encoding == "deflate":
                raise BadRequest("data after the end of the deflate stream")
    except zlib.error as error:
        raise BadRequest(f"invalid {encoding} body: {error}") from error


def parse_request(body: bytes, encoding: Encoding, request: RequestT) -> RequestT:
    """Fill ``request`` (an empty ``Export…ServiceRequest``) from the body, or raise :class:`BadRequest`."""
    kind = type(request).__name__
    if encoding == "protobuf":
        try:
            request.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as error:
            raise BadRequest(f"undecodable protobuf {kind}: {error}") from error
        return request
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"invalid JSON: {error}") from error
    if not isinstance(document, dict):
        raise BadRequest(f"the JSON body must be an {kind} object")
    _hex_ids_to_base64(document)
    try:
        ParseDict(document, request, ignore_unknown_fields=True, max_recursion_depth=64)
    except (JsonParseError, RecursionError, ValueError, TypeError) as error:
        raise BadRequest(f"JSON is not an OTLP {kind}: {error}") from error
    return request


_ID_HOLDERS = (("resourceSpans", "scopeSpans", "spans"), ("resourceLogs", "scopeLogs", "logRecords"))


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP JSON carries ids as hex, protobuf's JSON mapping expects base64 for ``bytes`` fields.

    An id that is not valid hex becomes empty, so that span or log record (only) is rejected later.
    """
    for resources_key, scopes_key, items_key in _ID_HOLDERS:
        for resource in _dicts(document.get(resources_key)):
            for scope in _dicts(resource.get(scopes_key)):
                for item in _dicts(scope.get(items_key)):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        _convert_id(item, key)
                    for link in _dicts(item.get("links")):
                        _convert_id(link, "traceId")
                        _convert_id(link, "spanId")


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _convert_id(holder: dict[str, Any], key: str) -> None:
    value = holder.get(key)
    if not isinstance(value, str):
        return
    try:
        holder[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
    except ValueError:
        holder[key] = ""


def iter_spans(request: ExportTraceServiceRequest) -> DecodedSpans:
    """Flatten a request into span views; spans with invalid ids or times are counted as rejected."""
    decoded = DecodedSpans()
    for resource_spans in request.resource_spans:
        resource = attributes_to_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope_name = scope_spans.scope.name
            for span in scope_spans.spans:
                problem = _span_problem(span)
                if problem:
                    decoded.reject(problem)
                    continue
                decoded.spans.append(_span_view(span, resource, scope_name))
    return decoded


def id_problem(trace_id: bytes, span_id: bytes) -> str | None:
    """Why a trace id / span id pair cannot name a span, or ``None`` when it can."""
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE_ID:
        return "trace id must be 16 non-zero bytes"
    if len(span_id) != 8 or span_id == _ZERO_SPAN_ID:
        return "span id must be 8 non-zero bytes"
    return None


def _span_problem(span: Span) -> str | None:
    problem = id_problem(span.trace_id, span.span_id)
    if problem:
        return f"span {span.name[:80]!r}: {problem}"
    if span.start_time_unix_nano == 0:
        return f"span {span.name[:80]!r}: start time missing"
    return None


def _span_view(span: Span, resource: dict[str, AttributeValue], scope_name: str) -> SpanView:
    return SpanView(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        start_time_unix_nano=span.start_time_unix_nano,
        end_time_unix_nano=span.end_time_unix_nano,
        attributes=attributes_to_dict(span.attributes),
        resource=resource,
        scope_name=scope_name,
        events=tuple(
            EventView(event.name, event.time_unix_nano, attributes_to_dict(event.attributes))
            for event in span.events
        ),
        status_code=span.status.code,
        status_message=span.status.message,
    )


def attributes_to_dict(attributes: Any) -> dict[str, AttributeValue]:
    return {attribute.key: any_value(attribute.value) for attribute in attributes}


def any_value(value: AnyValue) -> AttributeValue:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        return value.double_value
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: any_value(item.value) for item in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value
    return None


def encode_response(signal: Signal, rejected: int, errors: list[str], encoding: Encoding) -> bytes:
    """The signal's Export…ServiceResponse; ``partial_success`` only when something was rejected."""
    response = ExportTraceServiceResponse() if signal == "traces" else ExportLogsServiceResponse()
    if rejected:
        field_name = "rejected_spans" if signal == "traces" else "rejected_log_records"
        setattr(response.partial_success, field_name, rejected)
        response.partial_success.error_message = "; ".join(errors)
    if encoding == "protobuf":
        return response.SerializeToString()
    return MessageToJson(response, indent=None).encode("utf-8")
