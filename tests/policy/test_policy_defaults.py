"""Policy-wide defaults: every class not listed under ``classes`` follows ``defaults``, a listed class
inherits what it leaves out; the decide job on SQLite and PostgreSQL acts on them."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine

from driftwatch.config import ClassConfig, ClassDefaults, ClassShadowConfig, JudgeConfig, Policy, load_policy
from driftwatch.errors import ConfigError
from tests.policy.support import decide, decisions, seed, stream

STARTER = Path(__file__).resolve().parents[2] / "docs" / "starter-policy.yaml"


def test_an_unlisted_class_is_promoted_under_the_policy_wide_defaults(engine: Engine) -> None:
    seed(engine, "never-listed", stream(0.6, 300, seed=31))
    policy = Policy(defaults=ClassDefaults(auto_promote=True, acceptance_floor=0.9))

    summary = decide(engine, policy)

    assert "promoted: never-listed" in summary
    degraded, promoted = decisions(engine)
    evidence = orjson.loads(degraded.evidence)
    assert (evidence["reference_source"], evidence["reference_rate"]) == ("floor", 0.9)
    assert (promoted.kind, promoted.from_tier, promoted.to_tier) == ("promoted", "cheap", "mid")


def test_a_listed_class_inherits_the_fields_it_leaves_out(engine: Engine) -> None:
    seed(engine, "extraction", stream(0.6, 300, seed=32))
    policy = Policy(
        defaults=ClassDefaults(auto_promote=True, acceptance_floor=0.9),
        classes={"extraction": ClassConfig(auto_promote=False)},
    )

    decide(engine, policy)

    [degraded] = decisions(engine)
    assert "auto_promote is off" in degraded.reason
    assert orjson.loads(degraded.evidence)["reference_rate"] == 0.9  # the floor from defaults


def test_without_defaults_an_unlisted_class_only_alerts_and_learns_a_baseline() -> None:
    config = Policy().class_config("never-listed")
    assert (config.auto_promote, config.auto_demote, config.acceptance_floor) == (False, False, None)


def _policy(tmp_path: Path, text: str) -> Policy:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def test_an_explicit_null_floor_in_a_listed_class_overrides_the_default_floor(tmp_path: Path) -> None:
    policy = _policy(
        tmp_path,
        "defaults: {acceptance_floor: 0.9, auto_demote: true}\n"
        "classes:\n  summaries: {acceptance_floor: null}\n  extraction: {tier: mid}\n",
    )

    assert policy.class_config("summaries").acceptance_floor is None
    assert policy.class_config("summaries").auto_demote is True
    assert policy.class_config("extraction").acceptance_floor == 0.9
    assert policy.class_config("other").acceptance_floor == 0.9


def test_default_shadow_settings_reach_every_class_unless_shadow_classes_overrides() -> None:
    judges = (JudgeConfig(kind="json"),)
    policy = Policy.model_validate(
        {
            "defaults": {"shadow": {"rate": 0.2, "daily_budget_usd": 1.5, "judges": [{"kind": "json"}]}},
            "shadow": {"classes": {"faq": {"rate": 0.5}}},
        }
    )

    assert (policy.shadow.rate_for("any"), policy.shadow.budget_for("any")) == (0.2, 1.5)
    assert policy.shadow.judges_for("any") == judges and policy.shadow.rate_for("faq") == 0.5
    built = Policy(defaults=ClassDefaults(shadow=ClassShadowConfig(rate=0.3)))
    assert built.shadow.rate_for("any") == 0.3


def test_a_shadow_default_set_in_both_places_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\['rate'\] set both under defaults.shadow and under shadow"):
        _policy(tmp_path, "defaults: {shadow: {rate: 0.2}}\nshadow: {rate: 0.1}\n")


def test_the_starter_policy_is_valid_and_uses_defaults() -> None:
    policy = load_policy(STARTER)

    assert policy.class_config("anything-new").auto_promote is True
    assert policy.class_config("extraction").acceptance_floor == 0.95
    assert policy.class_config("summarization").acceptance_floor is None
    assert policy.shadow.rate == 0.05
