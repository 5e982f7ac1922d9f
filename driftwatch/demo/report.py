"""The demo's closing words: what happened, in numbers, and what to open next."""

from __future__ import annotations

from typing import Any

from driftwatch.demo.dataset import DRIFTING_CLASSES, PREMIUM_CLASSES, WEAKER_MODEL
from driftwatch.demo.status import DemoOutcome, Money, webhook_count

TOLD = ("model.changed", "degraded", "promoted")
"""The decisions the demo prints as they happen and in its closing report."""


def decision_line(decision: dict[str, Any]) -> str:
    """A degradation with its reason; a promotion without repeating it (the line above has it)."""
    at = f"{decision['created_at'][11:19]} UTC"
    name = decision["task_class"]
    if decision["kind"] == "promoted":
        return f"  {at}  {name}: promoted from {decision['from_tier']} to {decision['to_tier']} after degradation"
    return f"  {at}  {name}: {decision['kind'].replace('.', ' ')}, {decision['reason']}"


def money_line(money: Money) -> str:
    share = money.shadow_share
    saved = "no savings figure" if money.saved_usd is None else f"tiering saved ${money.saved_usd:,.2f}"
    shadow = f"shadow evaluation cost ${money.shadow_usd:,.2f}"
    if share is not None:
        shadow += f" ({share:.1%} of the savings it watches over)"
    return f"  over the last {money.range} (the dashboard's range): LLM spend ${money.spend_usd:,.2f}, {saved}, {shadow}"


def describe(outcome: DemoOutcome, *, kept: bool) -> list[str]:
    """The closing report; ``kept``: the service stays up, so its addresses are worth opening."""
    snapshot, url = outcome.snapshot, outcome.base_url
    lines = ["", "[bold]What happened[/]"]
    lines += [decision_line(d) for d in reversed(snapshot.decisions) if d["kind"] in TOLD]
    missed = [name for name in DRIFTING_CLASSES if name not in outcome.promoted]
    if missed:
        lines.append(f"  [yellow]not yet promoted: {', '.join(missed)} (the run ended first)[/]")
    for rec in snapshot.recommendations:
        savings = rec.get("monthly_savings_usd")
        money = "savings not known yet" if savings is None else f"saves about ${savings:,.2f}/month"
        if rec.get("savings_low_usd") is not None:
            money += f" (95% CI ${rec['savings_low_usd']:,.2f} to ${rec['savings_high_usd']:,.2f})"
        lines.append(
            f"  recommendation {rec['id']}: move {rec['task_class']} from {rec['from_tier']} to "
            f"{rec['to_tier']}, {money}; accept with `driftwatch policy accept {rec['id']}`"
        )
    if not any(rec["task_class"] in PREMIUM_CLASSES for rec in snapshot.recommendations):
        lines.append(f"  [yellow]no demotion recommendation for {', '.join(PREMIUM_CLASSES)} yet[/]")
    lines.append(f"  {webhook_count(outcome.webhooks)} at the local receiver")
    if outcome.money is not None:
        lines.append(money_line(outcome.money))
    lines += [
        "",
        f"The cheap model of {', '.join(DRIFTING_CLASSES)} was swapped for {WEAKER_MODEL} halfway (simulated "
        "from the recorded outcomes, see driftwatch/demo/data/NOTICE).",
    ]
    if kept:
        lines += [
            "[bold]Open[/]",
            f"  dashboard      {url}/",
            f"  API docs       {url}/docs",
            f"  decisions      {url}/v1/decisions",
            f"  routing policy {url}/v1/policy",
        ]
    else:
        lines.append("Run with --keep-running to keep the service up for the dashboard and the API.")
    return lines
