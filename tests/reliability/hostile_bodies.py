"""Hypothesis strategies for hostile OTLP/HTTP export requests: valid messages built with the
opentelemetry-proto classes, then broken in the ways exporters, proxies and attackers break them.

A :class:`HostileRequest` is one HTTP request (path, headers, body) for ``POST /v1/traces`` or
``POST /v1/logs``.  The bodies cover: structurally valid requests with hostile content (NUL and
other control characters, huge strings and attribute counts, deeply nested ``AnyValue`` kvlists and
arrays, JSON-in-a-string attributes nested deeper than any parser's limit, ids of the wrong length,
timestamps at the ends of their range, every attribute key the conventions read, with values of the
wrong type), the same serialized and then truncated or corrupted, gzip that is truncated or expands far
past the request limit, the OTLP JSON encoding with subtrees replaced by values of the wrong shape, raw
bytes (invalid UTF-8 included), and wrong, missing or odd content types and encodings.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from google.protobuf.message import Message
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.support.otlp import (
    START_NS,
    export_request,
    logs_request,
    make_log_record,
    make_span,
    to_otlp_json,
)

PATHS = ("/v1/traces", "/v1/logs")
PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# Every key the ingest conventions read, so hostile values reach the mapping code, not only the decoder.
ATTRIBUTE_KEYS = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.response.id",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.prompt.0.role",
    "gen_ai.prompt.0.content",
    "gen_ai.completion.0.content",
    "openinference.span.kind",
    "llm.model_name",
    "llm.token_count.prompt",
    "llm.input_messages.0.message.role",
    "llm.input_messages.0.message.content",
    "llm.output_messages.0.message.content",
    "llm.request.type",
    "input.value",
    "output.value",
    "langfuse.observation.type",
    "langfuse.observation.input",
    "langfuse.observation.output",
    "langfuse.observation.usage_details",
    "driftwatch.task_class",
    "driftwatch.tier",
    "driftwatch.shadow",
    "traceloop.association.properties.task_class",
    "error.type",
    "service.name",
    "event.name",
    "content",
    "message",
    "role",
    "index",
)
EVENT_NAMES = (
    "gen_ai.user.message",
    "gen_ai.system.message",
    "gen_ai.assistant.message",
    "gen_ai.choice",
    "gen_ai.client.inference.operation.details",
    "gen_ai.content.prompt",
    "gen_ai.content.completion",
    "gen_ai.\x00.message",
    "app.log",
)


@dataclass(frozen=True)
class HostileRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def __repr__(self) -> str:  # hypothesis prints failing examples; a 10 MB body helps nobody
        return f"HostileRequest({self.path!r}, {self.headers!r}, {len(self.body)} bytes: {self.body[:200]!r})"


hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", max_codepoint=0x1F), max_size=10),  # NUL, controls
    st.sampled_from(["chat", "LLM", "generation", "true", "1", "cheap", "premium", "  ", ""]),
    st.integers(0, 200_000).map(lambda size: "x" * size),  # huge attribute values
)
json_text = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | hostile_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=12,
).map(lambda document: orjson.dumps(document).decode())


def deep_json(depth: int) -> str:
    """Nested past orjson's limit (1024) and Python's recursion limit alike, when deep enough."""
    return '[{"role": "user", "content": ' + '{"parts": [' * depth + "1" + "]}" * depth + "}]"


leaf_values = st.one_of(
    hostile_text.map(lambda text: AnyValue(string_value=text)),
    st.integers(-(2**63), 2**63 - 1).map(lambda number: AnyValue(int_value=number)),
    st.floats().map(lambda number: AnyValue(double_value=number)),  # NaN and infinities included
    st.booleans().map(lambda flag: AnyValue(bool_value=flag)),
    st.binary(max_size=40).map(lambda data: AnyValue(bytes_value=data)),
    json_text.map(lambda text: AnyValue(string_value=text)),
    st.integers(1, 3000).map(lambda depth: AnyValue(string_value=deep_json(depth))),
    st.just(AnyValue()),
)
any_values = st.recursive(
    leaf_values,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda items: AnyValue(array_value=ArrayValue(values=items))),
        st.lists(st.tuples(st.sampled_from(ATTRIBUTE_KEYS) | hostile_text, children), max_size=4).map(
            lambda pairs: AnyValue(
                kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in pairs])
            )
        ),
    ),
    max_leaves=10,
)


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, encoded by hand: the message classes refuse to build
    anything nested deeper than their own parse limit, which is exactly what these bodies need."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(number: int) -> bytes:
    encoded = bytearray()
    while True:
        encoded.append(number & 0x7F | (0x80 if number > 0x7F else 0))
        number >>= 7
        if not number:
            return bytes(encoded)


def nested_value(depth: int) -> bytes:
    """A serialized AnyValue nested ``depth`` levels deep, alternating kvlists (field 6) and arrays (5)."""
    value = AnyValue(string_value="leaf").SerializeToString()
    for level in range(depth):
        if level % 2:
            value = _field(5, _field(1, value))
        else:
            value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))
    return value


def deeply_nested_request(path: str, depth: int) -> bytes:
    """A valid span (or log record) plus one attribute nested ``depth`` levels deep: appended repeated
    fields are part of the message, so the rest of the request is encoded normally."""
    attribute = _field(1, b"gen_ai.input.messages") + _field(2, nested_value(depth))
    # Fixed ids: hypothesis needs the same bytes each time it replays a draw.
    span = make_span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, start_ns=START_NS)
    if path == "/v1/traces":
        item = span.SerializeToString() + _field(9, attribute)  # Span.attributes
    else:
        record = make_log_record("gen_ai.user.message", "hi", span=span, observed_ns=START_NS)
        item = record.SerializeToString() + _field(6, attribute)  # LogRecord.attributes
    return _field(1, _field(2, _field(2, item)))  # request → resource → scope → item


@st.composite
def attributes(draw: st.DrawFn) -> list[KeyValue]:
    """A few attributes the conventions read, with hostile values (thousands of attributes are one
    fixed body, :func:`many_attributes_request`: slow to generate, and one exercises what many would)."""
    pairs = draw(st.lists(st.tuples(st.sampled_from(ATTRIBUTE_KEYS) | hostile_text, any_values), max_size=8))
    return [KeyValue(key=key, value=value) for key, value in pairs]


def many_attributes_request(count: int) -> bytes:
    """One LLM span with ``count`` extra attributes, each key and value distinct."""
    span = make_span()
    span.attributes.extend(
        KeyValue(key=f"k{index}", value=AnyValue(int_value=index)) for index in range(count)
    )
    return export_request([span]).SerializeToString()


ids = st.one_of(st.binary(min_size=0, max_size=20), st.binary(min_size=16, max_size=16), st.just(bytes(16)))
span_ids = st.one_of(st.binary(min_size=0, max_size=12), st.binary(min_size=8, max_size=8), st.just(bytes(8)))
times = st.one_of(st.integers(0, 2**64 - 1), st.integers(START_NS, START_NS + 10**12), st.just(0))


@st.composite
def spans(draw: st.DrawFn) -> Span:
    start = draw(times)
    return Span(
        trace_id=draw(ids),
        span_id=draw(span_ids),
        parent_span_id=draw(span_ids),
        name=draw(hostile_text),
        start_time_unix_nano=start,
        end_time_unix_nano=draw(times | st.just(start)),
        attributes=draw(attributes()),
        events=[
            Span.Event(name=name, time_unix_nano=time, attributes=event_attributes)
            for name, time, event_attributes in draw(
                st.lists(
                    st.tuples(st.sampled_from(EVENT_NAMES) | hostile_text, times, attributes()), max_size=2
                )
            )
        ],
        status=Status(
            code=draw(st.sampled_from(list(Status.StatusCode.values()))), message=draw(hostile_text)
        ),
    )


@st.composite
def log_records(draw: st.DrawFn) -> LogRecord:
    record = LogRecord(
        event_name=draw(st.sampled_from(EVENT_NAMES) | hostile_text),
        time_unix_nano=draw(times),
        observed_time_unix_nano=draw(times),
        trace_id=draw(ids),
        span_id=draw(span_ids),
        attributes=draw(attributes()),
    )
    if draw(st.booleans()):
        record.body.CopyFrom(draw(any_values))
    return record


def resources() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(ATTRIBUTE_KEYS) | hostile_text, hostile_text, max_size=3)


def export_messages(path: str) -> st.SearchStrategy[Message]:
    if path == "/v1/traces":
        return st.builds(export_request, st.lists(spans(), max_size=3), resources())
    return st.builds(logs_request, st.lists(log_records(), max_size=3), resources())


def mutate(data: bytes, cut: int, garbage: bytes, how: str) -> bytes:
    position = cut % (len(data) + 1)
    if how == "truncate":
        return data[:position]
    if how == "overwrite":
        return data[:position] + garbage + data[position + len(garbage) :]
    if how == "insert":
        return data[:position] + garbage + data[position:]
    return data


@st.composite
def protobuf_requests(draw: st.DrawFn) -> HostileRequest:
    """Generated protobuf, then (usually) intact, else truncated or corrupted; sometimes gzipped."""
    path = draw(st.sampled_from(PATHS))
    if draw(st.integers(0, 9)) == 0:
        data = deeply_nested_request(path, draw(st.integers(1, 300)))
    else:
        data = draw(export_messages(path)).SerializeToString()
    how = draw(st.sampled_from(["intact", "intact", "truncate", "overwrite", "insert"]))
    data = mutate(data, draw(st.integers(0, 2**16)), draw(st.binary(min_size=1, max_size=8)), how)
    headers = {"content-type": draw(st.sampled_from([PROTOBUF, "Application/X-Protobuf; charset=utf-8"]))}
    if draw(st.booleans()):
        data = gzip.compress(data, compresslevel=1, mtime=0)  # same bytes every run
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
        headers["content-encoding"] = draw(st.sampled_from(["gzip", "GZIP"]))
    return HostileRequest(path, headers, data)


def _wrong_shape(document: Any, replacement: Any, choice: int) -> Any:
    """Replace one subtree of ``document`` (picked by ``choice``) with ``replacement``."""
    containers = [document]
    for container in containers:
        children = container.values() if isinstance(container, dict) else container
        containers.extend(child for child in children if isinstance(child, dict | list))
    target = containers[choice % len(containers)]
    if isinstance(target, dict) and target:
        target[sorted(target)[choice % len(target)]] = replacement
    elif isinstance(target, list) and target:
        target[choice % len(target)] = replacement
    return document


wrong_json_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    hostile_text, st.lists(st.integers(), max_size=3), st.dictionaries(hostile_text, st.integers(), max_size=2),
)  # fmt: skip


@st.composite
def json_requests(draw: st.DrawFn) -> HostileRequest:
    """The OTLP JSON encoding of a generated request, often with one subtree of the wrong shape."""
    path = draw(st.sampled_from(PATHS))
    document = orjson.loads(to_otlp_json(draw(export_messages(path))))
    if draw(st.booleans()):
        document = _wrong_shape(document, draw(wrong_json_values), draw(st.integers(0, 1000)))
    body = json.dumps(document).encode()  # not orjson: integers past 64 bits are part of the test
    if draw(st.booleans()):
        body = mutate(body, draw(st.integers(0, 2**16)), draw(st.binary(min_size=1, max_size=4)), "overwrite")
    return HostileRequest(path, {"content-type": JSON}, body)


@cache
def gzip_bomb(expanded_bytes: int) -> bytes:
    """``expanded_bytes`` of zeros, gzipped: about a thousandth of that on the wire."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    parts = [compressor.compress(chunk) for _ in range(expanded_bytes >> 20)]
    return b"".join(parts) + compressor.flush()


@st.composite
def raw_requests(draw: st.DrawFn) -> HostileRequest:
    """Raw bytes (invalid UTF-8 included) or a gzip bomb, under any content type and encoding."""
    body = draw(
        st.one_of(
            st.binary(max_size=300),
            st.text(max_size=100).map(str.encode),
            st.sampled_from([b"{}", b"[]", b"null", b'"x"', b"1e999", b'{"resourceSpans": {}}', b"\xff\xfe"]),
            st.sampled_from([64 << 20, 256 << 20]).map(gzip_bomb),
        )
    )
    headers: dict[str, str] = {}
    content_type = draw(
        st.sampled_from(
            [PROTOBUF, JSON, "text/plain", "application/protobuf", "application/json; x=y", "", None]
        )
    )
    if content_type is not None:
        headers["content-type"] = content_type
    encoding = draw(st.sampled_from([None, "gzip", "deflate", "br", "identity", "gzip, gzip"]))
    if encoding is not None:
        headers["content-encoding"] = encoding
    return HostileRequest(draw(st.sampled_from(PATHS)), headers, body)
