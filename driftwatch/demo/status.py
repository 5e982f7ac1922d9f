"""What the demo shows while it runs: read from the service's own API, as a user's tooling would."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table
from rich.text import Text

from driftwatch.demo.dataset import DRIFTING_CLASSES, PREMIUM_CLASSES
from driftwatch.demo.receiver import Delivered

STATUS_STYLE = {"healthy": "green", "degrading-watch": "yellow", "degraded": "bold red"}


@dataclass(frozen=True, slots=True)
class ClassRow:
    task_class: str
    tier: str
    calls: int
    evaluations: int
    acceptance: float | None
    interval: tuple[float, float] | None
    floor: float | None
    status: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    rows: list[ClassRow]
    decisions: list[dict[str, Any]]
    recommendations: list[dict[str, Any]]
    taken_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def tier_of(self, task_class: str) -> str | None:
        return next((row.tier for row in self.rows if row.task_class == task_class), None)


@dataclass(frozen=True, slots=True)
class Money:
    """What the dashboard opens on (its fitted range): LLM spend and what tiering saved in the
    window, and shadow-evaluation spend on the window's days."""

    range: str
    spend_usd: float
    saved_usd: float | None
    shadow_usd: float

    @property
    def shadow_share(self) -> float | None:
        """Shadow spend as a share of the savings it watches over."""
        return self.shadow_usd / self.saved_usd if self.saved_usd else None


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    promoted: list[str]
    recommended: list[str]
    webhooks: list[Delivered]
    snapshot: Snapshot
    money: Money | None
    base_url: str
    folder: Path

    @property
    def webhooks_verified(self) -> int:
        return sum(delivery.verified for delivery in self.webhooks)

    @property
    def complete(self) -> bool:
        return (
            set(self.promoted) >= set(DRIFTING_CLASSES)
            and set(self.recommended) >= set(PREMIUM_CLASSES)
            and self.webhooks_verified > 0
        )


def read_snapshot(
    client: httpx.Client, base_url: str, started: datetime, phase_started: datetime
) -> Snapshot:
    """Calls since the demo started, acceptance of the evaluations since the phase started (so the
    drop after the swap shows), detector state, the audit log and open recommendations."""
    policy = client.get(f"{base_url}/v1/policy").json()
    volume = client.get(f"{base_url}/v1/classes", params={"since": started.isoformat()}).json()
    classes = client.get(f"{base_url}/v1/classes", params={"since": phase_started.isoformat()}).json()
    calls: dict[str, int] = {}
    for item in volume["items"]:
        calls[item["task_class"]] = calls.get(item["task_class"], 0) + item["calls"]
    rows = []
    for quality in classes["classes"]:
        name = quality["task_class"]
        detection = quality.get("detection") or {}
        evaluation = quality["evaluation"]
        interval = evaluation.get("acceptance_interval")
        rows.append(
            ClassRow(
                task_class=name,
                tier=policy["classes"].get(name, policy["default"])["tier"],
                calls=calls.get(name, 0),
                evaluations=evaluation["evaluations"],
                acceptance=evaluation["acceptance_rate"],
                interval=(interval["low"], interval["high"]) if interval else None,
                floor=detection.get("reference_rate"),
                status=detection.get("status", "not tracked"),
            )
        )
    decisions = client.get(f"{base_url}/v1/decisions", params={"limit": 20}).json()["items"]
    recommendations = client.get(f"{base_url}/v1/recommendations", params={"status": "open"}).json()["items"]
    return Snapshot(sorted(rows, key=lambda row: row.task_class), decisions, recommendations)


def read_money(client: httpx.Client, base_url: str) -> Money:
    """The money cards of ``GET /v1/dashboard`` on the range the page opens on."""
    document = client.get(f"{base_url}/v1/dashboard").json()
    return Money(
        range=document["range"],
        spend_usd=sum(tier["cost_usd"] for tier in document["volume"]),
        saved_usd=document["savings"]["achieved_usd"],
        shadow_usd=document["shadow"]["spent_usd"],
    )


def webhook_count(delivered: list[Delivered]) -> str:
    """One wording for the webhooks, in the live table and the closing report alike."""
    if not delivered:
        return "no webhook received yet"
    verified = sum(delivery.verified for delivery in delivered)
    signatures = (
        "all signatures valid" if verified == len(delivered) else f"{verified} with a valid signature"
    )
    return f"{len(delivered)} webhook{'' if len(delivered) == 1 else 's'} received ({signatures})"


def class_table(snapshot: Snapshot, delivered: list[Delivered], phase: str) -> Table:
    table = Table(title=f"driftwatch demo: {phase}", title_justify="left", expand=False)
    for column in ("task class", "tier", "calls", "shadow evals", "acceptance (95% CI)", "floor", "state"):
        table.add_column(column, justify="right" if column in ("calls", "shadow evals") else "left")
    promoted = {d["task_class"]: d for d in reversed(snapshot.decisions) if d["kind"] == "promoted"}
    for row in snapshot.rows:
        move = promoted.get(row.task_class)
        status = f"promoted to {move['to_tier']}" if move and move["to_tier"] == row.tier else row.status
        acceptance = "-" if row.acceptance is None else f"{row.acceptance:.1%}"
        if row.interval:
            acceptance += f" ({row.interval[0]:.0%} to {row.interval[1]:.0%})"
        table.add_row(
            row.task_class,
            Text(row.tier, style="bold magenta" if row.tier == "premium" else ""),
            f"{row.calls:,}",
            f"{row.evaluations:,}",
            acceptance,
            "-" if row.floor is None else f"{row.floor:.0%}",
            Text(status, style="bold magenta" if move else STATUS_STYLE.get(status, "dim")),
        )
    kinds = [d["kind"] for d in snapshot.decisions]
    recommendations = len(snapshot.recommendations)
    table.caption = (
        f"{kinds.count('degraded')} degraded, {kinds.count('promoted')} promoted, "
        f"{recommendations} recommendation{'' if recommendations == 1 else 's'}; {webhook_count(delivered)}"
    )
    return table
