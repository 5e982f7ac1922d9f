"""A routed LLM app as users run one: real SDK client, real instrumentation, real OTLP/HTTP exporter.

    python -m tests.e2e.instrumented_app INSTRUMENTATION LLM_BASE_URL [REQUESTS [CALLS]]

The exporters are configured only through the standard OTEL_* environment variables, as in production;
log records (where instrumentations in event mode put content) are exported when
``OTEL_LOGS_EXPORTER=otlp``.  The task class and tier travel as W3C baggage, copied onto every span by the
BaggageSpanProcessor.
Each run is its own process: instrumentations patch the client globally and some cannot undo it.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry import _logs, baggage, context, trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.processor.baggage import ALLOW_ALL_BAGGAGE_KEYS, BaggageSpanProcessor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from tests.support.otlp import to_otlp_json

if TYPE_CHECKING:  # imported when first used: each app imports only the client it drives
    import anthropic
    import openai

INSTRUMENTORS = {
    "openai-v2": "opentelemetry.instrumentation.openai_v2:OpenAIInstrumentor",
    "openinference-openai": "openinference.instrumentation.openai:OpenAIInstrumentor",
    "traceloop-openai": "opentelemetry.instrumentation.openai:OpenAIInstrumentor",
    "traceloop-openai-events": "opentelemetry.instrumentation.openai:OpenAIInstrumentor",
    "openinference-anthropic": "openinference.instrumentation.anthropic:AnthropicInstrumentor",
    "traceloop-anthropic": "opentelemetry.instrumentation.anthropic:AnthropicInstrumentor",
}
INSTRUMENTOR_OPTIONS: dict[str, dict[str, Any]] = {"traceloop-openai-events": {"use_attributes": False}}
SYSTEM_PROMPT = "Classify the sentiment of the review. Answer with one word: positive or negative."
USER_PROMPT = "The battery lasts all day and the screen is gorgeous."


SPAN_PROCESSOR_ENV = "INSTRUMENTED_APP_SPAN_PROCESSOR"
"""``simple`` exports every span as it ends (one request each); anything else batches, as configured by
the standard ``OTEL_BSP_*`` variables (schedule delay, batch size)."""
SPAN_DUMP_ENV = "INSTRUMENTED_APP_SPAN_DUMP"
"""A file to write every span to as OTLP/JSON at shutdown: what the app sent, for assertions and fixtures."""


class SpanDump(SpanExporter):
    """Keeps every exported span and writes them, as one OTLP/JSON trace request, at shutdown."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        document = orjson.loads(to_otlp_json(encode_spans(self._spans)))
        self._path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


def install_telemetry(instrumentation: str) -> tuple[TracerProvider, LoggerProvider]:
    """Global tracer and logger providers exporting over OTLP/HTTP, baggage copied onto every span, and
    ``instrumentation`` patching its client. Shut both providers down to flush."""
    provider = TracerProvider()  # service.name etc. from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
    provider.add_span_processor(BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS))
    exporter = OTLPSpanExporter()  # endpoint from OTEL_EXPORTER_*
    simple = os.environ.get(SPAN_PROCESSOR_ENV) == "simple"
    provider.add_span_processor(SimpleSpanProcessor(exporter) if simple else BatchSpanProcessor(exporter))
    if dump := os.environ.get(SPAN_DUMP_ENV):
        provider.add_span_processor(SimpleSpanProcessor(SpanDump(Path(dump))))
    trace.set_tracer_provider(provider)
    logger_provider = LoggerProvider()
    if os.environ.get("OTEL_LOGS_EXPORTER") == "otlp":
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    _logs.set_logger_provider(logger_provider)
    module_name, class_name = INSTRUMENTORS[instrumentation].split(":")
    instrumentor = getattr(importlib.import_module(module_name), class_name)
    instrumentor(**INSTRUMENTOR_OPTIONS.get(instrumentation, {})).instrument(tracer_provider=provider)
    return provider, logger_provider


def routed(task_class: str = "sentiment", tier: str = "cheap") -> context.Context:
    """The current context with the routing decision in its baggage, as the README's recipe sets it."""
    return baggage.set_baggage(
        "driftwatch.tier", tier, baggage.set_baggage("driftwatch.task_class", task_class)
    )


def chat(instrumentation: str, llm_base_url: str, user_prompt: str = USER_PROMPT) -> None:
    """One LLM call through the instrumented client (one client per process, as apps keep one)."""
    if instrumentation.endswith("anthropic"):
        _anthropic_client(llm_base_url).messages.create(
            model="claude-haiku-4-5",
            system=SYSTEM_PROMPT,
            messages=[{"role": "user", "content": user_prompt}],
            max_tokens=16,
        )
    else:
        _openai_client(llm_base_url).chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user_prompt},
            ],
            max_tokens=16,
        )


@functools.cache
def _anthropic_client(base_url: str) -> anthropic.Anthropic:
    import anthropic

    return anthropic.Anthropic(base_url=base_url, api_key="test")


@functools.cache
def _openai_client(base_url: str) -> openai.OpenAI:
    import openai

    return openai.OpenAI(base_url=base_url, api_key="test")


def review(request: int, call: int) -> str:
    """The user prompt of one call, distinct per request and call so content can be traced back."""
    return f"{USER_PROMPT} (review {request}.{call})"


def main(instrumentation: str, llm_base_url: str, requests: int | None = None, calls: int = 1) -> None:
    """Without ``requests``: one call in the routed context. With it: ``requests`` tagged request spans
    (the baggage is set before each starts, so the span carries the tags too), each making ``calls``."""
    provider, logger_provider = install_telemetry(instrumentation)
    try:
        if requests is None:
            token = context.attach(routed())
            try:
                chat(instrumentation, llm_base_url)
            finally:
                context.detach(token)
        for request in range(requests or 0):
            token = context.attach(routed())
            try:
                with trace.get_tracer(__name__).start_as_current_span(
                    "POST /classify", kind=trace.SpanKind.SERVER
                ):
                    for call in range(calls):
                        chat(instrumentation, llm_base_url, review(request, call))
            finally:
                context.detach(token)
    finally:
        provider.shutdown()  # flushes the batches: the process exits only after the exports were answered
        logger_provider.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(arg) for arg in sys.argv[3:5]))
