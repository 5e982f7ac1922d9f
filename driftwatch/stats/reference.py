"""Where a class's reference rate comes from when no floor is declared: a baseline window's lower bound.

The detector (``detector.py``) treats ``p_ref`` as exact.  Best is a floor declared per class (an SLO);
failing that, a one-sided lower confidence bound from a baseline window — never the observed rate
itself, which from a 500-sample baseline gave ~20% false alarms in the simulations of STATS.md.
This bound holds at one sample size only, so the detector waits for the whole window; ``sequence.py``
gives a reference valid at every sample size, usable after a few hundred outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BaselineReference:
    """A reference rate learned from a baseline window, or why there is none (``rate`` is ``None``)."""

    rate: float | None
    accepted: int
    total: int
    message: str


def baseline_reference(
    accepted: int, total: int, *, confidence: float = 0.95, min_samples: int = 2_000
) -> BaselineReference:
    """The one-sided Clopper-Pearson lower confidence bound of a baseline window's acceptance rate.

    The bound sits below the true rate with probability ``confidence``: that costs some detection delay
    and keeps false alarms at their target, and the exact bound errs on that same, safe side.  Below
    ``min_samples`` (2,000, as simulated) the bound is too loose to use, and the answer says so.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if not 0 <= accepted <= total:
        raise ValueError(f"need 0 <= accepted <= total, got {accepted} of {total}")
    rate: float | None = None
    if total < min_samples:
        message = f"insufficient baseline: {total} of the {min_samples} samples needed"
    elif accepted == 0:
        message = "no accepted outcome in the baseline: nothing can drop"
    else:
        from scipy.stats import binomtest  # type: ignore[import-untyped]  # no scipy-stubs installed

        test = binomtest(accepted, total, alternative="greater")
        rate = float(test.proportion_ci(confidence, method="exact").low)
        message = f"{confidence:.0%} lower bound {rate:.4f} from {accepted}/{total} accepted"
    return BaselineReference(rate, accepted, total, message)
