"""Pure: the terms of a ledger day, from the traffic of the day per tier, its shadow spend and the
traffic a promotion moved up.  See ``docs/savings.md`` for the definitions; in short, per class and day::

    net = counterfactual - spend - shadow

``spend`` is what the day's calls cost (their stored ``cost_usd``), ``counterfactual`` what the same
calls would have cost on the reference tier's model (calls on the reference tier at what they cost,
every other call's tokens at the reference model's price of that day, cached input tokens at its cache
rates), ``shadow`` what shadow evaluation spent on the day's calls, and ``promotion_cost`` the part of
``spend`` a promotion added: the spend of the calls on the tier a class was promoted to, from the hour of the promotion
until the class moved again, minus the same tokens at the price of the model of the tier it was
promoted from.  It is inside ``spend`` already, so it is shown, not subtracted again.

A term that needs a price nobody knows is ``None``, never a guess: ``spend`` when any call of the day
is unpriced, ``counterfactual`` too (an unpriced call may lack its token counts) or when the reference
model has no price, ``promotion_cost`` when a promoted call is unpriced or the lower tier's model has no
price, and ``net`` whenever ``spend`` or ``counterfactual`` is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from driftwatch.prices.pricing import ModelPrice, TokenDetails


@dataclass(frozen=True, slots=True)
class Volume:
    """Calls on one tier over some time (an hour's or a day's rollup rows, summed)."""

    tier: str
    calls: int
    unpriced: int
    input_tokens: int
    output_tokens: int
    spend_usd: float  # of the priced calls only
    cache_read_tokens: int = 0  # of input_tokens
    cache_write_tokens: int = 0  # of input_tokens

    @property
    def known_spend(self) -> float | None:
        return self.spend_usd if self.unpriced == 0 else None


@dataclass(frozen=True, slots=True)
class LedgerDay:
    day: str  # YYYY-MM-DD, UTC
    calls: int
    unpriced_calls: int
    spend_usd: float | None
    counterfactual_usd: float | None
    shadow_usd: float
    promotion_cost_usd: float | None
    net_usd: float | None


def at_price(price: ModelPrice | None, volume: Volume) -> float | None:
    """The volume's tokens at ``price``, cached input tokens at its cache rates; ``None`` when the price
    or a call's token counts are unknown."""
    if price is None or volume.unpriced:
        return None
    cached = TokenDetails(cache_read=volume.cache_read_tokens, cache_write=volume.cache_write_tokens)
    if not cached.fits(volume.input_tokens, volume.output_tokens):
        return None
    return price.cost(volume.input_tokens, volume.output_tokens, cached)


def counterfactual(
    volumes: Iterable[Volume], reference_tier: str, reference: ModelPrice | None
) -> float | None:
    """What the volumes would have cost all on the reference tier (its own calls at what they cost)."""
    parts = [v.known_spend if v.tier == reference_tier else at_price(reference, v) for v in volumes]
    return _sum(parts)


def promotion_cost(promoted: Iterable[Volume], lower: ModelPrice | None) -> float | None:
    """Extra spend of calls on a promoted-to tier: their spend minus their tokens on the lower tier."""
    parts: list[float | None] = []
    for volume in promoted:
        spend, there = volume.known_spend, at_price(lower, volume)
        parts.append(None if spend is None or there is None else spend - there)
    return _sum(parts)


def ledger_day(
    day: str,
    volumes: list[Volume],
    shadow_usd: float,
    promotion: float | None,
    reference_tier: str,
    reference: ModelPrice | None,
) -> LedgerDay:
    spend = _sum(v.known_spend for v in volumes)
    instead = counterfactual(volumes, reference_tier, reference)
    net = None if spend is None or instead is None else instead - spend - shadow_usd
    return LedgerDay(
        day=day,
        calls=sum(v.calls for v in volumes),
        unpriced_calls=sum(v.unpriced for v in volumes),
        spend_usd=spend,
        counterfactual_usd=instead,
        shadow_usd=shadow_usd,
        promotion_cost_usd=promotion,
        net_usd=net,
    )


def total(days: Iterable[LedgerDay], label: str = "") -> LedgerDay:
    """The days summed; a term is ``None`` when it is on any day."""
    rows = list(days)
    return LedgerDay(
        day=label,
        calls=sum(d.calls for d in rows),
        unpriced_calls=sum(d.unpriced_calls for d in rows),
        spend_usd=_sum(d.spend_usd for d in rows),
        counterfactual_usd=_sum(d.counterfactual_usd for d in rows),
        shadow_usd=sum(d.shadow_usd for d in rows),
        promotion_cost_usd=_sum(d.promotion_cost_usd for d in rows),
        net_usd=_sum(d.net_usd for d in rows),
    )


def _sum(parts: Iterable[float | None]) -> float | None:
    result = 0.0
    for part in parts:
        if part is None:
            return None
        result += part
    return result
