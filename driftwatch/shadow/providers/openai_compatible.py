"""Any OpenAI-compatible chat-completions API: OpenAI itself, Azure-style gateways, vLLM, Ollama,
OpenRouter, a LiteLLM proxy. What differs between them is the base URL, the key and the model name."""

from __future__ import annotations

from typing import Any, cast

import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessage, ChatCompletionMessageParam

from driftwatch.shadow.providers.base import Completion, CompletionRequest, Message
from driftwatch.shadow.providers.conversation import JSON_INSTRUCTION, SYSTEM_ROLES
from driftwatch.shadow.providers.retry import malformed
from driftwatch.shadow.providers.sdk_errors import sdk_errors
from driftwatch.shadow.providers.sdk_provider import SdkProvider
from driftwatch.shadow.providers.tool_calls import ToolCall, completion_text

OPENAI_BASE_URL = "https://api.openai.com/v1"

# Roles a chat-completions API takes without extra fields. A replayed "tool" message lacks the
# tool_call_id the API demands (400), so it and any unknown role are sent as the user's words.
_ROLES = SYSTEM_ROLES | {"user", "assistant"}


class OpenAICompatibleProvider(SdkProvider[openai.AsyncOpenAI]):
    """One model behind an OpenAI-compatible ``/chat/completions`` endpoint, non-streaming.

    ``OpenAICompatibleProvider(*, model, api_key, base_url=None, max_concurrency=16,
    timeout_seconds=60.0, retry=None)``; ``base_url`` None is OpenAI's own API.
    """

    kind = "openai"
    default_base_url = OPENAI_BASE_URL

    def _open(self, transport: httpx2.AsyncBaseTransport, **options: Any) -> openai.AsyncOpenAI:
        http_client = openai.DefaultAsyncHttpxClient(transport=transport, timeout=options["timeout"])
        return openai.AsyncOpenAI(http_client=http_client, **options)

    async def _attempt(self, request: CompletionRequest) -> Completion:
        # Optional fields go in only when set: older SDKs and strict servers differ on explicit nulls.
        options: dict[str, Any] = {token_limit_field(self._base_url): request.max_output_tokens}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.json_mode:
            options["response_format"] = {"type": "json_object"}
        with sdk_errors(self.name):
            response: ChatCompletion = await self._client.chat.completions.create(
                model=self.model, messages=chat_messages(request), stream=False, **options
            )
        return self._completion(response)

    def _completion(self, response: ChatCompletion) -> Completion:
        # The SDK does not validate shapes: a gateway's odd answer arrives with fields set to None.
        if not response.choices or response.choices[0].message is None:
            raise malformed(self.name, "no choices in the answer")
        message = response.choices[0].message
        usage = response.usage
        return Completion(
            text=completion_text(message.content or message.refusal or "", _tool_calls(message)),
            model=response.model or self.model,
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,
            response_id=response.id,
            latency_seconds=0.0,  # measured by the gate
        )


def token_limit_field(base_url: str | None) -> str:
    """The request field that caps the answer's length at ``base_url`` (None: OpenAI's own API).

    OpenAI's reasoning models refuse ``max_tokens``, and every current OpenAI model takes
    ``max_completion_tokens``; compatible servers (Ollama, older vLLM, many gateways) know only
    ``max_tokens``."""
    return "max_completion_tokens" if base_url in (None, OPENAI_BASE_URL) else "max_tokens"


def chat_messages(request: CompletionRequest) -> list[ChatCompletionMessageParam]:
    """The request's conversation as chat-completions messages (see ``_ROLES``, ``JSON_INSTRUCTION``)."""
    messages = list(request.messages)
    if request.json_mode and not any("json" in message.content.lower() for message in messages):
        messages.insert(0, Message("system", JSON_INSTRUCTION))
    return [
        cast(
            ChatCompletionMessageParam,
            {"role": message.role if message.role in _ROLES else "user", "content": message.content},
        )
        for message in messages
    ]


def _tool_calls(message: ChatCompletionMessage) -> list[ToolCall]:
    calls = []
    for call in message.tool_calls or ():
        if call.type == "function":
            calls.append(ToolCall.from_wire(call.function.name, call.function.arguments))
        else:
            calls.append(ToolCall(call.custom.name, call.custom.input))
    if message.function_call is not None:  # the deprecated single-call form some servers still send
        calls.append(ToolCall.from_wire(message.function_call.name, message.function_call.arguments))
    return calls
