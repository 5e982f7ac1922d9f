"""The whole shadow loop on both stores: spans arrive over OTLP, `driftwatch jobs run` samples and
replays them on a real OpenAI-compatible server, and the API reports the judged results."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner, Result

from driftwatch.cli.root import main
from driftwatch.ingest.shadow_marker import SHADOW_MARKER_HEADER
from tests.conftest import StartServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.support.otlp import export_request, llm_attributes, make_span
from tests.support.patience import deadline, patient
from tests.support.processes import start_serve, wait_healthy


@pytest.fixture
def premium() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply="positive", prompt_tokens=30, completion_tokens=2) as server:
        yield server


def _policy_file(tmp_path: Path, premium: FakeOpenAIServer) -> Path:
    policy = {
        "providers": {"premium": {"kind": "openai", "model": "gpt-4o", "base_url": premium.base_url}},
        "shadow": {"rate": 1.0, "grace_seconds": 0, "judges": [{"kind": "exact"}]},
    }
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def _cli(database_url: str, policy: Path, *args: str) -> Result:
    env = {"DRIFTWATCH_DATABASE_URL": database_url, "DRIFTWATCH_POLICY_FILE": str(policy)}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _export(base_url: str, completions: list[str], task_class: str = "sentiment") -> None:
    spans = [
        make_span(llm_attributes(task_class=task_class, prompt=f"review {index}", completion=text))
        for index, text in enumerate(completions)
    ]
    response = httpx.post(
        f"{base_url}/v1/traces",
        content=export_request(spans).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 200


def test_exported_calls_are_replayed_judged_and_reported(
    start_server: StartServer, database_url: str, premium: FakeOpenAIServer, tmp_path: Path
) -> None:
    server = start_server()
    _export(server.base_url, ["positive", "Positive.", "positive", "negative"])
    policy = _policy_file(tmp_path, premium)

    ran = _cli(database_url, policy, "jobs", "run", "sample", "evaluate")
    listed = _cli(database_url, policy, "jobs", "list")

    assert "sample: scanned 4 calls, sampled 4" in ran.stdout
    assert "evaluate: claimed 4: acceptable 3, unacceptable 1" in ran.stdout
    assert "sample\t" in listed.stdout and "1 runs\tlast ok" in listed.stdout
    assert len(premium.requests) == 4
    assert all(request.headers[SHADOW_MARKER_HEADER.lower()] == "1" for request in premium.requests)
    replayed = sorted(request.body["messages"][-1]["content"] for request in premium.requests)
    assert replayed == ["review 0", "review 1", "review 2", "review 3"]

    items = httpx.get(f"{server.base_url}/v1/evaluations").json()["items"]
    assert sorted(item["outcome"] for item in items) == ["acceptable"] * 3 + ["unacceptable"]
    assert {(item["judge"], item["reference_model"]) for item in items} == {("exact", "gpt-4o")}
    assert all(item["cost_usd"] > 0 and item["source"] == "shadow" for item in items)

    classes = httpx.get(f"{server.base_url}/v1/classes").json()["classes"]
    sentiment = next(entry for entry in classes if entry["task_class"] == "sentiment")
    assert sentiment["evaluation"]["acceptable"] == 3
    assert sentiment["shadow"]["samples"]["done"] == 4
    assert sentiment["shadow"]["spent_today_usd"] == pytest.approx(sum(i["cost_usd"] for i in items))


def test_a_second_run_evaluates_nothing_again(
    start_server: StartServer, database_url: str, premium: FakeOpenAIServer, tmp_path: Path
) -> None:
    server = start_server()
    _export(server.base_url, ["positive", "negative"])
    policy = _policy_file(tmp_path, premium)

    _cli(database_url, policy, "evaluate", "--once")
    again = _cli(database_url, policy, "evaluate", "--once")

    assert "evaluate: claimed 0: nothing due" in again.stdout
    assert len(premium.requests) == 2


def test_evaluate_without_a_reference_provider_says_what_to_configure(
    database_url: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("shadow: {rate: 1.0}\n")
    env = {"DRIFTWATCH_DATABASE_URL": database_url, "DRIFTWATCH_POLICY_FILE": str(policy)}
    result = CliRunner().invoke(main, ["jobs", "run", "evaluate"], env=env)
    assert result.exit_code == 1
    assert "needs a provider for the reference tier 'premium'" in result.output


def test_serve_samples_and_evaluates_on_its_own_schedule(tmp_path: Path, premium: FakeOpenAIServer) -> None:
    settings = {
        "DRIFTWATCH_POLICY_FILE": str(_policy_file(tmp_path, premium)),
        "DRIFTWATCH_SAMPLE_INTERVAL_SECONDS": "0.5",
        "DRIFTWATCH_EVALUATE_INTERVAL_SECONDS": "0.5",
    }
    process, base_url = start_serve(tmp_path, settings)
    try:
        wait_healthy(process, base_url)
        _export(base_url, ["positive", "negative"])
        outcomes: list[str] = []
        give_up = deadline(30)
        while len(outcomes) < 2 and time.monotonic() < give_up:
            time.sleep(0.2)
            outcomes = [item["outcome"] for item in httpx.get(f"{base_url}/v1/evaluations").json()["items"]]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=patient(30))

    assert sorted(outcomes) == ["acceptable", "unacceptable"]
    assert "Traceback" not in stderr
