"""The routing row of a class that has none yet, created by two writers at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, select

from driftwatch.config import Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.models import ClassPolicy, Decision
from driftwatch.routing.routes import move_class
from tests.policy.support import NOW


def test_two_first_moves_of_a_new_class_at_once_both_land_in_order(engine: Engine) -> None:
    policy = Policy()
    barrier = threading.Barrier(2)

    def pin(tier: str) -> None:
        barrier.wait()
        with session_factory(engine).begin() as session:
            move_class(
                session,
                policy,
                task_class="brand-new",
                to_tier=tier,
                kind="pinned",
                actor=f"person-{tier}",
                reason="pin",
                evidence={},
                now=NOW,
                pinned=True,
            )

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(pin, ["mid", "premium"]))

    with session_factory(engine)() as session:
        row = session.get(ClassPolicy, "brand-new")
        moves = list(session.scalars(select(Decision).order_by(Decision.id)))
    assert row is not None and row.pinned
    assert len(moves) == 2
    # The second move starts from where the first one left the class: no lost update.
    assert moves[0].from_tier == "cheap"
    assert moves[1].from_tier == moves[0].to_tier
    assert row.tier == moves[1].to_tier
