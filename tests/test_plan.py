"""The sampling planner: `driftwatch plan` and `GET /v1/plan` on both stores, and their errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, insert

from driftwatch.cli.root import main
from driftwatch.config import Policy
from driftwatch.db.models import ClassHour
from driftwatch.errors import Unprocessable
from driftwatch.overview.plan import parse_duration
from driftwatch.stats.detector import AlarmThreshold
from driftwatch.stats.planner import plan_sampling
from tests.conftest import StartServer

POLICY = """
tier_models: {cheap: claude-haiku-4-5, mid: claude-sonnet-4-6, premium: claude-opus-4-7}
shadow: {judges: [{kind: exact}, {kind: llm_pairwise}], daily_budget_usd: 5}
"""
OPUS_1000_300 = (1000 * 5 + 300 * 25) / 1e6  # a replay at the default tokens on Claude Opus 4.7


def _plan(database_url: str, tmp_path: Path, *args: str) -> Result:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    environment = {"DRIFTWATCH_DATABASE_URL": database_url, "DRIFTWATCH_POLICY_FILE": str(policy)}
    return CliRunner().invoke(main, ["plan", *args], env=environment, catch_exceptions=False)


@pytest.mark.parametrize(("text", "days"), [("7d", 7.0), ("36h", 1.5), ("2w", 14.0), (" 1.5D ", 1.5)])
def test_durations(text: str, days: float) -> None:
    assert parse_duration(text) == pytest.approx(days)


@pytest.mark.parametrize("text", ["7", "7x", "-1d", "0h", "d", "seven days"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(Unprocessable, match="7d, 36h or 2w"):
        parse_duration(text)


def test_the_cli_prints_samples_per_day_and_their_cost(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    result = _plan(
        database_url, tmp_path, "--baseline", "0.95", "--drop", "0.05", "--within", "7d", "--classes", "1"
    )

    assert result.exit_code == 0, result.output
    expected = plan_sampling(0.95, 0.05, 7, threshold=AlarmThreshold(10_000, 0.01, 1), baseline_samples=2_000)
    lines = result.stdout.splitlines()
    assert lines[0] == "a class: a drop from 0.950 to 0.900 within 7 days"
    assert "lower bound of a 2000-sample baseline" in lines[1] and "across 1 classes" in lines[1]
    assert lines[2] == expected.message
    assert (
        f"replay on premium claude-opus-4-7 at 1000 in / 300 out tokens, defaults: ${OPUS_1000_300:.4f}"
        in lines[3]
    )


def test_a_large_need_names_the_levers_and_the_budget(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    result = _plan(database_url, tmp_path, "--baseline", "0.95", "--drop", "0.02", "--within", "36h")

    assert result.exit_code == 0, result.output
    assert "the levers are more samples per day or a larger minimum detectable drop" in result.stdout
    assert "over the daily shadow budget of $5.00" in result.stdout


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--baseline", "0.95", "--drop", "0.96", "--within", "7d"), "need 0 < drop < baseline < 1"),
        (
            ("--baseline", "0.95", "--drop", "0.05", "--within", "a week"),
            "within must be a positive duration",
        ),
        (("--baseline", "0.95", "--drop", "0.05", "--within", "7d", "--alpha", "2"), "alpha must lie"),
        (
            ("--baseline", "0.95", "--drop", "0.05", "--within", "7d", "--classes", "0"),
            "classes must be >= 1",
        ),
    ],
)
def test_bad_input_exits_1_with_the_reason(
    engine: Engine, database_url: str, tmp_path: Path, args: tuple[str, ...], error: str
) -> None:
    result = _plan(database_url, tmp_path, *args)

    assert result.exit_code == 1
    assert error in result.stderr


def _seed_traffic(engine: Engine) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    with engine.begin() as connection:
        connection.execute(
            insert(ClassHour).values(
                task_class="extraction",
                tier="cheap",
                hour=hour,
                calls=100,
                input_tokens=200_000,
                output_tokens=50_000,
                cost_usd=0.45,
                priced_calls=100,
                first_seen=hour,
                last_seen=hour,
            )
        )


def test_the_api_prices_a_class_at_its_own_tokens_per_call(engine: Engine, start_server: StartServer) -> None:
    _seed_traffic(engine)
    server = start_server(policy=Policy.model_validate({"tier_models": {"premium": "claude-opus-4-7"}}))

    response = httpx.get(
        f"{server.base_url}/v1/plan",
        params={"baseline": 0.9, "drop": 0.1, "within": "2w", "task_class": "extraction", "classes": 3},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    expected = plan_sampling(0.9, 0.1, 14, threshold=AlarmThreshold(10_000, 0.01, 3), baseline_samples=2_000)
    assert body["plan"]["samples_per_day"] == expected.samples_per_day
    assert body["alarm"] == {"horizon": 10_000, "alpha": 0.01, "classes": 3}
    cost = body["cost"]
    assert (cost["input_tokens"], cost["output_tokens"]) == (2000, 500)
    assert cost["tokens_from"] == "extraction's average over 30 days"
    assert cost["replay_usd"] == pytest.approx((2000 * 5 + 500 * 25) / 1e6)
    assert cost["judge_usd"] > 0  # the default chain ends in an llm_pairwise judge on premium
    assert cost["per_sample_usd"] == pytest.approx(cost["replay_usd"] + cost["judge_usd"])
    assert cost["per_day_usd"] == pytest.approx(expected.samples_per_day * cost["per_sample_usd"])


def test_the_api_says_when_a_price_is_unknown(engine: Engine, start_server: StartServer) -> None:
    server = start_server()  # no model configured for the reference tier

    body = httpx.get(f"{server.base_url}/v1/plan?baseline=0.95&drop=0.05&within=7d").json()

    assert body["cost"]["per_sample_usd"] is None and body["cost"]["per_day_usd"] is None
    assert "no price for the reference model None of tier 'premium'" in body["cost"]["note"]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("baseline=0.95&drop=0.05&within=7 days", "unprocessable"),
        ("baseline=0.95&drop=1.5&within=7d", "unprocessable"),
        ("baseline=0.95&within=7d", "invalid_request"),
        ("baseline=high&drop=0.05&within=7d", "invalid_request"),
    ],
)
def test_bad_api_input_is_a_422(engine: Engine, start_server: StartServer, query: str, error: str) -> None:
    server = start_server()

    response = httpx.get(f"{server.base_url}/v1/plan?{query}")

    assert response.status_code == 422
    assert response.json()["error"] == error
