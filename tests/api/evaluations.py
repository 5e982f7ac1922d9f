"""Evaluations as clients send them, and shadow evaluations seeded straight into a store."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from driftwatch.config import ClassConfig, Policy
from driftwatch.db.models import Evaluation
from driftwatch.evaluations.writer import insert_counted
from tests.support.server import ServerThread

_IDS = itertools.count(1)
# Verdicts are taken only for classes driftwatch has seen: these tests name theirs in the policy file.
CLASSES = ("extraction", "faq", "codegen", "support")
POLICY = Policy(classes={task_class: ClassConfig() for task_class in CLASSES})


def item(**fields: Any) -> dict[str, Any]:
    """A valid evaluation; ``fields`` override or (with value ...) remove its fields."""
    body: dict[str, Any] = {
        "id": f"review-{next(_IDS)}",
        "source": "human-review",
        "task_class": "extraction",
        "outcome": "acceptable",
    }
    body.update(fields)
    return {name: value for name, value in body.items() if value is not ...}


def post(server: ServerThread, items: list[Any], key: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{server.base_url}/v1/evaluations", json={"evaluations": items}, headers=headers)


def receipt(server: ServerThread, items: list[Any]) -> dict[str, Any]:
    response = post(server, items)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(server: ServerThread, **params: Any) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.base_url}/v1/evaluations", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(Evaluation)) or 0)


def seed_shadow_evaluation(engine: Engine, task_class: str, acceptable: bool | None, at: datetime) -> None:
    row = {
        "source": "shadow",
        "task_class": task_class,
        "tier": "cheap",
        "model": "claude-haiku-4-5",
        "reference_tier": "premium",
        "reference_model": "claude-opus-4-7",
        "acceptable": acceptable,
        "score": None if acceptable is None else float(acceptable),
        "judge": None if acceptable is None else "exact",
        "shadow_cost_usd": 0.002,
        "judge_cost_usd": 0.001,
        "evaluated_at": at,
        "created_at": at,
    }
    with engine.begin() as connection:
        insert_counted(connection, [row])


def at(seconds: int) -> str:
    """An ISO 8601 time ``seconds`` after 2025-11-22T08:00Z."""
    return (datetime(2025, 11, 22, 8, 0, tzinfo=UTC) + timedelta(seconds=seconds)).isoformat()
