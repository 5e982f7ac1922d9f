"""``shadow.rate: auto`` end to end on both stores: spans arrive over OTLP, ``driftwatch jobs run sample``
allocates the day's budget and samples each class at its allocated rate, and ``GET /v1/classes`` and
``driftwatch plan --allocation`` show the allocation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select

from driftwatch.cli.root import main
from driftwatch.config import Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.models import Call, ShadowSample
from driftwatch.policy.allocation import refresh_allocation
from driftwatch.sampling.allocation_view import stored_allocation
from driftwatch.sampling.rules import in_sample
from tests.conftest import StartServer
from tests.support.otlp import export_request, llm_attributes, make_span

BUDGET = 2.0
CALLS = 300


def _policy() -> dict[str, object]:
    return {
        "providers": {"premium": {"kind": "openai", "model": "gpt-4o", "base_url": "http://127.0.0.1:9"}},
        "defaults": {"shadow": {"rate": "auto", "judges": [{"kind": "exact"}]}},
        "shadow": {"grace_seconds": 0, "auto": {"daily_budget_usd": BUDGET, "max_rate": 1.0}},
        # Two classes with a declared floor are protected from the start; "fresh" has no reference yet.
        "classes": {"contracts": {"acceptance_floor": 0.9}, "faq": {"acceptance_floor": 0.9}},
    }


def _export(base_url: str, task_class: str, input_tokens: int, count: int) -> None:
    now = time.time_ns()
    spans = [
        make_span(
            llm_attributes(task_class=task_class, input_tokens=input_tokens, prompt=f"{task_class} {index}"),
            start_ns=now - index * 1_000_000,
        )
        for index in range(count)
    ]
    response = httpx.post(
        f"{base_url}/v1/traces",
        content=export_request(spans).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 200


def _cli(database_url: str, policy: Path, *args: str) -> Result:
    env = {"DRIFTWATCH_DATABASE_URL": database_url, "DRIFTWATCH_POLICY_FILE": str(policy)}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _sampled_as_the_rule_says(engine: Engine, rates: dict[str, float]) -> None:
    with session_factory(engine)() as session:
        for task_class, rate in rates.items():
            traces = session.scalars(select(Call.trace_id).where(Call.task_class == task_class)).all()
            sampled = session.scalar(
                select(func.count()).select_from(ShadowSample).where(ShadowSample.task_class == task_class)
            )
            assert sampled == sum(in_sample(trace, rate) for trace in traces), task_class


def test_the_sample_job_samples_each_class_at_its_allocated_rate(
    start_server: StartServer, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    document = _policy()
    server = start_server(policy=Policy.model_validate(document))
    _export(server.base_url, "contracts", 4_000, CALLS)
    _export(server.base_url, "faq", 200, CALLS)
    _export(server.base_url, "fresh", 1_000, CALLS)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document))

    ran = _cli(database_url, path, "jobs", "run", "sample")
    shown = _cli(database_url, path, "plan", "--allocation")

    assert f"scanned {3 * CALLS} calls" in ran.stdout
    classes = httpx.get(f"{server.base_url}/v1/classes").json()["classes"]
    shadow = {entry["task_class"]: entry["shadow"] for entry in classes}
    assert {name: status["rate_setting"] for name, status in shadow.items()} == dict.fromkeys(shadow, "auto")
    allocation = {name: status["allocation"] for name, status in shadow.items()}
    rates = {name: item["rate"] for name, item in allocation.items()}
    assert {name: status["rate"] for name, status in shadow.items()} == rates
    _sampled_as_the_rule_says(engine, rates)
    # Coverage first: the class without a reference gets what collects 300 evaluations in 7 days.
    fresh = allocation["fresh"]
    assert fresh["reason"] == "coverage" and fresh["reference_samples_needed"] == 300
    assert fresh["days_to_reference"] == pytest.approx(7.0)
    spend = {
        name: item["rate"] * item["traffic_per_day"] * item["cost_per_sample_usd"]
        for name, item in allocation.items()
    }
    assert sum(spend.values()) <= BUDGET * (1 + 1e-9) and sum(spend.values()) == pytest.approx(BUDGET)
    # More money at risk (longer prompts, each saving more against the reference tier): more spend.
    assert allocation["contracts"]["money_at_risk_usd"] > allocation["faq"]["money_at_risk_usd"] > 0
    assert spend["contracts"] > spend["faq"] > 0
    assert {allocation[name]["reason"] for name in ("contracts", "faq")} == {"optimal"}
    assert allocation["faq"]["expected_delay_days"] > 0
    lines = shown.stdout.splitlines()
    assert any(line.startswith("contracts ") and "optimal" in line for line in lines), shown.stdout
    assert any(line.startswith("fresh ") and "coverage" in line for line in lines), shown.stdout
    assert f"budget ${BUDGET:,.2f}/day" in shown.stdout


def test_a_fixed_rate_class_beside_auto_ones_keeps_its_rate(
    start_server: StartServer, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    document = _policy()
    document["shadow"] = {**document["shadow"], "classes": {"faq": {"rate": 0.5}}}  # type: ignore[dict-item]
    server = start_server(policy=Policy.model_validate(document))
    _export(server.base_url, "contracts", 4_000, CALLS)
    _export(server.base_url, "faq", 200, CALLS)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document))

    _cli(database_url, path, "jobs", "run", "sample")

    shadow = {
        c["task_class"]: c["shadow"] for c in httpx.get(f"{server.base_url}/v1/classes").json()["classes"]
    }
    assert (shadow["faq"]["rate_setting"], shadow["faq"]["rate"], shadow["faq"]["allocation"]) == (
        "fixed",
        0.5,
        None,
    )
    contracts = shadow["contracts"]["allocation"]
    # The whole auto budget goes to the one auto class (within its cap and its own daily budget).
    assert contracts["rate"] * contracts["traffic_per_day"] * contracts[
        "cost_per_sample_usd"
    ] == pytest.approx(BUDGET)
    _sampled_as_the_rule_says(engine, {"faq": 0.5, "contracts": contracts["rate"]})


def test_the_allocation_is_renewed_once_it_is_older_than_every_hours_or_the_policy_changed(
    start_server: StartServer, engine: Engine
) -> None:
    policy = Policy.model_validate(_policy())
    document = _policy()
    document["shadow"] = {"grace_seconds": 0, "auto": {"daily_budget_usd": 2 * BUDGET, "max_rate": 1.0}}
    raised = Policy.model_validate(document)
    server = start_server(policy=policy)
    _export(server.base_url, "faq", 200, CALLS)
    now = datetime.now(UTC)
    sessions = session_factory(engine)

    renewed = []
    for later, current in ((0, policy), (23, policy), (24, policy), (25, raised), (26, raised)):
        renewed.append(refresh_allocation(sessions, current, now + timedelta(hours=later)))
    with sessions() as session:
        stored = stored_allocation(session)

    assert renewed == [True, False, True, True, False]
    assert [(view.task_class, view.computed_at) for view in stored] == [("faq", now + timedelta(hours=25))]
