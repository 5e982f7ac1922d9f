"""``/metrics`` over real HTTP on both stores: store-derived values, caching, a failing or stalled
database, and auth."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine

from driftwatch.auth.keys import create_key
from driftwatch.auth.scopes import Scope
from driftwatch.db.engine import session_factory
from driftwatch.routing.routes import record_decision
from driftwatch.stats.detector import AlarmThreshold, DetectorState, log_statistic, update
from tests.conftest import StartServer
from tests.metrics.support import (
    EXTRACTION_BUDGET_USD,
    FLOOR,
    POLICY,
    missing_table,
    scrape,
    scrape_until,
    seed_store,
    stalled_store,
    value,
)
from tests.support.class_hours import seed_class_hours
from tests.support.patience import patient

UP = "driftwatch_store_metrics_up"


def _add_decision(engine: Engine) -> None:
    with session_factory(engine).begin() as session:
        record_decision(
            session,
            task_class="extraction",
            kind="degraded",
            actor="tester",
            reason="seeded",
            evidence={},
            now=datetime.now(UTC),
        )


def test_values_match_the_seeded_store(engine: Engine, start_server: StartServer) -> None:
    seeded = seed_store(engine)
    server = start_server(policy=POLICY)

    samples = scrape(server)

    assert value(samples, "driftwatch_store_metrics_up") == 1
    extraction = {"task_class": "extraction", "tier": "cheap"}
    assert value(samples, "driftwatch_class_acceptance_rate", **extraction) == 0.75
    assert value(samples, "driftwatch_evaluations_total", **extraction, outcome="acceptable") == 3
    assert value(samples, "driftwatch_evaluations_total", **extraction, outcome="unacceptable") == 1
    assert value(samples, "driftwatch_shadow_samples_total", task_class="extraction", status="done") == 4
    assert value(samples, "driftwatch_shadow_queue_samples", status="pending") == 0
    spent = value(samples, "driftwatch_shadow_spend_usd_total", task_class="extraction")
    assert spent == pytest.approx(seeded.spent_usd) and seeded.spent_usd > 0
    assert value(samples, "driftwatch_shadow_spend_today_usd", task_class="extraction") == pytest.approx(
        spent
    )
    assert value(samples, "driftwatch_shadow_budget_usd", task_class="extraction") == EXTRACTION_BUDGET_USD
    assert value(samples, "driftwatch_shadow_budget_usd", task_class="summaries") == 5.0
    # Tier per class: the value is the tier's position (cheap 0, mid 1); only the current tier is shown.
    assert value(samples, "driftwatch_class_tier", task_class="extraction", tier="cheap") == 0
    assert value(samples, "driftwatch_class_tier", task_class="summaries", tier="mid") == 1
    assert value(samples, "driftwatch_class_tier", task_class="summaries", tier="cheap") is None
    assert value(samples, "driftwatch_class_pinned", task_class="summaries") == 1
    assert value(samples, "driftwatch_class_pinned", task_class="extraction") == 0
    assert value(samples, "driftwatch_decisions_total", kind="pinned") == 1
    assert value(samples, "driftwatch_webhook_deliveries_total", status="delivered") == 1
    assert value(samples, "driftwatch_webhook_deliveries_total", status="failed") == 1
    assert value(samples, "driftwatch_webhook_deliveries_pending") == 1
    assert value(samples, "driftwatch_webhook_attempts_total") == 6
    assert (value(samples, "driftwatch_webhook_oldest_pending_seconds") or 0) >= 300


def test_detector_statistic_and_threshold_are_the_decide_jobs(
    engine: Engine, start_server: StartServer
) -> None:
    seeded = seed_store(engine)
    server = start_server(policy=POLICY)

    samples = scrape(server)

    expected = log_statistic(update(DetectorState(FLOOR), seeded.outcomes))
    decisions = POLICY.decisions
    threshold = AlarmThreshold(decisions.horizon_samples, decisions.alpha, classes=1).log_value
    labels = {"task_class": "extraction", "tier": "cheap"}
    assert value(samples, "driftwatch_detector_log_statistic", **labels) == pytest.approx(expected)
    assert value(samples, "driftwatch_detector_log_threshold") == pytest.approx(threshold)
    assert value(samples, "driftwatch_detector_samples", **labels) == 4
    assert value(samples, "driftwatch_detector_reference_rate", **labels) == FLOOR
    statuses = {
        dict(labels_)["status"]: found
        for (name, labels_), found in samples.items()
        if name == "driftwatch_detector_status" and dict(labels_)["task_class"] == "extraction"
    }
    assert sorted(statuses.values()) == [0, 0, 0, 1]
    # summaries moved to mid by its pin: no detector there yet, so no statistic, but a status.
    assert value(samples, "driftwatch_detector_log_statistic", task_class="summaries", tier="mid") is None
    assert (
        value(
            samples,
            "driftwatch_detector_status",
            task_class="summaries",
            tier="mid",
            status="not enough samples",
        )
        == 1
    )
    assert math.isfinite(expected)


def test_values_are_reused_until_the_ttl_has_passed(engine: Engine, start_server: StartServer) -> None:
    # The cached scrape must come within the TTL of the first one, however loaded the machine is.
    ttl = patient(2.0)
    server = start_server(policy=POLICY, metrics_cache_seconds=ttl)
    before = scrape(server)
    _add_decision(engine)

    cached = scrape(server)
    time.sleep(ttl + 0.2)
    refreshed = scrape(server)

    assert value(before, "driftwatch_decisions_total", kind="degraded") is None
    assert value(cached, "driftwatch_decisions_total", kind="degraded") is None
    assert value(refreshed, "driftwatch_decisions_total", kind="degraded") == 1
    assert value(refreshed, "driftwatch_store_metrics_age_seconds") < ttl  # type: ignore[operator]


def test_a_failing_store_serves_the_last_good_values_and_says_so(
    engine: Engine, start_server: StartServer
) -> None:
    seed_store(engine)
    server = start_server(policy=POLICY, metrics_cache_seconds=0)
    good = scrape(server)

    with missing_table(engine, "shadow_spend"):
        failing, _ = scrape_until(server, UP, 0)
    recovered, _ = scrape_until(server, UP, 1)

    assert value(good, UP) == 1
    assert value(failing, UP) == 0
    errors = value(failing, "driftwatch_store_metrics_errors_total", reason="error")
    assert errors is not None and errors >= 1
    for name, labels in (
        ("driftwatch_decisions_total", {"kind": "pinned"}),
        ("driftwatch_class_acceptance_rate", {"task_class": "extraction", "tier": "cheap"}),
    ):
        assert value(failing, name, **labels) == value(good, name, **labels) is not None
    # In-process metrics are unaffected.
    assert ("driftwatch_ingest_write_queue_spans", frozenset()) in failing
    assert value(recovered, UP) == 1


def test_a_stalled_store_never_makes_a_scrape_wait_past_the_timeout(
    engine: Engine, database_url: str, start_server: StartServer
) -> None:
    server = start_server(policy=POLICY, metrics_cache_seconds=0, metrics_timeout_seconds=0.5)
    good = scrape(server)
    _add_decision(engine)

    with stalled_store(engine, database_url):
        stalled, longest = scrape_until(server, UP, 0)
    after, _ = scrape_until(server, UP, 1)

    assert longest < 3
    assert value(stalled, UP) == 0
    assert value(stalled, "driftwatch_store_metrics_errors_total", reason="timeout") == 1
    assert value(stalled, "driftwatch_decisions_total", kind="degraded") is None  # the last good values
    assert value(good, UP) == 1
    assert value(after, "driftwatch_decisions_total", kind="degraded") == 1


def test_metrics_need_a_key_when_auth_is_on(engine: Engine, start_server: StartServer) -> None:
    server = start_server(policy=POLICY, require_auth=True)
    with session_factory(engine).begin() as session:
        key = create_key(session, "prometheus", scopes={Scope.READ}).key

    refused = httpx.get(f"{server.base_url}/metrics")
    samples = scrape(server, headers={"authorization": f"Bearer {key}"})

    assert refused.status_code == 401
    assert value(samples, "driftwatch_store_metrics_up") == 1


def test_only_the_busiest_classes_up_to_the_cap_get_series_of_their_own(
    engine: Engine, start_server: StartServer
) -> None:
    seed_store(engine)  # extraction (4 calls) and summaries, both named by the policy file
    seed_class_hours(engine, {"c1": 5, "c2": 4, "c3": 3, "c4": 2, "c5": 1})
    server = start_server(policy=POLICY, max_task_classes=2)

    samples = scrape(server)

    def tiered(task_class: str) -> float | None:
        return value(samples, "driftwatch_class_tier", task_class=task_class, tier="cheap")

    assert tiered("c1") == tiered("c2") == 0  # the busiest two
    assert tiered("c3") is tiered("c4") is tiered("c5") is None
    assert value(samples, "driftwatch_class_tier", task_class="summaries", tier="mid") == 1  # in the policy
    assert value(samples, "driftwatch_metrics_classes_folded") == 3
    assert (
        value(
            samples,
            "driftwatch_evaluations_total",
            task_class="extraction",
            tier="cheap",
            outcome="acceptable",
        )
        == 3
    )
