"""GET /v1/decisions over real HTTP, the detection block of GET /v1/classes, and `driftwatch jobs run
decide`, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from sqlalchemy import Engine

from driftwatch.cli.root import main
from driftwatch.db.engine import session_factory
from driftwatch.routing.routes import record_decision
from tests.conftest import StartServer
from tests.policy.support import NOW, decide, decisions, floor_policy, sample_by_sample, seed, stream, watched


def _record(engine: Engine, task_class: str, kind: str, minutes: int) -> None:
    with session_factory(engine).begin() as session:
        record_decision(
            session,
            task_class=task_class,
            kind=kind,
            actor="driftwatch",
            reason=f"{kind} {task_class}",
            evidence={"minute": minutes, "rates": [0.9, 0.95]},
            now=NOW + timedelta(minutes=minutes),
            from_tier="cheap",
        )


def _get(base_url: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(f"{base_url}/v1/decisions", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_decisions_are_listed_newest_first_with_filters_and_pages(
    engine: Engine, start_server: StartServer
) -> None:
    for minute, (task_class, kind) in enumerate(
        [("a", "degraded"), ("b", "degraded"), ("a", "promoted"), ("a", "pinned"), ("b", "degraded")]
    ):
        _record(engine, task_class, kind, minute)
    server = start_server()

    everything = _get(server.base_url)["items"]
    assert [item["evidence"]["minute"] for item in everything] == [4, 3, 2, 1, 0]
    assert everything[0]["evidence"] == {"minute": 4, "rates": [0.9, 0.95]}
    assert set(everything[0]) == {
        "id", "task_class", "kind", "from_tier", "to_tier", "actor", "reason", "evidence", "created_at"
    }  # fmt: skip
    pages, cursor = [], None
    while True:
        page = _get(server.base_url, limit=2, **({"cursor": cursor} if cursor else {}))
        pages.append([item["evidence"]["minute"] for item in page["items"]])
        if (cursor := page["next_cursor"]) is None:
            break
    assert pages == [[4, 3], [2, 1], [0]]
    by_class = _get(server.base_url, task_class="a")["items"]
    assert [item["kind"] for item in by_class] == ["pinned", "promoted", "degraded"]
    degraded_b = _get(server.base_url, task_class="b", kind="degraded")["items"]
    assert [item["evidence"]["minute"] for item in degraded_b] == [4, 1]
    window = {
        "since": (NOW + timedelta(minutes=1)).isoformat(),
        "until": (NOW + timedelta(minutes=3)).isoformat(),
    }
    assert [item["evidence"]["minute"] for item in _get(server.base_url, **window)["items"]] == [2, 1]
    assert httpx.get(f"{server.base_url}/v1/decisions", params={"cursor": "nonsense"}).status_code == 400


def test_decisions_need_an_api_key_when_auth_is_on(start_server: StartServer) -> None:
    server = start_server(require_auth=True)

    assert httpx.get(f"{server.base_url}/v1/decisions").status_code == 401


def test_classes_show_each_class_detector(engine: Engine, start_server: StartServer) -> None:
    policy = floor_policy(extraction=watched(auto_promote=True), summaries=watched(floor=None))
    seed(engine, "extraction", stream(0.6, 300, seed=21))
    seed(engine, "summaries", stream(0.95, 120, seed=22))
    decide(engine, policy)
    server = start_server(policy=policy)

    response = httpx.get(f"{server.base_url}/v1/classes")

    assert response.status_code == 200, response.text
    detection = {entry["task_class"]: entry["detection"] for entry in response.json()["classes"]}
    assert detection["extraction"]["tier"] == "mid"  # promoted: its mid detector has seen nothing yet
    assert detection["extraction"]["status"] == "not enough samples"
    assert detection["summaries"]["message"] == "baseline 120 of 300"  # a confidence sequence from 300 on
    assert detection["summaries"]["baseline_needed"] == 300


def test_the_decide_job_runs_from_the_command_line(engine: Engine, database_url: str, tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("classes:\n  extraction:\n    acceptance_floor: 0.95\n    auto_promote: true\n")
    outcomes = stream(0.6, 300, seed=23)
    seed(engine, "extraction", outcomes)
    env = {"DRIFTWATCH_DATABASE_URL": database_url, "DRIFTWATCH_POLICY_FILE": str(policy_file)}
    crossing = sample_by_sample(outcomes, 0.95)
    assert crossing is not None

    result = CliRunner().invoke(main, ["jobs", "run", "decide"], env=env, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert f"decide: {crossing + 1} outcomes" in result.output and "promoted: extraction" in result.output
    assert [decision.kind for decision in decisions(engine)] == ["degraded", "promoted"]
