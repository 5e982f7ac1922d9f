"""The real instrumentation packages, the real SDK clients and the real OTLP exporter, against a running
driftwatch: what a user's app sends is stored with model, provider, tokens, content, class, tier, cost."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from driftwatch.auth.keys import create_key
from tests.conftest import StartServer
from tests.e2e.instrumented_app import SYSTEM_PROMPT, USER_PROMPT
from tests.fakes import FakeAnthropicServer, FakeOpenAIServer
from tests.support.processes import run_to_end
from tests.support.server import ServerThread

ROOT = Path(__file__).resolve().parents[2]

# What turns prompt/completion capture on for each instrumentation (see README, "Content capture").
CONTENT_ENV = {
    "openai-v2": {
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
    },
    "openinference-openai": {},
    "traceloop-openai": {"TRACELOOP_TRACE_CONTENT": "true"},
    "openinference-anthropic": {},
    "traceloop-anthropic": {"TRACELOOP_TRACE_CONTENT": "true"},
}


def run_app(
    instrumentation: str,
    llm_base_url: str,
    server: ServerThread,
    content_env: dict[str, str] | None = None,
    **extra_env: str,
) -> None:
    env = {
        **os.environ,
        **(CONTENT_ENV[instrumentation] if content_env is None else content_env),
        "OTEL_EXPORTER_OTLP_ENDPOINT": server.base_url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": "review-router",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        **extra_env,
    }
    completed = run_to_end(
        [sys.executable, "-m", "tests.e2e.instrumented_app", instrumentation, llm_base_url],
        120,
        cwd=ROOT,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Failed to export" not in completed.stderr, completed.stderr


@pytest.mark.parametrize("instrumentation", ["openai-v2", "openinference-openai", "traceloop-openai"])
def test_openai_instrumentations(instrumentation: str, server: ServerThread) -> None:
    with FakeOpenAIServer(
        reply="positive", prompt_tokens=42, completion_tokens=7, response_model="gpt-4o-mini-2024-07-18"
    ) as llm:
        run_app(instrumentation, llm.base_url, server)

    calls = httpx.get(f"{server.base_url}/v1/calls").json()["items"]

    assert len(calls) == 1
    call = calls[0]
    assert call["service"] == "review-router"
    assert (call["task_class"], call["tier"]) == ("sentiment", "cheap")
    assert (call["provider"], call["model"]) == ("openai", "gpt-4o-mini-2024-07-18")
    assert (call["input_tokens"], call["output_tokens"]) == (42, 7)
    assert call["cost_usd"] == pytest.approx((42 * 0.15 + 7 * 0.60) / 1e6)
    assert call["prompt"] == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": USER_PROMPT},
    ]
    assert call["completion"] == "positive"
    assert call["status"] == "ok"


@pytest.mark.parametrize("instrumentation", ["openinference-anthropic", "traceloop-anthropic"])
def test_anthropic_instrumentations_beside_the_sdks_own_spans(
    instrumentation: str, server: ServerThread
) -> None:
    # The anthropic SDK emits its own span for every call as well (on by default): still one call.
    with FakeAnthropicServer(
        reply="positive", input_tokens=42, output_tokens=7, response_model="claude-haiku-4-5-20251001"
    ) as llm:
        run_app(instrumentation, llm.url, server)

    calls = httpx.get(f"{server.base_url}/v1/calls").json()["items"]

    assert len(calls) == 1, calls
    call = calls[0]
    assert (call["task_class"], call["tier"]) == ("sentiment", "cheap")
    assert (call["provider"], call["model"]) == ("anthropic", "claude-haiku-4-5-20251001")
    assert (call["input_tokens"], call["output_tokens"]) == (42, 7)
    assert call["cost_usd"] == pytest.approx((42 * 1 + 7 * 5) / 1e6)
    assert call["prompt"][-1] == {"role": "user", "content": USER_PROMPT}
    assert call["completion"] == "positive"


def test_exporter_carries_the_api_key_in_otel_headers(start_server: StartServer, engine: Engine) -> None:
    server = start_server(require_auth=True)
    with Session(engine) as session, session.begin():
        key = create_key(session, "review-router").key

    with FakeOpenAIServer() as llm:
        run_app(
            "openinference-openai",
            llm.base_url,
            server,
            OTEL_EXPORTER_OTLP_HEADERS=f"Authorization=Bearer%20{key}",
        )

    calls = httpx.get(f"{server.base_url}/v1/calls", headers={"authorization": f"Bearer {key}"}).json()[
        "items"
    ]
    assert len(calls) == 1


# Content that travels only in OTLP log records: the app's logs exporter must point at driftwatch too.
LOG_CONTENT_ENV = {
    # The official instrumentation in event mode, OTEL_SEMCONV_STABILITY_OPT_IN unset.
    "openai-v2": {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "EVENT_ONLY"},
    # Traceloop with use_attributes=False: gen_ai.system.message, gen_ai.user.message, gen_ai.choice.
    "traceloop-openai-events": {"TRACELOOP_TRACE_CONTENT": "true"},
}


@pytest.mark.parametrize("instrumentation", sorted(LOG_CONTENT_ENV))
def test_content_sent_only_as_log_records_reaches_the_call(
    instrumentation: str, server: ServerThread
) -> None:
    with FakeOpenAIServer(reply="positive", response_model="gpt-4o-mini-2024-07-18") as llm:
        run_app(
            instrumentation, llm.base_url, server, LOG_CONTENT_ENV[instrumentation], OTEL_LOGS_EXPORTER="otlp"
        )

    calls = httpx.get(f"{server.base_url}/v1/calls").json()["items"]

    assert len(calls) == 1
    call = calls[0]
    assert (call["task_class"], call["model"]) == ("sentiment", "gpt-4o-mini-2024-07-18")
    assert call["prompt"] == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": USER_PROMPT},
    ]
    assert call["completion"] == "positive"
