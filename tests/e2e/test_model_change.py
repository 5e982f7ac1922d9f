"""The model-change sentinel end to end, on SQLite and PostgreSQL: an app's OTel SDK exports GenAI spans
over OTLP/HTTP to a real driftwatch server, the jobs run as ``serve`` runs them, and a webhook endpoint
added through the API receives the event on a real local socket.

A class whose cheap tier swaps snapshots (``gpt-4o-mini-2024-07-18`` → ``gpt-4o-mini-2025-01-31``) gets
one ``model.changed`` decision and event naming both, and its post-change calls are sampled at the
boosted rate until the boost has drawn its samples; a single stray call changes nothing, and a gateway
alternating between two snapshots gives no event (from the start) or exactly one (when it begins).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy import Engine, select
from standardwebhooks.webhooks import Webhook

from driftwatch.config import ModelChangeBoost, Policy, Settings, ShadowConfig
from driftwatch.db.engine import session_factory
from driftwatch.db.models import Call, Decision, ShadowSample
from driftwatch.sampling.rules import trace_fraction
from driftwatch.scheduler.jobs import JobContext, run_job
from tests.conftest import StartServer
from tests.fakes.webhook_receiver import LOOPBACK_RECEIVERS, WebhookReceiver
from tests.support.patience import deadline

OLD, NEW = "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2025-01-31"
RATE, FACTOR, BOOST_SAMPLES = 0.1, 5.0, 25
POLICY = Policy(
    tiers=("cheap", "premium"),
    shadow=ShadowConfig(
        rate=RATE, boost_on_model_change=ModelChangeBoost(factor=FACTOR, samples=BOOST_SAMPLES)
    ),
)


class App:
    """An instrumented application: each call a root span of its own trace, as OpenLLMetry and the
    official openai-v2 instrumentation report them (response model and system fingerprint)."""

    def __init__(self, base_url: str) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(f"{base_url}/v1/traces")))
        self.tracer = self.provider.get_tracer("opentelemetry.instrumentation.openai_v2")

    def call(
        self, task_class: str, model: str, *, times: int = 1, fingerprint: str = "fp_44709d6fcb"
    ) -> None:
        for _ in range(times):
            with self.tracer.start_as_current_span(f"chat {model}") as span:
                span.set_attributes(
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.system": "openai",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.response.model": model,
                        "openai.response.system_fingerprint": fingerprint,
                        "gen_ai.usage.input_tokens": 120,
                        "gen_ai.usage.output_tokens": 30,
                        "driftwatch.task_class": task_class,
                        "driftwatch.tier": "cheap",
                    }
                )

    def flush(self) -> None:
        assert self.provider.force_flush(30_000)


@contextmanager
def instrumented(base_url: str) -> Iterator[App]:
    app = App(base_url)
    try:
        yield app
    finally:
        app.provider.shutdown()


def _jobs(engine: Engine, *names: str) -> None:
    settings = Settings(webhook_allowed_networks=LOOPBACK_RECEIVERS, webhook_timeout_seconds=5.0)
    context = JobContext(engine, settings, POLICY, clock=lambda: datetime.now(UTC))
    for name in names:
        run_job(name, context)


def _changes(engine: Engine, task_class: str) -> list[Decision]:
    with session_factory(engine)() as session:
        query = select(Decision).where(Decision.task_class == task_class, Decision.kind == "model.changed")
        return list(session.scalars(query.order_by(Decision.id)))


def _calls(engine: Engine, task_class: str) -> list[tuple[int, str, str | None, str | None]]:
    with session_factory(engine)() as session:
        query = select(Call.id, Call.trace_id, Call.model, Call.system_fingerprint).where(
            Call.task_class == task_class
        )
        return [tuple(row) for row in session.execute(query.order_by(Call.id))]  # type: ignore[misc]


def _sampled(engine: Engine, task_class: str) -> set[int]:
    with session_factory(engine)() as session:
        query = select(ShadowSample.call_id).where(
            ShadowSample.task_class == task_class, ShadowSample.direction == "forward"
        )
        return set(session.scalars(query))


def test_a_snapshot_swap_is_one_decision_and_event_and_boosts_sampling_until_its_samples_are_drawn(
    start_server: StartServer, engine: Engine
) -> None:
    server = start_server(policy=POLICY, webhook_allowed_networks=LOOPBACK_RECEIVERS)
    with WebhookReceiver() as receiver, instrumented(server.base_url) as app:
        created = httpx.post(
            f"{server.base_url}/v1/webhooks",
            json={"url": receiver.url, "name": "oncall", "events": ["model.changed"]},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        app.call("faq", OLD, times=20)
        app.call("faq", NEW)  # a stray call: a router's retry on another deployment
        app.call("faq", OLD, times=60)
        app.flush()
        _jobs(engine, "watch-models", "sample")
        assert _changes(engine, "faq") == []

        app.call("faq", NEW, times=200, fingerprint="fp_b28b39ffa8")
        app.flush()
        _jobs(engine, "watch-models", "sample", "deliver")

        [decision] = _changes(engine, "faq")
        evidence = orjson.loads(decision.evidence)
        calls = _calls(engine, "faq")
        stray, first_new = [call_id for call_id, _, model, _ in calls if model == NEW][:2]
        assert calls[20][0] == stray
        assert decision.from_tier == "cheap"
        changes = {change["dimension"]: change for change in evidence["changes"]}
        assert (changes["model"]["old"], changes["model"]["new"]) == (OLD, NEW)
        assert (changes["fingerprint"]["old"], changes["fingerprint"]["new"]) == (
            "fp_44709d6fcb",
            "fp_b28b39ffa8",
        )
        assert changes["model"]["first_call_id"] == first_new
        assert evidence["boost"]["from_call_id"] == first_new
        assert evidence["boost"]["boosted_rate"] == RATE * FACTOR

        # Sampling: the base rate before the change; after it the boosted rate (the same hash, so a
        # superset) until BOOST_SAMPLES were drawn, then the base rate again.
        expected, boosted = set(), 0
        for call_id, trace_id, _, _ in calls:
            draw = trace_fraction(trace_id)
            if call_id >= first_new and boosted < BOOST_SAMPLES:
                if draw < RATE * FACTOR:
                    expected.add(call_id)
                    boosted += 1
            elif draw < RATE:
                expected.add(call_id)
        assert boosted == BOOST_SAMPLES  # 200 calls at 0.5 draw far more than 25
        assert _sampled(engine, "faq") == expected

        give_up = deadline(20)
        while not receiver.received:
            assert time.monotonic() < give_up, "the model.changed event never reached the receiver"
            _jobs(engine, "deliver")
        [delivered] = receiver.received
        Webhook(created.json()["secret"]).verify(delivered.body, delivered.headers)  # raises if forged
        envelope: dict[str, Any] = orjson.loads(delivered.body)
        assert envelope["type"] == "model.changed"
        assert envelope["data"]["task_class"] == "faq"
        assert envelope["data"]["decision_id"] == decision.id
        assert {c["new"] for c in envelope["data"]["changes"]} == {NEW, "fp_b28b39ffa8"}

        _jobs(engine, "watch-models")  # the boost drew its samples: the watch ends, recorded
        with session_factory(engine)() as session:
            kinds = list(
                session.scalars(
                    select(Decision.kind).where(Decision.task_class == "faq").order_by(Decision.id)
                )
            )
        assert kinds == ["model.changed", "model.watch_ended"]

        listed = httpx.get(f"{server.base_url}/v1/decisions", params={"kind": "model.changed"}, timeout=10)
        assert [item["id"] for item in listed.json()["items"]] == [decision.id]
        dashboard = httpx.get(f"{server.base_url}/v1/dashboard", params={"task_class": "faq"}, timeout=30)
        [panel] = [panel for panel in dashboard.json()["classes"] if panel["task_class"] == "faq"]
        assert [(marker["kind"], marker["from_tier"]) for marker in panel["markers"]] == [
            ("model.changed", "cheap"),
            ("model.watch_ended", "cheap"),
        ]


def test_a_gateway_alternating_two_snapshots_is_no_change_from_the_start_and_one_when_it_begins(
    start_server: StartServer, engine: Engine
) -> None:
    server = start_server(policy=POLICY)
    with instrumented(server.base_url) as app:
        for _ in range(80):
            app.call("balanced", OLD)
            app.call("balanced", NEW)
        app.call("single", OLD, times=80)
        app.flush()
        _jobs(engine, "watch-models")
        for _ in range(80):
            app.call("balanced", OLD)
            app.call("balanced", NEW)
            app.call("single", OLD)
            app.call("single", NEW)
        app.flush()
        _jobs(engine, "watch-models")
        for _ in range(80):
            app.call("single", NEW)
            app.call("single", OLD)
        app.flush()
        _jobs(engine, "watch-models")

    assert _changes(engine, "balanced") == []
    [change] = _changes(engine, "single")
    assert [(c["old"], c["new"]) for c in orjson.loads(change.evidence)["changes"]] == [(OLD, NEW)]
