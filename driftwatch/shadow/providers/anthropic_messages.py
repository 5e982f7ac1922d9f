"""Anthropic's Messages API (``POST /v1/messages``), non-streaming."""

from __future__ import annotations

from typing import Any, cast

import anthropic
import httpx2
from anthropic.types import Message as AnthropicMessage
from anthropic.types import MessageParam

from driftwatch.shadow.providers.base import Completion, CompletionRequest
from driftwatch.shadow.providers.conversation import JSON_INSTRUCTION, SYSTEM_ROLES
from driftwatch.shadow.providers.retry import malformed
from driftwatch.shadow.providers.sdk_errors import sdk_errors
from driftwatch.shadow.providers.sdk_provider import SdkProvider
from driftwatch.shadow.providers.tool_calls import ToolCall, completion_text

ANTHROPIC_BASE_URL = "https://api.anthropic.com"


class AnthropicProvider(SdkProvider[anthropic.AsyncAnthropic]):
    """One Claude model behind the Messages API (or a gateway speaking it at ``base_url``).

    ``AnthropicProvider(*, model, api_key, base_url=None, max_concurrency=16, timeout_seconds=60.0,
    retry=None)``; ``base_url`` None is Anthropic's own API.
    """

    kind = "anthropic"
    default_base_url = ANTHROPIC_BASE_URL

    def _open(self, transport: httpx2.AsyncBaseTransport, **options: Any) -> anthropic.AsyncAnthropic:
        http_client = anthropic.DefaultAsyncHttpxClient(transport=transport, timeout=options["timeout"])
        return anthropic.AsyncAnthropic(http_client=http_client, **options)

    async def _attempt(self, request: CompletionRequest) -> Completion:
        system, messages = messages_params(request)
        # `temperature` is never sent: the Messages API answers 400 to any sampling parameter since API
        # version 2026-10-21 (the default of SDK 2.x, which dropped the parameter) and for Opus 4.7 on
        # any version. A replay is then sampled at the model's default, which a judge must tolerate.
        options: dict[str, Any] = {"system": system} if system else {}
        with sdk_errors(self.name):
            message: AnthropicMessage = await self._client.messages.create(
                model=self.model, max_tokens=request.max_output_tokens, messages=messages, **options
            )
        return self._completion(message)

    def _completion(self, message: AnthropicMessage) -> Completion:
        # The SDK does not validate shapes: a gateway's odd answer arrives with fields set to None.
        if message.content is None:
            raise malformed(self.name, "no content in the answer")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in message.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                calls.append(ToolCall(block.name, block.input))
            # thinking and server-tool blocks are the model's working, not its answer
        usage = message.usage
        return Completion(
            # Text blocks are consecutive pieces of one answer (split at citations): joined as they are.
            text=completion_text("".join(texts), calls),
            model=message.model or self.model,
            input_tokens=_prompt_tokens(usage) if usage else None,
            output_tokens=usage.output_tokens if usage else None,
            response_id=message.id,
            latency_seconds=0.0,  # measured by the gate
        )


def messages_params(request: CompletionRequest) -> tuple[str, list[MessageParam]]:
    """The ``system`` parameter and the ``messages`` of a Messages API request.

    The API takes instructions only as ``system`` and wants user and assistant turns to alternate, while
    a recorded conversation may hold system messages anywhere and several user messages in a row: system
    messages are joined into ``system`` in order, consecutive turns of one role merged, any role but
    assistant (tool results, unknown roles) sent as the user's.
    """
    system = [message.content for message in request.messages if message.role in SYSTEM_ROLES]
    if request.json_mode:  # the Messages API has no JSON mode: ask for it in words
        system.append(JSON_INSTRUCTION)
    turns: list[tuple[str, list[str]]] = []
    for message in request.messages:
        if message.role in SYSTEM_ROLES:
            continue
        role = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1][0] == role:
            turns[-1][1].append(message.content)
        else:
            turns.append((role, [message.content]))
    params = [cast(MessageParam, {"role": role, "content": "\n\n".join(parts)}) for role, parts in turns]
    return "\n\n".join(system), params


def _prompt_tokens(usage: anthropic.types.Usage) -> int:
    # Anthropic counts cache reads and writes apart from `input_tokens`; the whole prompt, as OpenAI's
    # `prompt_tokens` counts it, is their sum.
    return (
        usage.input_tokens + (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0)
    )
