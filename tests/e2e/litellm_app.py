"""A routed app on the LiteLLM SDK, exporting with LiteLLM's own ``otel`` callback as its docs describe.

    python -m tests.e2e.litellm_app LLM_BASE_URL

The app sets up its tracer provider as the "LiteLLM" section of docs/ingest.md says: LiteLLM's ``otel`` callback
adopts a global SDK tracer provider as it is (its own exporter settings are then unused), so the provider
exports with the standard ``OTEL_EXPORTER_OTLP_*`` variables and copies the task class and tier from W3C
baggage onto LiteLLM's spans.  It makes one call of each kind — ``completion``, ``acompletion``, ``Router.completion``,
``Router.acompletion`` — and prints how many it made.
"""

from __future__ import annotations

import asyncio
import sys

import litellm
from litellm.router import Router
from opentelemetry import baggage, context, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.processor.baggage import ALLOW_ALL_BAGGAGE_KEYS, BaggageSpanProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.e2e.instrumented_app import SYSTEM_PROMPT, USER_PROMPT

MESSAGES = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": USER_PROMPT}]


async def calls(llm_base_url: str) -> int:
    direct = {"model": "openai/gpt-4o-mini", "api_base": llm_base_url, "api_key": "test"}
    router = Router(
        model_list=[{"model_name": "cheap", "litellm_params": {**direct}}],
    )
    litellm.completion(messages=MESSAGES, **direct)
    await litellm.acompletion(messages=MESSAGES, **direct)
    router.completion(model="cheap", messages=MESSAGES)
    await router.acompletion(model="cheap", messages=MESSAGES)
    return 4


def main(llm_base_url: str) -> None:
    # docs/ingest.md, "LiteLLM", SDK: the global provider LiteLLM's otel callback adopts.
    provider = TracerProvider()  # service.name from OTEL_SERVICE_NAME
    provider.add_span_processor(BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # OTEL_EXPORTER_OTLP_* env
    trace.set_tracer_provider(provider)
    litellm.callbacks = ["otel"]

    routed = baggage.set_baggage("driftwatch.task_class", "sentiment")
    token = context.attach(baggage.set_baggage("driftwatch.tier", "cheap", routed))
    try:
        made = asyncio.run(calls(llm_base_url))
    finally:
        context.detach(token)
    provider.force_flush()
    print(made)


if __name__ == "__main__":
    main(sys.argv[1])
