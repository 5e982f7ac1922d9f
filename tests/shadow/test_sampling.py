"""The sampling rule and the ``sample`` job on both stores."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from driftwatch.config import Policy, ShadowConfig
from driftwatch.db.engine import session_factory
from driftwatch.db.models import SampleStatus, ShadowSample
from driftwatch.sampling.rules import SamplingCandidate, in_sample, reference_tier_for, trace_fraction
from driftwatch.sampling.service import SETTLE_SECONDS, run_sampling, sample_backlog
from tests.shadow.calls import NOW, seed_calls

ALL = Policy(shadow=ShadowConfig(rate=1.0))


@given(st.from_regex(r"[0-9a-f]{32}", fullmatch=True), st.floats(0, 1))
def test_the_decision_is_a_pure_function_of_the_trace_id(trace_id: str, rate: float) -> None:
    assert in_sample(trace_id, rate) == in_sample(trace_id.upper(), rate)
    assert 0 <= trace_fraction(trace_id) < 1
    assert in_sample(trace_id, 1.0) and not in_sample(trace_id, 0.0)


def test_the_sampled_share_matches_the_rate() -> None:
    trials = 20_000
    sampled = sum(in_sample(secrets.token_hex(16), 0.1) for _ in range(trials))
    # Binomial(20000, 0.1): sd = 42; five sd either side fails once in ~3.5 million runs.
    assert abs(sampled - 2000) < 5 * 42


def test_a_higher_rate_keeps_every_call_a_lower_rate_picked() -> None:
    # Raising a class's rate must not swap out calls already being evaluated.
    ids = [secrets.token_hex(16) for _ in range(2000)]
    low = {trace_id for trace_id in ids if in_sample(trace_id, 0.05)}
    high = {trace_id for trace_id in ids if in_sample(trace_id, 0.2)}
    assert low <= high


def test_only_successful_traffic_on_sampled_tiers_qualifies() -> None:
    def candidate(**changes: str | None) -> SamplingCandidate:
        fields: dict[str, str | None] = {
            "trace_id": "ab" * 16,
            "task_class": "x",
            "tier": "cheap",
            "source": "otlp",
            "status": "ok",
        }
        fields.update(changes)
        return SamplingCandidate(**fields)  # type: ignore[arg-type]

    assert reference_tier_for(candidate(), ALL) == "premium"
    assert reference_tier_for(candidate(tier="mid"), ALL) == "premium"
    assert reference_tier_for(candidate(tier="premium"), ALL) is None
    assert reference_tier_for(candidate(tier=None), ALL) is None
    assert reference_tier_for(candidate(status="error"), ALL) is None
    assert reference_tier_for(candidate(source="shadow"), ALL) is None


def test_per_class_rates_override_the_default() -> None:
    policy = Policy.model_validate({"shadow": {"rate": 0.0, "classes": {"hard": {"rate": 1.0}}}})
    hard = SamplingCandidate("cd" * 16, "hard", "cheap", "otlp", "ok")
    easy = SamplingCandidate("cd" * 16, "easy", "cheap", "otlp", "ok")
    assert reference_tier_for(hard, policy) == "premium"
    assert reference_tier_for(easy, policy) is None


def _samples(engine: Engine) -> list[ShadowSample]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(ShadowSample).order_by(ShadowSample.call_id)))


def test_the_job_samples_each_qualifying_call_once(engine: Engine) -> None:
    seed_calls(engine, 5, tier="cheap")
    seed_calls(engine, 2, tier="premium")
    seed_calls(engine, 1, tier="cheap", status="error")
    with session_factory(engine).begin() as session:
        first = run_sampling(session, ALL, NOW)
    with session_factory(engine).begin() as session:
        again = run_sampling(session, ALL, NOW, lookback_ids=100)

    assert (first.scanned, first.sampled) == (8, 5)
    assert again.sampled == 0
    samples = _samples(engine)
    assert len(samples) == 5
    assert {sample.status for sample in samples} == {SampleStatus.PENDING}
    assert {sample.reference_tier for sample in samples} == {"premium"}
    grace = timedelta(seconds=ALL.shadow.grace_seconds)
    assert {sample.not_before for sample in samples} == {NOW + grace}


def test_a_call_committed_behind_the_cursor_is_found_by_the_look_back(engine: Engine) -> None:
    # On PostgreSQL a writer transaction can commit a lower id after a higher one was sampled.
    seed_calls(engine, 3, tier="cheap", first_id=10)
    with session_factory(engine).begin() as session:
        assert run_sampling(session, ALL, NOW).cursor == 12
    seed_calls(engine, 1, tier="cheap", first_id=5)
    with session_factory(engine).begin() as session:
        blind = run_sampling(session, ALL, NOW)
    with session_factory(engine).begin() as session:
        looking = run_sampling(session, ALL, NOW, lookback_ids=1000)

    assert blind.sampled == 0
    assert looking.sampled == 1
    assert sorted(sample.call_id for sample in _samples(engine)) == [5, 10, 11, 12]


def test_the_job_works_through_a_backlog_in_batches(engine: Engine) -> None:
    seed_calls(engine, 25, tier="cheap")
    results = []
    for _ in range(4):
        with session_factory(engine).begin() as session:
            results.append(run_sampling(session, ALL, NOW, batch_size=10).sampled)
    assert results == [10, 10, 5, 0]
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(ShadowSample)) == 25


def test_nothing_is_sampled_at_rate_zero(engine: Engine) -> None:
    seed_calls(engine, 10, tier="cheap")
    with session_factory(engine).begin() as session:
        result = run_sampling(session, Policy(shadow=ShadowConfig(rate=0.0)), datetime.now(UTC))
    assert (result.scanned, result.sampled) == (10, 0)


def test_the_look_back_stops_at_the_ids_passed_before_the_settle_time(engine: Engine) -> None:
    seed_calls(engine, 5, tier="cheap", first_id=1)
    later = NOW + timedelta(seconds=SETTLE_SECONDS)
    runs = []
    for moment, first_id in ((NOW, 6), (NOW, 11), (later, 16), (later + timedelta(seconds=1), 21)):
        with session_factory(engine).begin() as session:
            runs.append(run_sampling(session, ALL, moment, lookback_ids=1000))
        seed_calls(engine, 5, tier="cheap", first_id=first_id)

    # The first run has no cursor to look behind; until SETTLE_SECONDS have passed since the ids were
    # passed, every run looks back over all of them; after that, only over the ids passed since.
    assert [run.looked_back_from for run in runs] == [None, 0, 0, 5]
    assert [run.cursor for run in runs] == [5, 10, 15, 20]


def test_a_late_call_behind_the_cursor_is_found_within_the_settle_time(engine: Engine) -> None:
    seed_calls(engine, 3, tier="cheap", first_id=10)
    with session_factory(engine).begin() as session:
        run_sampling(session, ALL, NOW, lookback_ids=1000)
    seed_calls(engine, 3, tier="cheap", first_id=20)
    with session_factory(engine).begin() as session:
        run_sampling(session, ALL, NOW + timedelta(seconds=1), lookback_ids=1000)
    seed_calls(engine, 1, tier="cheap", first_id=15)  # committed late, behind the cursor
    with session_factory(engine).begin() as session:
        found = run_sampling(session, ALL, NOW + timedelta(seconds=SETTLE_SECONDS - 1), lookback_ids=1000)

    assert found.sampled == 1
    assert 15 in {sample.call_id for sample in _samples(engine)}


def test_one_run_of_the_job_catches_up_on_a_backlog(engine: Engine) -> None:
    seed_calls(engine, 25, tier="cheap")

    result = sample_backlog(engine, ALL, lambda: NOW, batch_size=10, lookback_ids=0, time_budget_seconds=60)

    assert (result.sampled, result.batches, result.caught_up) == (25, 3, True)
    assert len(_samples(engine)) == 25


def test_a_run_out_of_time_leaves_the_backlog_to_the_next_run(engine: Engine) -> None:
    seed_calls(engine, 25, tier="cheap")

    first = sample_backlog(engine, ALL, lambda: NOW, batch_size=10, lookback_ids=0, time_budget_seconds=0)
    second = sample_backlog(engine, ALL, lambda: NOW, batch_size=10, lookback_ids=0, time_budget_seconds=60)

    assert (first.sampled, first.batches, first.caught_up) == (10, 1, False)
    assert "backlog left for the next run" in first.summary()
    assert (second.sampled, second.caught_up) == (15, True)
