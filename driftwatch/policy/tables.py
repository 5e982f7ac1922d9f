"""Plain-text tables of the routing policy and of recommendations, for ``driftwatch policy``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from driftwatch.routing.schemas import RecommendationOut, RoutingPolicy


def policy_table(document: RoutingPolicy) -> str:
    tiers = ", ".join(f"{tier.tier} ({tier.model or 'no model'})" for tier in document.tiers)
    default = document.default
    header = [
        f"version {document.version}, generated {_moment(document.generated_at)}",
        f"tiers, cheapest first: {tiers}",
        f"default for other classes: {default.tier} ({default.model or 'no model'})",
        "",
    ]
    rows = [("TASK CLASS", "TIER", "MODEL", "PINNED", "COOL-DOWN UNTIL", "SOURCE")]
    for name, route in document.classes.items():
        pinned = "pinned" if route.pinned else "-"
        rows.append(
            (name, route.tier, route.model or "-", pinned, _moment(route.cooldown_until), route.source)
        )
    return "\n".join(header + _aligned(rows))


def recommendation_table(items: Sequence[RecommendationOut]) -> str:
    if not items:
        return "no recommendations"
    rows = [("ID", "TASK CLASS", "MOVE", "NET SAVINGS / MONTH", "STATUS", "CREATED")]
    for rec in items:
        move = f"{rec.from_tier} -> {rec.to_tier}"
        status = rec.status if rec.decided_by is None else f"{rec.status} by {rec.decided_by}"
        rows.append((str(rec.id), rec.task_class, move, _savings(rec), status, _moment(rec.created_at)))
    return "\n".join(_aligned(rows))


def _savings(rec: RecommendationOut) -> str:
    if rec.monthly_savings_usd is None:
        return "unknown"
    text = f"${rec.monthly_savings_usd:,.2f}"
    if rec.savings_low_usd is not None and rec.savings_high_usd is not None:
        text += f" (${rec.savings_low_usd:,.2f} to ${rec.savings_high_usd:,.2f})"
    return text


def _moment(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _aligned(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
