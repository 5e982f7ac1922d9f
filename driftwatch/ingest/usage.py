"""Pure: the parts of a call's tokens that have a rate of their own, as the instrumentations report them.

Cache reads and cache writes are part of the reported input tokens in every convention captured in
``tests/fixtures/instrumentations`` (Anthropic's 42 uncached + 10 read + 5 written arrive as 57 input
tokens), and reasoning tokens are part of the output tokens (OpenAI's ``completion_tokens``), so they
are passed to the price table as parts of those totals (:class:`driftwatch.prices.pricing.TokenDetails`).
"""

from __future__ import annotations

from driftwatch.ingest.genai import _first_int
from driftwatch.ingest.otlp import AttributeValue
from driftwatch.prices.pricing import TokenDetails

# First key present wins, in the order of NOTES.md's mapper cheat sheet.
_CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",  # OTel GenAI semconv, Traceloop ≥ 0.55, anthropic SDK
    "gen_ai.usage.cache_read_input_tokens",  # Traceloop ≤ 0.54
    "llm.token_count.prompt_details.cache_read",  # OpenInference
)
_CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",  # OTel GenAI semconv, Traceloop ≥ 0.55
    "gen_ai.usage.cache_write.input_tokens",  # anthropic SDK
    "gen_ai.usage.cache_creation_input_tokens",  # Traceloop ≤ 0.54
    "llm.token_count.prompt_details.cache_write",  # OpenInference
)
_REASONING = (
    "gen_ai.usage.reasoning.output_tokens",  # OTel GenAI semconv
    "gen_ai.usage.reasoning_tokens",  # Traceloop ≥ 0.55
    "llm.usage.reasoning_tokens",  # Traceloop ≤ 0.54
    "llm.token_count.completion_details.reasoning",  # OpenInference
)


def token_details(attributes: dict[str, AttributeValue]) -> TokenDetails:
    return TokenDetails(
        cache_read=_first_int(attributes, *_CACHE_READ),
        cache_write=_first_int(attributes, *_CACHE_WRITE),
        reasoning=_first_int(attributes, *_REASONING),
    )
