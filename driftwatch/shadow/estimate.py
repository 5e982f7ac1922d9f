"""What a shadow evaluation will ask and what it may cost, decided before any money is spent (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson

from driftwatch.prices.pricing import PriceTable
from driftwatch.shadow.providers.base import CompletionRequest, Message

# A different model tokenises the same prompt differently; 25% covers the spread between the major
# tokenisers on English and code, so the reservation stays an upper bound.
TOKENIZER_MARGIN = 1.25
CHARS_PER_TOKEN = 4
MIN_OUTPUT_TOKENS = 512
MAX_OUTPUT_TOKENS = 4096


class UnreplayablePrompt(ValueError):
    """The stored prompt is not a list of messages driftwatch can send again."""


def replay_request(prompt_json: str, completion: str, output_tokens: int | None) -> CompletionRequest:
    """The reference tier gets the call's own messages, and room for an answer several times longer
    than the evaluated one (so it is never cut short where the cheap answer was not)."""
    try:
        raw = orjson.loads(prompt_json)
    except orjson.JSONDecodeError as error:
        raise UnreplayablePrompt(f"prompt is not JSON: {error}") from None
    if not isinstance(raw, list) or not raw:
        raise UnreplayablePrompt("prompt is not a non-empty list of messages")
    messages = []
    for item in raw:
        if not isinstance(item, dict):
            raise UnreplayablePrompt("a prompt message is not an object")
        content = item.get("content")
        text = content if isinstance(content, str) else orjson.dumps(content).decode("utf-8")
        messages.append(Message(role=str(item.get("role") or "user"), content=text))
    observed = output_tokens if output_tokens is not None else approximate_tokens(completion)
    budget = min(MAX_OUTPUT_TOKENS, max(MIN_OUTPUT_TOKENS, 4 * observed))
    return CompletionRequest(messages=tuple(messages), max_output_tokens=budget)


def approximate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class ShadowEstimate:
    input_tokens: int
    max_output_tokens: int
    cost_usd: float


def estimate_replay(
    request: CompletionRequest, input_tokens: int | None, model: str, prices: PriceTable
) -> ShadowEstimate:
    """Upper estimate of one replay: the call's input tokens (or characters / 4) plus the tokenizer
    margin, and the whole output allowance. Raises KeyError when the model has no price."""
    if input_tokens is None:
        input_tokens = sum(approximate_tokens(m.content) + 4 for m in request.messages)
    padded_input = math.ceil(input_tokens * TOKENIZER_MARGIN)
    cost = prices.cost(model, padded_input, request.max_output_tokens)
    if cost is None:
        raise KeyError(model)
    return ShadowEstimate(padded_input, request.max_output_tokens, cost)


def worst_case_reference(request: CompletionRequest) -> str:
    """A stand-in for the reference answer before it exists, as long as it may become, so that a
    judge's cost estimate (which grows with the answers' length) is an upper bound."""
    return " " * (request.max_output_tokens * CHARS_PER_TOKEN)
