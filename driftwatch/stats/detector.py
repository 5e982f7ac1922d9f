"""Always-valid drift detection for one task class: a mixture Shiryaev-Roberts e-detector.

Each shadow evaluation of a class gives a Bernoulli outcome (the cheap output was acceptable or not);
the detector alarms once the evidence that the acceptance rate fell below a reference ``p_ref`` is strong.
``p_ref`` is a floor declared per class (an SLO) or a baseline window's lower bound (``reference.py``).

Why this method (the simulations behind the choice are in ``../shared/STATS.md``):

* The statistic moves only when a sample arrives, so checking it on every scheduler tick costs no
  validity — unlike a fixed-sample test re-run on a growing or sliding window, whose false alarms
  pile up with every look.
* It needs no guess of the post-change rate.  For each drop ``d`` of a grid (12 values log-spaced in
  [0.01, 0.5]) it keeps the Shiryaev-Roberts statistic of the alternative ``q = p_ref - d``,
  ``R_n = (1 + R_{n-1}) * LR_n`` with ``LR_n = q/p_ref`` on an accept and ``(1-q)/(1-p_ref)`` on a
  reject (Shiryaev 1963; Roberts 1966; optimal in Pollak's minimax sense: Pollak, "Optimal detection
  of a change in distribution", Ann. Statist. 13, 1985), and alarms on their average.  That average is
  an e-detector in the sense of Shin, Ramdas & Rinaldo, "E-detectors: a nonparametric framework for
  sequential change detection", New England J. of Statistics in Data Science, 2024 (arXiv:2203.03532).
* Guarantee, for any rate ``p >= p_ref`` (a class doing better than its reference is healthy too):
  an accept/reject likelihood ratio then has mean ``<= 1``, so ``R_n - n`` is a supermartingale.
  Optional stopping at ``min(first crossing of A, N)`` and Markov's inequality give
  ``P(alarm within N healthy samples) <= N / A``; hence the threshold ``A = N / alpha``
  (``K * N / alpha`` for a union bound over K classes; see ``discovery.py`` for the e-BH version).
  The same argument gives an average run length to a false alarm of at least ``A``.
* No procedure with that average run length can detect a change from ``p0`` to ``p1`` much faster than
  ``log(A) / KL(p1 || p0)`` samples (Lorden, "Procedures for reacting to a change in distribution",
  Ann. Math. Statist. 42, 1971): :func:`lorden_delay` is the yardstick ``bench/detection.py`` uses.

All in log space: ``log R_n = log(1 + R_{n-1}) + log LR_n`` stays finite where ``R_n`` would overflow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

DEFAULT_DROPS: Final[tuple[float, ...]] = tuple(float(d) for d in np.geomspace(0.01, 0.5, 12))
"""Drops the mixture watches for: one alternative per value, equal weights (see STATS.md)."""

# A drop beyond the reference means a collapse: clip to 1% of it, not to 0 (an accept would be -inf).
_COLLAPSE_SHARE: Final = 0.01


@dataclass(frozen=True, slots=True)
class AlarmThreshold:
    """The alarm threshold ``A = classes * horizon / alpha`` of the averaged statistic.

    ``horizon`` is the number of healthy samples (per class) over which false alarms are bounded and
    ``alpha`` the bound: ``P(a false alarm within horizon samples) <= alpha`` for one class, or for the
    whole family of ``classes`` classes under the union bound.
    """

    horizon: int = 10_000
    alpha: float = 0.01
    classes: int = 1

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.classes < 1:
            raise ValueError(f"horizon and classes must be >= 1, got {self.horizon} and {self.classes}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must lie strictly between 0 and 1, got {self.alpha}")

    @property
    def value(self) -> float:
        return self.classes * self.horizon / self.alpha

    @property
    def log_value(self) -> float:
        return math.log(self.value)


@dataclass(frozen=True, slots=True)
class DetectorState:
    """What a service persists per class: reference, drop grid, sample count and ``log R`` per drop.

    ``log_r`` is empty before the first sample (``R_0 = 0``); afterwards it is finite, so the state
    round-trips through JSON via :meth:`to_dict` and :meth:`from_dict`.
    """

    reference: float
    drops: tuple[float, ...] = DEFAULT_DROPS
    n: int = 0
    log_r: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.reference < 1:
            raise ValueError(f"the reference rate must lie strictly between 0 and 1, got {self.reference}")
        if not self.drops or any(not 0 < d < 1 for d in self.drops):
            raise ValueError("drops must be a non-empty sequence of values in (0, 1)")
        if self.n < 0 or len(self.log_r) != (len(self.drops) if self.n else 0):
            raise ValueError(f"log_r must hold one value per drop once n > 0 (n={self.n})")
        if not all(math.isfinite(x) for x in self.log_r):
            raise ValueError("log_r values must be finite")

    def to_dict(self) -> dict[str, object]:
        return {"reference": self.reference, "drops": [*self.drops], "n": self.n, "log_r": [*self.log_r]}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> DetectorState:
        drops, log_r, n = data["drops"], data["log_r"], data["n"]
        if not isinstance(drops, list) or not isinstance(log_r, list) or not isinstance(n, int):
            raise ValueError("a detector state needs lists 'drops' and 'log_r' and an integer 'n'")
        return cls(
            reference=_as_float(data["reference"]),
            drops=tuple(_as_float(d) for d in drops),
            n=n,
            log_r=tuple(_as_float(x) for x in log_r),
        )


def _as_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def log_likelihood_ratios(
    reference: npt.ArrayLike, drops: Sequence[float] = DEFAULT_DROPS
) -> tuple[FloatArray, FloatArray]:
    """``log LR`` of an accepted and of a rejected outcome, per alternative ``reference - drop``.

    Broadcasts: an array of references (one per simulated stream) gives arrays of shape
    ``reference.shape + (len(drops),)``.
    """
    ref = np.asarray(reference, dtype=np.float64)[..., None]
    alternative = np.maximum(ref - np.asarray(drops, dtype=np.float64), ref * _COLLAPSE_SHARE)
    return np.log(alternative / ref), np.log1p(-alternative) - np.log1p(-ref)


def advance(
    log_r: FloatArray, accept_llr: FloatArray, reject_llr: FloatArray, accepted: npt.NDArray[np.bool_]
) -> FloatArray:
    """One step ``log R_n = log(1 + R_{n-1}) + log LR_n``, for any number of streams at once.

    ``log_r`` has shape ``streams + (drops,)`` (``-inf`` stands for ``R_0 = 0``) and ``accepted`` the
    shape ``streams``.  The single-class :func:`update` and the benchmark both step through here.
    """
    return np.logaddexp(0.0, log_r) + np.where(accepted[..., None], accept_llr, reject_llr)


def log_mixture(log_r: FloatArray) -> FloatArray:
    """``log`` of the equal-weight average of ``R`` over the last axis (the drop grid)."""
    # A max-shifted log-mean-exp by hand: scipy's logsumexp costs three times as much per benchmark step.
    peak = np.nan_to_num(np.max(log_r, axis=-1, keepdims=True), neginf=0.0)
    with np.errstate(divide="ignore"):  # only when every R is 0: the answer is then -inf
        return np.asarray(np.log(np.mean(np.exp(log_r - peak), axis=-1)) + peak[..., 0], dtype=np.float64)


def update(state: DetectorState, outcomes: Sequence[bool] | npt.NDArray[np.bool_]) -> DetectorState:
    """The state after ``outcomes`` (``True`` = accepted), taken in arrival order.

    Deterministic; feeding a stream in batches gives the same state as feeding it at once.
    """
    return update_until(state, outcomes, math.inf)[0]


def update_until(
    state: DetectorState, outcomes: Sequence[bool] | npt.NDArray[np.bool_], log_threshold: float
) -> tuple[DetectorState, int | None]:
    """Feed ``outcomes`` in arrival order, stopping at the first whose ``log`` statistic reaches
    ``log_threshold``: the state there and that outcome's index, or the state after all and ``None``.

    This is the detector's stopping rule checked at every sample, so an alarm is raised at the first
    crossing wherever it falls in a batch, never later when the statistic falls back before the batch
    ends.  ``math.inf`` never stops (:func:`update`).
    """
    accepted = np.asarray(outcomes, dtype=np.bool_)
    if accepted.ndim != 1:
        raise ValueError("outcomes must be a flat sequence of booleans in arrival order")
    if accepted.size == 0:
        return state, None
    accept_llr, reject_llr = log_likelihood_ratios(state.reference, state.drops)
    by_outcome = (reject_llr, accept_llr)
    log_r = np.array(state.log_r) if state.n else np.full(len(state.drops), -np.inf)
    # The mixture is at most the largest ``R``, and that at most ``bound``, carried forward in plain
    # floats with the largest step per outcome: only when the bound reaches the threshold is the array
    # looked at (a per-sample ``max`` would double the cost of a healthy stream).
    watching = math.isfinite(log_threshold)
    largest_step = (float(reject_llr.max()), float(accept_llr.max()))
    bound = float(log_r.max())
    taken, crossed = int(accepted.size), None
    # The recursion of ``advance``, written in place: a per-sample ``np.where`` would triple the cost.
    for index, outcome in enumerate(accepted.tolist()):
        np.logaddexp(0.0, log_r, out=log_r)
        log_r += by_outcome[outcome]
        if not watching:
            continue
        bound = _log1p_exp(bound) + largest_step[outcome]
        if bound >= log_threshold:
            bound = float(log_r.max())
            if bound >= log_threshold and log_mixture(log_r) >= log_threshold:
                taken, crossed = index + 1, index
                break
    after = DetectorState(
        reference=state.reference,
        drops=state.drops,
        n=state.n + taken,
        log_r=tuple(float(x) for x in log_r),
    )
    return after, crossed


def _log1p_exp(x: float) -> float:
    """``log(1 + e^x)`` without overflow; 0 for ``-inf``."""
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def log_statistic(state: DetectorState) -> float:
    """``log`` of the mixture statistic; ``-inf`` before the first sample."""
    return float(log_mixture(np.asarray(state.log_r))) if state.n else -math.inf


def bernoulli_kl(p: float, q: float) -> float:
    """``KL(Bernoulli(p) || Bernoulli(q))`` in nats."""
    from scipy.special import rel_entr  # type: ignore[import-untyped]  # no scipy-stubs installed

    return float(rel_entr(p, q) + rel_entr(1 - p, 1 - q))


def lorden_delay(before: float, after: float, threshold: float) -> float:
    """Lorden's asymptotic lower bound on detection delay: ``log(ARL) / KL(after || before)``, ARL ≈ A."""
    return math.log(threshold) / bernoulli_kl(after, before)


