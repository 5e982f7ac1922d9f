"""``evaluation_hour`` counts every stored evaluation once: filled from the evaluations already there
by its migration, and kept by each writer in the same transaction (``POST /v1/evaluations`` with
re-sent verdicts, the shadow runner, bulk seeds).  Readers get the same answer from it as from the
verdicts: ``outcome_counts`` on hour boundaries against a scan with the same bounds moved a microsecond.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from driftwatch.db import migrate
from driftwatch.db.engine import session_factory
from driftwatch.evaluations.repository import outcome_counts
from driftwatch.evaluations.writer import insert_counted
from tests.api.evaluations import POLICY as KNOWN_CLASSES
from tests.conftest import BACKENDS, StartServer
from tests.support.databases import engine_for, fresh_database
from tests.support.evaluation_rollup import counted_from_verdicts, counted_in_rollup

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _rows(count: int) -> list[dict[str, object]]:
    """Evaluations over 4 hours, in 2 classes, with and without a tier, from 2 sources, every outcome."""
    outcomes = [True, False, None]
    return [
        {
            "source": ("shadow", "human-review")[number % 2],
            "external_id": f"e-{number}",
            "task_class": ("faq", "extraction")[number % 3 % 2],
            "tier": ("cheap", None, "premium")[number % 3],
            "acceptable": outcomes[number % 3],
            "evaluated_at": START + timedelta(minutes=7 * number, microseconds=number),
            "created_at": START,
            "shadow_cost_usd": 0.0,
            "judge_cost_usd": 0.0,
        }
        for number in range(count)
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migration_counts_the_evaluations_already_stored(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        engine = engine_for(url)
        try:
            migrate.upgrade(engine, "0005")
            table = sa.Table("evaluation", sa.MetaData(), autoload_with=engine)
            with engine.begin() as connection:
                connection.execute(table.insert(), _rows(40))
            migrate.upgrade(engine)

            assert counted_in_rollup(engine) == counted_from_verdicts(engine)
            assert (
                len({key for key, _ in counted_in_rollup(engine)}) > 8
            )  # hours, classes, tiers and sources apart
        finally:
            engine.dispose()


def test_posted_verdicts_are_counted_once_however_often_they_are_sent(
    start_server: StartServer, engine: Engine
) -> None:
    server = start_server(policy=KNOWN_CLASSES)
    items = [
        {"id": f"r-{number}", "source": "human-review", "task_class": "faq", "tier": "cheap",
         "outcome": ("acceptable", "unacceptable")[number % 2],
         "timestamp": (START + timedelta(minutes=25 * number)).isoformat()}
        for number in range(12)
    ]  # fmt: skip

    for batch in (items[:8], items, items[4:]):  # overlapping re-sends
        answer = httpx.post(f"{server.base_url}/v1/evaluations", json={"evaluations": batch})
        assert answer.status_code == 200 and answer.json()["rejected"] == [], answer.text

    assert counted_in_rollup(engine) == counted_from_verdicts(engine)
    assert sum(count for (_, kind), count in counted_in_rollup(engine).items() if kind == "evaluations") == 12


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (None, None),  # all time: the rollup alone
        (START + timedelta(hours=1), START + timedelta(hours=4)),  # on the hour: the rollup alone
        (None, START + timedelta(hours=2)),
        (START + timedelta(minutes=50), START + timedelta(hours=3, minutes=10)),  # partial hours each end
        (START + timedelta(minutes=75), None),
        (START + timedelta(minutes=10), START + timedelta(minutes=40)),  # inside one hour
        (START + timedelta(minutes=50), START + timedelta(minutes=70)),  # two partial hours, no whole one
        (START.astimezone(timezone(timedelta(hours=5, minutes=30))), None),  # on the hour in UTC only
    ],
)
def test_counts_for_any_window_match_the_verdicts(
    engine: Engine, since: datetime | None, until: datetime | None
) -> None:
    rows = _rows(60)
    with engine.begin() as connection:
        insert_counted(connection, rows)
    expected: Counter[tuple[str, str | None, str, str]] = Counter()
    for row in rows:
        moment = row["evaluated_at"]
        assert isinstance(moment, datetime)
        if (since is None or moment >= since) and (until is None or moment < until):
            tier = row["tier"]
            key = (str(row["task_class"]), tier if isinstance(tier, str) else None, str(row["source"]))
            expected[(*key, "total")] += 1
            expected[(*key, "decided")] += row["acceptable"] is not None
            expected[(*key, "acceptable")] += row["acceptable"] is True

    with session_factory(engine)() as session:
        counted = outcome_counts(session, since, until)

    found: Counter[tuple[str, str | None, str, str]] = Counter()
    for counts in counted:
        key = (counts.task_class, counts.tier, counts.source)
        found.update({(*key, "total"): counts.total, (*key, "decided"): counts.decided,
                      (*key, "acceptable"): counts.acceptable})  # fmt: skip
    assert +found == +expected
    assert expected
