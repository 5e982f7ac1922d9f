"""A fake Anthropic Messages endpoint (``POST /v1/messages``, non-streaming).

Same purpose and API as ``FakeOpenAIServer``, in the Anthropic wire shape::

    with FakeAnthropicServer(reply="positive", input_tokens=42, output_tokens=7) as server:
        client = anthropic.Anthropic(base_url=server.base_url, api_key="test")
        client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=[...])
"""

from __future__ import annotations

from collections.abc import Sequence

from tests.fakes._http import FakeLLMServer, JsonObject, Reply, ToolCall


class FakeAnthropicServer(FakeLLMServer):
    """Messages API fake. ``base_url`` is the root URL: the ``anthropic`` client adds ``/v1/messages``."""

    route = "/v1/messages"

    def __init__(
        self,
        *,
        reply: Reply = "positive",
        input_tokens: int = 42,
        output_tokens: int = 7,
        cache_read_input_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
        response_model: str | None = None,
        response_id: str | None = None,
        stop_reason: str = "end_turn",
        tool_calls: Sequence[ToolCall] = (),
        delay: float = 0.0,
    ) -> None:
        """As in the real API, ``input_tokens`` excludes the cache tokens: the prompt's total is
        ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``.

        ``response_model`` None echoes the request's model.

        ``tool_calls`` (name, input) adds ``tool_use`` blocks after the text block (left out when the
        reply is ``""``), with ``stop_reason`` ``tool_use``."""
        super().__init__(reply=reply, delay=delay)
        self.tool_calls = tuple(tool_calls)
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cache_read_input_tokens = cache_read_input_tokens
        self.cache_creation_input_tokens = cache_creation_input_tokens
        self.response_model = response_model
        self.response_id = response_id
        self.stop_reason = stop_reason

    def _content(self, body: JsonObject) -> list[JsonObject]:
        text = self._reply_text(body)
        blocks: list[JsonObject] = [{"type": "text", "text": text}] if text or not self.tool_calls else []
        blocks += [
            {"type": "tool_use", "id": f"toolu_fake{index}", "name": name, "input": arguments}
            for index, (name, arguments) in enumerate(self.tool_calls)
        ]
        return blocks

    def _complete(self, body: JsonObject) -> JsonObject:
        return {
            "id": self._response_id(self.response_id, "msg_fake"),
            "type": "message",
            "role": "assistant",
            "model": self.response_model or body["model"],
            "content": self._content(body),
            "stop_reason": "tool_use" if self.tool_calls else self.stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "cache_creation_input_tokens": self.cache_creation_input_tokens,
                "cache_read_input_tokens": self.cache_read_input_tokens,
            },
        }

    def _error_body(self, status: int, message: str) -> JsonObject:
        kinds = {
            400: "invalid_request_error",
            401: "authentication_error",
            404: "not_found_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }
        return {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": message}}
