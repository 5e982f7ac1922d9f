"""Pure: Langfuse generation observations → ``call`` rows, through the mapper OTLP spans go through.

Each generation is dressed as the span Langfuse's own OpenTelemetry attributes describe
(``langfuse.observation.type``, ``.model.name``, ``.input``, ``.output``, ``.usage_details``,
``.metadata.<key>``) and handed to :class:`~driftwatch.ingest.records.CallMapper`, so task class, tier,
content, token counts, price and the shadow marker are read exactly as for a span sent over OTLP: an
imported call cannot be told apart downstream.  On top of what the span conventions carry:

* the OTel attributes Langfuse keeps in ``metadata.attributes`` / ``metadata.resourceAttributes`` for
  spans it received over OTLP are the span's and the resource's attributes again (``driftwatch.*``,
  ``gen_ai.*``, ``service.name`` …);
* trace tags of the form ``key:value`` (or ``key=value``) become ``langfuse.trace.tags.<key>``, which
  the default classification keys include;
* Langfuse's own cost stands in when the policy's price table does not know the model;
* ids: an OTel trace id (32 hex) and span id (16 hex) are kept, so a call that also arrived over OTLP
  is stored once; other ids (Langfuse SDK v2's UUIDs, ids the app chose) become stable digests.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from langfuse.api import ObservationV2

from driftwatch.ingest.messages import json_value
from driftwatch.ingest.otlp import STATUS_CODE_ERROR, AttributeValue, DecodedSpans, Rejections, SpanView
from driftwatch.ingest.records import CallMapper, CallRow

SOURCE = "langfuse"
TAG_PREFIX = "langfuse.trace.tags."
METADATA_PREFIX = "langfuse.observation.metadata."
# Keys under which Langfuse's OTLP endpoint keeps what a span carried beyond its own attributes.
_SPAN_ATTRIBUTES_KEY = "attributes"
_RESOURCE_ATTRIBUTES_KEY = "resourceAttributes"
_OTEL_METADATA_KEYS = frozenset({_SPAN_ATTRIBUTES_KEY, _RESOURCE_ATTRIBUTES_KEY, "scope"})
_HEX = re.compile(r"[0-9a-fA-F]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class MappedGenerations(Rejections):
    """The call rows of one page, and what became of the other observations on it."""

    rows: list[CallRow] = field(default_factory=list)
    unfinished: int = 0
    """Generations still running (no end time yet, started within the overlap): the next run takes them."""
    not_calls: int = 0
    """Not an LLM call (another type, driftwatch's own shadow calls); a generation nested in another
    is a row here, which the store merges into the call it belongs to."""


def map_generations(
    observations: Iterable[ObservationV2], mapper: CallMapper, *, unfinished_after: datetime
) -> MappedGenerations:
    """Rows for every usable generation; a generation without an end time that started at or after
    ``unfinished_after`` is left for the next run, which will see it again inside its overlap."""
    mapped = MappedGenerations()
    spans: list[SpanView] = []
    langfuse_costs: dict[tuple[str, str], float | None] = {}
    for observation in observations:
        if observation.type.upper() != "GENERATION":
            mapped.not_calls += 1
            continue
        if problem := _unusable(observation):
            mapped.reject(problem)
            continue
        if observation.end_time is None and _utc(observation.start_time) >= unfinished_after:
            mapped.unfinished += 1
            continue
        span = observation_span(observation)
        spans.append(span)
        langfuse_costs[(span.trace_id.hex(), span.span_id.hex())] = _langfuse_cost(observation)
    calls = mapper.map(DecodedSpans(spans=spans), source=SOURCE)
    mapped.rejected += calls.rejected
    mapped.errors.extend(calls.errors[: max(0, 5 - len(mapped.errors))])
    mapped.not_calls += calls.other_spans + calls.shadow_spans
    for row in calls.rows:
        if row["cost_usd"] is None:
            row["cost_usd"] = langfuse_costs.get((row["trace_id"], row["span_id"]))
    mapped.rows = calls.rows
    return mapped


def observation_span(observation: ObservationV2) -> SpanView:
    """The span Langfuse's OTel attributes would describe for this generation."""
    metadata = observation.metadata or {}
    attributes = _object(metadata.get(_SPAN_ATTRIBUTES_KEY))
    for key, value in metadata.items():
        if key not in _OTEL_METADATA_KEYS:
            attributes[METADATA_PREFIX + key] = value
    for tag in observation.tags or ():
        key, value = _tag_pair(tag)
        if key and value:
            attributes[TAG_PREFIX + key] = value
    own: dict[str, AttributeValue] = {
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": observation.model,
        "langfuse.observation.input": observation.input,
        "langfuse.observation.output": observation.output,
        "langfuse.observation.usage_details": observation.usage_details,
    }
    attributes.update({key: value for key, value in own.items() if value is not None})
    project = observation.project_id
    parent = observation.parent_observation_id
    end_time = observation.end_time
    return SpanView(
        trace_id=stable_id(observation.trace_id or "", 16, f"trace:{project}"),
        span_id=stable_id(observation.id, 8, f"observation:{project}"),
        parent_span_id=stable_id(parent, 8, f"observation:{project}") if parent else b"",
        name=observation.name or "",
        start_time_unix_nano=_nanos(observation.start_time),
        end_time_unix_nano=_nanos(end_time) if end_time is not None else 0,
        attributes=attributes,
        resource=_object(metadata.get(_RESOURCE_ATTRIBUTES_KEY)),
        scope_name=SOURCE,
        status_code=STATUS_CODE_ERROR if observation.level == "ERROR" else 0,
        status_message=observation.status_message or "",
    )


def stable_id(langfuse_id: str, size: int, scope: str) -> bytes:
    """An OTel id of ``size`` bytes is kept as it is; any other id becomes the first ``size`` bytes of a
    digest scoped to its kind and project, the same on every run."""
    if len(langfuse_id) == 2 * size and _HEX.fullmatch(langfuse_id) and int(langfuse_id, 16):
        return bytes.fromhex(langfuse_id)
    return hashlib.sha256(f"langfuse:{scope}:{langfuse_id}".encode()).digest()[:size]


def _unusable(observation: ObservationV2) -> str | None:
    label = f"observation {observation.id[:80]!r}"
    if not observation.id.strip():
        return "an observation with an empty id"
    if not (observation.trace_id or "").strip():
        return f"{label}: no trace id"
    return None


def _langfuse_cost(observation: ObservationV2) -> float | None:
    details = observation.cost_details or {}
    for cost in (observation.total_cost, details.get("total")):
        if cost is not None and math.isfinite(cost) and cost >= 0:
            return cost
    return None


def _object(value: object) -> dict[str, AttributeValue]:
    """Metadata values arrive as objects or as their JSON text, depending on the Langfuse version."""
    found = json_value(value) if isinstance(value, str) else value
    return {str(key): item for key, item in found.items()} if isinstance(found, dict) else {}


def _tag_pair(tag: str) -> tuple[str, str]:
    separator = min((index for index in (tag.find(":"), tag.find("=")) if index > 0), default=-1)
    if separator < 0:
        return "", ""
    return tag[:separator].strip(), tag[separator + 1 :].strip()


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _nanos(moment: datetime) -> int:
    return (_utc(moment) - _EPOCH) // timedelta(microseconds=1) * 1000
