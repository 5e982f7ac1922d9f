"""A reference that guards from the first few hundred evaluations: a lower confidence *sequence*.

Without a declared floor the detector (``detector.py``) needs a reference rate below the class's true
acceptance rate ``p``.  A fixed-sample lower bound (``reference.py``) is valid only at the one sample
size it was computed for, so it must wait for a large window (2,000 outcomes: months for a quiet class).
A confidence sequence is valid at *every* sample size at once, so it can be read early and re-read as it
tightens:

* **The sequence.**  Robbins' conjugate mixture for Bernoulli outcomes (Robbins, "Statistical methods
  related to the law of the iterated logarithm", Ann. Math. Statist. 41, 1970; Howard, Ramdas,
  McAuliffe & Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist.
  49, 2021, section 3.1).  With ``S`` accepted of ``n`` and a Beta(a, b) prior,
  ``M_n(q) = B(a + S, b + n - S) / (B(a, b) q^S (1 - q)^(n - S))`` is a nonnegative martingale with
  ``M_0 = 1`` when the outcomes are independent with rate ``q``; Ville's inequality gives
  ``P(M_n(p) >= 1/delta for some n) <= delta``.  The lower end of ``{q : M_n(q) < 1/delta}`` is the
  bound: it exceeds ``p`` at some ``n`` with probability at most ``delta``, whatever the sample sizes
  at which it is read, however they were chosen.  ``M_n(q)`` decreases in ``q`` below ``S / n``, so
  the lower end is found by bisection; it errs low (the safe side).
* **The reference.**  The running maximum of the bound (``max`` over sample sizes read so far): on the
  event that the sequence never exceeds ``p`` its maximum does not either, and outcomes that follow a
  drop can pull the bound down but never the reference.  The sequence accrues up to ``max_samples``
  outcomes, then the reference is frozen.
* **The detector on a moving reference.**  Outcome ``n`` is tested against the reference computed
  from outcomes ``1..n-1`` (predictable), starting once ``min_samples`` outcomes were seen.  On the
  event ``E`` = {reference ``<= p`` at every step}, each step's likelihood ratio has conditional mean
  ``<= 1``, so ``R_n - n`` stopped at the first step outside ``E`` is a supermartingale and optional
  stopping gives ``P(alarm within N, E) <= N / A = alpha``; hence for a constant healthy rate
  ``P(false alarm within N) <= alpha + delta``.  The baseline and the tested outcomes may be the same
  outcomes: the argument conditions on the past only, and the sequence is valid at every time.

* **Many classes.**  ``delta`` is split evenly over the ``K`` detectors (class and tier) of a feed that
  learn their reference this way (``delta / K`` each, ``K`` counted when the bound is read), so ``P(some class's reference ever exceeds its rate) <= delta``; on
  the complement every detector is what it would be with a declared floor at or below the true rate,
  so what e-BH guarantees there (``discovery.py``) holds, plus ``delta``.
* **What it costs.**  Validity at every sample size is paid for in width: after 500 outcomes at 0.95
  the bound is ~0.904 (``delta`` 0.005), where a one-off 99.5% bound would be ~0.919.  A drop that
  starts before the reference is tight is tested against a lower bar, hence the longer delays of
  bench/README.md; a declared floor is still best.

``bench/detection.py --day-one`` checks both figures by simulation (bench/README.md, "A reference from
day one").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, xlogy  # type: ignore[import-untyped]  # no scipy-stubs installed

from driftwatch.stats.detector import DetectorState, log_likelihood_ratios

FloatArray = npt.NDArray[np.float64]

PRIOR: Final = (9.0, 1.0)
"""Beta prior of the mixture, mean 0.9: the rates worth watching are high.  Any prior fixed in advance
is valid; against the uniform one this tightens the bound for rates 0.8-0.99 (0.904 instead of 0.898
after 475 of 500, which cut the delays of bench/README.md's day-one scenario by 24-47%) and loosens
it below ~0.6."""

_BISECTIONS: Final = 48  # the bracket (0, S/n] shrinks to below 1e-14


def lower_bound(accepted: npt.ArrayLike, total: npt.ArrayLike, delta: float) -> FloatArray:
    """The confidence sequence's lower bound after ``accepted`` of ``total`` (element-wise; 0 when
    ``total`` is 0 or nothing was accepted).  Exceeds the true rate at *any* ``total`` with
    probability at most ``delta``."""
    if not 0 < delta < 1:
        raise ValueError(f"delta must lie strictly between 0 and 1, got {delta}")
    s, n = np.broadcast_arrays(np.asarray(accepted, dtype=np.float64), np.asarray(total, dtype=np.float64))
    if np.any((s < 0) | (s > n)):
        raise ValueError("need 0 <= accepted <= total")
    a, b = PRIOR
    # log M(q) <= level  <=>  S log q + F log(1-q) >= log B(a+S, b+F) - log B(a,b) + log(delta)
    level = betaln(a + s, b + n - s) - betaln(a, b) + np.log(delta)
    low, high = np.zeros_like(s), np.divide(s, n, out=np.zeros_like(s), where=n > 0)
    for _ in range(_BISECTIONS):  # invariant: M(low) >= 1/delta (or low = 0), M(high) < 1/delta
        middle = (low + high) / 2
        inside = xlogy(s, middle) + xlogy(n - s, 1 - middle) > level
        low, high = np.where(inside, low, middle), np.where(inside, middle, high)
    return np.asarray(low, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class SequenceBaseline:
    """What a class without a floor keeps: outcomes taken into the sequence and the reference so far.

    ``reference`` is ``None`` until ``min_samples`` outcomes were seen (and while none was accepted).
    """

    accepted: int = 0
    total: int = 0
    reference: float | None = None


@dataclass(frozen=True, slots=True)
class SequenceSettings:
    """``delta`` is the sequence's error (per detector); the detector starts after ``min_samples``
    outcomes and the reference stops tightening after ``max_samples``."""

    delta: float = 0.005
    min_samples: int = 300
    max_samples: int = 2_000

    def __post_init__(self) -> None:
        if not 0 < self.delta < 1:
            raise ValueError(f"delta must lie strictly between 0 and 1, got {self.delta}")
        if not 1 <= self.min_samples <= self.max_samples:
            raise ValueError("need 1 <= min_samples <= max_samples")


def observe(
    baseline: SequenceBaseline,
    state: DetectorState | None,
    outcomes: Sequence[bool] | npt.NDArray[np.bool_],
    settings: SequenceSettings,
) -> tuple[SequenceBaseline, DetectorState | None, int]:
    """Baseline and detector after ``outcomes`` (arrival order), and how many of them the detector took.

    Each outcome is first tested (once a reference exists) against the reference of the outcomes
    before it, then taken into the sequence (up to ``max_samples``).  Deterministic; observing a stream
    in batches gives the same result as observing it at once.  A ``state`` of ``None`` is created at the
    first reference; a given ``state`` keeps its drops and statistic and takes the new references.
    """
    accepted = np.asarray(outcomes, dtype=np.bool_)
    if accepted.ndim != 1:
        raise ValueError("outcomes must be a flat sequence of booleans in arrival order")
    if accepted.size == 0:
        return baseline, state, 0
    running = _running_bounds(baseline, accepted, settings)
    start = np.nan if baseline.reference is None else baseline.reference
    references = np.full(accepted.size, running[-1] if running.size else start)  # frozen after the last
    references[0] = start
    references[1 : running.size + 1] = running[: accepted.size - 1]
    after = SequenceBaseline(
        accepted=baseline.accepted + int(accepted[: running.size].sum()),
        total=baseline.total + running.size,
        reference=float(running[-1]) if running.size and not np.isnan(running[-1]) else baseline.reference,
    )
    tested = np.flatnonzero(~np.isnan(references))
    if tested.size == 0:
        return after, state, 0
    if state is None:
        state = DetectorState(float(references[tested[0]]))
    accept_llr, reject_llr = log_likelihood_ratios(references[tested], state.drops)
    steps = np.where(accepted[tested, None], accept_llr, reject_llr)
    log_r = np.array(state.log_r) if state.n else np.full(len(state.drops), -np.inf)
    for step in steps:  # the recursion of detector.advance, one outcome at a time
        np.logaddexp(0.0, log_r, out=log_r)
        log_r += step
    reference = after.reference if after.reference is not None else state.reference
    state = DetectorState(reference, state.drops, state.n + int(tested.size), tuple(float(x) for x in log_r))
    return after, state, int(tested.size)


def observe_until(
    baseline: SequenceBaseline,
    state: DetectorState | None,
    outcomes: Sequence[bool],
    settings: SequenceSettings,
    log_threshold: float,
) -> tuple[SequenceBaseline, DetectorState | None, int, int | None]:
    """:func:`observe`, stopping at the first outcome whose ``log`` mixture statistic reaches
    ``log_threshold`` (the detector's stopping rule checked at every sample): baseline, detector and
    tested count after the outcomes up to and including that one, and its index; or after all of
    them and ``None``.  The outcomes after a crossing are not observed (the caller keeps them)."""
    after, final, tested = observe(baseline, state, outcomes, settings)
    if final is None or tested == 0 or not np.isfinite(log_threshold):
        return after, final, tested, None
    crossed = _first_crossing(baseline, state, np.asarray(outcomes, dtype=np.bool_), settings, log_threshold)
    if crossed is None:
        return after, final, tested, None
    after, final, tested = observe(baseline, state, outcomes[: crossed + 1], settings)
    return after, final, tested, crossed


def _first_crossing(
    baseline: SequenceBaseline,
    state: DetectorState | None,
    accepted: npt.NDArray[np.bool_],
    settings: SequenceSettings,
    log_threshold: float,
) -> int | None:
    """The index of the first outcome at which the statistic :func:`observe` builds reaches the
    threshold (the same references and recursion, checked after each step)."""
    running = _running_bounds(baseline, accepted, settings)
    start = np.nan if baseline.reference is None else baseline.reference
    references = np.full(accepted.size, running[-1] if running.size else start)
    references[0] = start
    references[1 : running.size + 1] = running[: accepted.size - 1]
    tested = np.flatnonzero(~np.isnan(references))
    if tested.size == 0:
        return None
    drops = state.drops if state is not None else DetectorState(float(references[tested[0]])).drops
    accept_llr, reject_llr = log_likelihood_ratios(references[tested], drops)
    steps = np.where(accepted[tested, None], accept_llr, reject_llr)
    log_r = np.array(state.log_r) if state is not None and state.n else np.full(len(drops), -np.inf)
    log_count = np.log(len(drops))
    for position, step in enumerate(steps):
        np.logaddexp(0.0, log_r, out=log_r)
        log_r += step
        if np.logaddexp.reduce(log_r) - log_count >= log_threshold:
            return int(tested[position])
    return None


def _running_bounds(
    baseline: SequenceBaseline, accepted: npt.NDArray[np.bool_], settings: SequenceSettings
) -> FloatArray:
    """The reference after each outcome taken into the sequence (``nan``: none yet): the running
    maximum of the bound, from ``min_samples`` outcomes on."""
    taken = min(accepted.size, max(0, settings.max_samples - baseline.total))
    totals = baseline.total + np.arange(1, taken + 1)
    hits = baseline.accepted + np.cumsum(accepted[:taken])
    bounds = lower_bound(hits, totals, settings.delta)
    bounds[(totals < settings.min_samples) | (hits == 0)] = np.nan
    start = np.nan if baseline.reference is None else baseline.reference
    return np.asarray(np.fmax.accumulate(np.concatenate([[start], bounds]))[1:], dtype=np.float64)
