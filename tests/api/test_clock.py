"""Routes read the time from the app's clock (``create_app(clock=…)``), so a test can say when
things happen: a pin made at a fixed moment is recorded at that moment, over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from driftwatch.api.app import create_app
from driftwatch.clock import FixedClock
from driftwatch.config import ClassConfig, Policy, Settings
from tests.support.server import ServerThread

MOMENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_pin_and_an_unpin_are_recorded_at_the_times_the_app_clock_tells(
    engine: Engine, database_url: str
) -> None:
    clock = FixedClock(MOMENT)
    policy = Policy(classes={"summaries": ClassConfig()})
    app = create_app(Settings(database_url=database_url), policy, engine=engine, clock=clock)

    with ServerThread(app) as server:
        pinned = httpx.post(f"{server.base_url}/v1/policy/classes/summaries/pin", json={"tier": "premium"})
        clock.advance(timedelta(hours=2))
        unpinned = httpx.delete(f"{server.base_url}/v1/policy/classes/summaries/pin")
        decisions = httpx.get(f"{server.base_url}/v1/decisions", params={"task_class": "summaries"})

    assert pinned.status_code == 200, pinned.text
    assert unpinned.status_code == 200, unpinned.text
    recorded = {
        item["kind"]: datetime.fromisoformat(item["created_at"]) for item in decisions.json()["items"]
    }
    assert recorded["pinned"] == MOMENT
    assert recorded["unpinned"] == MOMENT + timedelta(hours=2)


def test_a_fixed_clock_refuses_a_time_without_a_zone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        FixedClock(datetime(2026, 3, 1, 12, 0))
