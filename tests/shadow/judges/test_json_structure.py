from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftwatch.shadow.judges.base import Judge
from driftwatch.shadow.judges.json_structure import JsonJudge, NotJson, parse_json_answer, same_value
from tests.shadow.judges.judge_models import case

REFERENCE = json.dumps(
    {"name": "Ada Lovelace", "born": 1815, "tags": ["math", "poetry"], "address": {"city": "London"}}
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), json_values, max_size=4)


def test_identical_documents_agree_fully() -> None:
    verdict = JsonJudge().compare(REFERENCE, REFERENCE)
    assert (verdict.judge, verdict.acceptable, verdict.score) == ("json", True, 1.0)
    assert verdict.rationale.startswith("5/5 fields agree")


def test_values_are_compared_normalised() -> None:
    candidate = {
        "name": "  ada   LOVELACE ",
        "born": 1815.0,
        "tags": ["Math", "poetry"],
        "address": {"city": "london"},
    }
    assert JsonJudge().compare(json.dumps(candidate), REFERENCE).score == 1.0


def test_types_are_not_coerced() -> None:
    assert not same_value("1815", 1815)
    assert not same_value(True, 1)
    assert not same_value(None, "")
    assert same_value(0.1 + 0.2, 0.3)
    assert not same_value(10**400, 1.0)


def test_fenced_answers_with_prose_around_them_are_read() -> None:
    candidate = f"Here is the record:\n```json\n{json.dumps(json.loads(REFERENCE), indent=2)}\n```\nDone."
    assert JsonJudge().compare(candidate, REFERENCE).acceptable is True


def test_score_is_the_share_of_fields_that_agree_and_names_the_others() -> None:
    candidate = {
        "name": "Ada Lovelace",
        "born": 1816,
        "tags": ["math"],
        "address": {"city": "London"},
        "extra": 1,
    }
    verdict = JsonJudge(min_agreement=0.6).compare(json.dumps(candidate), REFERENCE)
    assert verdict.score == pytest.approx(3 / 5)
    assert verdict.acceptable is True
    assert "differ: born, tags.1" in verdict.rationale
    assert JsonJudge(min_agreement=0.8).compare(json.dumps(candidate), REFERENCE).acceptable is False


def test_configured_keys_are_dot_paths() -> None:
    candidate = {"name": "Someone else", "born": 1815, "address": {"city": "London"}, "tags": ["x", "poetry"]}
    verdict = JsonJudge(keys=["born", "address.city", "tags.1"]).compare(json.dumps(candidate), REFERENCE)
    assert (verdict.acceptable, verdict.score) == (True, 1.0)
    verdict = JsonJudge(keys=["name", "missing.key"]).compare(json.dumps(candidate), REFERENCE)
    assert verdict.score == 0.5
    assert "differ: name" in verdict.rationale


def test_a_key_that_names_a_subtree_compares_it_whole() -> None:
    assert JsonJudge(keys=["address"]).compare('{"address": {"city": "LONDON"}}', REFERENCE).score == 1.0
    assert (
        JsonJudge(keys=["address"]).compare('{"address": {"city": "London", "zip": 1}}', REFERENCE).score == 0
    )


def test_many_differing_fields_are_summarised() -> None:
    reference = json.dumps({f"field{i}": i for i in range(9)})
    verdict = JsonJudge().compare("{}", reference)
    assert verdict.score == 0.0
    assert "(+4 more)" in verdict.rationale


def test_a_reference_that_is_not_structured_leaves_it_undecided() -> None:
    assert JsonJudge().compare("{}", "Paris").acceptable is None
    assert JsonJudge().compare("5", "5").acceptable is None


def test_a_candidate_that_is_not_json_is_rejected() -> None:
    verdict = asyncio.run(JsonJudge().judge(case("Ada, born 1815", REFERENCE)))
    assert (verdict.acceptable, verdict.score, verdict.cost_usd) == (False, 0.0, 0.0)
    assert "not JSON" in verdict.rationale


def test_nan_is_not_json() -> None:
    with pytest.raises(NotJson):
        parse_json_answer('{"x": NaN}')


def test_empty_structures_are_compared_as_values() -> None:
    assert JsonJudge().compare("[]", "[]").acceptable is True
    assert JsonJudge().compare('{"a": 1}', "{}").acceptable is False
    assert JsonJudge().compare('{"tags": []}', '{"tags": []}').score == 1.0


def test_no_configured_keys_leaves_it_undecided() -> None:
    assert JsonJudge(keys=[]).compare("{}", "{}").acceptable is None


def test_min_agreement_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="min_agreement"):
        JsonJudge(min_agreement=1.5)


@given(documents)
def test_a_document_agrees_with_itself_however_it_is_formatted(document: dict[str, Any]) -> None:
    fenced = f"```json\n{json.dumps(document, indent=2)}\n```"
    verdict = JsonJudge().compare(fenced, json.dumps(document))
    assert (verdict.acceptable, verdict.score) == (True, 1.0)


@given(documents, documents, st.lists(st.sampled_from(["a", "b", "c.d", "a.0", "b.x"]), min_size=1))
def test_agreement_over_configured_keys_is_symmetric(left: Any, right: Any, keys: list[str]) -> None:
    judge = JsonJudge(keys=keys)
    assert (
        judge.compare(json.dumps(left), json.dumps(right)).score
        == judge.compare(json.dumps(right), json.dumps(left)).score
    )


@given(json_values, json_values)
def test_value_comparison_is_symmetric(left: Any, right: Any) -> None:
    assert same_value(left, right) == same_value(right, left)


def test_speaks_the_judge_protocol() -> None:
    speaks: Judge = JsonJudge()
    assert speaks.estimated_cost_usd(case("{}", "{}")) == 0.0
