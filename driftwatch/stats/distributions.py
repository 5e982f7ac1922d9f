"""Judge-score distributions of a class: the current window against its baseline window.

Accept/reject outcomes drive the decision (``detector.py``); a judge's continuous score in [0, 1] can
show a drift before it flips outcomes — every answer a little worse, none yet unacceptable.  This
report compares the two windows with two rank-based tests, which assume nothing about the shape of
the scores (judge scores pile up at 0 and 1 and are anything but normal):

* Mann-Whitney U, one-sided: are current scores *stochastically smaller* than baseline scores?  That
  is the direction that matters, and the one-sided test has the power for it (Mann & Whitney 1947).
* Kolmogorov-Smirnov two-sample, two-sided: has the *shape* changed at all — e.g. scores turning
  bimodal at an unchanged median, which Mann-Whitney does not see.

Effect sizes go with the p-values, since with thousands of scores a negligible shift is "significant":
the difference of medians and the common-language effect size ``P(current < baseline)`` (ties count
half; McGraw & Wong 1992), 0.5 meaning no shift.  The p-values are fixed-window ones: they are for
reports, checked across classes with BH (``discovery.py``), never for a decision re-checked per tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_SCORES = 20
"""Fewest scores per window for a test: below that the tests' approximations and power fall apart."""


@dataclass(frozen=True, slots=True)
class ScoreComparison:
    """Counts and medians always (when there are scores); tests and effect sizes only with enough."""

    current_count: int
    current_median: float | None
    baseline_count: int
    baseline_median: float | None
    message: str
    """Plain language: medians and effect, or how many scores are still missing."""
    median_difference: float | None = None
    """current minus baseline: negative means scores went down."""
    probability_lower: float | None = None
    """``P(current < baseline) + P(tie) / 2``; 0.5 means no shift, above 0.5 current is worse."""
    mann_whitney_u: float | None = None
    mann_whitney_p: float | None = None
    """One-sided: small when current scores are stochastically smaller."""
    ks_statistic: float | None = None
    ks_p: float | None = None
    """Two-sided: small when the distributions differ in any way."""

    @property
    def enough_samples(self) -> bool:
        return self.mann_whitney_p is not None


def compare_scores(
    current: Sequence[float], baseline: Sequence[float], *, min_scores: int = MIN_SCORES
) -> ScoreComparison:
    """Compare a class's current judge scores with its baseline scores (see the module docstring)."""
    now, before = _scores(current, "current"), _scores(baseline, "baseline")
    if min(now.size, before.size) < min_scores:
        return ScoreComparison(
            int(now.size),
            float(np.median(now)) if now.size else None,
            int(before.size),
            float(np.median(before)) if before.size else None,
            f"not enough samples yet: {now.size} current and {before.size} baseline scores,"
            f" {min_scores} of each needed",
        )
    from scipy.stats import ks_2samp, mannwhitneyu  # type: ignore[import-untyped]  # no scipy-stubs installed

    now_median, before_median = float(np.median(now)), float(np.median(before))
    mann_whitney = mannwhitneyu(now, before, alternative="less")
    kolmogorov = ks_2samp(now, before, alternative="two-sided")
    # scipy's U counts pairs where the current score is the larger (ties half): its complement is
    # the share of pairs where the current score is the smaller.
    lower = 1.0 - float(mann_whitney.statistic) / (now.size * before.size)
    difference = now_median - before_median
    return ScoreComparison(
        current_count=int(now.size),
        baseline_count=int(before.size),
        message=f"median {now_median:.3f} vs {before_median:.3f} ({difference:+.3f}); a current score is"
        f" below a baseline one in {lower:.0%} of pairs",
        current_median=now_median,
        baseline_median=before_median,
        median_difference=difference,
        probability_lower=lower,
        mann_whitney_u=float(mann_whitney.statistic),
        mann_whitney_p=float(mann_whitney.pvalue),
        ks_statistic=float(kolmogorov.statistic),
        ks_p=float(kolmogorov.pvalue),
    )


def _scores(values: Sequence[float], window: str) -> npt.NDArray[np.float64]:
    scores = np.asarray(values, dtype=np.float64)
    if scores.ndim != 1 or not np.all(np.isfinite(scores)):
        raise ValueError(f"{window} scores must be a flat sequence of finite numbers")
    return scores
