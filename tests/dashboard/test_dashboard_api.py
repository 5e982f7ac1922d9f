"""``GET /v1/dashboard`` over a real server on SQLite and PostgreSQL: the figures against the seeded
store, the window and its buckets, the class filter, an empty store, bad parameters and auth."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from driftwatch.config import ClassConfig, Policy
from driftwatch.stats.proportions import wilson_interval
from tests.conftest import StartServer
from tests.dashboard import scenario
from tests.support.otlp import export_request, make_span
from tests.support.server import ServerThread


def get(server: ServerThread, query: str = "", **headers: str) -> httpx.Response:
    return httpx.get(f"{server.base_url}/v1/dashboard{query}", headers=headers, timeout=30)


def panel(document: dict[str, Any], task_class: str) -> dict[str, Any]:
    return next(entry for entry in document["classes"] if entry["task_class"] == task_class)


def test_an_empty_store_gives_an_empty_dashboard(start_server: StartServer) -> None:
    server = start_server()

    ranges = (("15m", 90, 10), ("1h", 60, 60), ("24h", 24, 3600), ("7d", 168, 3600), ("30d", 30, 86400))
    for time_range, buckets, step in ranges:
        response = get(server, f"?range={time_range}")

        assert response.status_code == 200, response.text
        document = response.json()
        assert document["range"] == time_range
        assert len(document["buckets"]) == buckets
        starts = [datetime.fromisoformat(start) for start in document["buckets"]]
        assert {(b - a).total_seconds() for a, b in itertools.pairwise(starts)} == {step}
        assert datetime.fromisoformat(document["since"]) == starts[0]
        assert starts[-1] <= datetime.now(UTC) < datetime.fromisoformat(document["until"])
        assert document["classes"] == [] and document["volume"] == [] and document["decisions"] == []
        assert document["webhooks"] == {"pending": 0, "delivered": 0, "failed": 0, "recent": []}
        assert document["shadow"]["spent_usd"] == 0 and document["shadow"]["budget_usd"] == 0
        # The default policy names no model for the top tier, so nothing can be priced there.
        assert document["savings"]["achieved_usd"] is None
        assert "no model for the top tier 'premium'" in document["savings"]["reason"]
    # Asked for no range, an empty store opens on a day.
    assert get(server).json()["range"] == "24h"


def test_the_figures_are_those_of_the_store(engine: Engine, start_server: StartServer) -> None:
    expected = scenario.seed(engine)
    server = start_server(policy=scenario.POLICY)

    document = get(server, "?range=7d").json()

    busiest_first = sorted(expected.calls, key=lambda name: (-expected.calls[name], name))
    assert [entry["task_class"] for entry in document["classes"]] == busiest_first
    assert (document["total_classes"], document["next_offset"], document["notices"]) == (4, None, [])
    for task_class, calls in expected.calls.items():
        entry = panel(document, task_class)
        assert entry["calls"] == calls
        assert entry["cost_usd"] == pytest.approx(expected.cost[task_class])
        assert entry["savings_usd"] == pytest.approx(expected.saved.get(task_class, 0.0))
    savings = document["savings"]
    assert savings["achieved_usd"] == pytest.approx(expected.total_saved)
    assert savings["cost_usd"] == pytest.approx(expected.total_cost - expected.cost["codegen"])
    # tagging is degraded now; extraction degraded on cheap in the window, then was promoted.
    assert savings["degraded_classes"] == ["extraction", "tagging"]
    assert savings["at_risk_usd"] == pytest.approx(expected.saved["tagging"] + expected.saved["extraction"])
    assert savings["open_recommendations"] == 1
    assert savings["recommended_monthly_usd"] == pytest.approx(scenario.RECOMMENDED[0])
    tiers = {tier["tier"]: tier for tier in document["volume"]}
    assert list(tiers) == ["cheap", "premium"]
    assert tiers["premium"]["calls"] == expected.calls["codegen"]
    cheap = sum(calls for task_class, calls in expected.calls.items() if task_class != "codegen")
    assert sum(tiers["cheap"]["calls_per_bucket"]) == tiers["cheap"]["calls"] == cheap
    assert sum(tiers["premium"]["cost_per_bucket"]) == pytest.approx(expected.cost["codegen"])


def test_acceptance_per_bucket_and_the_promotion_marked(engine: Engine, start_server: StartServer) -> None:
    expected = scenario.seed(engine)
    server = start_server(policy=scenario.POLICY)

    document = get(server, "?range=7d").json()

    extraction = panel(document, "extraction")
    assert extraction["route"]["tier"] == "mid"  # the decide job promoted it
    state = extraction["state"]
    assert (state["state"], state["label"]) == ("promoted", "promoted to mid")
    assert state["detail"].startswith(
        "promoted from cheap to mid after degrading on cheap; its detector on mid"
    )
    assert panel(document, "tagging")["state"]["state"] == "degraded"
    # Asked for no range, the page opens on the shortest that holds the six days of evaluations.
    assert get(server).json()["range"] == "7d"
    assert [marker["kind"] for marker in extraction["markers"]] == ["degraded", "promoted"]
    assert extraction["markers"][1]["to_tier"] == "mid"
    assert extraction["evaluation"]["evaluations"] == expected.decided["extraction"]
    assert extraction["evaluation"]["acceptable"] == expected.acceptable["extraction"]
    (series,) = extraction["acceptance"]
    assert series["tier"] == "cheap"
    starts = [datetime.fromisoformat(start) for start in document["buckets"]]
    for index, start in enumerate(starts):
        inside = [
            ok
            for moment, ok in expected.evaluation_times["extraction"]
            if start <= moment < start + timedelta(hours=1)
        ]
        assert series["evaluations"][index] == len(inside)
        assert series["acceptable"][index] == sum(inside)
        interval = wilson_interval(sum(inside), len(inside))
        if interval is None:
            assert series["rate"][index] is series["low"][index] is series["high"][index] is None
        else:
            # Shares are sent to 4 decimal places.
            assert series["rate"][index] == round(sum(inside) / len(inside), 4)
            assert (series["low"][index], series["high"][index]) == (
                round(interval.low, 4),
                round(interval.high, 4),
            )
    tagging = panel(document, "tagging")
    assert tagging["detection"]["status"] == "degraded"
    assert [marker["kind"] for marker in tagging["markers"]] == ["degraded"]


def test_a_day_window_and_a_class_filter(engine: Engine, start_server: StartServer) -> None:
    expected = scenario.seed(engine)
    server = start_server(policy=scenario.POLICY)

    document = get(server, "?range=24h&task_class=extraction").json()

    assert [entry["task_class"] for entry in document["classes"]] == ["extraction"]
    entry = document["classes"][0]
    assert entry["calls"] == 40  # today's calls only
    today = [
        ok
        for moment, ok in expected.evaluation_times["extraction"]
        if moment >= datetime.fromisoformat(document["since"])
    ]
    assert sum(entry["acceptance"][0]["evaluations"]) == len(today) == scenario.PER_DAY
    assert {decision["task_class"] for decision in document["decisions"]} == {"extraction"}
    assert document["recommendations"] == []  # codegen's is filtered out
    assert document["savings"]["recommended_monthly_usd"] == 0
    assert {hook["task_class"] for hook in document["webhooks"]["recent"]} == {"extraction"}
    assert document["shadow"]["spent_usd"] == pytest.approx(
        0.75 + (2.5 if len(document["shadow"]["days"]) == 2 else 0)
    )
    assert document["shadow"]["budget_usd"] == pytest.approx(5.0 * len(document["shadow"]["days"]))


def test_webhook_deliveries_newest_first_with_their_last_answer(
    engine: Engine, start_server: StartServer
) -> None:
    scenario.seed(engine)
    server = start_server(policy=scenario.POLICY)

    hooks = get(server).json()["webhooks"]

    assert hooks["delivered"] + hooks["failed"] == len(hooks["recent"]) == 3  # one per outbox event
    assert [hook["id"] for hook in hooks["recent"]] == sorted(
        (hook["id"] for hook in hooks["recent"]), reverse=True
    )
    by_status = {hook["status"]: hook for hook in hooks["recent"]}
    assert (
        by_status["delivered"]["last_status_code"] == 200
        and by_status["delivered"]["endpoint"] == "ops-alerts"
    )
    assert by_status["failed"]["last_status_code"] is None
    assert by_status["failed"]["last_error"] == "connection refused"


def test_an_unknown_class_gives_no_classes_and_is_only_a_value(
    engine: Engine, start_server: StartServer
) -> None:
    scenario.seed(engine)
    server = start_server(policy=scenario.POLICY)

    for hostile in ("no-such-class", "x' OR '1'='1", "<script>alert(1)</script>", "ä/🙂"):
        response = get(server, "?" + str(httpx.QueryParams({"task_class": hostile})))

        assert response.status_code == 200
        assert response.json()["classes"] == [] and response.json()["volume"] == []


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("?range=1y", "query.range"),
        ("?range=", "query.range"),
        ("?range=7D", "query.range"),
        ("?task_class=", "query.task_class"),
        ("?task_class=" + "x" * 256, "query.task_class"),
    ],
)
def test_bad_parameters_are_422_with_what_was_wrong(
    start_server: StartServer, query: str, problem: str
) -> None:
    response = get(start_server(), query)

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert problem in response.json()["detail"]


def test_with_auth_on_the_page_is_public_and_the_data_needs_a_key(
    engine: Engine, start_server: StartServer
) -> None:
    server = start_server(policy=Policy(), require_auth=True)
    key = scenario.new_key(engine)

    assert httpx.get(f"{server.base_url}/").status_code == 200
    assert "text/html" in httpx.get(f"{server.base_url}/").headers["content-type"]
    assert httpx.get(f"{server.base_url}/dashboard/dashboard.js").status_code == 200
    assert get(server).status_code == 401
    assert get(server, Authorization="Bearer dw_wrong").status_code == 401
    assert get(server, Authorization=f"Bearer {key}").status_code == 200


def test_the_endpoint_is_in_the_openapi_document_and_the_page_is_not(start_server: StartServer) -> None:
    paths = httpx.get(f"{start_server().base_url}/openapi.json").json()["paths"]

    assert "/v1/dashboard" in paths
    assert "/" not in paths
    parameters = {parameter["name"] for parameter in paths["/v1/dashboard"]["get"]["parameters"]}
    assert parameters == {"range", "task_class", "limit", "offset"}


def test_static_files_are_served_and_nothing_outside_them(start_server: StartServer) -> None:
    base = start_server().base_url

    assert httpx.get(f"{base}/dashboard/vendor/uPlot.iife.min.js").status_code == 200
    assert httpx.get(f"{base}/dashboard/vendor/uPlot.min.css").headers["content-type"].startswith("text/css")
    assert httpx.get(f"{base}/dashboard/nope.js").status_code == 404
    assert httpx.get(f"{base}/dashboard/..%2f..%2f__init__.py").status_code == 404


def test_the_last_hour_is_counted_per_minute_from_the_calls(
    engine: Engine, start_server: StartServer
) -> None:
    server = start_server(policy=Policy(classes={"faq": ClassConfig()}))  # verdicts need a known class
    now = datetime.now(UTC).replace(second=30, microsecond=0)
    if datetime.now(UTC).second > 50:  # too near a minute's end: the test's minutes could shift
        time.sleep(11)
        now = datetime.now(UTC).replace(second=30, microsecond=0)
    five_ago, two_ago = now - timedelta(minutes=5), now - timedelta(minutes=2)
    spans = [make_span(start_ns=int(moment.timestamp() * 1e9)) for moment in (five_ago, five_ago, two_ago)]
    exported = httpx.post(
        f"{server.base_url}/v1/traces",
        content=export_request(spans).SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    assert exported.status_code == 200
    verdicts = [
        {"id": f"v{index}", "source": "review", "task_class": "faq", "tier": "cheap", "outcome": outcome,
         "timestamp": two_ago.isoformat()}
        for index, outcome in enumerate(["acceptable", "acceptable", "unacceptable"])
    ]  # fmt: skip
    assert httpx.post(f"{server.base_url}/v1/evaluations", json={"evaluations": verdicts}).status_code == 200

    document = get(server, "?range=1h").json()

    assert document["bucket"] == "minute"
    keys = [datetime.fromisoformat(start) for start in document["buckets"]]
    (cheap,) = [tier for tier in document["volume"] if tier["tier"] == "cheap"]
    calls = dict(zip(keys, cheap["calls_per_bucket"], strict=True))
    assert calls[five_ago.replace(second=0)] == 2 and calls[two_ago.replace(second=0)] == 1
    assert sum(cheap["calls_per_bucket"]) == 3
    (series,) = panel(document, "faq")["acceptance"]
    at = keys.index(two_ago.replace(second=0))
    assert (series["evaluations"][at], series["acceptable"][at]) == (3, 2)
    assert sum(series["evaluations"]) == 3
