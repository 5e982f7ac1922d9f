"""What a demotion saves a month (pure): observed token volume x the price difference, net of what the
shadow evaluation of the class costs, with a 95% interval.

Per complete UTC day ``d`` the class ran on its current tier, the day's net saving is::

    s_d = (in_d * (P_in(from) - P_in(to)) + out_d * (P_out(from) - P_out(to))) / 1e6 - shadow_d - forward_d

with ``in_d``/``out_d`` the day's input and output tokens on the tier, ``P`` the models' list prices in
USD per million tokens, ``shadow_d`` the class's shadow-evaluation spend on that day's calls (booked on
the day of the call it evaluated, whenever the evaluation ran), and ``forward_d`` the forward shadow
sampling the class would run on the cheaper tier (:class:`ForwardShadow`): at its sampling rate, each
sampled call replayed on the reference tier's model (the day's tokens at that model's prices) and
judged (the class's observed judge cost per evaluation), at most its daily budget.  The projection
is ``30 * mean(s_d)`` and its interval ``30 * (mean +- t(0.975, n-1) * sd / sqrt(n))``, Student's t
over the ``n`` days.  The interval is for the expected monthly saving if traffic stays as it was,
treating days as independent; weekly seasonality and growth make real months vary more than that.
A price that is unknown makes the figures ``None`` with the reason, never a guess.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from driftwatch.prices.pricing import ModelPrice

DAYS_PER_MONTH = 30
CONFIDENCE = 0.95
METHOD = (
    "30 x mean over complete days on the tier of (input tokens x input price difference + output tokens"
    " x output price difference) / 1e6 - shadow spend on the day's calls - forward shadow sampling on the"
    " cheaper tier (rate x (the day's tokens at the reference model's prices + calls x judge cost per"
    " evaluation), at most the daily budget); 95% Student t interval over the days"
)


@dataclass(frozen=True, slots=True)
class DayVolume:
    """One complete UTC day of a class on its current tier (zero when it had no traffic)."""

    day: date
    input_tokens: int
    output_tokens: int
    shadow_usd: float = 0.0
    calls: int = 0


@dataclass(frozen=True, slots=True)
class ForwardShadow:
    """The forward shadow sampling a demoted class would start on its cheaper tier.

    ``rate`` 0 when that tier is not sampled (``reason`` says so); ``reference_price`` None when the
    reference model has no price, which leaves the savings unknown rather than guessed.
    """

    rate: float
    reference_model: str | None
    reference_price: ModelPrice | None
    judge_usd_per_evaluation: float
    daily_budget_usd: float
    reason: str | None = None

    def cost(self, day: DayVolume) -> float:
        if self.rate == 0:
            return 0.0
        assert self.reference_price is not None
        price = self.reference_price
        replay = (day.input_tokens * price.input_per_mtok + day.output_tokens * price.output_per_mtok) / 1e6
        return min(self.daily_budget_usd, self.rate * (replay + day.calls * self.judge_usd_per_evaluation))

    def unknown(self) -> str | None:
        """Why the cost cannot be known, if it cannot."""
        if self.rate > 0 and self.reference_price is None:
            return (
                f"no price for the reference model {self.reference_model!r} (add it to the policy's prices)"
            )
        return None

    def evidence(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "reference_model": self.reference_model,
            "judge_usd_per_evaluation": self.judge_usd_per_evaluation,
            "daily_budget_usd": self.daily_budget_usd,
            "reason": self.reason,
        }


NO_FORWARD = ForwardShadow(0.0, None, None, 0.0, 0.0, "not given")


@dataclass(frozen=True, slots=True)
class Savings:
    """Projected monthly savings in USD; ``monthly_usd`` is ``None`` with ``reason`` when unknowable."""

    monthly_usd: float | None
    low_usd: float | None
    high_usd: float | None
    gross_monthly_usd: float | None
    shadow_monthly_usd: float  # observed shadow spend on the traffic of the days
    days: int
    reason: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    forward_shadow_monthly_usd: float | None = 0.0  # the sampling the cheaper tier would start
    forward: ForwardShadow = NO_FORWARD

    @property
    def shadow_cost_monthly_usd(self) -> float:
        """Both shadow terms the net figure subtracts (the forward one when known)."""
        return self.shadow_monthly_usd + (self.forward_shadow_monthly_usd or 0.0)

    def evidence(self) -> dict[str, Any]:
        return {
            "volume": {
                "days": self.days,
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
            },
            "monthly_usd": self.monthly_usd,
            "interval_usd": None if self.low_usd is None else [self.low_usd, self.high_usd],
            "gross_monthly_usd": self.gross_monthly_usd,
            "shadow_monthly_usd": self.shadow_monthly_usd,
            "forward_shadow_monthly_usd": self.forward_shadow_monthly_usd,
            "forward_shadow": self.forward.evidence(),
            "days": self.days,
            "reason": self.reason,
            "method": METHOD,
        }


def per_token_difference(from_price: ModelPrice, to_price: ModelPrice) -> tuple[float, float]:
    """USD saved per input and per output token (negative where the cheaper tier costs more)."""
    return (
        (from_price.input_per_mtok - to_price.input_per_mtok) / 1_000_000,
        (from_price.output_per_mtok - to_price.output_per_mtok) / 1_000_000,
    )


def _project(
    days: Sequence[DayVolume],
    from_price: ModelPrice | None,
    to_price: ModelPrice | None,
    unpriced: str,
    forward: ForwardShadow,
) -> Savings:
    shadow = DAYS_PER_MONTH * statistics.fmean(d.shadow_usd for d in days) if days else 0.0
    unknown_forward = forward.unknown()
    ahead = (
        None if unknown_forward or not days else DAYS_PER_MONTH * statistics.fmean(map(forward.cost, days))
    )
    if from_price is None or to_price is None or unknown_forward:
        why = "; ".join(reason for reason in (unpriced, unknown_forward) if reason)
        return Savings(None, None, None, None, shadow, len(days), why, forward_shadow_monthly_usd=ahead)
    if not days:
        return Savings(None, None, None, None, shadow, 0, "no complete day of traffic on the tier yet")
    per_input, per_output = per_token_difference(from_price, to_price)
    gross = [d.input_tokens * per_input + d.output_tokens * per_output for d in days]
    net = [saved - d.shadow_usd - forward.cost(d) for saved, d in zip(gross, days, strict=True)]
    monthly = DAYS_PER_MONTH * statistics.fmean(net)
    gross_monthly = DAYS_PER_MONTH * statistics.fmean(gross)
    if len(net) < 2:
        one = "one day of traffic: no interval yet"
        return Savings(monthly, None, None, gross_monthly, shadow, 1, one, forward_shadow_monthly_usd=ahead)
    from scipy.stats import t as student_t  # type: ignore[import-untyped]  # no scipy-stubs installed

    quantile = float(student_t.ppf((1 + CONFIDENCE) / 2, len(net) - 1))
    half = DAYS_PER_MONTH * quantile * statistics.stdev(net) / math.sqrt(len(net))
    return Savings(
        monthly,
        monthly - half,
        monthly + half,
        gross_monthly,
        shadow,
        len(net),
        None,
        forward_shadow_monthly_usd=ahead,
    )


def project_savings(
    days: Sequence[DayVolume],
    from_price: ModelPrice | None,
    to_price: ModelPrice | None,
    unpriced: str,
    forward: ForwardShadow = NO_FORWARD,
) -> Savings:
    """The monthly projection over ``days``; ``unpriced`` says why when either price is ``None``."""
    projected = _project(days, from_price, to_price, unpriced, forward)
    input_tokens, output_tokens = sum(d.input_tokens for d in days), sum(d.output_tokens for d in days)
    return replace(projected, input_tokens=input_tokens, output_tokens=output_tokens, forward=forward)
