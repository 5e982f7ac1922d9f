"""``GET /v1/savings`` over HTTP on both stores, against the ledger of ``scenario`` worked out by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from driftwatch.config import Policy
from tests.conftest import StartServer
from tests.ledger import scenario

TERMS = ("spend_usd", "counterfactual_usd", "shadow_usd", "promotion_cost_usd", "net_usd")


def _get(base_url: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{base_url}/v1/savings", params=params, timeout=30)


def _assert_day(row: dict[str, Any], day: scenario.Day) -> None:
    assert (row["calls"], row["unpriced_calls"]) == (day.calls, day.unpriced_calls)
    for term in TERMS:
        want = getattr(day, term)
        assert row[term] == (None if want is None else pytest.approx(want, abs=1e-9)), term


def test_the_ledger_matches_the_sums_worked_out_by_hand(engine: Engine, start_server: StartServer) -> None:
    day1 = scenario.midnight_days_ago(3)
    want = scenario.seed(engine, day1)
    server = start_server(policy=scenario.POLICY)

    body = _get(server.base_url, since=want.day1, until=(day1 + timedelta(days=2)).date().isoformat()).json()

    assert (body["reference_tier"], body["reference_model"]) == ("premium", "m-top")
    classes = {entry["task_class"]: entry for entry in body["classes"]}
    assert list(classes) == ["extraction", "tagging", "codegen"]  # busiest first
    for name, days in (("extraction", want.extraction), ("codegen", want.codegen), ("tagging", want.tagging)):
        rows = {row["day"]: row for row in classes[name]["days"]}
        assert set(rows) == set(days)
        for day, figures in days.items():
            _assert_day(rows[day], figures)
    extraction = classes["extraction"]["totals"]
    assert extraction["net_usd"] == pytest.approx((0.375 - 0.0725 - 0.03) + (0.075 - 0.0225 - 0.01))
    assert extraction["promotion_cost_usd"] == pytest.approx(0.032 + 0.015)
    assert classes["tagging"]["totals"]["net_usd"] is None

    # Over all classes: day 1 adds extraction and codegen; day 2 has tagging's unpriced call.
    overall = {row["day"]: row for row in body["days"]}
    assert list(overall) == [want.day1, want.day2]
    first = overall[want.day1]
    assert first["spend_usd"] == pytest.approx(0.0725 + 0.16)
    assert first["counterfactual_usd"] == pytest.approx(0.375 + 0.16)
    assert first["net_usd"] == pytest.approx(0.375 - 0.0725 - 0.03)
    assert overall[want.day2]["unpriced_calls"] == 1
    assert overall[want.day2]["net_usd"] is None and overall[want.day2]["shadow_usd"] == pytest.approx(0.01)
    assert body["totals"]["net_usd"] is None and body["totals"]["calls"] == 15 + 5 + 2 + 4


def test_one_class_and_a_page_of_classes(engine: Engine, start_server: StartServer) -> None:
    day1 = scenario.midnight_days_ago(3)
    want = scenario.seed(engine, day1)
    server = start_server(policy=scenario.POLICY)

    one = _get(server.base_url, since=want.day1, task_class="extraction").json()
    page = _get(server.base_url, since=want.day1, limit=1, offset=1).json()

    # The class's days, every day of the window listed (30 from since, up to today).
    assert [entry["task_class"] for entry in one["classes"]] == ["extraction"]
    assert len(one["days"]) == 4 and one["until"] == (day1 + timedelta(days=4)).date().isoformat()
    assert one["totals"]["net_usd"] == pytest.approx(0.2725 + 0.0425)
    assert [entry["task_class"] for entry in page["classes"]] == ["tagging"]
    assert page["total_classes"] == 3 and page["next_offset"] == 2
    assert "offset=2" in page["notices"][0]


def test_an_unpriced_reference_model_leaves_the_counterfactual_null(
    engine: Engine, start_server: StartServer
) -> None:
    day1 = scenario.midnight_days_ago(3)
    want = scenario.seed(engine, day1)
    models = {**scenario.MODELS, "premium": "unknown-top-model"}
    server = start_server(policy=Policy(tier_models=models, prices=scenario.POLICY.prices))

    body = _get(server.base_url, since=want.day1, task_class="extraction").json()

    row = body["days"][0]
    assert row["spend_usd"] == pytest.approx(0.0725) and row["unpriced_calls"] == 0
    assert row["counterfactual_usd"] is None and row["net_usd"] is None
    assert row["promotion_cost_usd"] == pytest.approx(0.032)  # priced by the lower tier's model


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "2026-01-01", "until": "2026-06-01"}, "at most 92 days"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "must be after"),
    ],
)
def test_a_window_too_long_or_backwards_is_refused(server: Any, params: dict[str, str], message: str) -> None:
    response = _get(server.base_url, **params)

    assert response.status_code == 422
    assert message in response.text


def test_promotion_cost_ends_when_the_class_moves_again(engine: Engine, start_server: StartServer) -> None:
    day1 = scenario.midnight_days_ago(3)
    want = scenario.seed(engine, day1)
    scenario.move(engine, "extraction", "cheap", "pinned", day1 + timedelta(days=1, hours=9, minutes=30))
    server = start_server(policy=scenario.POLICY)

    body = _get(server.base_url, since=want.day1, task_class="extraction").json()

    days = {row["day"]: row for row in body["days"]}
    assert days[want.day1]["promotion_cost_usd"] == pytest.approx(0.032)
    assert days[want.day2]["promotion_cost_usd"] == 0.0  # its mid calls, at 10:00, came after the pin
    assert days[want.day2]["net_usd"] == pytest.approx(0.075 - 0.0225 - 0.01)  # spend and net keep them
