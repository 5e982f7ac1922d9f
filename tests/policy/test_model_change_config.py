"""``shadow.boost_on_model_change``: policy-wide, from ``defaults.shadow``, and per class."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from driftwatch.config import ModelChangeBoost, Policy


def test_a_class_takes_its_own_boost_else_the_policy_wide_one() -> None:
    policy = Policy.model_validate(
        {
            "defaults": {"shadow": {"boost_on_model_change": {"factor": 3, "samples": 500}}},
            "shadow": {"classes": {"legal-qa": {"boost_on_model_change": {"factor": 10, "samples": 2000}}}},
        }
    )

    assert policy.shadow.boost_for("faq") == ModelChangeBoost(factor=3, samples=500)
    assert policy.shadow.boost_for("legal-qa") == ModelChangeBoost(factor=10, samples=2000)


def test_the_default_boost_multiplies_the_rate_by_five_for_a_thousand_samples() -> None:
    assert Policy().shadow.boost_for("anything") == ModelChangeBoost(factor=5, samples=1000, max_days=14)


@pytest.mark.parametrize("boost", [{"factor": 0.5}, {"samples": -1}, {"max_days": 0}, {"rate": 2}])
def test_a_boost_that_lowers_the_rate_or_has_unknown_fields_is_refused(boost: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        Policy.model_validate({"shadow": {"boost_on_model_change": boost}})


def test_the_change_rule_is_set_under_decisions() -> None:
    rule = Policy.model_validate({"decisions": {"model_change": {"window": 20, "fingerprints": False}}})

    assert (rule.decisions.model_change.window, rule.decisions.model_change.fingerprints) == (20, False)


def test_a_rule_that_could_never_count_a_change_is_refused() -> None:
    with pytest.raises(ValidationError, match="min_calls"):
        Policy.model_validate({"decisions": {"model_change": {"window": 20, "min_calls": 30}}})
