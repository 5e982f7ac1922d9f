"""Ingest service: one OTLP request body in, committed calls and an OTLP response out."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from driftwatch.errors import Overloaded
from driftwatch.ingest.otlp import Encoding, decompress, iter_spans, parse_request
from driftwatch.ingest.records import CallMapper, MappedSpans
from driftwatch.ingest.writer import CallWriter
from driftwatch.metrics import Metrics


@dataclass(frozen=True, slots=True)
class ExportResult:
    rejected: int
    errors: list[str]


class IngestService:
    def __init__(
        self,
        mapper: CallMapper,
        writer: CallWriter,
        metrics: Metrics,
        *,
        max_request_bytes: int,
        max_concurrent_requests: int,
        retry_after_seconds: int,
    ) -> None:
        self._mapper = mapper
        self._writer = writer
        self._metrics = metrics
        self.max_request_bytes = max_request_bytes
        self._max_concurrent = max_concurrent_requests
        self._retry_after_seconds = retry_after_seconds
        self._in_flight = 0
        # Decoding is CPU-bound under the GIL: two threads keep the event loop free without
        # letting a burst of requests pile decoded spans up in memory.
        self._decoders = anyio.CapacityLimiter(2)

    def admit(self) -> None:
        """Refuse a request before reading its body when too many are already in progress."""
        if self._writer.full:
            raise Overloaded("write queue full; retry later", retry_after_seconds=self._retry_after_seconds)
        if self._in_flight >= self._max_concurrent:
            raise Overloaded(
                "too many export requests in progress", retry_after_seconds=self._retry_after_seconds
            )
        self._in_flight += 1

    def release(self) -> None:
        self._in_flight -= 1

    async def export(self, body: bytes, encoding: Encoding, content_encoding: str | None) -> ExportResult:
        mapped = await anyio.to_thread.run_sync(
            self._decode, body, encoding, content_encoding, limiter=self._decoders
        )
        self._count(mapped)
        await self._writer.write(mapped.rows)
        return ExportResult(rejected=mapped.rejected, errors=mapped.errors)

    def _decode(self, body: bytes, encoding: Encoding, content_encoding: str | None) -> MappedSpans:
        data = decompress(body, content_encoding, self.max_request_bytes)
        return self._mapper.map(iter_spans(parse_request(data, encoding)))

    def _count(self, mapped: MappedSpans) -> None:
        received = self._metrics.spans_received
        received.labels(kind="llm").inc(len(mapped.rows))
        received.labels(kind="other").inc(mapped.other_spans)
        received.labels(kind="shadow").inc(mapped.shadow_spans)
        received.labels(kind="rejected").inc(mapped.rejected)
