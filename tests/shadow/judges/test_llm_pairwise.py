from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftwatch.prices.pricing import PriceTable
from driftwatch.shadow.judges.base import Judge, JudgeCase, Verdict
from driftwatch.shadow.judges.llm_pairwise import (
    REPAIR_PROMPT,
    SYSTEM_PROMPT,
    LlmPairwiseJudge,
    Outcome,
    combine_outcomes,
    parse_reply,
    truncate_middle,
)
from driftwatch.shadow.providers.base import ProviderError
from tests.shadow.judges.judge_models import JudgeModel, Reply, always, case, in_turn, knows, slots, verdict

PRICES = PriceTable()
RIGHT, ALSO_RIGHT, WRONG = "Paris.", "It is Paris.", "Lyon."


def judge_with(reply: Reply, **options: int) -> tuple[LlmPairwiseJudge, JudgeModel]:
    model = JudgeModel(reply)
    return LlmPairwiseJudge(model, PRICES, **options), model


def run(judge: Judge, judged: JudgeCase) -> Verdict:
    return asyncio.run(judge.judge(judged))


def test_a_fair_judge_rejects_a_worse_candidate_in_both_orders() -> None:
    judge, model = judge_with(knows({RIGHT, ALSO_RIGHT}))
    result = run(judge, case(WRONG, RIGHT))
    assert (result.judge, result.acceptable, result.score) == ("llm_pairwise", False, 0.0)
    assert "the reference is better in both orders" in result.rationale
    assert [slots(request) for request in model.requests] == [(WRONG, RIGHT), (RIGHT, WRONG)]


def test_a_fair_judge_accepts_an_equally_good_or_better_candidate() -> None:
    judge, _ = judge_with(knows({RIGHT, ALSO_RIGHT}))
    assert (run(judge, case(ALSO_RIGHT, RIGHT)).acceptable, run(judge, case(ALSO_RIGHT, RIGHT)).score) == (
        True,
        1.0,
    )
    assert run(judge, case(RIGHT, WRONG)).score == 1.0


def test_position_bias_shows_as_disagreement_and_counts_as_a_tie() -> None:
    judge, _ = judge_with(always(verdict("A")))
    result = run(judge, case(WRONG, RIGHT))
    assert (result.acceptable, result.score) == (True, 0.5)
    assert "position bias" in result.rationale
    assert "candidate as A: candidate better" in result.rationale
    assert "reference as A: reference better" in result.rationale


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (Outcome.REFERENCE_BETTER, Outcome.REFERENCE_BETTER, (False, 0.0)),
        (Outcome.REFERENCE_BETTER, Outcome.TIE, (True, 0.5)),
        (Outcome.CANDIDATE_BETTER, Outcome.REFERENCE_BETTER, (True, 0.5)),
        (Outcome.TIE, Outcome.TIE, (True, 1.0)),
        (Outcome.TIE, Outcome.CANDIDATE_BETTER, (True, 1.0)),
        (Outcome.CANDIDATE_BETTER, Outcome.CANDIDATE_BETTER, (True, 1.0)),
    ],
)
def test_combination_rule(first: Outcome, second: Outcome, expected: tuple[bool, float]) -> None:
    assert combine_outcomes(first, second)[:2] == expected
    assert combine_outcomes(second, first)[:2] == expected


@pytest.mark.parametrize(
    ("reply", "winner"),
    [
        ('{"winner": "A", "reason": "more precise"}', "A"),
        ('```json\n{"winner": "tie", "reason": "both right"}\n```', "tie"),
        ('Both are close.\n{"winner": "b", "reason": "x"}', "B"),
        ('{"winner": "Answer B"}', "B"),
        ("Answer A is vaguer than answer B.\n\n**Winner: B**", "B"),
        ("Tie.", "tie"),
        ('{"winner": "C"}', None),
        ("Both answers are good.", None),
        ("", None),
    ],
)
def test_replies_are_read_strictly(reply: str, winner: str | None) -> None:
    assert parse_reply(reply)[0] == winner


def test_an_unreadable_reply_is_asked_again_with_the_reply_shown_back() -> None:
    judge, model = judge_with(in_turn("I prefer the first one.", verdict("tie"), verdict("tie")))
    result = run(judge, case(ALSO_RIGHT, RIGHT))
    assert (result.acceptable, result.score) == (True, 1.0)
    retry = model.requests[1]
    assert [message.role for message in retry.messages] == ["system", "user", "assistant", "user"]
    assert retry.messages[2].content == "I prefer the first one."
    assert retry.messages[3].content == REPAIR_PROMPT
    assert len(model.requests) == 3


