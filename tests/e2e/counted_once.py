"""What "every real LLM call is stored exactly once" means, checked against what an app really sent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.apps import SentSpan
from tests.e2e.instrumented_app import SYSTEM_PROMPT
from tests.fakes._http import JsonObject
from tests.support.server import ServerThread

LLM_SCOPES = frozenset(
    {
        "opentelemetry.util.genai.handler",  # openai-v2 (through util-genai)
        "com.anthropic.sdk.python",  # the anthropic SDK's own span
        "openinference.instrumentation.anthropic",
    }
)
"""Instrumentation scopes whose spans are LLM calls; every other span an app sends is not one."""


@dataclass(frozen=True)
class Billed:
    """What every call of a test is billed as."""

    provider: str
    model: str
    cost_usd: float
    input_tokens: int = 42
    output_tokens: int = 7


def echo(body: JsonObject) -> str:
    """The fakes' reply: it names the review it was asked about, so a completion shows its prompt."""
    user: str = body["messages"][-1]["content"]
    return "positive " + user.rsplit("(", 1)[-1].rstrip(")")


def stored_calls(server: ServerThread) -> list[dict[str, Any]]:
    page = httpx.get(f"{server.base_url}/v1/calls", params={"limit": 1000}).json()
    assert page["next_cursor"] is None
    calls: list[dict[str, Any]] = page["items"]
    return calls


def responses(sent: Iterable[SentSpan]) -> dict[tuple[str, str], SentSpan]:
    """Every LLM span by its ids, mapped to the outermost LLM span of the provider response it reports
    (an SDK span nested in an instrumentation's span reports the same response)."""
    llm = {(span.trace_id, span.span_id): span for span in sent if span.scope in LLM_SCOPES}

    def outermost(span: SentSpan) -> SentSpan:
        parent = llm.get((span.trace_id, span.parent_span_id or ""))
        return span if parent is None else outermost(parent)

    return {ids: outermost(span) for ids, span in llm.items()}


def assert_counted_once(
    calls: list[dict[str, Any]],
    sent: list[SentSpan],
    prompts: set[str],
    billed: Billed,
) -> None:
    """One stored call per provider response the app got, on an LLM span of that response, with its
    own parent, and everything a call carries; ``prompts`` are the user prompts the app sent."""
    by_span = {(span.trace_id, span.span_id): span for span in sent}
    of_response = responses(sent)
    made = len(set(map(id, of_response.values())))
    assert made == len(prompts), f"the app made {len(prompts)} calls but reported {made} responses"
    assert len(calls) == made, f"{made} LLM calls made, {len(calls)} stored: {_ids(calls, by_span)}"
    not_llm = [
        _describe(call, by_span) for call in calls if (call["trace_id"], call["span_id"]) not in of_response
    ]
    assert not not_llm, f"calls stored from spans that are no LLM call: {not_llm}"
    stored_responses = [id(of_response[call["trace_id"], call["span_id"]]) for call in calls]
    assert len(set(stored_responses)) == len(calls), "one provider response stored as several calls"
    for call in calls:
        span = by_span[call["trace_id"], call["span_id"]]
        assert call["parent_span_id"] != call["span_id"]
        assert call["parent_span_id"] == span.parent_span_id
        assert (call["service"], call["task_class"], call["tier"]) == ("review-router", "sentiment", "cheap")
        assert (call["provider"], call["model"]) == (billed.provider, billed.model)
        assert (call["input_tokens"], call["output_tokens"]) == (billed.input_tokens, billed.output_tokens)
        assert call["cost_usd"] == pytest.approx(billed.cost_usd)
        assert call["prompt"] is not None, f"no prompt on {_describe(call, by_span)}"
        assert call["prompt"][-1]["role"] == "user"
        assert call["completion"] == echo({"messages": call["prompt"]}), "content moved between calls"
        assert call["status"] == "ok"
    assert {call["prompt"][-1]["content"] for call in calls} == prompts


def assert_system_prompt(calls: list[dict[str, Any]]) -> None:
    for call in calls:
        assert {"role": "system", "content": SYSTEM_PROMPT} in call["prompt"]


def _describe(call: dict[str, Any], by_span: dict[tuple[str, str], SentSpan]) -> str:
    span = by_span.get((call["trace_id"], call["span_id"]))
    return f"{span.scope}:{span.name!r}" if span else f"unknown span {call['span_id']}"


def _ids(calls: list[dict[str, Any]], by_span: dict[tuple[str, str], SentSpan]) -> list[str]:
    return [_describe(call, by_span) for call in calls]
