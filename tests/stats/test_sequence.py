"""The reference from a lower confidence sequence: valid at every sample size, tightening, never falling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import betaln  # type: ignore[import-untyped]

from driftwatch.stats.detector import DetectorState, log_statistic, update
from driftwatch.stats.sequence import SequenceBaseline, SequenceSettings, lower_bound, observe, observe_until


def _stream(rate: float, count: int, seed: int) -> list[bool]:
    return [bool(x) for x in np.random.default_rng(seed).random(count) < rate]


def test_the_bound_is_the_lower_end_of_the_mixture_confidence_sequence() -> None:
    accepted, total, delta = 475, 500, 0.005
    bound = float(lower_bound(accepted, total, delta))

    def log_mixture(q: float) -> float:  # Robbins' Beta(9, 1) mixture martingale at rate q
        return float(
            betaln(9 + accepted, 1 + total - accepted)
            - betaln(9, 1)
            - accepted * math.log(q)
            - (total - accepted) * math.log(1 - q)
        )

    assert log_mixture(bound - 1e-9) >= math.log(1 / delta) > log_mixture(bound + 1e-9)
    assert 0.90 < bound < 0.91


def test_the_bound_tightens_with_evidence_and_with_a_larger_error() -> None:
    sizes = np.array([300, 500, 1_000, 2_000, 10_000])
    bounds = lower_bound(np.round(0.95 * sizes), sizes, 0.005)

    assert np.all(np.diff(bounds) > 0) and bounds[-1] < 0.95
    assert lower_bound(475, 500, 0.05) > lower_bound(475, 500, 0.005) > lower_bound(475, 500, 0.0001)


def test_no_evidence_gives_no_bound() -> None:
    assert lower_bound([0, 0], [0, 500], 0.01).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="accepted <= total"):
        lower_bound(6, 5, 0.01)


@pytest.mark.parametrize("rate", [0.95, 0.8])
def test_the_sequence_covers_the_true_rate_at_every_sample_size_at_once(rate: float) -> None:
    # 2,000 streams of 2,000 outcomes: the share whose bound ever exceeds the true rate stays within
    # delta (plus three standard errors).  The bound rises with the accepted count, so for each sample
    # size the streams above it are those past the largest count whose bound is still <= rate; that
    # count lies a few standard deviations above rate * n, so only that band is computed.
    delta, streams, length = 0.05, 2_000, 2_000
    sizes = np.arange(1, length + 1)[:, None]
    counts = np.minimum(np.floor(rate * sizes) + np.arange(0, 8 * math.isqrt(length) + 8)[None, :], sizes)
    bounds = lower_bound(counts, sizes, delta)
    assert np.all((bounds[:, -1] > rate) | (counts[:, -1] == sizes[:, 0]))  # the band reaches the crossing
    largest_safe = np.where(bounds <= rate, counts, -1).max(axis=1)
    paths = np.cumsum(np.random.default_rng(42).random((streams, length)) < rate, axis=1)

    missed = np.mean(np.any(paths > largest_safe, axis=1))

    assert missed <= delta + 3 * math.sqrt(delta * (1 - delta) / streams)


def test_the_detector_waits_for_min_samples_then_tests_each_outcome_against_the_reference_before_it() -> None:
    settings = SequenceSettings(delta=0.01, min_samples=300, max_samples=1_000)
    outcomes = _stream(0.95, 400, seed=1)

    baseline, state, tested = observe(SequenceBaseline(), None, outcomes[:300], settings)
    assert state is None and tested == 0 and baseline.total == 300 and baseline.reference is not None
    first = baseline.reference
    assert first == pytest.approx(float(lower_bound(sum(outcomes[:300]), 300, 0.01)))

    baseline, state, tested = observe(baseline, None, outcomes[300:301], settings)
    assert tested == 1 and state is not None
    assert (state.n, state.log_r) == (1, update(DetectorState(first), outcomes[300:301]).log_r)


def test_the_reference_never_falls_and_freezes_at_max_samples() -> None:
    settings = SequenceSettings(delta=0.005, min_samples=300, max_samples=1_000)
    healthy, dropped = _stream(0.95, 700, seed=2), _stream(0.6, 800, seed=3)

    before, _, _ = observe(SequenceBaseline(), None, healthy, settings)
    after, state, tested = observe(before, None, dropped, settings)

    assert before.reference is not None and after.reference == before.reference  # the drop cannot pull it
    assert after.total == 1_000 and after.accepted == sum(healthy) + sum(dropped[:300])
    assert state is not None and tested == 800 and state.reference == before.reference


def test_batches_give_the_same_result_as_all_at_once() -> None:
    settings = SequenceSettings()
    outcomes = np.array(_stream(0.93, 3_000, seed=4))

    whole = observe(SequenceBaseline(), None, outcomes, settings)
    baseline, state, tested = SequenceBaseline(), None, 0
    for batch in np.array_split(outcomes, [1, 299, 300, 301, 1_000, 1_999, 2_000, 2_001]):
        baseline, state, took = observe(baseline, state, batch, settings)
        tested += took

    assert (baseline, state, tested) == whole and tested == 2_700


def test_a_drop_after_500_outcomes_is_found_before_any_window_baseline_could_start() -> None:
    settings = SequenceSettings()
    outcomes = _stream(0.95, 500, seed=5) + _stream(0.85, 1_000, seed=6)
    threshold = math.log(10_000 / 0.005)

    baseline, state, log_stat = SequenceBaseline(), None, -math.inf
    for start in range(0, len(outcomes), 50):  # a scheduler reading it every 50 outcomes
        baseline, state, _ = observe(baseline, state, outcomes[start : start + 50], settings)
        if state is not None and (log_stat := log_statistic(state)) >= threshold:
            break

    assert log_stat >= threshold and baseline.total < 2_000


def test_observing_until_the_first_crossing_stops_where_a_sample_by_sample_run_first_crosses() -> None:
    settings = SequenceSettings(delta=0.005, min_samples=300, max_samples=1_000)
    rng = np.random.default_rng(7)
    # 600 healthy outcomes at 0.95, then a drop to 0.6: the statistic crosses somewhere after 600.
    outcomes = [bool(x) for x in np.concatenate([rng.random(600) < 0.95, rng.random(400) < 0.6])]
    log_threshold = math.log(10_000 / 0.01)

    baseline, state, tested, crossed = observe_until(
        SequenceBaseline(0, 0, None), None, outcomes, settings, log_threshold
    )

    one_by_one_baseline = SequenceBaseline(0, 0, None)
    one_by_one: DetectorState | None = None
    first = None
    for index, outcome in enumerate(outcomes):
        one_by_one_baseline, one_by_one, _ = observe(one_by_one_baseline, one_by_one, [outcome], settings)
        if one_by_one is not None and one_by_one.n and log_statistic(one_by_one) >= log_threshold:
            first = index
            break
    assert first is not None and first >= 600
    assert crossed == first
    assert state is not None and one_by_one is not None
    assert (baseline, state.n, state.log_r) == (one_by_one_baseline, one_by_one.n, one_by_one.log_r)
    assert tested == state.n


def test_observing_until_an_unreached_threshold_is_observing_all() -> None:
    settings = SequenceSettings(delta=0.005, min_samples=300, max_samples=1_000)
    outcomes = [bool(x) for x in np.random.default_rng(3).random(800) < 0.95]

    until = observe_until(SequenceBaseline(0, 0, None), None, outcomes, settings, math.log(1e6))
    whole = observe(SequenceBaseline(0, 0, None), None, outcomes, settings)

    assert until == (*whole, None)
