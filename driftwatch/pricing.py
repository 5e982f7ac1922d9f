"""What a call costs: a price table in USD per million tokens, defaults overridable per deployment.

Unknown model → ``None``, never a guess (see :mod:`driftwatch.models_table` for the name matching).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from driftwatch.models_table import ModelTable


class ModelPrice(BaseModel):
    """List price of one model in USD per million tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


def _price(input_per_mtok: float, output_per_mtok: float) -> ModelPrice:
    return ModelPrice(input_per_mtok=input_per_mtok, output_per_mtok=output_per_mtok)


# Public list prices (standard tier, no batch or cache discounts) as of 2026-11.
DEFAULT_PRICES: Mapping[str, ModelPrice] = {
    # Anthropic
    "claude-haiku-4-5": _price(1, 5),
    "claude-3-5-haiku": _price(0.8, 4),
    "claude-3-haiku": _price(0.25, 1.25),
    "claude-sonnet-4-6": _price(3, 15),
    "claude-sonnet-4-5": _price(3, 15),
    "claude-sonnet-4": _price(3, 15),
    "claude-3-7-sonnet": _price(3, 15),
    "claude-opus-4-7": _price(5, 25),
    "claude-opus-4-6": _price(5, 25),
    "claude-opus-4-5": _price(5, 25),
    "claude-opus-4-1": _price(15, 75),
    "claude-opus-4": _price(15, 75),
    # OpenAI
    "gpt-4o": _price(2.5, 10),
    "gpt-4o-mini": _price(0.15, 0.6),
    "gpt-4.1": _price(2, 8),
    "gpt-4.1-mini": _price(0.4, 1.6),
    "gpt-4.1-nano": _price(0.1, 0.4),
    "gpt-5": _price(1.25, 10),
    "gpt-5-mini": _price(0.25, 2),
    "gpt-5-nano": _price(0.05, 0.4),
    "gpt-4-turbo": _price(10, 30),
    "gpt-4-1106-preview": _price(10, 30),
    "gpt-3.5-turbo": _price(0.5, 1.5),
    "o3": _price(2, 8),
    "o4-mini": _price(1.1, 4.4),
    # Google
    "gemini-2.5-pro": _price(1.25, 10),
    "gemini-2.5-flash": _price(0.3, 2.5),
    "gemini-2.5-flash-lite": _price(0.1, 0.4),
    "gemini-2.0-flash": _price(0.1, 0.4),
    "gemini-2.0-flash-lite": _price(0.075, 0.3),
}


class PriceTable:
    """Prices by model name; ``cost`` is ``None`` whenever the model or a token count is unknown."""

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self._prices = ModelTable(prices)

    def price(self, model: str | None) -> ModelPrice | None:
        return self._prices.get(model)

    def cost(self, model: str | None, input_tokens: int | None, output_tokens: int | None) -> float | None:
        price = self._prices.get(model)
        if price is None or input_tokens is None or output_tokens is None:
            return None
        return (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1_000_000
