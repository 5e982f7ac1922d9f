"""``DRIFTWATCH_CALL_RETENTION_DAYS``: the ``retention`` job deletes calls that started before the
cutoff, oldest first in batches, with their shadow samples; rollups, evaluations (call_id set to null)
and the newer calls stay.  On SQLite and PostgreSQL, with calls stored through real OTLP ingest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, insert, select

from driftwatch.calls.retention import delete_expired_calls
from driftwatch.config import Policy, Settings
from driftwatch.db.engine import session_factory
from driftwatch.db.models import Call, ClassHour, Evaluation, EvaluationHour, ShadowSample
from driftwatch.evaluations.writer import insert_counted
from driftwatch.scheduler.jobs import JobContext, job_intervals, run_job
from tests.support.otlp import export_request, make_span
from tests.support.server import ServerThread

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PROTOBUF = {"content-type": "application/x-protobuf"}


def _ingest(server: ServerThread, days_ago: list[float]) -> None:
    spans = [make_span(start_ns=int((NOW - timedelta(days=age)).timestamp() * 1e9)) for age in days_ago]
    body = export_request(spans).SerializeToString()
    assert httpx.post(f"{server.base_url}/v1/traces", content=body, headers=PROTOBUF).status_code == 200


def _sample_and_evaluate_every_call(engine: Engine) -> None:
    with engine.begin() as connection:
        calls = connection.execute(select(Call.id, Call.task_class, Call.start_time)).all()
        for call_id, task_class, start in calls:
            sample = {"call_id": call_id, "task_class": task_class, "tier": "cheap", "reference_tier": "premium",
                      "status": "done", "attempts": 1, "not_before": start, "created_at": start, "updated_at": start}  # fmt: skip
            sample_id = connection.execute(
                insert(ShadowSample).returning(ShadowSample.id), sample
            ).scalar_one()
            insert_counted(connection, [{"source": "shadow", "sample_id": sample_id, "call_id": call_id,
                "task_class": task_class, "tier": "cheap", "acceptable": True, "evaluated_at": start,
                "created_at": start, "shadow_cost_usd": 0.0, "judge_cost_usd": 0.0}])  # fmt: skip


def _counts(engine: Engine) -> dict[str, object]:
    with session_factory(engine)() as session:
        return {
            "calls": session.scalar(select(func.count()).select_from(Call)),
            "samples": session.scalar(select(func.count()).select_from(ShadowSample)),
            "evaluations": session.scalar(select(func.count()).select_from(Evaluation)),
            "evaluations without call": session.scalar(
                select(func.count()).select_from(Evaluation).where(Evaluation.call_id.is_(None))
            ),
            "rolled-up calls": session.scalar(select(func.sum(ClassHour.calls))),
            "rolled-up evaluations": session.scalar(select(func.sum(EvaluationHour.evaluations))),
            "oldest call": session.scalar(select(func.min(Call.start_time))),
        }


def test_the_job_deletes_expired_calls_and_their_samples_and_keeps_the_history(
    server: ServerThread, engine: Engine
) -> None:
    _ingest(server, [30, 20, 8, 7.01, 6.99, 1, 0.1])
    _sample_and_evaluate_every_call(engine)
    context = JobContext(engine, Settings(call_retention_days=7), Policy(), clock=lambda: NOW)

    summary = run_job("retention", context)
    again = run_job("retention", context)

    assert summary.startswith("deleted 4 calls that started before 2026-11-19T12:00:00")
    assert again.startswith("deleted 0 calls")
    counts = _counts(engine)
    assert counts == {
        "calls": 3, "samples": 3, "evaluations": 7, "evaluations without call": 4,
        "rolled-up calls": 7, "rolled-up evaluations": 7, "oldest call": counts["oldest call"],
    }  # fmt: skip
    oldest = counts["oldest call"]
    assert isinstance(oldest, datetime) and oldest >= NOW - timedelta(days=7)


def test_deletion_goes_in_batches_and_stops_at_its_time_budget(server: ServerThread, engine: Engine) -> None:
    _ingest(server, [10 + index / 100 for index in range(25)] + [1])

    interrupted = delete_expired_calls(engine, NOW, 7, batch=10, time_budget_seconds=0)
    finished = delete_expired_calls(engine, NOW, 7, batch=10)

    assert (interrupted.deleted, interrupted.more) == (10, True)
    assert "more are left for the next run" in interrupted.summary()
    assert (finished.deleted, finished.more) == (15, False)
    assert _counts(engine)["calls"] == 1


def test_retention_is_scheduled_only_when_set_and_never_under_a_day() -> None:
    assert "retention" not in job_intervals(Settings())
    assert job_intervals(Settings(call_retention_days=30, retention_interval_seconds=600))["retention"] == 600
    with pytest.raises(ValidationError, match="at least 1 day"):
        Settings(call_retention_days=0.5)
