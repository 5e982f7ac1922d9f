"""The judge-score comparison GET /v1/classes reports next to the detector (current vs before)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine

from driftwatch.evaluations.writer import insert_counted
from tests.conftest import StartServer
from tests.policy.support import NOW, decide, floor_policy, watched


def _scored(engine: Engine, scores: list[float], at: datetime) -> None:
    rows = [
        {
            "source": "shadow",
            "task_class": "summaries",
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


def _scores_block(server_url: str) -> dict[str, object]:
    classes = httpx.get(f"{server_url}/v1/classes").json()["classes"]
    block: dict[str, object] = next(c for c in classes if c["task_class"] == "summaries")["scores"]
    return block


def test_a_slide_in_scores_shows_against_the_window_before_the_detector(
    engine: Engine, start_server: StartServer
) -> None:
    draw = random.Random(7)
    policy = floor_policy(summaries=watched(0.9))
    _scored(engine, [draw.uniform(0.8, 1.0) for _ in range(100)], NOW - timedelta(hours=2))
    decide(engine, policy)  # starts the detector: its window begins at NOW
    _scored(engine, [draw.uniform(0.4, 0.7) for _ in range(60)], NOW + timedelta(hours=1))
    server = start_server(policy=policy)

    block = _scores_block(server.base_url)

    assert (block["current_count"], block["baseline_count"]) == (60, 100)
    assert isinstance(block["mann_whitney_p"], float) and block["mann_whitney_p"] < 1e-6
    assert isinstance(block["probability_lower"], float) and block["probability_lower"] > 0.95
    assert isinstance(block["median_difference"], float) and block["median_difference"] < -0.2


def test_too_few_scores_say_so_instead_of_testing(engine: Engine, start_server: StartServer) -> None:
    policy = floor_policy(summaries=watched(0.9))
    _scored(engine, [0.9] * 5, NOW - timedelta(hours=2))
    decide(engine, policy)
    server = start_server(policy=policy)

    block = _scores_block(server.base_url)

    assert block["mann_whitney_p"] is None
    assert "not enough" in str(block["message"])
