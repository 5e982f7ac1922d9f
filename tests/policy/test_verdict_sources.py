"""Which verdicts may move traffic: only those of the sources ``decisions.sources`` lists (default:
driftwatch's own shadow evaluations).  Verdicts of other sources are tested by a detector of their own
and raise a degraded alert with its evidence, but never promote a class (SQLite and PostgreSQL)."""

from __future__ import annotations

import orjson
from sqlalchemy import Engine

from driftwatch.config import DecisionConfig, Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.models import ClassPolicy
from driftwatch.detection.detectors import OTHER, class_statuses
from tests.policy.support import decide, decisions, detector, events, seed, stream, watched

WATCHED = {"extraction": watched(auto_promote=True), "faq": watched(auto_promote=True)}


def _tier(engine: Engine, task_class: str) -> str | None:
    with session_factory(engine)() as session:
        route = session.get(ClassPolicy, task_class)
        return route.tier if route else None


def test_fake_verdicts_from_another_source_raise_alerts_but_move_no_class(engine: Engine) -> None:
    # The finding: 200 "unacceptable" verdicts, linked to no call, promoted two classes in one run.
    for task_class in WATCHED:
        seed(engine, task_class, [False] * 200, source="anyone")

    summary = decide(engine, Policy(classes=WATCHED))

    assert "promoted" not in summary
    assert {d.kind for d in decisions(engine)} == {"degraded"}
    assert {d.task_class for d in decisions(engine)} == set(WATCHED)
    assert [_tier(engine, task_class) for task_class in WATCHED] == [None, None]  # still where configured
    for degraded in decisions(engine):
        evidence = orjson.loads(degraded.evidence)
        assert evidence["sources"] == ["anyone"] and evidence["sources_listed"] is False
        assert 0 < evidence["samples"] < 200 and evidence["accepted"] == 0  # alarm at the first crossing
        assert "sources not in decisions.sources (anyone), which move no class" in degraded.reason
    assert [event.event_type for event in events(engine)] == ["class.degraded", "class.degraded"]


def test_the_same_verdicts_promote_once_their_source_is_listed(engine: Engine) -> None:
    seed(engine, "extraction", [False] * 200, source="human-review")
    policy = Policy(classes=WATCHED, decisions=DecisionConfig(sources=("shadow", "human-review")))

    summary = decide(engine, policy)

    assert "promoted: extraction" in summary
    assert _tier(engine, "extraction") == "mid"
    evidence = orjson.loads(decisions(engine, "degraded")[0].evidence)
    assert evidence["sources"] == ["shadow", "human-review"] and evidence["sources_listed"] is True


def test_shadow_results_promote_by_default(engine: Engine) -> None:
    seed(engine, "extraction", stream(0.6, 300, seed=31))

    assert "promoted: extraction" in decide(engine, Policy(classes=WATCHED))


def test_each_feed_has_its_own_detector_and_reference(engine: Engine) -> None:
    # Healthy shadow results and bad reviews of the same class and tier: the reviews' alarm stays an
    # alert, and the shadow detector neither sees the reviews nor is restarted by their alarm.
    seed(engine, "extraction", stream(0.97, 400, seed=32))
    seed(engine, "extraction", stream(0.5, 300, seed=33), source="human-review")

    decide(engine, Policy(classes=WATCHED))

    listed, other = detector(engine, "extraction"), detector(engine, "extraction", feed=OTHER)
    assert listed is not None and listed.samples == 400 and listed.alarmed_at is None
    assert other is not None and other.alarmed_at is not None
    [degraded] = decisions(engine)
    assert orjson.loads(degraded.evidence)["sources"] == ["human-review"]
    assert _tier(engine, "extraction") is None


def test_a_class_shows_its_other_sources_detector_apart(engine: Engine) -> None:
    seed(engine, "extraction", stream(0.97, 100, seed=34))
    seed(engine, "faq", stream(0.5, 300, seed=35), source="user-feedback")
    policy = Policy(classes=WATCHED)
    decide(engine, policy)

    with session_factory(engine)() as session:
        other = {status.task_class: status for status in class_statuses(session, policy, OTHER)}
        listed = {status.task_class: status for status in class_statuses(session, policy)}

    assert set(other) == {"faq"}  # only classes with verdicts from other sources have one
    assert other["faq"].status == "degraded" and other["faq"].samples == 0  # restarted after its alarm
    assert listed["faq"].samples == 0 and listed["extraction"].samples == 100


def test_a_new_listed_source_is_read_from_where_the_detector_stands(engine: Engine) -> None:
    seed(engine, "extraction", stream(0.97, 100, seed=36))
    decide(engine, Policy(classes=WATCHED))
    seed(engine, "extraction", [False] * 5, source="human-review")

    decide(engine, Policy(classes=WATCHED, decisions=DecisionConfig(sources=("shadow", "human-review"))))

    listed = detector(engine, "extraction")
    assert listed is not None and listed.samples == 105


def test_sources_is_in_the_policy_file_with_shadow_as_default() -> None:
    assert Policy().decisions.sources == ("shadow",)
    assert Policy.model_validate({"decisions": {"sources": ["shadow", "qa-team"]}}).decisions.sources == (
        "shadow",
        "qa-team",
    )
