"""Reverse shadow evaluation: higher-tier calls replayed one tier down, judged against the call's answer."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from driftwatch.config import ClassConfig, DecisionConfig, Policy, ProviderConfig, ShadowConfig
from driftwatch.db.engine import session_factory
from driftwatch.db.models import ClassPolicy, Evaluation, ShadowSample
from driftwatch.prices.pricing import PriceTable
from driftwatch.sampling.rules import SamplingCandidate, in_sample, reverse_tier_for
from driftwatch.sampling.service import run_sampling
from driftwatch.shadow.judges.base import JudgeCase, Verdict
from driftwatch.shadow.runner import RunnerOptions, ShadowRunner
from tests.shadow.calls import NOW, seed_calls
from tests.shadow.memory import ScriptedProvider

PRICES = PriceTable()
SONNET = "claude-sonnet-4-6"


def _policy(demotion_rate: float = 1.0, rate: float = 1.0) -> Policy:
    return Policy(
        providers={"mid": ProviderConfig(kind="replay", model=SONNET)},
        shadow=ShadowConfig(rate=rate),
        classes={"extraction": ClassConfig(tier="premium"), "faq": ClassConfig(tier="mid")},
        decisions=DecisionConfig(demotion_rate=demotion_rate),
    )


def test_only_calls_on_their_class_current_tier_above_the_cheapest_qualify() -> None:
    def reverse(tier: str | None, current: str, **changes: str) -> str | None:
        fields = {"trace_id": "ab" * 16, "task_class": "x", "tier": tier, "source": "otlp", "status": "ok"}
        return reverse_tier_for(SamplingCandidate(**{**fields, **changes}), current, _policy())  # type: ignore[arg-type]

    assert reverse("premium", "premium") == "mid"
    assert reverse("mid", "mid") == "cheap"
    assert reverse("mid", "premium") is None  # routed elsewhere: says nothing about the class's tier
    assert reverse("cheap", "cheap") is None
    assert reverse("premium", "premium", status="error") is None
    assert reverse("premium", "premium", source="shadow") is None
    assert (
        reverse_tier_for(SamplingCandidate("ab" * 16, "x", "premium", "otlp", "ok"), "premium", _policy(0.0))
        is None
    )


def test_the_reverse_draw_is_independent_of_the_forward_one() -> None:
    policy = _policy(demotion_rate=0.5)
    trials = 20_000
    both = 0
    for _ in range(trials):
        trace_id = secrets.token_hex(16)
        candidate = SamplingCandidate(trace_id, "x", "premium", "otlp", "ok")
        both += in_sample(trace_id, 0.5) and reverse_tier_for(candidate, "premium", policy) is not None
    # Independent halves: Binomial(20000, 0.25), sd = 61; the same draw would give 10,000.
    assert abs(both - trials / 4) < 5 * 61


def _samples(engine: Engine) -> list[ShadowSample]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(ShadowSample).order_by(ShadowSample.call_id, ShadowSample.id)))


def test_the_job_queues_reverse_samples_beside_forward_ones(engine: Engine) -> None:
    premium = seed_calls(engine, 3, tier="premium", model="claude-opus-4-7")
    mid_of_extraction = seed_calls(engine, 2, tier="mid")
    mid_of_faq = seed_calls(engine, 2, tier="mid", task_class="faq")
    cheap = seed_calls(engine, 2, tier="cheap")

    with session_factory(engine).begin() as session:
        result = run_sampling(session, _policy(), NOW)

    # faq sits on mid, whose cheaper tier has no provider: counted, not queued.
    assert (result.sampled, result.reverse_sampled, result.reverse_no_provider) == (6, 3, 2)
    assert "reverse: sampled 3, 2 skipped (no provider for the cheaper tier)" in result.summary()
    queued = {(s.call_id, s.direction, s.tier, s.reference_tier) for s in _samples(engine)}
    assert queued == {
        *((call_id, "reverse", "premium", "mid") for call_id in premium),
        *((call_id, "forward", "mid", "premium") for call_id in mid_of_extraction + mid_of_faq),
        *((call_id, "forward", "cheap", "premium") for call_id in cheap),
    }


def test_the_current_tier_is_the_decided_one(engine: Engine) -> None:
    seed_calls(engine, 2, tier="premium")
    with session_factory(engine).begin() as session:
        session.add(
            ClassPolicy(task_class="extraction", tier="mid", pinned=False, updated_at=NOW, updated_by="x")
        )
    with session_factory(engine).begin() as session:
        assert run_sampling(session, _policy(), NOW).reverse_sampled == 0


class OrderJudge:
    """Accepts everything and writes down which answer it saw as candidate and which as reference."""

    @property
    def name(self) -> str:
        return "order"

    def estimated_cost_usd(self, case: JudgeCase) -> float:
        return 0.0

    async def judge(self, case: JudgeCase) -> Verdict:
        return Verdict("order", True, 1.0, f"candidate={case.candidate} reference={case.reference}")


def test_the_runner_judges_the_cheaper_replay_against_the_call(engine: Engine) -> None:
    seed_calls(engine, 1, tier="premium", model="claude-opus-4-7", completion="PARIS")
    policy = _policy()
    with session_factory(engine).begin() as session:
        run_sampling(session, policy, NOW)
    provider = ScriptedProvider(model=SONNET, answer=lambda _request: "Paris, France")
    runner = ShadowRunner(
        engine,
        policy,
        {"mid": provider},
        lambda _task_class: OrderJudge(),
        PRICES,
        RunnerOptions(worker_id="w1"),
        lambda: NOW + timedelta(minutes=5),
    )
    try:
        summary = asyncio.run(runner.run_once())
    finally:
        runner.close()

    assert summary.outcomes == {"acceptable": 1}
    with session_factory(engine)() as session:
        [evaluation] = session.scalars(select(Evaluation)).all()
    assert (evaluation.tier, evaluation.model) == ("mid", SONNET)
    assert (evaluation.reference_tier, evaluation.reference_model) == ("premium", "claude-opus-4-7")
    assert evaluation.rationale == "candidate=Paris, France reference=PARIS"
    [request] = provider.requests
    answer = "Paris, France"
    replay_cost = PRICES.cost(SONNET, len(request.messages[0].content) // 4 + 1, len(answer) // 4 + 1)
    assert evaluation.shadow_cost_usd == pytest.approx(replay_cost)
