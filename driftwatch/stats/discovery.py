"""False discovery control across task classes: e-BH for the detectors, BH for fixed-window reports.

A deployment watches tens of classes at once, so "some class looks degraded" happens by chance far more
often than any one class does.  Two procedures, one per kind of evidence:

* **e-BH** (Wang & Ramdas, "False discovery rate control with e-values", JRSS-B 84, 2022) for the
  sequential detectors.  How the detector's threshold and e-BH combine — the decision this module
  documents:

  - per class, ``e_k = R_k / N``: the detector's mixture statistic over the horizon ``N`` (samples per
    class over which false alarms are bounded, ``AlarmThreshold.horizon``);
  - while class ``k`` is healthy (rate ``>= p_ref``), ``R_n - n`` is a supermartingale, so at any
    stopping time ``tau`` — a scheduler tick, or the first tick at which anything is flagged — at
    which every class has seen at most ``N`` samples, ``E[R_tau] <= E[n_tau] <= N``: ``e_k`` is a
    genuine e-value, whatever the ticks and however the classes depend on each other;
  - e-BH at level ``alpha`` on those e-values then flags the ``r`` classes with the largest ``e_k``,
    ``r`` the largest count with ``e_(r) >= K / (alpha * r)``.  At the first tick anything is flagged,
    the expected share of healthy classes among those flagged is at most ``alpha`` (under arbitrary
    dependence).  With every class healthy that is the family-wise guarantee: the probability of any
    false alarm within ``N`` samples per class is at most ``alpha``;
  - a lone degraded class is flagged once ``R >= K * N / alpha`` — the union-bound threshold
    ``AlarmThreshold(horizon=N, alpha=alpha, classes=K).value``; with K = 1 it is the single-class
    alarm ``N / alpha``.  e-BH is never slower than the union bound and is faster when several classes
    drop together (``r`` flagged classes each need only ``K * N / (alpha * r)``);
  - it runs on the current statistics at each check (not their past peaks), which is what makes the
    check times stopping times; a flagged class is acted on and its detector restarted.
* **BH** (Benjamini & Hochberg, JRSS-B 57, 1995) on p-values of the fixed-window reports (score
  distributions, current vs baseline window): different classes are different calls, so their p-values
  are independent and BH's FDR guarantee holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")


def benjamini_hochberg(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Which hypotheses BH rejects at FDR level ``alpha`` (``True`` = rejected), in input order."""
    _check_alpha(alpha)
    return [q <= alpha for q in adjusted_p_values(p_values)]


def adjusted_p_values(p_values: Sequence[float]) -> list[float]:
    """BH-adjusted p-values, for reports: BH at level ``a`` rejects exactly those ``<= a``."""
    values = np.asarray(p_values, dtype=np.float64)
    if values.ndim != 1 or not np.all((values >= 0) & (values <= 1)):
        raise ValueError("p-values must be a flat sequence of numbers in [0, 1]")
    if values.size == 0:
        return []
    from scipy.stats import false_discovery_control  # type: ignore[import-untyped]  # no scipy-stubs installed

    return [float(q) for q in false_discovery_control(values, method="bh")]


def e_benjamini_hochberg(e_values: Sequence[float], alpha: float) -> list[bool]:
    """Which hypotheses e-BH rejects at FDR level ``alpha`` (``True`` = rejected), in input order."""
    values = np.asarray(e_values, dtype=np.float64)
    if values.ndim != 1 or np.any(np.isnan(values)) or np.any(values < 0):
        raise ValueError("e-values must be a flat sequence of non-negative numbers")
    with np.errstate(divide="ignore"):  # an e-value of 0 is a log e-value of -inf, never rejected
        return [bool(flag) for flag in _e_bh_log(np.log(values), alpha)]


def _e_bh_log(log_e: npt.NDArray[np.float64], alpha: float) -> npt.NDArray[np.bool_]:
    # In log space because a strongly degraded class has R far beyond the largest float.
    _check_alpha(alpha)
    count = log_e.size
    bars = np.log(count / (alpha * np.arange(1, count + 1)))
    passing = np.sort(log_e)[::-1] >= bars
    if not passing.any():
        return np.zeros(count, dtype=np.bool_)
    # Rejecting every e-value above the bar of the largest passing rank rejects exactly that many:
    # a tie just below it would pass at the next rank, contradicting "largest".
    return np.asarray(log_e >= bars[np.flatnonzero(passing)[-1]], dtype=np.bool_)


def flag_degraded(log_statistics: Mapping[str, float], horizon: int, alpha: float) -> frozenset[str]:
    """The classes e-BH flags as degraded, from each class's ``log`` mixture statistic.

    ``e_k = R_k / horizon``; see the module docstring for why these are e-values and what the
    resulting guarantee is.  Classes without samples (``-inf``) are never flagged.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    names = list(log_statistics)
    log_e = np.array([log_statistics[name] for name in names], dtype=np.float64) - math.log(horizon)
    if np.any(np.isnan(log_e)):
        raise ValueError("log statistics must be numbers, not NaN")
    flags = _e_bh_log(log_e, alpha)
    return frozenset(name for name, flagged in zip(names, flags, strict=True) if flagged)
