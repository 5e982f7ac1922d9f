"""The fakes answer the real SDK clients the way the providers do, so other tests can trust them."""

from __future__ import annotations

import asyncio
import random
import re

import anthropic
import openai
import pytest

from tests.fakes import FakeAnthropicServer, FakeOpenAIServer

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "system", "content": "Classify."},
    {"role": "user", "content": "Great phone."},
]


def test_openai_chat_completion_round_trip() -> None:
    with (
        FakeOpenAIServer(reply="positive", prompt_tokens=42, completion_tokens=7) as server,
        openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client,
    ):
        response = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert response.model == "gpt-4o-mini"
    assert response.choices[0].message.content == "positive"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (42, 7)
    assert response.usage.total_tokens == 49
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.body["messages"] == MESSAGES
    assert request.headers["authorization"] == "Bearer test"


def test_openai_answers_ollama_style_ids_that_repeat() -> None:
    with (
        FakeOpenAIServer(ollama_ids=random.Random(13)) as server,
        openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client,
    ):
        ids = [client.chat.completions.create(model="llama3", messages=MESSAGES).id for _ in range(60)]

    assert all(re.fullmatch(r"chatcmpl-\d{1,3}", answer) and int(answer[9:]) < 999 for answer in ids)
    assert len(set(ids)) < len(ids)


def test_openai_reply_per_request_and_response_model() -> None:
    with (
        FakeOpenAIServer(reply=lambda body: f"from {body['model']}", response_model="snapshot-1") as server,
        openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client,
    ):
        response = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert response.choices[0].message.content == "from gpt-4o"
    assert response.model == "snapshot-1"


def test_injected_failures_are_retried_by_the_sdk() -> None:
    with (
        FakeOpenAIServer() as server,
        openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=1) as client,
    ):
        server.fail_next(429, retry_after=0.01)
        client.chat.completions.create(model="m", messages=MESSAGES)
        assert len(server.requests) == 2

        server.fail_next(500, times=2)
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="m", messages=MESSAGES)
        assert len(server.requests) == 4


def test_unknown_route_and_streaming_are_refused() -> None:
    with (
        FakeOpenAIServer() as server,
        openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client,
    ):
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="m", input="x")


def test_anthropic_messages_round_trip() -> None:
    with (
        FakeAnthropicServer(reply="negative", input_tokens=11, output_tokens=3) as server,
        anthropic.Anthropic(base_url=server.base_url, api_key="test", max_retries=0) as client,
    ):
        message = client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=16,
            system="Classify.",
            messages=[{"role": "user", "content": "Bad phone."}],
        )
        server.fail_next(529)
        with pytest.raises(anthropic.APIStatusError) as failure:
            client.messages.create(model="m", max_tokens=1, messages=[{"role": "user", "content": "x"}])

    assert message.model == "claude-haiku-4-5"
    assert message.content[0].type == "text"
    assert message.content[0].text == "negative"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (11, 3)
    assert failure.value.status_code == 529
    assert server.requests[0].path == "/v1/messages"
    assert server.requests[0].body["system"] == "Classify."


async def _async_openai(base_url: str) -> str | None:
    async with openai.AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0) as client:
        response = await client.chat.completions.create(model="m", messages=MESSAGES)
    return response.choices[0].message.content


def test_async_client_and_timeouts() -> None:
    with FakeOpenAIServer(reply="async") as server:
        assert asyncio.run(_async_openai(server.base_url)) == "async"
    with (
        FakeOpenAIServer(delay=0.5) as slow,
        openai.OpenAI(base_url=slow.base_url, api_key="test", max_retries=0, timeout=0.05) as client,
        pytest.raises(openai.APITimeoutError),
    ):
        client.chat.completions.create(model="m", messages=MESSAGES)


def test_base_url_needs_a_running_server() -> None:
    server = FakeOpenAIServer()
    with pytest.raises(RuntimeError):
        _ = server.base_url
