"""The allocation of ``rate: auto`` as the table ``driftwatch plan --allocation`` prints."""

from __future__ import annotations

from driftwatch.policy.allocation import Computed
from driftwatch.stats.allocation import uniform_rate, weighted_delay


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}d"


def describe_allocation(computed: Computed) -> list[str]:
    """One line per class, then the budget, the spend and the money-weighted delay against one uniform
    rate at the same spend."""
    plan, demands = computed.plan, computed.demands
    if not plan.items:
        return ["no class with rate: auto has calls on a sampled tier in the traffic window"]
    lines = [
        f"{'class':<28} {'tier':<8} {'calls/day':>10} {'at risk/day':>12} {'rate':>7} {'samples/day':>11}"
        f" {'$/day':>8} {'delay':>7}  why"
    ]
    by_name = {demand.task_class: demand for demand in demands}
    for item in plan.items:
        demand = by_name[item.task_class]
        delay = _days(item.expected_delay_days)
        if demand.reference_samples_needed:
            delay = f"ref {_days(item.days_to_reference)}"
        lines.append(
            f"{item.task_class[:28]:<28} {computed.tiers[item.task_class][:8]:<8}"
            f" {demand.traffic_per_day:>10,.0f} {_money(computed.money_known[item.task_class]):>12}"
            f" {item.rate:>7.4f} {item.samples_per_day:>11,.1f} {item.spend_usd:>8.2f} {delay:>7}  {item.reason}"
        )
    lines.append(f"budget ${plan.budget_usd:,.2f}/day, allocated ${plan.spend_usd:,.2f}/day")
    protected = [demand for demand in demands if not demand.reference_samples_needed]
    spend = sum(
        item.spend_usd for item in plan.items if not by_name[item.task_class].reference_samples_needed
    )
    if protected and spend > 0:
        uniform = uniform_rate(protected, spend)
        auto_delay = weighted_delay(protected, plan.rates())
        flat_delay = weighted_delay(protected, dict.fromkeys(plan.rates(), uniform))
        lines.append(
            f"money-weighted expected delay to catch a drop: {auto_delay:.2f} days; one uniform rate"
            f" ({uniform:.4f}) at the same spend: {flat_delay:.2f} days"
        )
    unprotected = len(demands) - len(protected)
    if unprotected:
        lines.append(
            f"{unprotected} {'class' if unprotected == 1 else 'classes'} without a reference yet"
            " sampled for one first ('ref': days to it)"
        )
    return lines
