"""GET /v1/classes: evaluation outcomes and shadow state per class, over real HTTP on both stores."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, insert, select

from driftwatch.config import ClassShadowConfig, Policy, ShadowConfig
from driftwatch.db.models import Call, ShadowSample, ShadowSpend
from driftwatch.stats.proportions import wilson_interval
from tests.api.evaluations import POLICY as KNOWN
from tests.api.evaluations import item, receipt, seed_shadow_evaluation
from tests.conftest import StartServer
from tests.support.otlp import export_request, llm_attributes, make_span
from tests.support.server import ServerThread

POLICY = Policy(
    shadow=ShadowConfig(
        rate=0.1, daily_budget_usd=2.0, classes={"faq": ClassShadowConfig(rate=0.5, daily_budget_usd=1.0)}
    ),
    classes=KNOWN.classes,  # the classes whose verdicts the tests post
)
EVALUATED = datetime(2025, 11, 22, 9, 0, tzinfo=UTC)


def seed_samples(server: ServerThread, engine: Engine, task_class: str, statuses: list[str]) -> None:
    """One call per sample (a call is sampled once per reference tier), received over OTLP."""
    spans = [make_span(llm_attributes(task_class=task_class)) for _ in statuses]
    body = export_request(spans).SerializeToString()
    headers = {"content-type": "application/x-protobuf"}
    assert httpx.post(f"{server.base_url}/v1/traces", content=body, headers=headers).status_code == 200
    with engine.begin() as connection:
        call_ids = connection.scalars(select(Call.id).where(Call.task_class == task_class)).all()
        now = datetime.now(UTC)
        rows = [
            {
                "call_id": call_id,
                "task_class": task_class,
                "tier": "cheap",
                "reference_tier": "premium",
                "status": status,
                "attempts": 1,
                "not_before": now,
                "reserved_usd": 0.0,
                "created_at": now,
                "updated_at": now,
            }
            for call_id, status in zip(call_ids, statuses, strict=True)
        ]
        connection.execute(insert(ShadowSample), rows)


def seed_spend(engine: Engine, task_class: str, day: str, spent: float, reserved: float) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(ShadowSpend),
            [{"task_class": task_class, "day": day, "spent_usd": spent, "reserved_usd": reserved}],
        )


def classes(server: ServerThread, **params: Any) -> dict[str, dict[str, Any]]:
    response = httpx.get(f"{server.base_url}/v1/classes", params=params)
    assert response.status_code == 200, response.text
    return {entry["task_class"]: entry for entry in response.json()["classes"]}


def counts(evaluations: int, acceptable: int, undecided: int) -> dict[str, Any]:
    interval = wilson_interval(acceptable, evaluations)
    return {
        "evaluations": evaluations,
        "acceptable": acceptable,
        "undecided": undecided,
        "acceptance_rate": acceptable / evaluations if evaluations else None,
        "acceptance_interval": asdict(interval) if interval else None,
    }


@pytest.fixture
def server(start_server: StartServer) -> ServerThread:
    return start_server(policy=POLICY)


def test_a_class_shows_its_outcomes_by_source_and_tier_and_its_shadow_state(
    server: ServerThread, engine: Engine
) -> None:
    for acceptable in (True, True, False, None):
        seed_shadow_evaluation(engine, "faq", acceptable, EVALUATED)
    receipt(
        server,
        [
            *(item(task_class="faq", tier="cheap", timestamp=EVALUATED.isoformat()) for _ in range(3)),
            item(task_class="faq", tier="premium", outcome="unacceptable", timestamp=EVALUATED.isoformat()),
            item(task_class="faq", timestamp=EVALUATED.isoformat()),  # no tier: the class's route then
        ],
    )
    seed_samples(server, engine, "faq", ["done", "done", "done", "pending", "failed"])
    today = datetime.now(UTC).date()
    seed_spend(engine, "faq", today.isoformat(), spent=0.4, reserved=0.05)
    seed_spend(engine, "faq", (today - timedelta(days=1)).isoformat(), spent=0.9, reserved=0.0)

    faq = classes(server)["faq"]

    assert faq["evaluation"] == {
        **counts(8, 6, 1),
        "by_source": {"human-review": counts(5, 4, 0), "shadow": counts(3, 2, 1)},
        "by_tier": [  # the policy's order
            {"tier": "cheap", **counts(7, 6, 1)},
            {"tier": "premium", **counts(1, 0, 0)},
        ],
    }
    assert faq["evaluation"]["acceptance_rate"] == 0.75
    assert faq["shadow"] == {
        "rate": 0.5,  # the class's own policy entry
        "rate_setting": "fixed",
        "allocation": None,
        "daily_budget_usd": 1.0,
        "day": today.isoformat(),
        "spent_today_usd": pytest.approx(0.4),  # not yesterday's
        "reserved_today_usd": pytest.approx(0.05),
        "samples": {
            "pending": 1,
            "running": 0,
            "done": 3,
            "unevaluable": 0,
            "skipped_budget": 0,
            "failed": 1,
        },
        "coverage_rate": None,  # the coverage job has not raised it
        "notice": None,
    }


def test_a_class_whose_samples_have_no_content_says_to_enable_capture(
    server: ServerThread, engine: Engine
) -> None:
    seed_samples(server, engine, "blind", ["unevaluable"] * 4)

    blind = classes(server)["blind"]

    assert blind["shadow"]["samples"]["unevaluable"] == 4
    assert blind["shadow"]["notice"].startswith("0 evaluable calls - enable content capture")
    assert blind["shadow"]["rate"] == 0.1  # the policy's default
    assert blind["evaluation"] == {**counts(0, 0, 0), "by_source": {}, "by_tier": []}
    assert blind["evaluation"]["acceptance_interval"] is None


def test_one_evaluable_sample_is_enough_to_lift_the_capture_notice(
    server: ServerThread, engine: Engine
) -> None:
    seed_samples(server, engine, "blind", ["unevaluable", "unevaluable", "done"])

    assert classes(server)["blind"]["shadow"]["notice"] is None


def test_a_class_whose_budget_is_spent_says_so(server: ServerThread, engine: Engine) -> None:
    seed_samples(server, engine, "billing", ["done", "skipped_budget"])
    seed_spend(engine, "billing", datetime.now(UTC).date().isoformat(), spent=1.9, reserved=0.1)

    billing = classes(server)["billing"]

    assert billing["shadow"]["daily_budget_usd"] == 2.0
    assert billing["shadow"]["notice"].startswith("daily shadow budget spent")


@pytest.mark.parametrize(
    ("shadow", "notice"),
    [
        (ShadowConfig(daily_budget_usd=0.0), "daily budget is $0"),
        (ShadowConfig(rate=0.0), "rate is 0"),
    ],
    ids=["no-budget", "no-sampling"],
)
def test_a_class_with_shadowing_turned_off_says_so(
    start_server: StartServer, shadow: ShadowConfig, notice: str
) -> None:
    server = start_server(policy=Policy(shadow=shadow, classes=KNOWN.classes))
    receipt(server, [item(task_class="support")])

    assert notice in classes(server)["support"]["shadow"]["notice"]


def test_a_class_with_only_outside_evaluations_is_listed(server: ServerThread) -> None:
    receipt(server, [item(task_class="support", outcome="unacceptable")])

    response = httpx.get(f"{server.base_url}/v1/classes").json()

    assert response["items"] == []  # no calls: no volume rows
    [support] = response["classes"]
    assert support["task_class"] == "support"
    assert support["evaluation"]["evaluations"] == 1
    assert support["evaluation"]["acceptance_rate"] == 0.0
    assert support["shadow"]["samples"]["done"] == 0


def test_since_and_until_bound_the_evaluations_exactly(server: ServerThread) -> None:
    receipt(
        server,
        [
            item(task_class="faq", timestamp=(EVALUATED + timedelta(minutes=minute)).isoformat())
            for minute in range(4)
        ],
    )
    one, three = EVALUATED + timedelta(minutes=1), EVALUATED + timedelta(minutes=3)

    windowed = classes(server, since=one.isoformat(), until=three.isoformat())["faq"]["evaluation"]
    later = classes(server, since=(EVALUATED + timedelta(minutes=3, seconds=1)).isoformat())

    assert windowed["evaluations"] == 2  # minutes 1 and 2: since inclusive, until exclusive
    assert "faq" not in later  # nothing in the window, no samples, no spend


def test_no_store_no_classes(server: ServerThread) -> None:
    assert httpx.get(f"{server.base_url}/v1/classes").json() == {
        "items": [],
        "notices": [],
        "classes": [],
        "total_classes": 0,
        "next_offset": None,
    }
