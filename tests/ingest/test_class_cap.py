"""A careless client that puts ids into task classes degrades only its own classification."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, func, select

from driftwatch.config import Policy, Settings
from driftwatch.db.models import Call, ClassHour
from driftwatch.scheduler.jobs import JobContext, run_job
from tests.conftest import StartServer
from tests.fakes.webhook_receiver import LOOPBACK_RECEIVERS, WebhookReceiver
from tests.support.otlp import export_request, llm_attributes, make_span

PROTOBUF = {"content-type": "application/x-protobuf"}


def _send(base_url: str, classes: list[str]) -> None:
    spans = [make_span(llm_attributes(task_class=name)) for name in classes]
    response = httpx.post(
        f"{base_url}/v1/traces", content=export_request(spans).SerializeToString(), headers=PROTOBUF
    )
    assert response.status_code == 200, response.text


def _calls_by_class(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(Call.task_class, func.count()).group_by(Call.task_class))
        return {name: count for name, count in rows}


def test_calls_of_classes_first_seen_beyond_the_cap_are_stored_as_overflow(
    start_server: StartServer, engine: Engine
) -> None:
    server = start_server(max_task_classes=3)

    _send(server.base_url, ["faq", "faq", "refunds", "unclassified-looking", "request-0001", "request-0002"])
    _send(server.base_url, ["refunds", "request-0003"])

    assert _calls_by_class(engine) == {"faq": 2, "refunds": 2, "unclassified-looking": 1, "overflow": 3}
    metrics = httpx.get(f"{server.base_url}/metrics").text
    assert "driftwatch_ingest_calls_overflowed_total 3.0" in metrics
    notices = httpx.get(f"{server.base_url}/v1/classes").json()["notices"]
    assert len(notices) == 1
    assert notices[0].startswith("3 calls in this window are stored under the class 'overflow'")


def test_the_classes_already_stored_count_against_the_cap_after_a_restart(
    start_server: StartServer, engine: Engine
) -> None:
    first = start_server(max_task_classes=2)
    _send(first.base_url, ["faq", "refunds"])

    second = start_server(max_task_classes=2)
    _send(second.base_url, ["faq", "request-0001"])

    assert _calls_by_class(engine) == {"faq": 2, "refunds": 1, "overflow": 1}
    with engine.connect() as connection:
        assert connection.scalar(select(func.count(func.distinct(ClassHour.task_class)))) == 3


def test_no_cap_keeps_every_class(start_server: StartServer, engine: Engine) -> None:
    server = start_server(max_task_classes=0)

    _send(server.base_url, [f"request-{number:04}" for number in range(20)])

    assert len(_calls_by_class(engine)) == 20
    assert httpx.get(f"{server.base_url}/v1/classes").json()["notices"] == []


def test_reaching_the_cap_is_announced_once_to_the_webhooks(
    start_server: StartServer, engine: Engine
) -> None:
    settings = Settings(max_task_classes=2, webhook_allowed_networks=LOOPBACK_RECEIVERS)
    server = start_server(max_task_classes=2, webhook_allowed_networks=LOOPBACK_RECEIVERS)
    context = JobContext(engine, settings, Policy())
    with WebhookReceiver() as receiver:
        added = httpx.post(f"{server.base_url}/v1/webhooks", json={"url": receiver.url})
        assert added.status_code == 201, added.text
        _send(server.base_url, ["faq", "refunds"])
        under_the_cap = run_job("decide", context)
        _send(server.base_url, ["request-0001", "request-0002", "faq"])
        reached = run_job("decide", context)
        _send(server.base_url, ["request-0003"])
        again = run_job("decide", context)
        run_job("deliver", context)

        announced = [request.json() for request in receiver.received]

    assert "announced" not in under_the_cap and "announced" not in again
    assert "classes beyond the cap of 2 are stored as overflow" in reached
    (event,) = announced
    assert event["type"] == "classes.capped" and event["data"]["task_class"] == "overflow"
    assert (event["data"]["max_task_classes"], event["data"]["overflow_calls"]) == (2, 2)
    assert "DRIFTWATCH_MAX_TASK_CLASSES" in event["data"]["reason"]
