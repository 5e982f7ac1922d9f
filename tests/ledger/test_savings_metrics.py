"""The savings gauges of ``/metrics``: each class's net savings of the last 30 UTC days, as the ledger
has them, absent while unknown, and only for the classes within the class cap."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import StartServer
from tests.ledger import scenario
from tests.metrics.support import parse, value

NET, UNPRICED = "driftwatch_savings_net_usd", "driftwatch_savings_unpriced_calls"


def test_net_savings_per_class_over_the_last_30_days(engine: Engine, start_server: StartServer) -> None:
    scenario.seed(engine, scenario.midnight_days_ago(3))
    server = start_server(policy=scenario.POLICY)

    samples = parse(httpx.get(f"{server.base_url}/metrics", timeout=30).text)

    assert value(samples, NET, task_class="extraction") == pytest.approx(0.2725 + 0.0425)
    assert value(samples, NET, task_class="codegen") == pytest.approx(0.0)
    assert value(samples, NET, task_class="tagging") is None  # an unpriced call: unknown, not a guess
    assert value(samples, UNPRICED, task_class="tagging") == 1
    assert value(samples, UNPRICED, task_class="extraction") == 0


def test_only_classes_within_the_cap_get_savings_series(engine: Engine, start_server: StartServer) -> None:
    scenario.seed(engine, scenario.midnight_days_ago(3))
    server = start_server(policy=scenario.POLICY, max_task_classes=1)

    samples = parse(httpx.get(f"{server.base_url}/metrics", timeout=30).text)

    shown = {dict(labels)["task_class"] for name, labels in samples if name == UNPRICED}
    assert shown == {"extraction"}  # the busiest; the others are counted in no savings series
