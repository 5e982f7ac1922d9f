from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftwatch.shadow.judges.base import Judge
from driftwatch.shadow.judges.exact import ExactJudge, normalise_label
from tests.shadow.judges.judge_models import case

judge = ExactJudge()


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("Positive", "positive"),
        ("  positive.\n", "positive"),
        ('"B"', "b"),
        ("**B**", "b"),
        ("(B)", "b"),
        ("[spam]", "spam"),
        ("Answer: B", "b"),
        ("Final answer: `B`.", "b"),
        ("label = neutral", "neutral"),
        ("\u201cNot  spam\u201d!", "not spam"),
        ("\uff22", "b"),  # fullwidth B
        ("-1", "-1"),
        ("50%", "50%"),
        (".5", ".5"),
        ("(a) or (b)", "(a) or (b)"),
        ("f(x)", "f(x)"),
    ],
)
def test_normalisation_removes_formatting_and_keeps_meaning(raw: str, label: str) -> None:
    assert normalise_label(raw) == label


@given(st.text())
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalise_label(text)
    assert normalise_label(once) == once


labels = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ", min_size=1
).filter(str.strip)
wrappers = st.sampled_from(["{}", "'{}'", '"{}"', "**{}**", "{}.", " {} \n", "({})", "Answer: {}", "`{}`!"])


@given(labels, wrappers)
def test_formatting_around_a_label_does_not_change_the_verdict(label: str, wrapper: str) -> None:
    verdict = judge.compare(wrapper.format(label.upper()), label)
    assert verdict.acceptable is True
    assert verdict.score == 1.0


@given(st.text(), st.text())
def test_verdict_is_symmetric(left: str, right: str) -> None:
    assert judge.compare(left, right).acceptable == judge.compare(right, left).acceptable


def test_different_labels_are_rejected_for_free() -> None:
    verdict = asyncio.run(judge.judge(case("negative", "positive")))
    assert (verdict.judge, verdict.acceptable, verdict.score, verdict.cost_usd) == ("exact", False, 0.0, 0.0)
    assert "'negative' vs 'positive'" in verdict.rationale
    assert judge.estimated_cost_usd(case("negative", "positive")) == 0.0


@pytest.mark.parametrize(
    ("candidate", "reference"),
    [
        ("The capital is Paris.", "Paris is the capital."),
        ("Paris is the capital and largest city of France, on the Seine.", "Lyon"),
        ("Paris", "Paris.\nIt has been the capital since 987."),
        ("x" * 65, "y"),
    ],
)
def test_a_mismatch_involving_free_text_is_left_undecided(candidate: str, reference: str) -> None:
    verdict = judge.compare(candidate, reference)
    assert verdict.acceptable is None
    assert verdict.score is None
    assert "free text" in verdict.rationale


def test_identical_free_text_is_accepted() -> None:
    text = "Paris is the capital of France.\nIt lies on the Seine."
    assert judge.compare(text, "  " + text.upper()).acceptable is True


@pytest.mark.parametrize(
    ("candidate", "reference"), [("It is B", "B"), ("not positive", "positive"), ("B) Paris", "B")]
)
def test_a_label_inside_a_longer_one_is_left_undecided(candidate: str, reference: str) -> None:
    verdict = judge.compare(candidate, reference)
    assert verdict.acceptable is None
    assert "share words" in verdict.rationale


def test_an_empty_answer_is_a_wrong_label() -> None:
    assert judge.compare("", "B").acceptable is False


def test_label_limits_are_configurable() -> None:
    assert ExactJudge(max_label_chars=3).compare("spam", "ham").acceptable is None
    assert ExactJudge(max_label_chars=4).compare("spam", "ham").acceptable is False
    assert ExactJudge().compare("billing refund request", "billing refund").acceptable is None
    assert ExactJudge().compare("billing refund request", "account deletion").acceptable is False
    assert (
        ExactJudge(max_label_words=2).compare("billing refund request", "account deletion").acceptable is None
    )


def test_speaks_the_judge_protocol() -> None:
    speaks: Judge = judge
    assert speaks.name == "exact"
