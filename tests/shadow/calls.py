"""Calls seeded straight into a store for sampling and runner tests."""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime

import orjson
from sqlalchemy import Engine, insert

from driftwatch.db.models import Call

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
_SPAN_IDS = itertools.count(1)


def seed_calls(
    engine: Engine,
    count: int,
    *,
    tier: str | None,
    task_class: str = "extraction",
    status: str = "ok",
    prompt: str | None = "what is the capital of france?",
    completion: str | None = "PARIS",
    first_id: int | None = None,
    model: str = "claude-haiku-4-5",
) -> list[int]:
    """Insert ``count`` calls (optionally with explicit ids) and return their ids."""
    rows = []
    for index in range(count):
        row: dict[str, object] = {
            "trace_id": secrets.token_hex(16),
            "span_id": f"{next(_SPAN_IDS):016x}",
            "start_time": NOW,
            "task_class": task_class,
            "tier": tier,
            "model": model,
            "input_tokens": 20,
            "output_tokens": 5,
            "cost_usd": 0.0001,
            "prompt": None
            if prompt is None
            else orjson.dumps([{"role": "user", "content": prompt}]).decode(),
            "completion": completion,
            "status": status,
            "source": "otlp",
        }
        if first_id is not None:
            row["id"] = first_id + index
        rows.append(row)
    with engine.begin() as connection:
        ids = connection.execute(insert(Call).returning(Call.id), rows).scalars().all()
    return list(ids)
