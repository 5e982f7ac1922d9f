"""The demo's closing words: what happened, in numbers, and what to open next."""

from __future__ import annotations

from driftwatch.demo.dataset import DRIFTING_CLASSES, PREMIUM_CLASSES, WEAKER_MODEL
from driftwatch.demo.status import DemoOutcome


def describe(outcome: DemoOutcome) -> list[str]:
    snapshot, url = outcome.snapshot, outcome.base_url
    lines = ["", "[bold]What happened[/]"]
    for decision in reversed(snapshot.decisions):
        if decision["kind"] in ("model.changed", "degraded", "promoted"):
            lines.append(f"  {decision['created_at'][11:19]}  {decision['task_class']}: {decision['reason']}")
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
    lines.append(f"  webhooks received and verified by the local receiver: {outcome.webhooks_verified}")
    lines += [
        "",
        f"The cheap model of {', '.join(DRIFTING_CLASSES)} was swapped for {WEAKER_MODEL} halfway (simulated "
        "from the recorded outcomes, see driftwatch/demo/data/NOTICE).",
        "[bold]Open[/]",
        f"  dashboard      {url}/?range=1h",
        f"  API docs       {url}/docs",
        f"  decisions      {url}/v1/decisions",
        f"  routing policy {url}/v1/policy",
        f"  store          DRIFTWATCH_DATABASE_URL=sqlite:///{outcome.folder / 'demo.db'} driftwatch serve",
        f"  service log    {outcome.folder / 'serve.log'}",
    ]
    return lines
