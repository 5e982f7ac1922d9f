"""The OpenAI-compatible provider on the wire: what it sends and how it reads odd answers."""

from __future__ import annotations

import json

from driftwatch.shadow.providers.base import CompletionRequest, Message
from driftwatch.shadow.providers.conversation import JSON_INSTRUCTION
from driftwatch.shadow.providers.openai_compatible import (
    OPENAI_BASE_URL,
    OpenAICompatibleProvider,
    token_limit_field,
)
from tests.fakes import FakeOpenAIServer
from tests.shadow.providers.support import ASK, MIXED, complete, failure


def _provider(server: FakeOpenAIServer) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(model="gpt-4o-mini", api_key="sk-test", base_url=server.base_url)


def test_conversation_is_sent_as_recorded_with_limits() -> None:
    with FakeOpenAIServer() as server:
        complete(lambda: _provider(server), MIXED)
    [sent] = server.requests
    assert sent.body["messages"] == [
        {"role": "system", "content": "Classify."},
        {"role": "user", "content": "Great phone."},
        {"role": "user", "content": "Battery lasts two days."},
        {"role": "developer", "content": "One word."},
        {"role": "assistant", "content": "positive"},
        {"role": "user", "content": "lookup result"},  # a tool message without its call id would be a 400
        {"role": "user", "content": "And this one?"},
    ]
    assert (sent.body["max_tokens"], sent.body["temperature"]) == (32, 0.0)
    assert "response_format" not in sent.body
    assert sent.headers["authorization"] == "Bearer sk-test"


def test_unset_temperature_is_left_out() -> None:
    with FakeOpenAIServer() as server:
        complete(lambda: _provider(server), CompletionRequest(messages=ASK.messages, temperature=None))
    assert "temperature" not in server.requests[0].body


def test_json_mode_asks_for_a_json_object() -> None:
    mentions_json = CompletionRequest(messages=(Message("user", "Reply in JSON: {...}"),), json_mode=True)
    silent = CompletionRequest(messages=(Message("user", "Extract the fields."),), json_mode=True)
    with FakeOpenAIServer(reply='{"ok": true}') as server:
        completion = complete(lambda: _provider(server), mentions_json)
        complete(lambda: _provider(server), silent)
    first, second = (request.body for request in server.requests)
    assert completion.text == '{"ok": true}'
    assert first["response_format"] == {"type": "json_object"}
    assert first["messages"] == [{"role": "user", "content": "Reply in JSON: {...}"}]
    # OpenAI refuses json_object unless the conversation mentions JSON: the provider says it once.
    assert second["messages"][0] == {"role": "system", "content": JSON_INSTRUCTION}
    assert second["response_format"] == {"type": "json_object"}


def test_tool_calls_without_text_are_returned_as_json() -> None:
    calls = [("get_weather", {"city": "Paris", "unit": "C"}), ("get_time", {})]
    with FakeOpenAIServer(reply="", tool_calls=calls) as server:
        completion = complete(lambda: _provider(server))
    assert json.loads(completion.text) == [
        {"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}},
        {"name": "get_time", "arguments": {}},
    ]


def test_tool_calls_follow_the_text_when_there_is_some() -> None:
    with FakeOpenAIServer(reply="Checking.", tool_calls=[("get_weather", {"city": "Paris"})]) as server:
        completion = complete(lambda: _provider(server))
    text, calls = completion.text.split("\n", 1)
    assert text == "Checking."
    assert json.loads(calls) == [{"name": "get_weather", "arguments": {"city": "Paris"}}]


def test_empty_choices_are_not_asked_again_at_once() -> None:
    with FakeOpenAIServer() as server:
        server.respond_next(
            200, {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": []}
        )
        error = failure(lambda: _provider(server))
    assert error.retryable  # later, by the runner
    assert "openai/gpt-4o-mini: malformed response: no choices" in str(error)
    assert len(server.requests) == 1


def test_missing_usage_gives_unknown_tokens() -> None:
    answer = {
        "id": "local-1",
        "object": "chat.completion",
        "created": 1,
        "model": "llama3.1:8b",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    }
    with FakeOpenAIServer() as server:
        server.respond_next(200, answer)
        completion = complete(lambda: _provider(server))
    assert (completion.text, completion.model) == ("hi", "llama3.1:8b")
    assert (completion.input_tokens, completion.output_tokens) == (None, None)


def test_openai_itself_gets_max_completion_tokens() -> None:
    assert token_limit_field(None) == token_limit_field(OPENAI_BASE_URL) == "max_completion_tokens"
    assert token_limit_field("http://localhost:11434/v1") == "max_tokens"
