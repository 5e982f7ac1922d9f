"""The Anthropic provider on the wire: system prompt, turn merging, tool use, token counts."""

from __future__ import annotations

import json

from driftwatch.shadow.providers.anthropic_messages import AnthropicProvider
from driftwatch.shadow.providers.base import CompletionRequest, Message
from driftwatch.shadow.providers.conversation import JSON_INSTRUCTION
from tests.fakes import FakeAnthropicServer
from tests.shadow.providers.support import FAST_RETRY, MIXED, complete


def _provider(server: FakeAnthropicServer) -> AnthropicProvider:
    return AnthropicProvider(
        model="claude-opus-4-7", api_key="sk-ant-test", base_url=server.base_url, retry=FAST_RETRY
    )


def test_system_messages_go_to_the_system_parameter_and_turns_alternate() -> None:
    with FakeAnthropicServer(reply="negative") as server:
        completion = complete(lambda: _provider(server), MIXED)
    [sent] = server.requests
    assert completion.text == "negative"
    assert sent.body["system"] == "Classify.\n\nOne word."
    assert sent.body["messages"] == [
        {"role": "user", "content": "Great phone.\n\nBattery lasts two days."},
        {"role": "assistant", "content": "positive"},
        {"role": "user", "content": "lookup result\n\nAnd this one?"},
    ]
    assert sent.body["max_tokens"] == 32
    assert "temperature" not in sent.body  # the current Messages API refuses sampling parameters


def test_no_system_message_sends_no_system_parameter() -> None:
    with FakeAnthropicServer() as server:
        complete(lambda: _provider(server), CompletionRequest(messages=(Message("user", "Hi"),)))
    assert "system" not in server.requests[0].body


def test_json_mode_is_asked_for_in_the_system_prompt() -> None:
    request = CompletionRequest(
        messages=(Message("system", "Extract."), Message("user", "x")), json_mode=True
    )
    with FakeAnthropicServer(reply="{}") as server:
        complete(lambda: _provider(server), request)
    assert server.requests[0].body["system"] == f"Extract.\n\n{JSON_INSTRUCTION}"


def test_tool_use_blocks_are_returned_as_json() -> None:
    with FakeAnthropicServer(reply="", tool_calls=[("get_weather", {"city": "Paris"})]) as server:
        bare = complete(lambda: _provider(server))
        server.reply = "Let me check."
        with_text = complete(lambda: _provider(server))
    assert json.loads(bare.text) == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert with_text.text == f"Let me check.\n{bare.text}"


def test_text_blocks_are_concatenated_and_cache_tokens_count_as_input() -> None:
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-7-20260101",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Paris is "},
            {"type": "text", "text": "the capital."},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
        },
    }
    with FakeAnthropicServer() as server:
        server.respond_next(200, answer)
        completion = complete(lambda: _provider(server))
    assert completion.text == "Paris is the capital."
    assert completion.model == "claude-opus-4-7-20260101"
    assert (completion.input_tokens, completion.output_tokens) == (130, 5)
    assert completion.response_id == "msg_1"


def test_overloaded_is_retried() -> None:
    with FakeAnthropicServer(reply="ok") as server:
        server.fail_next(529)
        assert complete(lambda: _provider(server)).text == "ok"
    assert len(server.requests) == 2
