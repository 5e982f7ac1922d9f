"""The decide job on SQLite and PostgreSQL: detectors fed from stored evaluations, alarms acted on once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import numpy as np
import orjson
import pytest
from sqlalchemy import Engine

from driftwatch.config import ClassConfig, DecisionConfig, Policy, Settings
from driftwatch.db.engine import session_factory
from driftwatch.db.models import ClassPolicy
from driftwatch.detection.detectors import class_statuses
from driftwatch.routing.decision_schemas import ClassDetection
from driftwatch.routing.routes import move_class
from driftwatch.scheduler.jobs import JOBS, JobContext
from driftwatch.stats.sequence import lower_bound
from tests.policy.support import (
    NOW,
    decide,
    decisions,
    detector,
    events,
    floor_policy,
    sample_by_sample,
    seed,
    stream,
    watched,
)

EVIDENCE_KEYS = {
    "log_statistic",
    "threshold",
    "e_value",
    "reference_rate",
    "reference_source",
    "samples",
    "accepted",
    "acceptance_rate",
    "acceptance_interval",
    "window_start",
    "alpha",
    "horizon",
    "classes",
    "alarm_evaluation",
}


def test_a_healthy_stream_gives_no_decision(engine: Engine) -> None:
    seed(engine, "extraction", stream(0.97, 3_000, seed=1))

    summary = decide(engine, floor_policy(extraction=watched(auto_promote=True)))

    assert decisions(engine) == [] and events(engine) == []
    assert "3000 outcomes" in summary
    row = detector(engine, "extraction")
    assert row is not None and row.samples == 3_000 and row.reference_source == "floor"


def test_a_drop_below_the_floor_is_recorded_and_the_class_promoted_with_a_cool_down(engine: Engine) -> None:
    seed(engine, "extraction", stream(0.97, 500, seed=2) + stream(0.6, 300, seed=3))
    policy = floor_policy(extraction=watched(auto_promote=True))

    summary = decide(engine, policy)

    assert "degraded: extraction" in summary and "promoted: extraction" in summary
    degraded, promoted = decisions(engine)
    assert (degraded.kind, degraded.from_tier, degraded.actor) == ("degraded", "cheap", "driftwatch")
    evidence = orjson.loads(degraded.evidence)
    assert set(evidence) >= EVIDENCE_KEYS
    assert evidence["reference_rate"] == 0.95 and evidence["reference_source"] == "floor"
    assert 500 < evidence["samples"] < 800 and evidence["classes"] == 1  # the first crossing, mid-batch
    assert evidence["log_statistic"] >= 0 and evidence["e_value"] > 1
    assert (promoted.kind, promoted.from_tier, promoted.to_tier) == ("promoted", "cheap", "mid")
    assert orjson.loads(promoted.evidence)["degraded_decision_id"] == degraded.id
    assert [event.event_type for event in events(engine)] == ["class.degraded", "class.promoted"]
    with session_factory(engine)() as session:
        route = session.get(ClassPolicy, "extraction")
        assert route is not None and route.tier == "mid" and route.updated_by == "driftwatch"
        assert route.cooldown_until == NOW + timedelta(hours=policy.decisions.cooldown_hours)
    row = detector(engine, "extraction")
    assert row is not None and row.alarmed_at == NOW and row.samples == 0  # restarted after the alarm


def _alert_only(engine: Engine, policy: Policy, why: str) -> None:
    seed(engine, "extraction", stream(0.6, 300, seed=4))

    decide(engine, policy)

    [degraded] = decisions(engine, "degraded")
    assert decisions(engine, "promoted") == []
    assert why in degraded.reason
    assert [event.event_type for event in events(engine)] == ["class.degraded"]


def _move_to_cheap(
    engine: Engine, policy: Policy, kind: str, now: datetime, pinned: bool | None = None
) -> None:
    """What a person does through the manual controls: pin the class, or accept its demotion."""
    with session_factory(engine).begin() as session:
        move_class(
            session,
            policy,
            task_class="extraction",
            to_tier="cheap",
            kind=kind,
            actor="alice",
            reason=kind,
            evidence={},
            now=now,
            pinned=pinned,
        )


def test_a_pinned_class_gets_an_alert_only(engine: Engine) -> None:
    policy = floor_policy(extraction=watched(auto_promote=True))
    _move_to_cheap(engine, policy, "pinned", NOW - timedelta(days=3), pinned=True)

    _alert_only(engine, policy, "pinned to cheap")


def test_a_class_in_cool_down_gets_an_alert_only(engine: Engine) -> None:
    with session_factory(engine).begin() as session:
        session.add(
            ClassPolicy(
                task_class="extraction",
                tier="cheap",
                pinned=False,
                cooldown_until=NOW + timedelta(hours=1),
                updated_at=NOW - timedelta(hours=23),
                updated_by="driftwatch",
            )
        )

    _alert_only(engine, floor_policy(extraction=watched(auto_promote=True)), "in cool-down until")


def test_without_auto_promote_it_is_an_alert_only(engine: Engine) -> None:
    _alert_only(engine, floor_policy(extraction=watched()), "auto_promote is off")


def test_running_decide_again_decides_nothing_new(engine: Engine) -> None:
    seed(engine, "extraction", stream(0.6, 300, seed=5))
    policy = floor_policy(extraction=watched())

    for minute in range(30):  # each alarm restarts the detector on the next outcome: drain them all
        if decide(engine, policy, NOW + timedelta(minutes=minute)).startswith("0 outcomes"):
            break
    drained = (len(decisions(engine)), len(events(engine)))
    assert drained[0] >= 1 and drained[0] == drained[1]

    assert decide(engine, policy, NOW + timedelta(hours=1)).startswith("0 outcomes")
    assert (len(decisions(engine)), len(events(engine))) == drained


def test_two_replicas_deciding_at_once_decide_once(engine: Engine) -> None:
    seed(engine, "extraction", stream(0.6, 300, seed=6))
    context = JobContext(
        engine, Settings(), floor_policy(extraction=watched(auto_promote=True)), clock=lambda: NOW
    )
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            JOBS["decide"](context)
        except BaseException as error:  # surfaced below: a thread's exception would vanish
            failures.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert failures == []
    assert [d.kind for d in decisions(engine)] == ["degraded", "promoted"]
    assert len(events(engine)) == 2


def test_without_a_floor_a_baseline_window_sets_the_reference_and_a_later_drop_is_found(
    engine: Engine,
) -> None:
    policy = Policy(
        classes={"extraction": watched(floor=None, auto_promote=True)},
        decisions=DecisionConfig(baseline="window"),
    )
    seed(engine, "extraction", stream(0.95, 1_500, seed=7))

    decide(engine, policy)

    [status] = [s for s in class_statuses_of(engine, policy) if s.task_class == "extraction"]
    assert (status.status, status.message) == ("not enough samples", "baseline 1500 of 2000")
    seed(engine, "extraction", stream(0.95, 500, seed=8) + stream(0.95, 1_000, seed=9))
    decide(engine, policy, NOW + timedelta(minutes=1))
    assert decisions(engine) == []
    row = detector(engine, "extraction")
    assert row is not None and row.reference_source == "baseline" and row.baseline_total == 2_000
    assert row.reference_rate is not None and 0.93 < row.reference_rate < row.baseline_accepted / 2_000
    assert row.samples == 1_000  # the detector starts after the baseline, not on it

    seed(engine, "extraction", stream(0.7, 400, seed=10))
    decide(engine, policy, NOW + timedelta(minutes=2))

    [degraded] = decisions(engine, "degraded")
    assert orjson.loads(degraded.evidence)["reference_source"] == "baseline"


def test_without_a_floor_a_confidence_sequence_guards_after_a_few_hundred_evaluations(engine: Engine) -> None:
    policy = floor_policy(extraction=watched(floor=None, auto_promote=True))
    seed(engine, "extraction", stream(0.95, 200, seed=21))

    decide(engine, policy)

    [status] = [s for s in class_statuses_of(engine, policy) if s.task_class == "extraction"]
    assert (status.status, status.message) == ("not enough samples", "baseline 200 of 300")
    seed(engine, "extraction", stream(0.95, 300, seed=22))
    decide(engine, policy, NOW + timedelta(minutes=1))
    row = detector(engine, "extraction")
    assert row is not None and row.reference_source == "confidence_sequence" and row.baseline_total == 500
    assert row.reference_rate is not None and 0.85 < row.reference_rate < row.baseline_accepted / 500
    assert row.samples == 200  # tested from the 301st outcome on, each against the outcomes before it
    first = row.reference_rate

    seed(engine, "extraction", stream(0.7, 600, seed=23))
    decide(engine, policy, NOW + timedelta(minutes=2))

    [degraded] = decisions(engine, "degraded")
    evidence = orjson.loads(degraded.evidence)
    assert evidence["reference_source"] == "confidence_sequence" and evidence["reference_rate"] >= first
    assert [d.kind for d in decisions(engine)] == ["degraded", "promoted"]


def test_a_confidence_sequence_reference_tightens_then_freezes_in_batches_as_at_once(engine: Engine) -> None:
    policy = Policy(
        classes={"a": watched(floor=None), "b": watched(floor=None)},
        decisions=DecisionConfig(baseline_samples=1_000, min_baseline_samples=300),
    )
    decide(engine, policy)  # both detectors exist: the sequences' error is split between them alike
    outcomes = stream(0.95, 2_500, seed=24)
    seed(engine, "a", outcomes)
    decide(engine, policy)
    for start in range(0, 2_500, 700):
        seed(engine, "b", outcomes[start : start + 700])
        decide(engine, policy, NOW + timedelta(minutes=1 + start))

    a, b = detector(engine, "a"), detector(engine, "b")
    assert a is not None and b is not None and decisions(engine) == []
    assert (a.baseline_total, a.samples, a.reference_source) == (1_000, 2_200, "confidence_sequence")
    assert (b.reference_rate, b.state, b.baseline_accepted) == (
        a.reference_rate,
        a.state,
        a.baseline_accepted,
    )


def test_the_sequences_error_is_split_over_the_detectors_that_learn_one(engine: Engine) -> None:
    names = [f"class-{index}" for index in range(10)]
    policy = Policy(classes={name: watched(floor=None) for name in names} | {"floored": watched(0.9)})
    decide(engine, policy)
    seed(engine, "class-0", stream(0.95, 500, seed=26))

    decide(engine, policy, NOW + timedelta(minutes=1))

    row = detector(engine, "class-0")
    assert row is not None and row.baseline_total == 500
    expected = max(
        float(lower_bound(hits, total, 0.005 / 10))
        for total, hits in enumerate(np.cumsum(stream(0.95, 500, seed=26)), start=1)
        if total >= 300
    )
    assert row.reference_rate == pytest.approx(expected)


def test_a_sequence_reference_gives_way_to_a_window_when_the_policy_asks_for_one(engine: Engine) -> None:
    seed(engine, "extraction", stream(0.95, 400, seed=25))
    decide(engine, floor_policy(extraction=watched(floor=None)))
    window = Policy(classes={"extraction": watched(floor=None)}, decisions=DecisionConfig(baseline="window"))

    decide(engine, window, NOW + timedelta(minutes=1))

    row = detector(engine, "extraction")
    assert row is not None and row.reference_rate is None and row.baseline_total == 0 and row.samples == 0


def class_statuses_of(engine: Engine, policy: Policy) -> list[ClassDetection]:
    with session_factory(engine)() as session:
        return class_statuses(session, policy)


def test_e_bh_flags_the_one_degraded_class_among_many_healthy_ones(engine: Engine) -> None:
    names = [f"class-{index:02d}" for index in range(20)]
    for index, name in enumerate(names):
        seed(engine, name, stream(0.96, 1_000, seed=100 + index))
    seed(engine, "broken", stream(0.7, 1_000, seed=99))
    policy = floor_policy(**{name: watched(0.9) for name in [*names, "broken"]})

    decide(engine, policy)

    [degraded] = decisions(engine)
    assert degraded.task_class == "broken"
    assert orjson.loads(degraded.evidence)["classes"] == 21


def test_after_a_promotion_the_new_tier_is_watched_afresh_and_the_old_one_no_longer(engine: Engine) -> None:
    seed(engine, "extraction", stream(0.6, 300, seed=11))
    policy = floor_policy(extraction=watched(auto_promote=True))
    decide(engine, policy)
    later = NOW + timedelta(minutes=1)
    seed(engine, "extraction", stream(0.97, 200, seed=12), tier="mid")
    seed(engine, "extraction", stream(0.3, 300, seed=13), tier="cheap")  # reverse samples, say

    decide(engine, policy, later)

    mid = detector(engine, "extraction", "mid")
    assert mid is not None and mid.samples == 200 and mid.started_at == later and mid.alarmed_at is None
    cheap = detector(engine, "extraction", "cheap")
    assert cheap is not None and cheap.samples == 0  # not fed while the class is on mid
    assert [d.kind for d in decisions(engine)] == ["degraded", "promoted"]  # nothing moves it back


def test_a_class_that_comes_back_to_a_tier_gets_a_fresh_detector_there(engine: Engine) -> None:
    seed(engine, "extraction", stream(0.6, 300, seed=16))
    policy = floor_policy(extraction=watched(auto_promote=True))
    decide(engine, policy)
    back = NOW + timedelta(days=2)
    _move_to_cheap(engine, policy, "demoted", back)
    seed(engine, "extraction", stream(0.99, 100, seed=17))

    decide(engine, policy, back + timedelta(minutes=1))

    cheap = detector(engine, "extraction")
    assert cheap is not None and cheap.started_at == back + timedelta(minutes=1) and cheap.alarmed_at is None
    assert cheap.samples == 100
    assert [d.kind for d in decisions(engine)] == ["degraded", "promoted", "demoted"]


def test_a_backlog_drains_over_several_runs_up_to_the_horizon_each(engine: Engine) -> None:
    policy = Policy(
        classes={"extraction": watched()},
        decisions=DecisionConfig(horizon_samples=1_000, baseline_samples=100),
    )
    seed(engine, "extraction", stream(0.97, 2_500, seed=14))

    consumed = [decide(engine, policy, NOW + timedelta(minutes=m)).split(" ", 1)[0] for m in range(4)]

    assert consumed == ["1000", "1000", "500", "0"]
    assert decisions(engine) == []


def test_verdicts_from_a_listed_source_count_like_shadow_results(engine: Engine) -> None:
    reviews = stream(0.5, 200, seed=15)
    seed(engine, "support-reply", [None] * 50)  # undecided: no weight
    seed(engine, "support-reply", reviews, source="human-review")
    policy = Policy(
        classes={"support-reply": ClassConfig(acceptance_floor=0.9)},
        decisions=DecisionConfig(sources=("shadow", "human-review")),
    )

    decide(engine, policy)

    [degraded] = decisions(engine)
    crossing = sample_by_sample(reviews, 0.9)
    assert crossing is not None and orjson.loads(degraded.evidence)["samples"] == crossing + 1
