"""What routing calls below the top tier saved (pure): each lower-tier call's tokens at the top tier's
list price, minus what the call cost.

Counted per class and tier over the window's rollup (:class:`ClassSummary`).  A class and tier with
any call whose model has no price is left out whole: the rollup's tokens include those calls but its
cost does not, so counting them would credit tiering with their entire top-tier price.  Calls that
named no tier are left out too (nothing says they were routed down).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from driftwatch.calls.repository import ClassSummary
from driftwatch.prices.pricing import ModelPrice


@dataclass(frozen=True, slots=True)
class Tiering:
    """Totals over the counted calls; ``achieved_usd`` is None (with ``reason``) without a top price."""

    achieved_usd: float | None
    would_have_cost_usd: float | None
    cost_usd: float
    left_out_calls: int
    reason: str | None
    by_class: dict[str, float] = field(default_factory=dict)
    by_class_tier: dict[tuple[str, str], float] = field(default_factory=dict)


def tiering_savings(
    volume: Iterable[ClassSummary], top_tier: str, top_model: str | None, top_price: ModelPrice | None
) -> Tiering:
    """Savings of the calls in ``volume`` routed below ``top_tier`` (priced at ``top_price``)."""
    counted = [row for row in volume if row.tier is not None and row.tier != top_tier]
    left_out = sum(row.calls for row in counted if row.unpriced_calls)
    left_out += sum(row.calls for row in volume if row.tier is None)
    priced = [row for row in counted if not row.unpriced_calls]
    cost = sum(row.cost_usd for row in priced)
    if top_price is None:
        reason = (
            f"no model for the top tier {top_tier!r} (set tier_models or a provider)"
            if top_model is None
            else f"no price for the top tier's model {top_model!r} (add it to the policy's prices)"
        )
        return Tiering(None, None, cost, left_out, reason)
    by_class: dict[str, float] = defaultdict(float)
    by_class_tier: dict[tuple[str, str], float] = defaultdict(float)
    would_have = 0.0
    for row in priced:
        at_top = (
            row.input_tokens * top_price.input_per_mtok + row.output_tokens * top_price.output_per_mtok
        ) / 1e6
        would_have += at_top
        by_class[row.task_class] += at_top - row.cost_usd
        by_class_tier[(row.task_class, str(row.tier))] += at_top - row.cost_usd
    return Tiering(would_have - cost, would_have, cost, left_out, None, dict(by_class), dict(by_class_tier))