class Status(StrEnum):
    """A class's condition in the words reports and the dashboard use."""

    HEALTHY = "healthy"
    WATCH = "degrading-watch"
    DEGRADED = "degraded"
    NOT_ENOUGH_SAMPLES = "not enough samples"


@dataclass(frozen=True, slots=True)
class Assessment:
    """A class's detector in plain terms, for reports and audit evidence.

    ``e_value`` is ``R / horizon`` (what :mod:`driftwatch.stats.discovery` feeds e-BH), ``evidence``
    ``R / A`` (1 or more: alarm); both capped near the largest float, to stay valid JSON numbers.
    ``log_statistic`` is ``log R``, ``None`` before the first sample (``R_0 = 0``).
    """

    status: Status
    samples: int
    log_statistic: float | None
    e_value: float
    evidence: float
    message: str


_LOG_CAP: Final = 700.0  # exp(700) ~ 1e304, still a finite float


def assess(
    state: DetectorState,
    threshold: AlarmThreshold,
    *,
    resolution: float = 0.10,
    watch_share: float = 0.1,
    flagged: bool | None = None,
) -> Assessment:
    """The status of one class: degraded, degrading-watch, not enough samples, or healthy.

    * degraded — ``flagged`` when the caller ran e-BH across classes, else the statistic reached ``A``;
    * degrading-watch — the statistic reached ``watch_share * A``; on a healthy class that happens
      within the horizon with probability at most ``alpha / watch_share`` (the same optional stopping
      argument as the alarm), so a watch is worth a look, not an action;
    * not enough samples — fewer samples than Lorden's bound for a drop of ``resolution``: until then
      even such a drop could not have been detected, so "healthy" would claim what the data cannot show;
    * healthy — otherwise.
    """
    log_stat = log_statistic(state)
    log_e = log_stat - math.log(threshold.horizon)
    evidence = log_stat - threshold.log_value
    degraded = flagged if flagged is not None else evidence >= 0
    after = max(state.reference - resolution, state.reference * _COLLAPSE_SHARE)
    needed = math.ceil(lorden_delay(state.reference, after, threshold.value))
    if degraded:
        status = Status.DEGRADED
        message = f"acceptance has dropped below {state.reference:.4f}: alarm after {state.n} samples"
    elif evidence >= math.log(watch_share):
        status = Status.WATCH
        message = f"evidence of a drop below {state.reference:.4f} at {math.exp(evidence):.0%} of the alarm"
    elif state.n < needed:
        status = Status.NOT_ENOUGH_SAMPLES
        message = f"{state.n} of the ~{needed} samples needed to see a drop of {resolution:.2f}"
    else:
        status = Status.HEALTHY
        message = f"no evidence of a drop below {state.reference:.4f} in {state.n} samples"
    return Assessment(
        status=status,
        samples=state.n,
        log_statistic=log_stat if state.n else None,
        e_value=math.exp(min(log_e, _LOG_CAP)),
        evidence=math.exp(min(evidence, _LOG_CAP)),
        message=message,
    )
