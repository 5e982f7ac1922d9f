"""Verdicts without a tier over real HTTP, on SQLite and PostgreSQL: each gets the tier its class was
routed to at the verdict's time, and reaches that tier's detector, or is refused with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from driftwatch.config import ClassConfig, Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.models import Evaluation
from tests.api.evaluations import item, receipt
from tests.conftest import StartServer
from tests.policy.control_support import promote
from tests.policy.support import decide, detector

MOVED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
POLICY = Policy(classes={"extraction": ClassConfig(acceptance_floor=0.9)})


def stored_tiers(engine: Engine) -> dict[str | None, str | None]:
    with session_factory(engine)() as session:
        rows = session.execute(select(Evaluation.external_id, Evaluation.tier))
        return {external_id: tier for external_id, tier in rows}


def at(offset: timedelta) -> str:
    return (MOVED + offset).isoformat()


def test_a_verdict_without_a_tier_gets_the_tier_its_class_was_routed_to_then(
    engine: Engine, start_server: StartServer
) -> None:
    promote(engine, "extraction", "mid", POLICY, MOVED)
    server = start_server(policy=POLICY)

    body = receipt(
        server,
        [
            item(id="before", timestamp=at(-timedelta(hours=1))),
            item(id="after", timestamp=at(timedelta(hours=1))),
            item(id="now"),
            item(id="said-so", tier="premium", timestamp=at(-timedelta(hours=1))),
        ],
    )

    assert body == {"accepted": 4, "duplicates": 0, "rejected": []}
    assert stored_tiers(engine) == {"before": "cheap", "after": "mid", "now": "mid", "said-so": "premium"}


def test_a_class_never_moved_is_on_its_configured_tier_and_its_verdicts_reach_that_detector(
    engine: Engine, start_server: StartServer
) -> None:
    policy = Policy(classes={"extraction": ClassConfig(tier="mid", acceptance_floor=0.9)})
    server = start_server(policy=policy)

    body = receipt(server, [item(id=f"v-{index}", outcome="unacceptable") for index in range(20)])

    assert body["accepted"] == 20 and set(stored_tiers(engine).values()) == {"mid"}
    assert decide(engine, policy, datetime.now(UTC)).endswith("degraded: extraction")
    row = detector(engine, "extraction", "mid", "other")  # human-review: the alert-only feed
    assert row is not None and row.alarmed_at is not None


def test_a_verdict_routed_to_a_tier_the_policy_no_longer_has_is_refused_with_the_reason(
    engine: Engine, start_server: StartServer
) -> None:
    old = Policy(tiers=("cheap", "mid", "gold"), classes={"extraction": ClassConfig(acceptance_floor=0.9)})
    promote(engine, "extraction", "gold", old, MOVED)
    server = start_server(policy=POLICY)  # the tiers are cheap, mid, premium now

    body = receipt(
        server,
        [
            item(id="then", timestamp=at(timedelta(hours=1))),
            item(id="before", timestamp=at(-timedelta(hours=1))),
            item(id="with-tier", tier="mid", timestamp=at(timedelta(hours=1))),
        ],
    )

    assert body["accepted"] == 2
    [refused] = body["rejected"]
    assert (refused["index"], refused["id"]) == (0, "then")
    assert "routed to tier 'gold'" in refused["error"] and "give the tier" in refused["error"]
    assert stored_tiers(engine) == {"before": "cheap", "with-tier": "mid"}
