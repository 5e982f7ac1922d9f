"""The judge-score comparison GET /v1/classes reports next to the detector (current vs before): computed
by the ``score-drift`` job and stored, read back by the class list."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine, event, select, update

from driftwatch.db.engine import session_factory
from driftwatch.db.models import DetectorRow, JobState, ScoreDriftRow
from driftwatch.detection.score_drift import JOB_NAME, run_score_drift
from driftwatch.evaluations.writer import insert_counted
from tests.conftest import StartServer
from tests.policy.support import NOW, decide, floor_policy, score_drift, watched
from tests.support.class_hours import seed_pre_cap_store


def _scored(engine: Engine, scores: list[float], at: datetime, task_class: str = "summaries") -> None:
    rows = [
        {
            "source": "shadow",
            "task_class": task_class,
            "tier": "cheap",
            "acceptable": True,
            "score": score,
            "evaluated_at": at,
            "created_at": at,
        }
        for score in scores
    ]
    with engine.begin() as connection:
        insert_counted(connection, rows)


def _scores_block(server_url: str) -> dict[str, object] | None:
    classes = httpx.get(f"{server_url}/v1/classes").json()["classes"]
    block: dict[str, object] | None = next(c for c in classes if c["task_class"] == "summaries")["scores"]
    return block


def _stored(engine: Engine) -> dict[str, ScoreDriftRow]:
    with session_factory(engine)() as session:
        return {row.task_class: row for row in session.scalars(select(ScoreDriftRow))}


def test_a_slide_in_scores_shows_against_the_window_before_the_detector(
    engine: Engine, start_server: StartServer
) -> None:
    draw = random.Random(7)
    policy = floor_policy(summaries=watched(0.9))
    _scored(engine, [draw.uniform(0.8, 1.0) for _ in range(100)], NOW - timedelta(hours=2))
    decide(engine, policy)  # starts the detector: its window begins at NOW
    _scored(engine, [draw.uniform(0.4, 0.7) for _ in range(60)], NOW + timedelta(hours=1))
    score_drift(engine, policy, NOW + timedelta(hours=1))
    server = start_server(policy=policy)

    block = _scores_block(server.base_url)

    assert block is not None
    assert (block["current_count"], block["baseline_count"]) == (60, 100)
    assert isinstance(block["mann_whitney_p"], float) and block["mann_whitney_p"] < 1e-6
    assert isinstance(block["probability_lower"], float) and block["probability_lower"] > 0.95
    assert isinstance(block["median_difference"], float) and block["median_difference"] < -0.2
    assert block["computed_at"] == (NOW + timedelta(hours=1)).isoformat().replace("+00:00", "Z")


def test_too_few_scores_say_so_instead_of_testing(engine: Engine, start_server: StartServer) -> None:
    policy = floor_policy(summaries=watched(0.9))
    _scored(engine, [0.9] * 5, NOW - timedelta(hours=2))
    decide(engine, policy)
    score_drift(engine, policy)
    server = start_server(policy=policy)

    block = _scores_block(server.base_url)

    assert block is not None
    assert block["mann_whitney_p"] is None
    assert "not enough" in str(block["message"])


def test_the_class_list_shows_what_the_job_stored_and_computes_nothing_itself(
    engine: Engine, start_server: StartServer
) -> None:
    policy = floor_policy(summaries=watched(0.9))
    _scored(engine, [0.9] * 30, NOW - timedelta(hours=2))
    decide(engine, policy)
    server = start_server(policy=policy)

    before_the_job = _scores_block(server.base_url)
    score_drift(engine, policy)
    after_the_job = _scores_block(server.base_url)
    _scored(engine, [0.2] * 30, NOW + timedelta(hours=1))
    before_the_next_run = _scores_block(server.base_url)

    assert before_the_job is None
    assert after_the_job is not None and (
        after_the_job["current_count"],
        after_the_job["baseline_count"],
    ) == (0, 30)
    assert before_the_next_run == after_the_job


def test_a_run_recomputes_only_windows_with_new_scores_or_a_new_start(engine: Engine) -> None:
    policy = floor_policy(summaries=watched(0.9), labels=watched(0.9), quiet=watched(0.9))
    _scored(engine, [0.9] * 30, NOW - timedelta(hours=2))
    _scored(engine, [0.8] * 30, NOW - timedelta(hours=2), task_class="labels")
    decide(engine, policy)  # three detectors; "quiet" has no scores

    first = score_drift(engine, policy)
    idle = score_drift(engine, policy)
    _scored(engine, [0.5] * 25, NOW + timedelta(hours=1), task_class="labels")
    new_scores = score_drift(engine, policy, NOW + timedelta(hours=1))
    with engine.begin() as connection:  # the detector restarts, as after an alarm or at the horizon
        connection.execute(
            update(DetectorRow)
            .where(DetectorRow.task_class == "summaries")
            .values(started_at=NOW - timedelta(hours=3))
        )
    new_window = score_drift(engine, policy, NOW + timedelta(hours=2))
    stored = _stored(engine)

    assert first.startswith("score drift of 3 detectors, 2 with scores")
    assert idle.startswith("score drift of 0 detectors")
    assert new_scores.startswith("score drift of 1 detectors, 1 with scores")
    assert (stored["labels"].current_count, stored["labels"].baseline_count) == (25, 30)
    assert new_window.startswith("score drift of 1 detectors, 1 with scores")
    assert (stored["summaries"].current_count, stored["summaries"].baseline_count) == (30, 0)
    assert (stored["quiet"].current_count, stored["quiet"].baseline_count) == (0, 0)


def test_a_run_stopped_between_chunks_keeps_its_cursor_and_the_next_finishes(engine: Engine) -> None:
    names = [f"class-{index}" for index in range(5)]
    policy = floor_policy(**{name: watched(0.9) for name in names})
    for name in names:
        _scored(engine, [0.9] * 3, NOW - timedelta(hours=1), task_class=name)
    decide(engine, policy)
    chunks = iter([False, False, True])

    stopped = run_score_drift(engine, NOW, stopping=lambda: next(chunks), chunk=2)
    with session_factory(engine)() as session:
        cursor = session.scalar(select(JobState.cursor).where(JobState.name == JOB_NAME))
    rest = run_score_drift(engine, NOW, chunk=2)

    assert (stopped.detectors, cursor) == (4, 0)
    assert rest.detectors == 1
    assert sorted(_stored(engine)) == names


def test_a_page_of_the_class_list_reads_as_many_statements_for_150_classes_as_for_5(
    engine: Engine, start_server: StartServer
) -> None:
    """Comparing scores per request read two windows of scores per class on the page: a page of 100
    classes took 1-2 s.  Now the page's statements do not grow with the classes on it."""
    names = [f"request-{index:03d}" for index in range(200)]
    seed_pre_cap_store(engine, names, names)  # a detector and a scored verdict per class
    score_drift(engine, floor_policy())
    server = start_server()
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    def page_statements(limit: int) -> tuple[int, list[dict[str, object]]]:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            answer = httpx.get(f"{server.base_url}/v1/classes", params={"limit": limit})
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert answer.status_code == 200, answer.text
        return len(statements), answer.json()["classes"]

    few, shown_few = page_statements(5)
    many, shown_many = page_statements(150)

    assert len(shown_few) == 5 and len(shown_many) == 150
    assert all(entry["scores"] is not None for entry in shown_many)
    assert many == few, statements
