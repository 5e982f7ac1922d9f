"""What real instrumentations emit (captured by tests/fixtures/instrumentations/capture.py) is stored right.

Each fixture is posted as OTLP/JSON to a running server, exactly as its exporter would send it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import ServerThread

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "instrumentations"
MANIFEST: dict[str, Any] = json.loads((FIXTURES / "manifest.json").read_text())
USER_PROMPT = "The battery lasts all day and the screen is gorgeous."

# Content travels only in OTLP log records (or is not captured at all): the span alone carries none.
NO_CONTENT_ON_SPANS = {
    "otel_openai_v2__capture_true",  # "true" is not a valid capture mode for util-genai 1.x
    "otel_openai_v2__event_only",
    "otel_openai_v2_util04__v130_capture_true",
    "traceloop_openai__events",
    "traceloop_anthropic__events",
    "anthropic_sdk",  # the SDK's own spans are metadata-only by default
}

FINGERPRINT_KEYS = (
    "openai.response.system_fingerprint",
    "gen_ai.openai.response.system_fingerprint",
    "gen_ai.openai.system_fingerprint",
)

# Traceloop's Anthropic instrumentation with use_attributes=False, beside the SDK's own span.
UNPAIRABLE = "traceloop_anthropic__events"


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_is_stored_as_one_call(name: str, server: ServerThread) -> None:
    body = (FIXTURES / f"{name}.json").read_bytes()

    response = httpx.post(
        f"{server.base_url}/v1/traces", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 200, response.text
    assert response.json() == {}
    calls = httpx.get(f"{server.base_url}/v1/calls").json()["items"]
    if name == UNPAIRABLE:
        # Known limit (docs/ingest.md): this mode's span has no model, no response id and no parent, so nothing
        # ties it to the SDK's own span of the same call; it is stored as a second, model-less call.
        assert sorted(call["model"] or "" for call in calls) == ["", "claude-haiku-4-5-20251001"]
        return
    # Anthropic's SDK reports each call in a span of its own beside the instrumentation's: one call.
    assert len(calls) == 1, calls
    call = calls[0]
    is_anthropic = "anthropic" in name
    assert call["provider"] == ("anthropic" if is_anthropic else "openai")
    assert call["operation"] in ("chat", "completion")
    assert call["output_tokens"] == 7
    assert call["input_tokens"] in (42, 57)  # Anthropic instrumentations add the cached tokens (15)
    assert call["model"] == ("claude-haiku-4-5-20251001" if is_anthropic else "gpt-4o-mini-2024-07-18")
    assert call["tier"] == "cheap"
    assert call["cost_usd"] is not None and call["cost_usd"] > 0
    # The fake OpenAI server answers with system_fingerprint "fp_fake"; not every instrumentation
    # reports it as an attribute (OpenInference keeps it inside the raw output only).
    reports_fingerprint = any(f'"{key}"'.encode() in body for key in FINGERPRINT_KEYS)
    assert call["system_fingerprint"] == ("fp_fake" if reports_fingerprint else None)
    if name in NO_CONTENT_ON_SPANS:
        assert call["prompt"] is None
    else:
        assert call["prompt"][0]["role"] == "system"
        assert call["prompt"][-1] == {"role": "user", "content": USER_PROMPT}
        assert call["completion"] == "positive"


LOGS_FIXTURES = sorted(path.name.removesuffix(".logs.json") for path in FIXTURES.glob("*.logs.json"))
# Every content-bearing log fixture records the same call: the prompt and completion it must give.
PROMPT = [
    {
        "role": "system",
        "content": "Classify the sentiment of the review. Answer with one word: positive or negative.",
    },
    {"role": "user", "content": USER_PROMPT},
]


def _post(server: ServerThread, signal: str, name: str) -> httpx.Response:
    suffix = ".logs.json" if signal == "logs" else ".json"
    return httpx.post(
        f"{server.base_url}/v1/{signal}",
        content=(FIXTURES / f"{name}{suffix}").read_bytes(),
        headers={"content-type": "application/json"},
    )


@pytest.mark.parametrize("logs_first", [True, False], ids=["logs-first", "spans-first"])
@pytest.mark.parametrize("name", LOGS_FIXTURES)
def test_content_sent_as_log_records_reaches_the_call(
    name: str, logs_first: bool, server: ServerThread
) -> None:
    order = ("logs", "traces") if logs_first else ("traces", "logs")

    responses = {signal: _post(server, signal, name) for signal in order}

    assert [response.status_code for response in responses.values()] == [200, 200]
    calls = httpx.get(f"{server.base_url}/v1/calls").json()["items"]
    if name == UNPAIRABLE:
        # Known limit (docs/ingest.md): its log records carry no trace/span id, so they cannot be attached.
        assert responses["logs"].json()["partialSuccess"]["rejectedLogRecords"] == "3"
        assert all(call["prompt"] is None for call in calls)
        return
    assert responses["logs"].json() == {}
    [call] = calls
    assert call["prompt"] == PROMPT
    assert call["completion"] == "positive"
