"""Coverage end to end on both stores: calls sent over OTLP, the coverage job raising a class without a
reference to the rate that protects it (sampled so, shown in /v1/classes, the dashboard, /metrics and
the audit log), restoring it once the class has a reference, and `class.unprotected` raised once."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, delete, func, select

from driftwatch.cli.root import main
from driftwatch.config import Policy, Settings
from driftwatch.db.engine import session_factory
from driftwatch.db.models import ClassCoverage, ClassHour, Decision, OutboxEvent, ShadowSample
from driftwatch.policy.coverage import run_coverage
from driftwatch.sampling.rules import trace_fraction
from driftwatch.scheduler.jobs import JobContext, run_job
from driftwatch.stats.detector import AlarmThreshold
from driftwatch.stats.planner import plan_sampling
from tests.conftest import StartServer
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.notify.support import Clock, add_endpoint, deliver
from tests.policy.support import seed, stream
from tests.support.class_hours import seed_class_hours
from tests.support.otlp import START_NS, export_request, llm_attributes, make_span

FIRST_CALL = datetime.fromtimestamp(START_NS / 1e9, UTC)
NOW = FIRST_CALL + timedelta(days=2)
POLICY = Policy.model_validate(
    {
        "providers": {"premium": {"kind": "replay", "model": "claude-opus-4-7"}},
        "shadow": {"rate": 0.05, "daily_budget_usd": 5, "coverage_rate_cap": 0.5, "grace_seconds": 0},
    }
)


def _job(engine: Engine, name: str, now: datetime, policy: Policy = POLICY) -> str:
    return run_job(name, JobContext(engine, Settings(), policy, clock=lambda: now))


def _send_calls(base_url: str, task_class: str, count: int, start: datetime | None = None) -> list[str]:
    first = None if start is None else int(start.timestamp() * 1e9)
    spans = [
        make_span(llm_attributes(task_class=task_class), start_ns=None if first is None else first + index)
        for index in range(count)
    ]
    response = httpx.post(
        f"{base_url}/v1/traces",
        content=export_request(spans).SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    assert response.status_code == 200, response.text
    return [span.trace_id.hex() for span in spans]


def _forward_samples(engine: Engine, task_class: str) -> int:
    with session_factory(engine)() as session:
        query = select(func.count()).where(
            ShadowSample.task_class == task_class, ShadowSample.direction == "forward"
        )
        return session.scalar(query) or 0


def _decisions(engine: Engine, kind: str) -> list[Decision]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(Decision).where(Decision.kind == kind).order_by(Decision.id)))


def test_a_class_without_reference_is_sampled_at_its_raised_rate_until_it_has_one(
    engine: Engine, start_server: StartServer
) -> None:
    server = start_server(policy=POLICY)
    traces = _send_calls(server.base_url, "refunds", 400)

    summary = _job(engine, "coverage", NOW)

    # 200 calls a day cannot protect it within 7 days at any rate: raised to the cap, as fast as allowed.
    assert "raised: refunds" in summary
    _job(engine, "sample", NOW)
    assert _forward_samples(engine, "refunds") == sum(trace_fraction(trace) < 0.5 for trace in traces)
    classes = httpx.get(f"{server.base_url}/v1/classes").json()["classes"]
    refunds = next(entry for entry in classes if entry["task_class"] == "refunds")
    assert refunds["coverage"]["protected"] is False
    assert refunds["coverage"]["reason"] == "no_reference"
    assert refunds["coverage"]["coverage_rate"] == 0.5
    assert refunds["coverage"]["calls_per_day"] == pytest.approx(200, rel=0.01)
    assert refunds["shadow"]["notice"] == (
        "sampling raised to 50.0% (from 5.0%) until the class has a reference: coverage first"
    )
    dashboard = httpx.get(f"{server.base_url}/v1/dashboard").json()
    assert dashboard["coverage"]["text"] == "0 of 1 classes protected against a 0.10 drop within 7 days"
    metrics = httpx.get(f"{server.base_url}/metrics").text
    assert 'driftwatch_class_protected{task_class="refunds"} 0.0' in metrics
    [raised] = _decisions(engine, "coverage_raised")
    assert raised.task_class == "refunds" and "raised from 0.05 to 0.5000" in raised.reason

    # Its evaluations give it a reference: back to the normal rate, said in the audit log.
    seed(engine, "refunds", stream(0.97, 400, seed=1))
    _job(engine, "decide", NOW)
    summary = _job(engine, "coverage", NOW + timedelta(minutes=1))

    assert "restored: refunds" in summary
    [restored] = _decisions(engine, "coverage_restored")
    assert restored.reason == "sample rate back to 0.05: the class has a reference"
    later = _send_calls(server.base_url, "refunds", 400)
    _job(engine, "sample", NOW + timedelta(minutes=2))
    expected = sum(trace_fraction(trace) < 0.5 for trace in traces)
    expected += sum(trace_fraction(trace) < 0.05 for trace in later)
    assert _forward_samples(engine, "refunds") == expected
    classes = httpx.get(f"{server.base_url}/v1/classes").json()["classes"]
    refunds = next(entry for entry in classes if entry["task_class"] == "refunds")
    assert refunds["coverage"]["coverage_rate"] is None and refunds["shadow"]["notice"] is None
    assert refunds["coverage"]["min_detectable_drop"] is not None


def test_a_class_unprotected_for_longer_than_the_setting_raises_class_unprotected_once(
    engine: Engine, start_server: StartServer
) -> None:
    server = start_server(policy=POLICY)
    clock = Clock(NOW)

    with WebhookReceiver() as receiver:
        add_endpoint(engine, clock, receiver.url, events=("class.unprotected",))
        for days in (0, 6, 7.01, 8, 9):  # a trickle of calls every day: never enough for a reference
            moment = NOW + timedelta(days=days)
            _send_calls(server.base_url, "refunds", 20, start=moment - timedelta(hours=1))
            _job(engine, "coverage", moment)
            assert _unprotected_events(engine) == (0 if days < 7 else 1)
        clock.now = NOW + timedelta(days=9)
        summary = deliver(engine, clock, POLICY)
        assert summary.delivered == 1, summary.summary()
        [received] = receiver.received

    assert _unprotected_events(engine) == 1
    envelope = received.json()
    body = envelope["data"]
    assert envelope["type"] == body["type"] == "class.unprotected" and body["task_class"] == "refunds"
    assert body["reason"] == "too_little_traffic" and body["detail"] == "no_reference"
    assert body["unprotected_since"] == NOW.isoformat()
    with session_factory(engine)() as session:
        row = session.get(ClassCoverage, "refunds")
        assert row is not None and row.alerted_at is not None


def _unprotected_events(engine: Engine) -> int:
    with session_factory(engine)() as session:
        query = select(func.count()).where(OutboxEvent.event_type == "class.unprotected")
        return session.scalar(query) or 0


def test_plan_all_lists_every_class_with_its_coverage_and_what_would_protect_it(
    engine: Engine, start_server: StartServer, database_url: str, tmp_path: Path
) -> None:
    server = start_server(policy=POLICY)
    _send_calls(server.base_url, "refunds", 300, start=datetime.now(UTC) - timedelta(days=1))
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        "providers: {premium: {kind: replay, model: claude-opus-4-7}}\n"
        "classes: {refunds: {acceptance_floor: 0.9}}\n",
        encoding="utf-8",
    )
    environment = {"DRIFTWATCH_DATABASE_URL": database_url, "DRIFTWATCH_POLICY_FILE": str(policy_file)}

    result = CliRunner().invoke(main, ["plan", "--all"], env=environment, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("0 of 1 classes protected against a 0.10 drop within 7 days")
    assert lines[1].startswith("refunds: unprotected against a 0.10 drop within 7 days: too little traffic")
    rate = float(lines[1].split("protected within the window at rate ")[1].split()[0].rstrip(","))
    # At that rate the floor's detector sees the drop within the window: the planner agrees.
    calls_per_day = float(lines[1].split(" calls/day")[0].rsplit(" ", 1)[1].replace(",", ""))
    plan = plan_sampling(0.9, 0.1, 7, threshold=AlarmThreshold(10_000, 0.01, 1))
    assert plan.samples_needed is not None
    assert math.isclose(rate * calls_per_day, plan.samples_needed / 7, rel_tol=0.02)


def test_plan_without_a_question_or_all_says_what_to_give(database_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plan"], env={"DRIFTWATCH_DATABASE_URL": database_url})

    assert result.exit_code == 2
    assert "give --baseline, --drop, --within (or --all for every class's coverage" in result.output


def _stored_coverage(engine: Engine) -> list[tuple[str, bool, str | None, float | None]]:
    with session_factory(engine)() as session:
        rows = session.scalars(select(ClassCoverage).order_by(ClassCoverage.task_class))
        return [(row.task_class, row.protected, row.reason, row.coverage_rate) for row in rows]


def test_a_run_stores_its_classes_a_chunk_per_transaction_and_a_stopped_run_leaves_the_rest(
    engine: Engine,
) -> None:
    """Short transactions keep ingest committing on SQLite whatever the number of classes: each
    transaction of a run stores at most ``chunk`` classes, and the rows come out as one pass makes them."""
    names = [f"class-{index:02d}" for index in range(7)]
    seed_class_hours(engine, {name: 40 * (1 + index) for index, name in enumerate(names)})
    now = datetime.now(UTC)
    asked: list[int] = []

    def stop_after_two_chunks() -> bool:
        asked.append(len(_stored_coverage(engine)))
        return len(asked) > 2

    stopped = run_coverage(engine, POLICY, now, stopping=stop_after_two_chunks, chunk=3)
    assert asked == [0, 3, 6] and stopped.assessed == 6  # one chunk of 3 classes per transaction
    finished = run_coverage(engine, POLICY, now, chunk=3)
    in_chunks = _stored_coverage(engine)
    with session_factory(engine).begin() as session:
        session.execute(delete(ClassCoverage))
    in_one = run_coverage(engine, POLICY, now, chunk=len(names))

    assert finished.assessed == in_one.assessed == len(names)
    assert [row[0] for row in in_chunks] == names
    assert in_chunks == _stored_coverage(engine)


def test_a_class_that_left_every_source_loses_its_coverage_row(engine: Engine) -> None:
    seed_class_hours(engine, {"faq": 100, "refunds": 100})
    now = datetime.now(UTC)
    run_coverage(engine, POLICY, now, chunk=1)
    with session_factory(engine).begin() as session:
        session.execute(delete(ClassHour).where(ClassHour.task_class == "faq"))
    run_coverage(engine, POLICY, now, chunk=1)

    assert [row[0] for row in _stored_coverage(engine)] == ["refunds"]
