"""Providers' list prices, from the ``genai-prices`` package's bundled data.

``genai-prices`` (pydantic/genai-prices) tracks each provider's published rates with their history
(dated snapshots such as ``gpt-4o-2024-05-13`` are models of their own, price changes take effect on
their date) and the cache-read, cache-write and reasoning rates.  Only the data shipped inside the
installed package is read: its ``UpdatePrices`` downloader is never started and a snapshot another
library may have installed in-process is ignored, so pricing never touches the network and a given
driftwatch install always prices alike.

A model is found as the package finds it (the provider whose names it serves, then that provider's
match rules), tried as reported and without a ``provider/`` prefix; anything else is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING

from driftwatch.prices.models_table import ModelTable

if TYPE_CHECKING:  # the data module takes ~0.2 s to import: loaded on the first lookup, not at start-up
    from genai_prices.types import ModelInfo, Provider, TieredPrices
    from genai_prices.types import ModelPrice as GenaiModelPrice


@dataclass(frozen=True, slots=True)
class ListedModel:
    """One model of the price data and the provider whose list it is on."""

    provider: Provider
    model: ModelInfo

    def rates(self, at: datetime | None, input_tokens: int = 0) -> dict[str, Decimal | None] | None:
        """Rates in USD per million tokens on ``at`` (default: today) for a prompt of ``input_tokens``:
        a rate that rises past a prompt length applies to the whole call once the prompt passes it (the
        list's "cliff" tiers, as its own ``calc_price`` applies them).  ``None`` when the list also
        charges each request a fee (Perplexity): a price without it would be a wrong one."""
        rates = _rates_of(self.model.get_prices(at or datetime.now(UTC)))
        if rates is None:
            return None
        return {kind: _tier(rate, input_tokens) for kind, rate in rates.items()}


class ListPrices(ModelTable[ListedModel]):
    """Model name → its entry in the bundled price data (``get``), with ModelTable's bounded cache of
    lookups but the list's own name matching."""

    def __init__(self) -> None:
        super().__init__({})

    def _lookup(self, key: str) -> ListedModel | None:
        return _lookup(key) or _lookup(key.rsplit("/", 1)[-1])


def _lookup(model: str) -> ListedModel | None:
    # genai_prices.calc_price finds the model the same way, but caches every miss without bound and
    # prefers a snapshot set by UpdatePrices; this reads the bundled list only.
    for provider in _providers():
        if provider.model_match is not None and provider.model_match.is_match(model):
            found = provider.find_model(model, all_providers=_providers())
            return ListedModel(provider, found) if found is not None else None
    return None


@cache
def _providers() -> list[Provider]:
    from genai_prices.data import providers

    return providers


_RATE_KEYS = {
    "input": "input_mtok",
    "output": "output_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "reasoning": "output_reasoning_mtok",
}
Rates = dict[str, "Decimal | TieredPrices | None"]
_rates_cache: dict[int, tuple[GenaiModelPrice, Rates | None]] = {}


def _rates_of(prices: GenaiModelPrice) -> Rates | None:
    # Reading an absent rate off the library's price object goes through its unit registry (~5 µs); the
    # bundled price objects live as long as the process, so each is read once.
    key = id(prices)
    if key not in _rates_cache:
        rates = (
            None
            if prices.requests_kcount is not None
            else {kind: getattr(prices, price_key) for kind, price_key in _RATE_KEYS.items()}
        )
        _rates_cache[key] = (prices, rates)
    return _rates_cache[key][1]


def _tier(price: Decimal | TieredPrices | None, input_tokens: int) -> Decimal | None:
    if price is None or isinstance(price, Decimal):
        return price
    passed = [tier.price for tier in price.tiers if input_tokens > tier.start]
    return passed[-1] if passed else price.base
