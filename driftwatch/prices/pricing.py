"""What a call costs: providers' list prices (:mod:`driftwatch.prices.list_prices`), overridable per deployment.

The policy's ``prices:`` win over the list (matched by :mod:`driftwatch.prices.models_table`'s rules, so an
override of ``gpt-4o`` also prices ``gpt-4o-2024-08-06``); any other model is priced from the list,
where a dated snapshot the list knows is priced as itself.  Unknown model → ``None``, never a guess.

Token counts follow the conventions the instrumentations share: input tokens are the whole prompt,
cached reads and cache writes *included*; output tokens include reasoning tokens.  The parts that have
a rate of their own are passed as :class:`TokenDetails` and priced at it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from driftwatch.prices.list_prices import ListedModel, ListPrices
from driftwatch.prices.models_table import ModelTable


class ModelPrice(BaseModel):
    """Price of one model in USD per million tokens.  Without a rate of their own, cached input tokens
    are priced at the input rate and reasoning tokens at the output rate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cache_read_per_mtok: float | None = Field(None, ge=0)
    cache_write_per_mtok: float | None = Field(None, ge=0)
    reasoning_per_mtok: float | None = Field(None, ge=0)

    def cost(self, input_tokens: int, output_tokens: int, details: TokenDetails) -> float:
        cache_read, cache_write, reasoning = (
            details.cache_read or 0,
            details.cache_write or 0,
            details.reasoning or 0,
        )
        input_rate, output_rate = self.input_per_mtok, self.output_per_mtok
        per_mtok = (
            (input_tokens - cache_read - cache_write) * input_rate
            + cache_read * _or(self.cache_read_per_mtok, input_rate)
            + cache_write * _or(self.cache_write_per_mtok, input_rate)
            + (output_tokens - reasoning) * output_rate
            + reasoning * _or(self.reasoning_per_mtok, output_rate)
        )
        return per_mtok / 1_000_000


@dataclass(frozen=True, slots=True)
class TokenDetails:
    """The parts of a call's tokens that have their own rate: cache reads and cache writes (part of the
    input tokens) and reasoning tokens (part of the output tokens).  ``None``: not reported."""

    cache_read: int | None = None
    cache_write: int | None = None
    reasoning: int | None = None

    def fits(self, input_tokens: int, output_tokens: int) -> bool:
        """Whether the parts fit in the totals; counts that contradict each other price nothing."""
        return (self.cache_read or 0) + (self.cache_write or 0) <= input_tokens and (
            self.reasoning or 0
        ) <= output_tokens


NO_DETAILS = TokenDetails()
_LIST_PRICES = ListPrices()  # the bundled data never changes: one lookup cache for every table


class PriceTable:
    """Prices by model name: ``overrides`` first, then the list prices.  ``cost`` is ``None`` whenever the
    model or a token count is unknown.  ``at`` is when the call was made (list prices change on dates);
    without it, today's prices."""

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None) -> None:
        self._overrides = ModelTable(overrides or {})
        self._list = _LIST_PRICES

    def price(self, model: str | None, *, at: datetime | None = None) -> ModelPrice | None:
        override = self._overrides.get(model)
        if override is not None:
            return override
        listed = self._list.get(model)
        return listed_price(listed, at) if listed is not None else None

    def cost(
        self,
        model: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        details: TokenDetails = NO_DETAILS,
        *,
        at: datetime | None = None,
    ) -> float | None:
        if input_tokens is None or output_tokens is None or not details.fits(input_tokens, output_tokens):
            return None
        price = self._overrides.get(model)
        if price is None and (listed := self._list.get(model)) is not None:
            price = listed_price(listed, at, input_tokens)
        return None if price is None else price.cost(input_tokens, output_tokens, details)


def listed_price(listed: ListedModel, at: datetime | None, input_tokens: int = 0) -> ModelPrice | None:
    """The list entry as one rate per kind of token, for a prompt of ``input_tokens`` (long prompts pass
    into dearer tiers); ``None`` for a model the list prices by something other than tokens alone."""
    rates = listed.rates(at, input_tokens)
    return None if rates is None else _model_price(tuple(rates.items()))


@lru_cache(maxsize=1024)
def _model_price(rates: tuple[tuple[str, Decimal | None], ...]) -> ModelPrice | None:
    by_kind = dict(rates)
    if by_kind["input"] is None or by_kind["output"] is None:
        return None
    return ModelPrice(**{f"{kind}_per_mtok": None if rate is None else float(rate) for kind, rate in rates})


def _or(rate: float | None, fallback: float) -> float:
    return fallback if rate is None else rate
