"""``driftwatch plan --all``: every class with its coverage, and what rate or budget would protect it."""

from __future__ import annotations

from collections.abc import Sequence

from driftwatch.config import Policy
from driftwatch.policy.coverage import Assessed, coverage_target


def describe_all(policy: Policy, assessed: Sequence[Assessed]) -> list[str]:
    """A summary line, then a line per class: unprotected ones first (the busiest first), then the rest."""
    target = coverage_target(policy)
    protected = sum(entry.coverage.protected for entry in assessed)
    lines = [
        f"{protected} of {len(assessed)} classes protected against a {target.drop:.2f} drop within"
        f" {target.window_days:g} days (coverage.drop, coverage.window_days)"
    ]
    ordered = sorted(assessed, key=lambda entry: (entry.coverage.protected, -entry.load.calls_per_day))
    return lines + [_line(entry) for entry in ordered]


def _line(entry: Assessed) -> str:
    coverage, load = entry.coverage, entry.load
    rate = entry.coverage_rate if entry.coverage_rate is not None else load.rate
    raised = f" (raised from {load.rate:g}, coverage first)" if entry.coverage_rate is not None else ""
    text = (
        f"{entry.task_class}: {coverage.message}; {load.calls_per_day:,.0f} calls/day, rate {rate:.4g}{raised},"
        f" {coverage.samples_per_day:,.1f} samples/day"
    )
    if coverage.protected or load.blocked:
        return text
    needed = entry.rate_to_protect
    if needed is None:
        return text + "; no rate protects it within the window: a larger drop, a longer window or a floor"
    text += f"; protected within the window at rate {needed:.4f}"
    cost = load.cost_per_sample_usd
    if cost is None:
        return text + " (cost per sample unknown until it has shadow evaluations)"
    per_day = needed * load.calls_per_day * cost
    text += f", ${per_day:.2f}/day"
    if per_day > load.daily_budget_usd:
        text += f": raise shadow.daily_budget_usd for it from ${load.daily_budget_usd:.2f}"
    return text
