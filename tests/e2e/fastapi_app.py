"""A routed FastAPI service as users run one: FastAPI and httpx instrumented beside the LLM client.

    ROUTED_APP_LLM_URL=... python -m uvicorn tests.e2e.fastapi_app:create --factory --port PORT

Every span gets the baggage (``BaggageSpanProcessor``): the FastAPI server span and its ``http send`` /
``http receive`` spans, the app's own span, the LLM span and httpx client spans. (The openai and
anthropic clients send over ``httpx2``, which the httpx instrumentation does not see.) ``POST /classify?number=R&calls=N&tag=...`` fetches N reviews from the app's own
``GET /reviews/R/C`` over httpx (an httpx client span, then a nested server span that receives the
baggage header httpx propagates) and classifies each with one LLM call; ``tag`` says where the routing
tags come from: ``header`` (the caller's W3C ``baggage`` header), ``before`` (the app sets baggage and
then starts its request span, which carries the tags) or ``inside`` (set within that span, so only
the spans under it carry them). Stopping the server (SIGTERM) flushes the exporters.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import httpx
from fastapi import FastAPI, Request
from opentelemetry import context, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from tests.e2e.instrumented_app import chat, install_telemetry, review, routed

LLM_URL_ENV = "ROUTED_APP_LLM_URL"
INSTRUMENTATION_ENV = "ROUTED_APP_INSTRUMENTATION"


def create() -> FastAPI:
    instrumentation = os.environ.get(INSTRUMENTATION_ENV, "openai-v2")
    llm_url = os.environ[LLM_URL_ENV]
    provider, logger_provider = install_telemetry(instrumentation)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    tracer = trace.get_tracer(__name__)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        provider.shutdown()
        logger_provider.shutdown()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    @app.get("/reviews/{number}/{call}")
    def get_review(number: int, call: int) -> str:
        return review(number, call)

    @app.post("/classify")
    def classify(
        request: Request, number: int, calls: int = 1, tag: Literal["header", "before", "inside"] = "header"
    ) -> int:
        token = context.attach(routed()) if tag == "before" else None
        try:
            with tracer.start_as_current_span("classify review"):
                inner = context.attach(routed()) if tag == "inside" else None
                try:
                    for call in range(calls):
                        text = httpx.get(f"{request.base_url}reviews/{number}/{call}").json()
                        chat(instrumentation, llm_url, text)
                finally:
                    if inner is not None:
                        context.detach(inner)
        finally:
            if token is not None:
                context.detach(token)
        return calls

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    return app
