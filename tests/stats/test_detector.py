"""The mixture Shiryaev-Roberts detector: its martingale property, alarms, state and plain-language status."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwatch.stats.detector import (
    DEFAULT_DROPS,
    AlarmThreshold,
    Assessment,
    DetectorState,
    Status,
    advance,
    assess,
    bernoulli_kl,
    log_likelihood_ratios,
    log_mixture,
    log_statistic,
    lorden_delay,
    update,
    update_until,
)


def _stream(rate: float, size: int, seed: int) -> npt.NDArray[np.bool_]:
    return np.random.default_rng(seed).random(size) < rate


def _every_sequence(
    reference: float, rate: float, n: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``log R_n`` per alternative for all 2^n outcome sequences, and each sequence's probability."""
    sequences = np.array(list(itertools.product([True, False], repeat=n)))
    probability = np.prod(np.where(sequences, rate, 1 - rate), axis=1)
    accept_llr, reject_llr = log_likelihood_ratios(reference)
    log_r = np.full((len(sequences), len(DEFAULT_DROPS)), -np.inf)
    for i in range(n):
        log_r = advance(log_r, accept_llr, reject_llr, sequences[:, i])
    return log_r, probability


@pytest.mark.parametrize("reference", [0.5, 0.9, 0.97])
def test_on_healthy_data_the_statistic_has_mean_n(reference: float) -> None:
    # Exact, over every sequence: a Monte Carlo mean of R_n is dominated by rare sequences of rejects
    # (LR up to 11 per reject) and would need a tolerance too loose to catch a wrong recursion.
    n = 12
    log_r, probability = _every_sequence(reference, reference, n)

    per_alternative = probability @ np.exp(log_r)
    assert per_alternative == pytest.approx(np.full(len(DEFAULT_DROPS), n), rel=1e-9)
    assert probability @ np.exp(log_mixture(log_r)) == pytest.approx(n, rel=1e-9)


def test_a_class_above_its_reference_is_healthy_too() -> None:
    log_r, probability = _every_sequence(reference=0.9, rate=0.95, n=12)

    assert np.all(probability @ np.exp(log_r) <= 12)


def test_monte_carlo_mean_matches_n_on_short_streams() -> None:
    # The property STATS.md names, checked as a simulation would: short streams keep the tail tame.
    accept_llr, reject_llr = log_likelihood_ratios(0.8, drops=(0.05, 0.1))
    rng = np.random.default_rng(7)
    log_r = np.full((200_000, 2), -np.inf)
    for _ in range(5):
        log_r = advance(log_r, accept_llr, reject_llr, rng.random(200_000) < 0.8)

    assert np.exp(log_mixture(log_r)).mean() == pytest.approx(5, rel=0.01)


def test_no_false_alarm_on_long_healthy_streams_at_the_target_threshold() -> None:
    threshold = AlarmThreshold(horizon=10_000, alpha=0.01)
    accept_llr, reject_llr = log_likelihood_ratios(0.95)
    rng = np.random.default_rng(11)
    streams = 200
    log_r = np.full((streams, len(DEFAULT_DROPS)), -np.inf)
    alarmed = np.zeros(streams, dtype=np.bool_)
    for accepted in rng.random((threshold.horizon, streams)) < 0.95:
        log_r = advance(log_r, accept_llr, reject_llr, accepted)
        # The average cannot reach the threshold before its largest term does: only those rows need it.
        near = np.flatnonzero(log_r.max(axis=1) >= threshold.log_value)
        if near.size:
            alarmed[near] |= log_mixture(log_r[near]) >= threshold.log_value

    # The guarantee allows 2 of 200; the simulations in bench/README.md measure well under that.
    assert np.sum(alarmed) <= 2


