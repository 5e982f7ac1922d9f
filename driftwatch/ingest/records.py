"""Pure: decoded spans → ``call`` rows ready to insert, with the counts ingest reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from driftwatch.ingest import genai, litellm
from driftwatch.ingest.classify import Classifier
from driftwatch.ingest.messages import prompt_text
from driftwatch.ingest.otlp import STATUS_CODE_ERROR, DecodedSpans, Rejections, SpanView
from driftwatch.ingest.redaction import NO_REDACTION, Redactor
from driftwatch.ingest.usage import token_details
from driftwatch.prices.pricing import PriceTable

CallRow = dict[str, Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST_TIME_NS = 253402300799 * 10**9  # 9999-12-31T23:59:59Z: past that a datetime cannot hold it
# Calls outside these bounds are a broken clock or a hostile client: stored, they would sit on top of
# every newest-first list (or at the bottom of every oldest-first one) and stretch every time range.
EARLIEST_START = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_START_AHEAD = timedelta(days=1)


@dataclass(slots=True)
class MappedSpans(Rejections):
    """The LLM-call spans found in one request (a row each: spans that report the same response are
    made one call by the writer, :mod:`driftwatch.ingest.merging`), and what happened to every other
    span in it."""

    rows: list[CallRow] = field(default_factory=list)
    other_spans: int = 0
    shadow_spans: int = 0

    def counts(self) -> dict[str, int]:
        """Spans by what they turned out to be (the ``kind`` label of the received-spans metric)."""
        return {
            "llm": len(self.rows),
            "other": self.other_spans,
            "shadow": self.shadow_spans,
            "rejected": self.rejected,
        }


class CallMapper:
    """Turns span views into ``call`` rows under one policy (classification, prices, content switch,
    redaction of the content that is kept)."""

    def __init__(
        self,
        classifier: Classifier,
        prices: PriceTable,
        *,
        capture_content: bool,
        redactor: Redactor = NO_REDACTION,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clock = clock
        self._classifier = classifier
        self._prices = prices
        self._capture_content = capture_content
        self._redactor = redactor

    def map(self, decoded: DecodedSpans, *, source: str = "otlp") -> MappedSpans:
        mapped = MappedSpans(rejected=decoded.rejected, errors=list(decoded.errors))
        earliest = _nanos(EARLIEST_START)
        latest = min(_nanos(self._clock() + LATEST_START_AHEAD), _LATEST_TIME_NS)
        for span in map(litellm.as_conventions, decoded.spans):
            operation = genai.llm_operation(span.attributes)
            if operation is None:
                mapped.other_spans += 1
            elif genai.is_shadow(span.attributes, span.resource):
                mapped.shadow_spans += 1
            elif not earliest <= span.start_time_unix_nano <= latest:
                mapped.reject(
                    f"span {span.name[:80]!r}: start time out of range "
                    f"(before {EARLIEST_START.date()} or more than a day ahead)"
                )
            else:
                mapped.rows.append(self._row(span, operation, source))
        return mapped

    def _row(self, span: SpanView, operation: str, source: str) -> CallRow:
        fields = genai.extract(span, operation)
        store_content = self._capture_content
        start_time = nanos_to_datetime(span.start_time_unix_nano)
        row = {
            "trace_id": span.trace_id.hex(),
            "span_id": span.span_id.hex(),
            "parent_span_id": span.parent_span_id.hex() or None,
            "start_time": start_time,
            "end_time": (
                nanos_to_datetime(span.end_time_unix_nano)
                if span.start_time_unix_nano <= span.end_time_unix_nano <= _LATEST_TIME_NS
                else None
            ),
            "service": _short(span.resource.get("service.name"), 255),
            "scope": span.scope_name[:255] or None,
            "task_class": self._classifier.task_class(span.attributes, span.resource),
            "tier": self._classifier.tier(span.attributes, span.resource, fields.model),
            "operation": fields.operation[:64],
            "provider": _short(fields.provider, 128),
            "model": _short(fields.model, 255),
            "response_id": _short(fields.response_id, 255),
            "system_fingerprint": _short(fields.system_fingerprint, 128),
            "input_tokens": fields.input_tokens,
            "output_tokens": fields.output_tokens,
            "cost_usd": self._prices.cost(
                fields.model,
                fields.input_tokens,
                fields.output_tokens,
                token_details(span.attributes),
                at=start_time,
            ),
            "prompt": prompt_text(self._redactor.messages(fields.prompt)) if store_content else None,
            "completion": self._redactor.optional_text(fields.completion) if store_content else None,
            "status": "error" if _is_error(span) else "ok",
            "status_message": span.status_message or None,
            "source": source,
        }
        return {key: storable(value) if isinstance(value, str) else value for key, value in row.items()}


def storable(text: str) -> str:
    """``text`` without NUL characters: valid in OTLP strings and in SQLite, but PostgreSQL text cannot
    hold them and would fail the whole write batch; both stores keep the same text."""
    return text.replace("\x00", "")


def _nanos(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def nanos_to_datetime(nanos: int) -> datetime:
    return _EPOCH + timedelta(microseconds=nanos // 1000)


def _is_error(span: SpanView) -> bool:
    return span.status_code == STATUS_CODE_ERROR or "error.type" in span.attributes


def _short(value: object, limit: int) -> str | None:
    if value is None or isinstance(value, dict | list | bytes):
        return None
    return str(value)[:limit] or None
