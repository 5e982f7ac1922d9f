"""The runner tells an optional observer (serve's Metrics) how long each evaluation took."""

from __future__ import annotations

from prometheus_client import generate_latest
from sqlalchemy import Engine

from driftwatch.ingest.metrics import Metrics
from tests.metrics.support import parse, seed_store, value


def test_each_evaluation_is_observed_by_outcome(engine: Engine) -> None:
    metrics = Metrics()

    seed_store(engine, observer=metrics)

    samples = parse(generate_latest(metrics.registry).decode())
    name = "driftwatch_shadow_evaluation_seconds_count"
    assert value(samples, name, outcome="acceptable") == 3
    assert value(samples, name, outcome="unacceptable") == 1
    assert value(samples, "driftwatch_shadow_evaluation_seconds_sum", outcome="acceptable") > 0  # type: ignore[operator]
