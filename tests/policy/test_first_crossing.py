"""Alarms at the first crossing, on SQLite and PostgreSQL: the decide job against the detector run
sample by sample on the same outcomes, and the outcomes of one request taken in request order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import orjson
from sqlalchemy import Engine, select

from driftwatch.db.engine import session_factory
from driftwatch.db.models import Evaluation
from driftwatch.stats.detector import DetectorState, log_statistic, update
from tests.api.evaluations import item, receipt
from tests.conftest import StartServer
from tests.policy.support import (
    NOW,
    THRESHOLD,
    decide,
    decisions,
    detector,
    floor_policy,
    sample_by_sample,
    seed,
    stream,
    watched,
)


def evaluation_ids(engine: Engine, task_class: str) -> list[int]:
    with session_factory(engine)() as session:
        query = select(Evaluation.id).where(Evaluation.task_class == task_class).order_by(Evaluation.id)
        return list(session.scalars(query))


# A burst of rejects lifts the statistic past the threshold; the accepts after it bring it back down.
BURST = stream(0.97, 200, seed=21) + [False] * 20 + [True] * 1_500


def test_a_crossing_inside_a_batch_that_falls_back_by_its_end_still_alarms_at_that_outcome(
    engine: Engine,
) -> None:
    crossing = sample_by_sample(BURST, 0.95)
    assert crossing is not None and 200 <= crossing < 220
    assert log_statistic(update(DetectorState(0.95), BURST)) < THRESHOLD.log_value  # fallen back
    seed(engine, "extraction", BURST)

    decide(engine, floor_policy(extraction=watched()))

    [degraded] = decisions(engine, "degraded")
    evidence = orjson.loads(degraded.evidence)
    assert evidence["samples"] == crossing + 1
    assert evidence["accepted"] == sum(BURST[: crossing + 1])
    assert evidence["alarm_evaluation"]["id"] == evaluation_ids(engine, "extraction")[crossing]
    assert evidence["alarm_evaluation"]["first_crossing"] is True
    assert evidence["log_statistic"] >= THRESHOLD.log_value


def windows(outcomes: Sequence[bool], reference: float) -> tuple[list[int], int]:
    """Each alarm's index when every alarm restarts the detector on the next outcome, and the
    samples of the window left open at the end."""
    alarms, start = [], 0
    while (crossing := sample_by_sample(outcomes[start:], reference)) is not None:
        alarms.append(start + crossing)
        start += crossing + 1
    return alarms, len(outcomes) - start


def test_the_outcomes_after_the_crossing_start_the_next_window(engine: Engine) -> None:
    seed(engine, "extraction", BURST)
    policy = floor_policy(extraction=watched())
    ids = evaluation_ids(engine, "extraction")
    expected, open_window = windows(BURST, 0.95)
    assert len(expected) > 1  # the burst's rejects after the first alarm are evidence of their own

    for minute in range(len(expected) + 1):
        decide(engine, policy, NOW + timedelta(minutes=minute))

    alarms = [orjson.loads(d.evidence)["alarm_evaluation"]["id"] for d in decisions(engine, "degraded")]
    assert alarms == [ids[index] for index in expected]
    row = detector(engine, "extraction")
    assert row is not None and row.last_evaluation_id == ids[-1] and row.samples == open_window


def test_outcomes_of_one_request_reach_the_detector_in_request_order(
    engine: Engine, start_server: StartServer
) -> None:
    policy = floor_policy(extraction=watched())
    # Ids whose string order differs from their order in the request ("t-10" sorts before "t-9").
    outcomes = [True] * 9 + [False] * 30 + [True] * 200
    server = start_server(policy=policy)
    sent = [
        item(id=f"t-{index}", tier="cheap", outcome="acceptable" if ok else "unacceptable")
        for index, ok in enumerate(outcomes)
    ]
    assert receipt(server, sent)["accepted"] == len(outcomes)
    with session_factory(engine)() as session:
        stored = session.scalars(select(Evaluation.external_id).order_by(Evaluation.id)).all()
    assert stored == [f"t-{index}" for index in range(len(outcomes))]
    crossing = sample_by_sample(outcomes, 0.95)
    assert crossing is not None

    decide(engine, policy)

    [degraded] = decisions(engine, "degraded")
    alarm = orjson.loads(degraded.evidence)["alarm_evaluation"]
    with session_factory(engine)() as session:
        assert session.get(Evaluation, alarm["id"]).external_id == f"t-{crossing}"  # type: ignore[union-attr]


def test_a_promoted_class_leaves_the_rest_of_its_batch_on_the_old_tier_unread(engine: Engine) -> None:
    seed(engine, "extraction", BURST)
    policy = floor_policy(extraction=watched(auto_promote=True))

    decide(engine, policy)

    assert [d.kind for d in decisions(engine)] == ["degraded", "promoted"]
    cheap = detector(engine, "extraction", "cheap")
    # Outcomes judged the tier the class just left: they must not open its next window there.
    assert cheap is not None and cheap.last_evaluation_id == evaluation_ids(engine, "extraction")[-1]
