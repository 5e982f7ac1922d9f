"""A routed LLM app as users run one: real SDK client, real instrumentation, real OTLP/HTTP exporter.

    python -m tests.e2e.instrumented_app INSTRUMENTATION LLM_BASE_URL

The exporter is configured only through the standard OTEL_* environment variables, as in production.
The task class and tier travel as W3C baggage, copied onto every span by the BaggageSpanProcessor.
Each run is its own process: instrumentations patch the client globally and some cannot undo it.
"""

from __future__ import annotations

import importlib
import sys

from opentelemetry import baggage, context, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.processor.baggage import ALLOW_ALL_BAGGAGE_KEYS, BaggageSpanProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

INSTRUMENTORS = {
    "openai-v2": "opentelemetry.instrumentation.openai_v2:OpenAIInstrumentor",
    "openinference-openai": "openinference.instrumentation.openai:OpenAIInstrumentor",
    "traceloop-openai": "opentelemetry.instrumentation.openai:OpenAIInstrumentor",
    "openinference-anthropic": "openinference.instrumentation.anthropic:AnthropicInstrumentor",
    "traceloop-anthropic": "opentelemetry.instrumentation.anthropic:AnthropicInstrumentor",
}
SYSTEM_PROMPT = "Classify the sentiment of the review. Answer with one word: positive or negative."
USER_PROMPT = "The battery lasts all day and the screen is gorgeous."


def main(instrumentation: str, llm_base_url: str) -> None:
    provider = TracerProvider()  # service.name etc. from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
    provider.add_span_processor(BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # endpoint from OTEL_EXPORTER_*
    trace.set_tracer_provider(provider)
    module_name, class_name = INSTRUMENTORS[instrumentation].split(":")
    getattr(importlib.import_module(module_name), class_name)().instrument(tracer_provider=provider)

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
    provider.shutdown()  # flushes the batch: the process exits only after the export was answered


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
