"""A routed LLM app as users run one: real SDK client, real instrumentation, real OTLP/HTTP exporter.

    python -m tests.e2e.instrumented_app INSTRUMENTATION LLM_BASE_URL

The exporters are configured only through the standard OTEL_* environment variables, as in production;
log records (where instrumentations in event mode put content) are exported when
``OTEL_LOGS_EXPORTER=otlp``.  The task class and tier travel as W3C baggage, copied onto every span by the
BaggageSpanProcessor.
Each run is its own process: instrumentations patch the client globally and some cannot undo it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from opentelemetry import _logs, baggage, context, trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.processor.baggage import ALLOW_ALL_BAGGAGE_KEYS, BaggageSpanProcessor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

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


def main(instrumentation: str, llm_base_url: str) -> None:
    provider = TracerProvider()  # service.name etc. from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
    provider.add_span_processor(BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # endpoint from OTEL_EXPORTER_*
    trace.set_tracer_provider(provider)
    logger_provider = LoggerProvider()
    if os.environ.get("OTEL_LOGS_EXPORTER") == "otlp":
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    _logs.set_logger_provider(logger_provider)
    module_name, class_name = INSTRUMENTORS[instrumentation].split(":")
    instrumentor = getattr(importlib.import_module(module_name), class_name)
    instrumentor(**INSTRUMENTOR_OPTIONS.get(instrumentation, {})).instrument(tracer_provider=provider)

    routed = baggage.set_baggage("driftwatch.task_class", "sentiment")
    routed = baggage.set_baggage("driftwatch.tier", "cheap", routed)
    token = context.attach(routed)
    try:
        if instrumentation.endswith("anthropic"):
            import anthropic

            anthropic.Anthropic(base_url=llm_base_url, api_key="test").messages.create(
                model="claude-haiku-4-5",
                system=SYSTEM_PROMPT,
                messages=[{"role": "user", "content": USER_PROMPT}],
                max_tokens=16,
            )
        else:
            import openai

            openai.OpenAI(base_url=llm_base_url, api_key="test").chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": USER_PROMPT},
                ],
                max_tokens=16,
            )
    finally:
        context.detach(token)
    provider.shutdown()  # flushes the batches: the process exits only after the exports were answered
    logger_provider.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
