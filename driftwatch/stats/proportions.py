"""Confidence intervals for a share of successes (acceptable outcomes of evaluations).

The Wilson score interval is used because it stays inside [0, 1] and keeps close to its nominal
coverage with few trials or a share near 0 or 1 — exactly where a cheap tier's drift first shows,
and where the textbook normal ("Wald") interval collapses to a zero width.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import binomtest  # type: ignore[import-untyped]  # no scipy-stubs in the test extras yet


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Interval | None:
    """The Wilson score interval for ``successes`` of ``trials``; ``None`` when there are no trials."""
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if trials == 0:
        return None
    interval = binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return Interval(low=float(interval.low), high=float(interval.high))
