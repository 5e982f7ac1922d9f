"""`driftwatch policy pin/unpin/accept/reject/recommendations` against the test store (SQLite and
PostgreSQL): the same service as the API, with the person at the terminal as the actor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from driftwatch.cli.root import main
from tests.policy.control_support import POLICY_YAML, recommend, recommendation, routing_row, seen
from tests.policy.support import decisions, events

Run = Callable[..., Result]


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> Run:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY_YAML)

    def invoke(*args: str, user: str = "alice") -> Result:
        env = {
            "DRIFTWATCH_DATABASE_URL": database_url,
            "DRIFTWATCH_POLICY_FILE": str(policy_file),
            "USER": user,
        }
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_pin_and_unpin_act_as_the_user(engine: Engine, run: Run) -> None:
    pinned = run("policy", "pin", "summaries", "cheap")
    unpinned = run("policy", "unpin", "summaries", "--actor", "oncall-bob")
    again = run("policy", "unpin", "summaries")

    assert pinned.exit_code == unpinned.exit_code == again.exit_code == 0, pinned.output + unpinned.output
    assert pinned.output.startswith("summaries pinned to cheap (decision ")
    assert "unpinned" in unpinned.output and again.output == "summaries was not pinned; on cheap\n"
    assert [(d.kind, d.actor) for d in decisions(engine)] == [("pinned", "alice"), ("unpinned", "oncall-bob")]
    row = routing_row(engine, "summaries")
    assert row is not None and (row.tier, row.pinned) == ("cheap", False)


def test_without_user_the_actor_is_cli(engine: Engine, run: Run) -> None:
    seen(engine, "chat")
    assert run("policy", "pin", "chat", "mid", user="").exit_code == 0

    assert [d.actor for d in decisions(engine)] == ["cli"]


def test_an_unknown_tier_exits_1_with_the_tiers(engine: Engine, run: Run) -> None:
    result = run("policy", "pin", "summaries", "gold")

    assert result.exit_code == 1
    assert "unknown tier 'gold'; tiers are cheap, mid, premium" in result.output
    assert decisions(engine) == []


def test_accept_demotes_and_a_second_accept_exits_1(engine: Engine, run: Run) -> None:
    rec_id = recommend(engine)

    first = run("policy", "accept", str(rec_id))
    second = run("policy", "accept", str(rec_id))
    unknown = run("policy", "accept", "999999")

    assert first.exit_code == 0, first.output
    assert first.output == f"accepted {rec_id}: summaries moved from premium to mid\n"
    assert second.exit_code == 1 and f"recommendation {rec_id} is accepted by alice" in second.output
    assert unknown.exit_code == 1 and "no recommendation with id 999999" in unknown.output
    assert [(d.kind, d.actor) for d in decisions(engine)] == [("accepted", "alice"), ("demoted", "alice")]
    assert [event.event_type for event in events(engine)] == ["class.demoted"]


def test_reject_with_a_reason_and_the_list_of_open_recommendations(engine: Engine, run: Run) -> None:
    rejected = recommend(engine, minutes=0)
    kept = recommend(engine, "extraction", from_tier="mid", to_tier="cheap", minutes=1)

    result = run("policy", "reject", str(rejected), "--reason", "latency matters more")
    listing = run("policy", "recommendations")
    everything = run("policy", "recommendations", "--status", "all", "--json")

    assert result.exit_code == 0, result.output
    assert recommendation(engine, rejected).status == "rejected"
    assert decisions(engine)[0].reason.endswith("rejected by alice: latency matters more")
    lines = listing.output.splitlines()
    assert lines[0].split()[:4] == ["ID", "TASK", "CLASS", "MOVE"]
    assert len(lines) == 2 and lines[1].split()[:5] == [str(kept), "extraction", "mid", "->", "cheap"]
    assert "$1,200.00 ($900.00 to $1,500.00)" in lines[1]
    assert '"status": "rejected"' in everything.output and '"decided_by": "alice"' in everything.output
    assert run("policy", "recommendations", "--status", "superseded").output == "no recommendations\n"