def test_a_big_drop_is_detected_within_a_bounded_delay() -> None:
    threshold = AlarmThreshold()
    state = update(DetectorState(reference=0.95), _stream(0.95, 1_000, seed=3))
    assert assess(state, threshold).status is Status.HEALTHY

    delay = 0
    for outcome in _stream(0.70, 500, seed=4):
        state, delay = update(state, [bool(outcome)]), delay + 1
        if log_statistic(state) >= threshold.log_value:
            break

    assert delay <= 2 * lorden_delay(0.95, 0.70, threshold.value)
    assert assess(state, threshold).status is Status.DEGRADED


@pytest.mark.parametrize("seed", range(5))
def test_update_until_stops_at_the_first_sample_whose_statistic_crosses(seed: int) -> None:
    outcomes = np.concatenate([_stream(0.96, 300, seed=seed), _stream(0.5, 40, seed=seed + 50)])
    threshold = AlarmThreshold(horizon=1_000, alpha=0.05)
    one_by_one, crossing = DetectorState(reference=0.95), None
    for index, outcome in enumerate(outcomes):
        one_by_one = update(one_by_one, [bool(outcome)])
        if log_statistic(one_by_one) >= threshold.log_value:
            crossing = index
            break
    assert crossing is not None

    state, crossed = update_until(DetectorState(reference=0.95), outcomes, threshold.log_value)

    assert crossed == crossing and state == one_by_one and state.n == crossing + 1


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    outcomes=st.lists(st.booleans(), max_size=120),
    before=st.lists(st.booleans(), max_size=30),
    reference=st.floats(0.5, 0.99),
    log_threshold=st.floats(0.5, 12.0),
)
def test_update_until_is_the_one_by_one_run_stopped_at_its_first_crossing(
    outcomes: list[bool], before: list[bool], reference: float, log_threshold: float
) -> None:
    start = update(DetectorState(reference=reference), before)
    expected, crossing = start, None
    for index, outcome in enumerate(outcomes):
        expected = update(expected, [outcome])
        if log_statistic(expected) >= log_threshold:
            crossing = index
            break

    state, crossed = update_until(start, outcomes, log_threshold)

    assert crossed == crossing
    assert state.n == expected.n and state.log_r == pytest.approx(expected.log_r, rel=1e-12)


def test_update_until_without_a_crossing_is_update() -> None:
    outcomes = _stream(0.96, 2_000, seed=11)
    state, crossed = update_until(DetectorState(reference=0.95), outcomes, AlarmThreshold().log_value)
    assert crossed is None and state == update(DetectorState(reference=0.95), outcomes)


def test_batches_give_the_same_state_as_one_update() -> None:
    outcomes = _stream(0.9, 3_000, seed=5)
    cuts = [0, 1, 17, 500, 501, 2_222, 3_000]

    state = DetectorState(reference=0.92)
    for start, stop in itertools.pairwise(cuts):
        state = update(state, outcomes[start:stop])

    assert state == update(DetectorState(reference=0.92), outcomes)
    assert state.n == 3_000


def test_update_follows_the_recursion_step_by_step() -> None:
    outcomes = _stream(0.8, 200, seed=6)
    accept_llr, reject_llr = log_likelihood_ratios(0.85)
    log_r = np.full(len(DEFAULT_DROPS), -np.inf)
    for outcome in outcomes:
        log_r = np.logaddexp(0.0, log_r) + (accept_llr if outcome else reject_llr)

    assert update(DetectorState(reference=0.85), outcomes).log_r == pytest.approx(tuple(log_r), rel=1e-12)


def test_the_state_survives_a_json_round_trip() -> None:
    state = update(DetectorState(reference=0.9), [True, False, True, True])

    restored = DetectorState.from_dict(json.loads(json.dumps(state.to_dict())))

    assert restored == state
    assert DetectorState.from_dict(json.loads(json.dumps(DetectorState(0.9).to_dict()))) == DetectorState(0.9)


