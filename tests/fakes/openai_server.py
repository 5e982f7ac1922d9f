"""A fake OpenAI Chat Completions endpoint (``POST /v1/chat/completions``, non-streaming).

It answers with the real wire shape and deterministic, configurable token counts, so tests can point the
real ``openai`` client (instrumented or not) or driftwatch's own OpenAI-compatible shadow provider at it
and assert exact tokens, cost and content::

    with FakeOpenAIServer(reply="positive", prompt_tokens=42, completion_tokens=7) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        assert server.requests[0].body["model"] == "gpt-4o-mini"
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from tests.fakes._http import FakeLLMServer, JsonObject, Reply, ToolCall


class FakeOpenAIServer(FakeLLMServer):
    """Chat Completions fake. ``base_url`` ends in ``/v1``, as the ``openai`` client expects."""

    route = "/v1/chat/completions"

    def __init__(
        self,
        *,
        reply: Reply = "positive",
        prompt_tokens: int = 42,
        completion_tokens: int = 7,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
        response_model: str | None = None,
        response_id: str | None = None,
        created: int = 1_700_000_000,
        finish_reason: str = "stop",
        system_fingerprint: str | None = "fp_fake",
        tool_calls: Sequence[ToolCall] = (),
        delay: float = 0.0,
        ollama_ids: random.Random | None = None,
    ) -> None:
        """As in the real API, ``prompt_tokens`` includes ``cached_tokens`` and ``completion_tokens``
        includes ``reasoning_tokens`` (both reported again under ``*_tokens_details``).

        ``response_model`` None echoes the request's model; a real API answers with a dated
        snapshot (``gpt-4o-mini`` → ``gpt-4o-mini-2024-07-18``), which instrumentations record as the
        response model, separately from the request model.

        ``tool_calls`` (name, arguments) makes the assistant call functions; its ``content`` is then
        the reply, or null when the reply is ``""``, as the real API answers a bare tool call.

        ``ollama_ids`` answers ids as Ollama's OpenAI-compatible API does (its chat middleware:
        ``fmt.Sprintf("chatcmpl-%d", rand.Intn(999))``), drawn from this generator: distinct calls
        share an id within a few dozen answers."""
        super().__init__(reply=reply, delay=delay)
        self.tool_calls = tuple(tool_calls)
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.cached_tokens = cached_tokens
        self.reasoning_tokens = reasoning_tokens
        self.response_model = response_model
        self.response_id = response_id
        self.created = created
        self.finish_reason = finish_reason
        self.system_fingerprint = system_fingerprint
        self.ollama_ids = ollama_ids

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def _message(self, body: JsonObject) -> JsonObject:
        message: JsonObject = {
            "role": "assistant",
            "content": self._reply_text(body),
            "refusal": None,
            "annotations": [],
        }
        if self.tool_calls:
            message["content"] = message["content"] or None
            message["tool_calls"] = [
                {
                    "id": f"call_fake{index}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)},
                }
                for index, (name, arguments) in enumerate(self.tool_calls)
            ]
        return message

    def _complete(self, body: JsonObject) -> JsonObject:
        return {
            "id": self._id(),
            "object": "chat.completion",
            "created": self.created,
            "model": self.response_model or body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": self._message(body),
                    "logprobs": None,
                    "finish_reason": "tool_calls" if self.tool_calls else self.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
                "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": self.reasoning_tokens,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": self.system_fingerprint,
        }

    def _id(self) -> str:
        if self.ollama_ids is None:
            return self._response_id(self.response_id, "chatcmpl-fake-")
        with self._lock:
            return f"chatcmpl-{self.ollama_ids.randrange(999)}"

    def _error_body(self, status: int, message: str) -> JsonObject:
        kinds = {
            400: "invalid_request_error",
            401: "authentication_error",
            404: "not_found_error",
            429: "rate_limit_error",
        }
        return {
            "error": {
                "message": message,
                "type": kinds.get(status, "server_error"),
                "param": None,
                "code": None,
            }
        }