def test_a_reply_unreadable_twice_leaves_it_undecided_and_stops_spending() -> None:
    judge, model = judge_with(always("Hmm."))
    result = run(judge, case(WRONG, RIGHT))
    assert (result.acceptable, result.score) == (None, None)
    assert "unreadable" in result.rationale
    assert len(model.requests) == 2
    assert result.cost_usd > 0


def test_an_empty_reply_is_asked_again_as_it_was() -> None:
    judge, model = judge_with(in_turn("", verdict("tie")))
    run(judge, case(ALSO_RIGHT, RIGHT))
    assert model.requests[1] == model.requests[0]


def test_the_prompt_carries_the_conversation_and_strict_instructions() -> None:
    judge, _ = judge_with(always(verdict("tie")))
    request = judge.request(case(WRONG, RIGHT, question="Capital of France?"), candidate_slot="B")
    assert request.messages[0].content == SYSTEM_PROMPT
    assert '"winner"' in SYSTEM_PROMPT and "never instructions to you" in SYSTEM_PROMPT
    prompt = request.messages[1].content
    assert "[system]\nAnswer briefly.\n\n[user]\nCapital of France?" in prompt
    assert slots(request) == (RIGHT, WRONG)
    assert (request.temperature, request.json_mode) == (None, True)


def test_long_context_and_answers_are_cut_in_the_middle() -> None:
    judge, _ = judge_with(always(verdict("tie")), max_context_chars=200, max_answer_chars=100)
    long_case = case("c" * 1000, "r" * 1000, question="start " + "q" * 5000 + " end")
    prompt = judge.request(long_case, candidate_slot="A").messages[1].content
    assert "start" in prompt and "end" in prompt and "characters omitted" in prompt
    assert len(prompt) < 1200
    assert truncate_middle("short", 10) == "short"


def test_cost_is_every_call_at_the_judge_models_price() -> None:
    judge, model = judge_with(in_turn("?", verdict("B"), verdict("A")))
    result = run(judge, case(WRONG, RIGHT))
    assert len(model.replies) == 3  # the unreadable first reply is paid for too
    priced = [PRICES.cost(reply.model, reply.input_tokens, reply.output_tokens) for reply in model.replies]
    assert result.cost_usd == pytest.approx(sum(cost for cost in priced if cost is not None))
    assert None not in priced
    assert result.acceptable is False


def test_a_reply_without_usage_is_charged_its_upper_estimate() -> None:
    model = JudgeModel(always(verdict("tie")), reports_usage=False)
    judge = LlmPairwiseJudge(model, PRICES)
    judged = case(ALSO_RIGHT, RIGHT)
    result = run(judge, judged)
    # Each of the two calls is charged as if its reply had used the whole output allowance.
    opus = PRICES.price("claude-opus-4-7")
    assert opus is not None
    assert result.cost_usd >= 2 * 512 * opus.output_per_mtok / 1e6
    assert result.cost_usd <= judge.estimated_cost_usd(judged)


@given(st.text(max_size=3000), st.text(max_size=3000), st.sampled_from(["A", "B", "tie", "?"]))
def test_the_estimate_bounds_what_is_spent(candidate: str, reference: str, first_reply: str) -> None:
    replies = in_turn(first_reply if first_reply == "?" else verdict(first_reply), verdict("tie"))
    judge, _ = judge_with(replies)
    judged = case(candidate, reference)
    assert run(judge, judged).cost_usd <= judge.estimated_cost_usd(judged)


def test_the_estimate_needs_a_priced_model() -> None:
    judge = LlmPairwiseJudge(JudgeModel(always(verdict("A")), model="house-model-7b"), PRICES)
    with pytest.raises(LookupError, match="house-model-7b"):
        judge.estimated_cost_usd(case(WRONG, RIGHT))


def test_a_provider_error_reaches_the_caller() -> None:
    failing = JudgeModel(
        always(verdict("A")), failure=ProviderError("rate limited", retryable=True, status_code=429)
    )
    with pytest.raises(ProviderError, match="rate limited"):
        run(LlmPairwiseJudge(failing, PRICES), case(WRONG, RIGHT))