@pytest.mark.parametrize(
    "data",
    [
        {"reference": 0.9, "drops": [0.1], "n": 1, "log_r": []},
        {"reference": 0.9, "drops": [0.1], "n": "1", "log_r": [0.0]},
        {"reference": "0.9", "drops": [0.1], "n": 1, "log_r": [0.0]},
        {"reference": 1.0, "drops": [0.1], "n": 0, "log_r": []},
        {"reference": 0.9, "drops": [0.1], "n": 1, "log_r": [math.nan]},
        {"reference": 0.9, "drops": [], "n": 0, "log_r": []},
    ],
)
def test_a_damaged_state_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DetectorState.from_dict(data)


def test_long_streams_stay_finite() -> None:
    healthy = update(DetectorState(reference=0.95), _stream(0.95, 100_000, seed=8))
    collapsed = update(DetectorState(reference=0.95), _stream(0.30, 20_000, seed=9))

    assert all(map(math.isfinite, healthy.log_r + collapsed.log_r))
    assert log_statistic(collapsed) > 2_000
    reading = assess(collapsed, AlarmThreshold())
    assert math.isfinite(reading.e_value) and math.isfinite(reading.evidence)
    assert json.loads(json.dumps(reading.e_value)) == reading.e_value


def test_alternatives_below_zero_are_clipped_not_lost() -> None:
    accept_llr, reject_llr = log_likelihood_ratios(0.2)

    assert np.all(np.isfinite(accept_llr)) and np.all(accept_llr < 0) and np.all(reject_llr > 0)


def test_the_threshold_is_horizon_over_alpha_times_classes() -> None:
    assert AlarmThreshold(horizon=10_000, alpha=0.01).value == pytest.approx(1e6)
    assert AlarmThreshold(horizon=10_000, alpha=0.01, classes=50).log_value == pytest.approx(math.log(5e7))
    for bad in ({"alpha": 0.0}, {"alpha": 1.5}, {"horizon": 0}, {"classes": 0}):
        with pytest.raises(ValueError):
            AlarmThreshold(**bad)


def test_lorden_bound_matches_the_figures_of_stats_md() -> None:
    assert bernoulli_kl(0.90, 0.95) == pytest.approx(0.02065, abs=1e-5)
    assert lorden_delay(0.95, 0.90, 1e6) == pytest.approx(math.log(1e6) / 0.020653, rel=1e-3)


def test_status_says_not_enough_samples_until_a_drop_could_have_shown() -> None:
    threshold = AlarmThreshold()
    needed = math.ceil(lorden_delay(0.95, 0.85, threshold.value))

    early = assess(update(DetectorState(0.95), [True] * (needed - 1)), threshold)
    later = assess(update(DetectorState(0.95), [True] * needed), threshold)

    assert early.status is Status.NOT_ENOUGH_SAMPLES and str(needed) in early.message
    assert later.status is Status.HEALTHY
    empty = assess(DetectorState(0.95), threshold)
    assert (empty.samples, empty.log_statistic, empty.e_value) == (0, None, 0.0)
    assert empty.status is Status.NOT_ENOUGH_SAMPLES


def test_status_watches_before_it_alarms() -> None:
    threshold = AlarmThreshold()
    state = DetectorState(0.95)
    seen: list[Assessment] = []
    while not seen or seen[-1].status is not Status.DEGRADED:
        state = update(state, [False])
        seen.append(assess(state, threshold))

    statuses = [reading.status for reading in seen]
    assert Status.WATCH in statuses
    watch = statuses.index(Status.WATCH)
    assert 0.1 <= seen[watch].evidence < 1 <= seen[-1].evidence
    assert seen[-1].e_value == pytest.approx(seen[-1].evidence * threshold.value / threshold.horizon)


def test_an_e_bh_verdict_overrides_the_single_class_threshold() -> None:
    threshold = AlarmThreshold()
    state = update(DetectorState(0.95), [True] * 400)

    assert assess(state, threshold, flagged=True).status is Status.DEGRADED
    alarmed = update(DetectorState(0.95), [False] * 50)
    assert assess(alarmed, threshold, flagged=False).status is not Status.DEGRADED
