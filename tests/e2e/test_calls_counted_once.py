"""Issue 13, end to end: every real LLM call is stored exactly once, whatever the wiring.

Real apps (the real SDK clients, instrumentations, baggage processor and OTLP/HTTP exporter, run as
their own processes) call the fake providers and export to a running driftwatch; each test compares the
stored calls with the spans the app sent (its span dump): as many calls as provider responses, each on
an LLM span of its own response, with model, provider, tokens, cost, content, class and tier. Tagged
request, server, httpx and ASGI spans are no calls; sibling calls never merge; an SDK span nested in an
instrumentation's span is the same call; the same response id in another trace is another call.
"""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from tests.api.evaluations import item, listed, receipt
from tests.e2e.apps import BATCH, ROUTING_BAGGAGE, SIMPLE, dump_env, fastapi_app, run_app, sent_spans
from tests.e2e.counted_once import (
    Billed,
    assert_counted_once,
    assert_system_prompt,
    echo,
    responses,
    stored_calls,
)
from tests.e2e.instrumented_app import review
from tests.fakes import FakeAnthropicServer, FakeOpenAIServer
from tests.support.patience import patient
from tests.support.server import ServerThread

pytestmark = pytest.mark.call_identity

GPT_4O_MINI = Billed("openai", "gpt-4o-mini-2024-07-18", (42 * 0.15 + 7 * 0.60) / 1e6)
CLAUDE_HAIKU = Billed("anthropic", "claude-haiku-4-5-20251001", (42 * 1 + 7 * 5) / 1e6)


def made(requests: int, calls: int) -> set[str]:
    return {review(number, call) for number in range(requests) for call in range(calls)}


@pytest.mark.parametrize("exporter", [SIMPLE, BATCH], ids=["simple", "batch"])
def test_a_fastapi_app_with_baggage_on_every_span_stores_each_llm_call_once(
    exporter: dict[str, str], server: ServerThread, tmp_path: Path
) -> None:
    # The tags come from the caller's W3C baggage header, from the app before it starts its request
    # span (which then carries them), and from the app inside that span.
    tags = ["header", "before", "inside"]
    dump = tmp_path / "spans.json"
    with (
        FakeOpenAIServer(reply=echo, response_model="gpt-4o-mini-2024-07-18") as llm,
        fastapi_app(llm.base_url, server, env={**exporter, **dump_env(dump)}) as app,
    ):
        for number, tag in enumerate(tags):
            response = httpx.post(
                f"{app}/classify",
                params={"number": number, "calls": 2, "tag": tag},
                headers=ROUTING_BAGGAGE if tag == "header" else {},
                timeout=patient(30),
            )
            assert response.status_code == 200, response.text

    calls = stored_calls(server)

    assert_counted_once(calls, sent_spans(dump), made(len(tags), 2), GPT_4O_MINI)
    assert_system_prompt(calls)


@pytest.mark.parametrize(
    "exporter",
    [
        SIMPLE,
        BATCH,  # every span in one request at shutdown (default delay 5 s)
        {**BATCH, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2", "OTEL_BSP_SCHEDULE_DELAY": "1"},
    ],
    ids=["simple", "batch", "batch-of-2-delay-1ms"],
)
def test_openai_v2_calls_under_tagged_request_spans_are_stored_once_whatever_the_exporter(
    exporter: dict[str, str], server: ServerThread, tmp_path: Path
) -> None:
    dump = tmp_path / "spans.json"
    with FakeOpenAIServer(reply=echo, response_model="gpt-4o-mini-2024-07-18") as llm:
        run_app("openai-v2", llm.base_url, server, app_args=(5, 3), env={**exporter, **dump_env(dump)})

    calls = stored_calls(server)

    assert_counted_once(calls, sent_spans(dump), made(5, 3), GPT_4O_MINI)
    assert_system_prompt(calls)


def test_the_anthropic_sdks_span_inside_openinferences_span_is_one_call_even_when_exported_apart(
    server: ServerThread, tmp_path: Path
) -> None:
    dump = tmp_path / "spans.json"
    with FakeAnthropicServer(reply=echo, response_model="claude-haiku-4-5-20251001") as llm:
        run_app("openinference-anthropic", llm.url, server, app_args=(1, 5), env={**SIMPLE, **dump_env(dump)})
    sent = sent_spans(dump)
    assert len(responses(sent)) == 10, "expected an SDK span inside an OpenInference span per call"

    calls = stored_calls(server)

    assert_counted_once(calls, sent, made(1, 5), CLAUDE_HAIKU)


def test_ollama_style_response_ids_that_repeat_across_traces_are_distinct_calls(
    server: ServerThread, tmp_path: Path
) -> None:
    # Ollama draws chat completion ids from 999 values: 200 calls in 200 traces share some of them.
    seed, requests = 13, 200
    draws = random.Random(seed)
    assert len({draws.randrange(999) for _ in range(requests)}) < requests
    dump = tmp_path / "spans.json"
    with FakeOpenAIServer(
        reply=echo, response_model="gpt-4o-mini-2024-07-18", ollama_ids=random.Random(seed)
    ) as llm:
        run_app("openai-v2", llm.base_url, server, app_args=(requests, 1), env=dump_env(dump))

    calls = stored_calls(server)

    assert_counted_once(calls, sent_spans(dump), made(requests, 1), GPT_4O_MINI)


# openai-v2 in event mode: the spans carry no content, log records (one per message) do.
EVENT_ONLY = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "EVENT_ONLY"}


def test_sibling_calls_with_content_in_log_records_keep_their_own_ids_and_evaluations_find_them(
    server: ServerThread, tmp_path: Path
) -> None:
    dump = tmp_path / "spans.json"
    with FakeOpenAIServer(reply=echo, response_model="gpt-4o-mini-2024-07-18") as llm:
        run_app(
            "openai-v2",
            llm.base_url,
            server,
            EVENT_ONLY,
            app_args=(3, 3),
            env={"OTEL_LOGS_EXPORTER": "otlp", **dump_env(dump)},
        )
    sent = sent_spans(dump)

    calls = stored_calls(server)

    assert_counted_once(calls, sent, made(3, 3), GPT_4O_MINI)
    llm_spans = sorted(responses(sent))
    verdicts = [
        item(task_class="sentiment", trace_id=trace_id, span_id=span_id) for trace_id, span_id in llm_spans
    ]
    assert receipt(server, verdicts)["accepted"] == len(llm_spans)
    linked = {evaluation["call_id"] for evaluation in listed(server)}
    assert None not in linked, "an evaluation of an LLM span found no stored call"
    assert len(linked) == len(llm_spans)
