"""GET /v1/policy over real HTTP and `driftwatch policy show`, on SQLite and PostgreSQL: every known
class's route, the default, the tiers, and the content-hash ETag routers poll with."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import httpx
import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from driftwatch.auth.keys import create_key
from driftwatch.auth.scopes import Scope
from driftwatch.cli.root import main
from driftwatch.config import Policy
from driftwatch.db.engine import session_factory
from driftwatch.policy.snapshot import ObservedClasses, etag_matches
from tests.conftest import StartServer
from tests.policy.control_support import MODELS, POLICY, POLICY_YAML, promote, seen
from tests.support.class_hours import seed_class_hours
from tests.support.server import ServerThread


def _policy(server: ServerThread, **headers: str) -> httpx.Response:
    return httpx.get(f"{server.base_url}/v1/policy", headers=headers)


def _document(server: ServerThread) -> dict[str, Any]:
    response = _policy(server)
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


def test_only_the_busiest_seen_classes_up_to_the_cap_are_listed_and_the_rest_counted(
    engine: Engine, start_server: StartServer
) -> None:
    seed_class_hours(engine, {"a": 1, "b": 5, "c": 2, "d": 4, "e": 3})
    promote(engine, "a", "mid")  # decided: listed whatever its traffic
    server = start_server(policy=POLICY, max_task_classes=2)

    body = _document(server)

    assert list(body["classes"]) == ["a", "b", "d", "extraction", "summaries"]  # the last two: configured
    assert body["unlisted_classes"] == 2  # c and e


def test_the_policy_routes_configured_seen_and_decided_classes(
    engine: Engine, start_server: StartServer
) -> None:
    seen(engine, "chat", hours=3)
    seen(engine, "extraction", tier="mid")
    promote(engine, "codegen", "mid")
    server = start_server(policy=POLICY)

    response = _policy(server)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-cache"
    body = response.json()
    assert response.headers["etag"] == f'"{body["version"]}"'
    assert body["tiers"] == [{"tier": tier, "model": model} for tier, model in MODELS.items()]
    assert body["default"] == {"tier": "cheap", "model": "gpt-4o-mini"}
    classes = body["classes"]
    assert list(classes) == ["chat", "codegen", "extraction", "summaries"]
    assert classes["chat"] == {
        "tier": "cheap", "model": "gpt-4o-mini", "pinned": False, "cooldown_until": None, "source": "configured"
    }  # fmt: skip
    assert classes["summaries"]["tier"] == "premium" and classes["summaries"]["model"] == "claude-opus-4-7"
    assert classes["extraction"]["tier"] == "mid"
    codegen = classes["codegen"]
    assert (codegen["tier"], codegen["model"], codegen["source"]) == ("mid", "claude-sonnet-4-6", "decided")
    assert codegen["cooldown_until"] == "2026-11-26T09:00:00Z"  # 24 h after the promotion


def test_a_router_revalidates_with_if_none_match_and_gets_304(server: ServerThread) -> None:
    tag = _policy(server).headers["etag"]

    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        response = _policy(server, **{"if-none-match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == tag
        assert response.headers["cache-control"] == "no-cache"
    assert _policy(server, **{"if-none-match": '"stale"'}).status_code == 200


def test_the_etag_follows_the_content_not_the_clock(engine: Engine, start_server: StartServer) -> None:
    seen(engine, "chat")
    server = start_server(policy=POLICY)
    first = _document(server)
    assert _document(server)["version"] == first["version"]

    pinned = httpx.post(f"{server.base_url}/v1/policy/classes/chat/pin", json={"tier": "mid"})
    assert pinned.status_code == 200, pinned.text

    response = _policy(server, **{"if-none-match": f'"{first["version"]}"'})
    assert response.status_code == 200
    assert response.json()["version"] != first["version"]
    assert response.json()["classes"]["chat"]["pinned"] is True
    promote(engine, "codegen", "premium")  # by the decide job, or on another replica
    assert _document(server)["classes"]["codegen"]["tier"] == "premium"
    other_models = Policy(tier_models={**MODELS, "cheap": "gpt-5-nano"})
    assert _document(start_server(policy=other_models))["version"] != first["version"]


def test_the_policy_needs_an_api_key_when_auth_is_on(engine: Engine, start_server: StartServer) -> None:
    server = start_server(require_auth=True)
    with session_factory(engine).begin() as session:
        key = create_key(session, "router", scopes={Scope.READ}).key

    assert _policy(server).status_code == 401
    assert _policy(server, authorization=f"Bearer {key}").status_code == 200


def test_policy_show_prints_a_table_and_the_same_document_as_json(
    engine: Engine, database_url: str, start_server: StartServer, tmp_path: Path
) -> None:
    seen(engine, "chat")
    promote(engine, "codegen", "mid")
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY_YAML)
    env = {"DRIFTWATCH_DATABASE_URL": database_url, "DRIFTWATCH_POLICY_FILE": str(policy_file)}

    table = CliRunner().invoke(main, ["policy", "show"], env=env, catch_exceptions=False)
    as_json = CliRunner().invoke(main, ["policy", "show", "--json"], env=env, catch_exceptions=False)

    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert "default for other classes: cheap (gpt-4o-mini)" in lines
    assert lines[4].split() == ["TASK", "CLASS", "TIER", "MODEL", "PINNED", "COOL-DOWN", "UNTIL", "SOURCE"]
    codegen = next(line for line in lines if line.startswith("codegen"))
    assert codegen.split() == [
        "codegen",
        "mid",
        "claude-sonnet-4-6",
        "-",
        "2026-11-26",
        "09:00:00Z",
        "decided",
    ]
    assert as_json.exit_code == 0, as_json.output
    document = orjson.loads(as_json.output)
    assert list(document["classes"]) == ["chat", "codegen", "extraction", "summaries"]
    assert document["version"] == _document(start_server(policy=POLICY))["version"]


def test_observed_classes_are_read_again_only_after_their_ttl(engine: Engine) -> None:
    now = [0.0]
    cache = ObservedClasses(ttl_seconds=60, clock=lambda: now[0])
    seen(engine, "chat")
    with session_factory(engine)() as session:
        assert cache.get(session) == ["chat"]
        seen(engine, "codegen")
        now[0] = 59.0
        assert cache.get(session) == ["chat"]
        now[0] = 60.0
        session.rollback()  # a new snapshot, as each request's session has
        assert cache.get(session) == ["chat", "codegen"]


@pytest.mark.parametrize(
    ("header", "matches"),
    [(None, False), ('"a"', True), ('W/"a"', True), (' "b" , "a" ', True), ("*", True), ('"b"', False)],
)
def test_if_none_match_is_compared_weakly(header: str | None, matches: bool) -> None:
    assert etag_matches(header, '"a"') is matches
