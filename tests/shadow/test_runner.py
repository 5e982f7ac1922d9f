"""The evaluation runner on both stores: results, budgets, retries, crashes and competing workers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from driftwatch.config import Policy, ShadowConfig
from driftwatch.db.engine import session_factory
from driftwatch.db.models import (
    Evaluation,
    OutboxEvent,
    SampleStatus,
    ShadowCostDay,
    ShadowSample,
    ShadowSpend,
)
from driftwatch.prices.pricing import PriceTable
from driftwatch.sampling.service import run_sampling
from driftwatch.shadow import budget, queue
from driftwatch.shadow.judges.base import Judge
from driftwatch.shadow.providers.base import ProviderError
from driftwatch.shadow.runner import RunnerOptions, ShadowRunner
from tests.shadow.calls import NOW, seed_calls
from tests.shadow.memory import EqualityJudge, ScriptedProvider
from tests.support.evaluation_rollup import counted_from_verdicts, counted_in_rollup

PRICES = PriceTable()


class Clock:
    def __init__(self) -> None:
        self.now = NOW + timedelta(minutes=5)  # past the sampling grace period

    def __call__(self) -> datetime:
        return self.now


def _policy(**shadow: object) -> Policy:
    return Policy(shadow=ShadowConfig.model_validate({"rate": 1.0, **shadow}))


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _runner(
    engine: Engine,
    clock: Clock,
    provider: ScriptedProvider,
    policy: Policy | None = None,
    judge: Judge | None = None,
    **options: object,
) -> ShadowRunner:
    chosen_judge: Judge = judge or EqualityJudge()
    return ShadowRunner(
        engine,
        policy or _policy(),
        {"premium": provider},
        lambda _task_class: chosen_judge,
        PRICES,
        RunnerOptions(**{"worker_id": "w1", "retry_base": timedelta(seconds=10), **options}),  # type: ignore[arg-type]
        clock,
    )


@pytest.fixture
def runners() -> Iterator[list[ShadowRunner]]:
    made: list[ShadowRunner] = []
    yield made
    for runner in made:
        runner.close()


def _sample(engine: Engine, policy: Policy | None = None) -> None:
    with session_factory(engine).begin() as session:
        run_sampling(session, policy or _policy(), NOW)


def _statuses(engine: Engine) -> dict[str, int]:
    with session_factory(engine)() as session:
        rows = session.execute(select(ShadowSample.status, func.count()).group_by(ShadowSample.status)).all()
    return {status: count for status, count in rows}


def _evaluations(engine: Engine) -> list[Evaluation]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(Evaluation).order_by(Evaluation.id)))


def _spend(engine: Engine) -> tuple[float, float]:
    with session_factory(engine)() as session:
        spend = session.scalars(select(ShadowSpend)).one()
        return spend.spent_usd, spend.reserved_usd


def test_each_sample_gets_one_judged_evaluation_with_its_cost(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    seed_calls(engine, 3, tier="cheap", completion="PARIS")
    seed_calls(engine, 2, tier="cheap", completion="Lyon")
    _sample(engine)
    provider = ScriptedProvider()
    runner = _runner(engine, clock, provider, judge=EqualityJudge(cost_usd=0.001))
    runners.append(runner)

    summary = asyncio.run(runner.run_once())
    again = asyncio.run(runner.run_once())

    assert summary.claimed == 5 and again.claimed == 0
    assert summary.outcomes == {"acceptable": 3, "unacceptable": 2}
    evaluations = _evaluations(engine)
    assert [evaluation.acceptable for evaluation in evaluations].count(True) == 3
    for evaluation in evaluations:
        assert evaluation.source == "shadow"
        assert (evaluation.tier, evaluation.reference_tier) == ("cheap", "premium")
        assert (evaluation.model, evaluation.reference_model) == ("claude-haiku-4-5", "claude-opus-4-7")
        assert evaluation.judge_cost_usd == pytest.approx(0.001)
        assert evaluation.shadow_cost_usd > 0
    spent, reserved = _spend(engine)
    assert spent == pytest.approx(sum(e.shadow_cost_usd + e.judge_cost_usd for e in evaluations))
    assert reserved == pytest.approx(0.0, abs=1e-12)
    assert _statuses(engine) == {SampleStatus.DONE: 5}
    assert counted_in_rollup(engine) == counted_from_verdicts(engine)
    # The replay is the call's own prompt, with room for a longer answer than the cheap one gave.
    assert provider.requests[0].messages[0].content == "what is the capital of france?"
    assert provider.requests[0].max_output_tokens >= 512


def test_spend_counts_against_the_day_it_ran_and_for_savings_on_the_day_of_the_call(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    seed_calls(engine, 3, tier="cheap")
    _sample(engine)
    clock.now = NOW + timedelta(days=10)  # a backlog of older calls evaluated today
    runners.append(runner := _runner(engine, clock, ScriptedProvider(), judge=EqualityJudge(cost_usd=0.001)))

    asyncio.run(runner.run_once())

    spent = sum(e.shadow_cost_usd + e.judge_cost_usd for e in _evaluations(engine))
    assert spent > 0
    with session_factory(engine)() as session:
        budget_days = {row.day: row.spent_usd for row in session.scalars(select(ShadowSpend))}
        call_days = {row.day: row.spent_usd for row in session.scalars(select(ShadowCostDay))}
    assert budget_days == {clock.now.date().isoformat(): pytest.approx(spent)}
    assert call_days == {NOW.date().isoformat(): pytest.approx(spent)}


def test_calls_without_captured_content_are_reported_unevaluable(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    seed_calls(engine, 2, tier="cheap", prompt=None)
    seed_calls(engine, 1, tier="cheap", completion=None)
    _sample(engine)
    provider = ScriptedProvider()
    runners.append(runner := _runner(engine, clock, provider))

    summary = asyncio.run(runner.run_once())

    assert summary.outcomes == {SampleStatus.UNEVALUABLE: 3}
    assert provider.requests == []
    with session_factory(engine)() as session:
        errors = set(session.scalars(select(ShadowSample.last_error)))
    assert all("enable content capture" in (error or "") for error in errors)


def test_samples_wait_for_budget_held_in_flight_and_the_budget_is_never_exceeded(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    seed_calls(engine, 20, tier="cheap")
    _sample(engine)
    # Each evaluation reserves a little under $0.02 at Opus prices (512 output tokens allowed) and
    # spends far less, so $0.05 admits a handful at once; the others wait for those to settle.
    policy = _policy(daily_budget_usd=0.05)
    runners.append(runner := _runner(engine, clock, ScriptedProvider(), policy=policy))

    first = asyncio.run(runner.run_once())
    waiting = _statuses(engine)
    for _ in range(30):
        if not _statuses(engine).get(SampleStatus.PENDING):
            break
        clock.now += timedelta(seconds=6)
        asyncio.run(runner.run_once())

    assert waiting[SampleStatus.DONE] > 0 and waiting[SampleStatus.PENDING] > 0
    assert first.outcomes["deferred"] == waiting[SampleStatus.PENDING]
    assert SampleStatus.SKIPPED_BUDGET not in waiting  # held reservations are not a spent budget
    final = _statuses(engine)
    assert final.get(SampleStatus.DONE, 0) + final.get(SampleStatus.SKIPPED_BUDGET, 0) == 20
    with session_factory(engine)() as session:  # a deferral gives its attempt back
        assert set(session.scalars(select(ShadowSample.attempts))) == {1}
    spent, reserved = _spend(engine)
    assert spent <= 0.05 and reserved == pytest.approx(0.0, abs=1e-12)


def test_a_spent_budget_skips_samples(engine: Engine, clock: Clock, runners: list[ShadowRunner]) -> None:
    seed_calls(engine, 3, tier="cheap")
    _sample(engine)
    with session_factory(engine).begin() as session:  # the day's budget already spent elsewhere
        budget.reserve(session, "extraction", budget.budget_day(clock.now), 0.049, 0.05)
        budget.settle(session, "extraction", budget.budget_day(clock.now), 0.049, 0.049)
    provider = ScriptedProvider()
    runners.append(runner := _runner(engine, clock, provider, policy=_policy(daily_budget_usd=0.05)))

    summary = asyncio.run(runner.run_once())

    assert provider.requests == []
    assert _statuses(engine) == {SampleStatus.SKIPPED_BUDGET: 3}
    assert summary.outcomes[SampleStatus.SKIPPED_BUDGET] == 3


def test_a_zero_budget_runs_nothing(engine: Engine, clock: Clock, runners: list[ShadowRunner]) -> None:
    seed_calls(engine, 3, tier="cheap")
    _sample(engine)
    provider = ScriptedProvider()
    runners.append(runner := _runner(engine, clock, provider, policy=_policy(daily_budget_usd=0.0)))
    asyncio.run(runner.run_once())
    assert provider.requests == []
    assert _statuses(engine) == {SampleStatus.SKIPPED_BUDGET: 3}


def test_a_retryable_provider_failure_waits_and_then_succeeds(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    seed_calls(engine, 1, tier="cheap")
    _sample(engine)
    provider = ScriptedProvider(failures=[ProviderError("429 rate limited", retryable=True, status_code=429)])
    runners.append(runner := _runner(engine, clock, provider))

    first = asyncio.run(runner.run_once())
    too_soon = asyncio.run(runner.run_once())
    clock.now += timedelta(seconds=11)
    later = asyncio.run(runner.run_once())

    assert first.outcomes == {"retried": 1}
    assert too_soon.claimed == 0
    assert later.outcomes == {"acceptable": 1}
    assert _spend(engine)[1] == pytest.approx(0.0, abs=1e-12)  # the failed attempt's reservation went back


def test_a_sample_fails_for_good_after_its_attempts_or_on_a_permanent_error(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    seed_calls(engine, 1, tier="cheap")
    _sample(engine)
    failures = [ProviderError("500", retryable=True, status_code=500) for _ in range(3)]
    runners.append(runner := _runner(engine, clock, ScriptedProvider(failures=failures), max_attempts=2))
    asyncio.run(runner.run_once())
    clock.now += timedelta(minutes=1)
    asyncio.run(runner.run_once())
    assert _statuses(engine) == {SampleStatus.FAILED: 1}

    seed_calls(engine, 1, tier="cheap")
    _sample(engine)
    permanent = ScriptedProvider(
        failures=[ProviderError("401 invalid key", retryable=False, status_code=401)]
    )
    runners.append(second := _runner(engine, clock, permanent))
    asyncio.run(second.run_once())
    assert _statuses(engine) == {SampleStatus.FAILED: 2}
    with session_factory(engine)() as session:
        assert "401 invalid key" in set(session.scalars(select(ShadowSample.last_error)))


def test_a_dead_workers_samples_are_taken_over_once_its_lease_expires(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    seed_calls(engine, 4, tier="cheap")
    _sample(engine)
    # A worker claims everything and reserves budget for one sample, then dies.
    with session_factory(engine).begin() as session:
        claimed = queue.claim(session, "dead", clock(), 10, timedelta(minutes=10))
    from driftwatch.shadow import budget

    with session_factory(engine).begin() as session:
        assert budget.reserve(session, "extraction", budget.budget_day(clock()), 0.5, 5.0)
        queue.transition(
            session,
            claimed[0].sample_id,
            "dead",
            clock(),
            SampleStatus.RUNNING,
            reserved=(budget.budget_day(clock()), 0.5),
        )
    runners.append(runner := _runner(engine, clock, ScriptedProvider(), worker_id="alive"))

    before_expiry = asyncio.run(runner.run_once())
    clock.now += timedelta(minutes=11)
    after_expiry = asyncio.run(runner.run_once())

    assert before_expiry.claimed == 0
    assert after_expiry.claimed == 4
    assert len(_evaluations(engine)) == 4
    assert _spend(engine)[1] == pytest.approx(0.0, abs=1e-12)  # the dead worker's reservation is gone


def test_competing_workers_never_evaluate_a_sample_twice(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    seed_calls(engine, 60, tier="cheap")
    _sample(engine)
    providers = [ScriptedProvider(latency_seconds=0.01) for _ in range(3)]
    for index, provider in enumerate(providers):
        runners.append(_runner(engine, clock, provider, worker_id=f"w{index}", batch_size=7))

    async def drain() -> None:
        async def worker(runner: ShadowRunner) -> None:
            while (await runner.run_once()).claimed:
                pass

        await asyncio.gather(*(worker(runner) for runner in runners))

    asyncio.run(drain())

    evaluations = _evaluations(engine)
    assert len(evaluations) == 60
    assert len({evaluation.sample_id for evaluation in evaluations}) == 60
    assert sum(len(provider.requests) for provider in providers) == 60
    assert counted_in_rollup(engine) == counted_from_verdicts(engine)


def test_provider_calls_in_flight_are_bounded(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    seed_calls(engine, 30, tier="cheap")
    _sample(engine)
    provider = ScriptedProvider(latency_seconds=0.02)
    runners.append(runner := _runner(engine, clock, provider, max_in_flight=4))
    asyncio.run(runner.run_once())
    assert len(provider.requests) == 30
    assert provider.max_in_flight <= 4


def test_an_unpriced_reference_model_fails_the_sample_with_the_reason(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    seed_calls(engine, 1, tier="cheap")
    _sample(engine)
    runners.append(runner := _runner(engine, clock, ScriptedProvider(model="house-model-9")))
    asyncio.run(runner.run_once())
    with session_factory(engine)() as session:
        sample = session.scalars(select(ShadowSample)).one()
    assert sample.status == SampleStatus.FAILED
    assert "no price for reference model 'house-model-9'" in (sample.last_error or "")


def test_a_gateway_alias_reference_model_is_priced_as_its_price_model(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    # A LiteLLM proxy's alias "premium" for claude-opus-4-7: priced through the model behind it.
    policy = Policy.model_validate(
        {
            "shadow": {"rate": 1.0},
            "providers": {
                "premium": {"kind": "openai", "model": "premium", "price_model": "claude-opus-4-7"}
            },
        }
    )
    seed_calls(engine, 1, tier="cheap")
    _sample(engine, policy)
    provider = ScriptedProvider(model="premium")
    runner = ShadowRunner(
        engine,
        policy,
        {"premium": provider},
        lambda _task_class: EqualityJudge(),
        PriceTable(policy.price_table()),
        RunnerOptions(worker_id="w1"),
        clock,
    )
    runners.append(runner)

    asyncio.run(runner.run_once())

    assert _statuses(engine) == {SampleStatus.DONE: 1}  # not failed with "no price"
    [request] = provider.requests
    input_tokens = sum(len(message.content) for message in request.messages) // 4 + 1
    expected = PRICES.cost("claude-opus-4-7", input_tokens, len("Paris") // 4 + 1)
    assert _evaluations(engine)[0].shadow_cost_usd == pytest.approx(expected)


def _events(engine: Engine) -> list[tuple[str, str | None]]:
    with session_factory(engine)() as session:
        rows = session.execute(select(OutboxEvent.event_type, OutboxEvent.task_class)).all()
    return [(event_type, task_class) for event_type, task_class in rows]


def test_a_spent_budget_and_missing_content_are_announced_once_per_class_and_day(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    seed_calls(engine, 4, tier="cheap", task_class="summaries")
    seed_calls(engine, 3, tier="cheap", task_class="chat", prompt=None)
    _sample(engine)
    policy = _policy(daily_budget_usd=0.0)
    runners.append(runner := _runner(engine, clock, ScriptedProvider(), policy=policy))

    asyncio.run(runner.run_once())

    assert sorted(_events(engine)) == [("budget.exhausted", "summaries"), ("class.unevaluable", "chat")]


def test_samples_lost_while_their_provider_answered_keep_their_cost_but_not_their_result(
    engine: Engine, clock: Clock, runners: list[ShadowRunner]
) -> None:
    """Results commit per group: of a group, the samples another worker took over are not recorded,
    the others are, and what was spent on every one is counted."""
    seed_calls(engine, 6, tier="cheap", completion="Paris")
    _sample(engine)
    stolen: list[int] = []

    def answer_after_a_takeover(_request: object) -> str:
        if not stolen:  # while the first answer comes back, another worker takes two samples over
            with session_factory(engine).begin() as session:
                later = clock() + timedelta(minutes=11)
                stolen.extend(
                    s.sample_id for s in queue.claim(session, "thief", later, 2, timedelta(hours=1))
                )
        return "Paris"

    provider = ScriptedProvider(answer=answer_after_a_takeover, latency_seconds=0.05)
    runners.append(runner := _runner(engine, clock, provider, judge=EqualityJudge(cost_usd=0.001)))

    summary = asyncio.run(runner.run_once())

    assert summary.claimed == 6 and len(stolen) == 2
    evaluations = _evaluations(engine)
    assert len(evaluations) == 4
    assert {e.sample_id for e in evaluations} == set(_sample_ids(engine)) - set(stolen)
    with session_factory(engine)() as session:
        taken = session.execute(
            select(ShadowSample.status, ShadowSample.claimed_by).where(ShadowSample.id.in_(stolen))
        ).all()
    assert set(taken) == {(SampleStatus.RUNNING, "thief")}
    spent, reserved = _spend(engine)
    # Every call the provider answered was paid for, the stolen samples' too (each costs the same here).
    each = evaluations[0].shadow_cost_usd + evaluations[0].judge_cost_usd
    assert spent == pytest.approx(each * len(provider.requests)) == pytest.approx(summary.spent_usd)
    assert reserved == pytest.approx(0.0, abs=1e-12)
    assert counted_in_rollup(engine) == counted_from_verdicts(engine)


def _sample_ids(engine: Engine) -> list[int]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(ShadowSample.id)))
