"""Ingest service: one OTLP request body in, committed rows and an OTLP response's outcome out.

Both signals take the same path: admitted under the concurrency limit, decoded off the event loop,
written through the one bounded writer, answered only after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client import Counter

from driftwatch.errors import Overloaded
from driftwatch.ingest.logs import ContentEventMapper, MappedLogs
from driftwatch.ingest.metrics import Metrics
from driftwatch.ingest.otlp import Encoding, Rejections, Signal, decompress, iter_spans, parse_request
from driftwatch.ingest.records import CallMapper, MappedSpans
from driftwatch.ingest.writer import CallWriter

MappedT = TypeVar("MappedT", bound=Rejections)


@dataclass(frozen=True, slots=True)
class ExportResult:
    rejected: int
    errors: list[str]


class IngestService:
    def __init__(
        self,
        mapper: CallMapper,
        content_mapper: ContentEventMapper,
        writer: CallWriter,
        metrics: Metrics,
        *,
        max_request_bytes: int,
        max_concurrent_requests: int,
        retry_after_seconds: int,
    ) -> None:
        self._mapper = mapper
        self._content_mapper = content_mapper
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

    async def export(
        self, signal: Signal, body: bytes, encoding: Encoding, content_encoding: str | None
    ) -> ExportResult:
        if signal == "traces":
            spans = await self._decode(self._map_spans, body, encoding, content_encoding)
            self._count(self._metrics.spans_received, spans.counts())
            await self._writer.write(spans.rows)
            return ExportResult(rejected=spans.rejected, errors=spans.errors)
        logs = await self._decode(self._map_logs, body, encoding, content_encoding)
        self._count(self._metrics.log_records_received, logs.counts())
        await self._writer.write((), logs.events)
        return ExportResult(rejected=logs.rejected, errors=logs.errors)

    async def _decode(
        self,
        mapping: Callable[[bytes, Encoding], MappedT],
        body: bytes,
        encoding: Encoding,
        content_encoding: str | None,
    ) -> MappedT:
        def decode() -> MappedT:
            return mapping(decompress(body, content_encoding, self.max_request_bytes), encoding)

        return await anyio.to_thread.run_sync(decode, limiter=self._decoders)

    def _map_spans(self, data: bytes, encoding: Encoding) -> MappedSpans:
        return self._mapper.map(iter_spans(parse_request(data, encoding, ExportTraceServiceRequest())))

    def _map_logs(self, data: bytes, encoding: Encoding) -> MappedLogs:
        return self._content_mapper.map(parse_request(data, encoding, ExportLogsServiceRequest()))

    @staticmethod
    def _count(counter: Counter, counts: dict[str, int]) -> None:
        for kind, count in counts.items():
            counter.labels(kind=kind).inc(count)
