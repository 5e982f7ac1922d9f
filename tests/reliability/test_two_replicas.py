"""Two ``driftwatch serve`` replicas with their schedulers on, one PostgreSQL store, traffic sent to both:
every sample is replayed and evaluated once, the degraded class is promoted once, and every webhook is
sent once.

Both replicas start together on an empty database, as a deployment rolls out, so both run the
migrations at the same moment. The reference tier is a real OpenAI-compatible server (the fake) that
records each request, so a replay made twice is seen at the wire, not only in the store.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import Engine, func, select

from driftwatch.db.models import ClassPolicy, Decision, Evaluation, OutboxEvent, ShadowSample
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.webhook_receiver import ALLOW_LOOPBACK_RECEIVERS, WebhookReceiver
from tests.reliability.serve import Serve
from tests.support.databases import engine_for, fresh_database
from tests.support.otlp import export_request, llm_attributes, make_span
from tests.support.patience import deadline

CALLS_PER_REPLICA = 40
TASK_CLASS = "sentiment"
INTERVALS = {
    f"DRIFTWATCH_{job}_INTERVAL_SECONDS": "0.3" for job in ("SAMPLE", "EVALUATE", "DECIDE", "DELIVER")
}


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """An empty database: the replicas migrate it themselves."""
    with fresh_database("postgresql", tmp_path) as url:
        yield url


def _policy_file(tmp_path: Path, premium: FakeOpenAIServer) -> Path:
    policy = {
        "providers": {"premium": {"kind": "openai", "model": "gpt-4o", "base_url": premium.base_url}},
        "shadow": {"rate": 1.0, "grace_seconds": 0, "judges": [{"kind": "exact"}]},
        "classes": {TASK_CLASS: {"acceptance_floor": 0.9, "auto_promote": True}},
    }
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def _export(base_url: str, first: int, count: int) -> None:
    """Cheap-tier calls the reference disagrees with ("negative" against "positive")."""
    spans = [
        make_span(llm_attributes(task_class=TASK_CLASS, prompt=f"review {index}", completion="negative"))
        for index in range(first, first + count)
    ]
    body = export_request(spans).SerializeToString()
    headers = {"content-type": "application/x-protobuf"}
    assert httpx.post(f"{base_url}/v1/traces", content=body, headers=headers, timeout=30).status_code == 200


def _wait_until(condition: str, check: object, seconds: float = 40) -> None:
    give_up = deadline(seconds)
    while not callable(check) or not check():
        assert time.monotonic() < give_up, f"timed out waiting until {condition}"
        time.sleep(0.2)


def test_two_replicas_evaluate_decide_and_notify_once(postgres_url: str, tmp_path: Path) -> None:
    with (
        FakeOpenAIServer(reply="positive", prompt_tokens=30, completion_tokens=2) as premium,
        WebhookReceiver() as receiver,
    ):
        settings = {
            "DRIFTWATCH_POLICY_FILE": str(_policy_file(tmp_path, premium)),
            **INTERVALS,
            **ALLOW_LOOPBACK_RECEIVERS,
        }
        replicas = [Serve(tmp_path, postgres_url, settings).launch() for _ in range(2)]
        engine = engine_for(postgres_url)
        try:
            for replica in replicas:
                replica.wait_healthy()
            created = httpx.post(f"{replicas[0].base_url}/v1/webhooks", json={"url": receiver.url})
            assert created.status_code == 201, created.text
            for batch in range(4):  # interleaved, so both replicas' schedulers find work
                replica = replicas[batch % 2]
                _export(replica.base_url, batch * CALLS_PER_REPLICA // 2, CALLS_PER_REPLICA // 2)

            _wait_until("every sample is evaluated", lambda: _evaluations(engine) == 2 * CALLS_PER_REPLICA)
            _wait_until("the class is promoted", lambda: _tier(engine) == "mid")
            _wait_until("the events are delivered", lambda: len(receiver.received) >= _events(engine) > 0)
            time.sleep(2)  # a few more ticks of both schedulers: a second run would show by now
            errors = [replica.stop() for replica in replicas]
            outcome = _read_outcome(engine)
        finally:
            for replica in replicas:
                replica.kill()
            engine.dispose()

    replays = Counter(request.body["messages"][-1]["content"] for request in premium.requests)
    assert len(replays) == 2 * CALLS_PER_REPLICA
    assert max(replays.values()) == 1, [prompt for prompt, count in replays.items() if count > 1]
    assert outcome["samples"] == outcome["evaluated samples"] == 2 * CALLS_PER_REPLICA
    assert outcome["decisions"] == Counter({("degraded", TASK_CLASS): 1, ("promoted", TASK_CLASS): 1})
    webhook_ids = Counter(request.headers["webhook-id"] for request in receiver.received)
    assert len(webhook_ids) == outcome["events"]
    assert max(webhook_ids.values()) == 1
    for stderr in errors:
        assert "Traceback" not in stderr, stderr[-3000:]


def _evaluations(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Evaluation)).scalar_one())


def _events(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(OutboxEvent)).scalar_one())


def _tier(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return connection.execute(
            select(ClassPolicy.tier).where(ClassPolicy.task_class == TASK_CLASS)
        ).scalar_one_or_none()


def _read_outcome(engine: Engine) -> dict[str, object]:
    with engine.connect() as connection:
        samples = connection.execute(select(func.count()).select_from(ShadowSample)).scalar_one()
        evaluated = connection.execute(select(func.count(func.distinct(Evaluation.sample_id)))).scalar_one()
        decisions = Counter(
            (row.kind, row.task_class)
            for row in connection.execute(select(Decision.kind, Decision.task_class))
        )
    return {
        "samples": samples,
        "evaluated samples": evaluated,
        "decisions": decisions,
        "events": _events(engine),
    }
