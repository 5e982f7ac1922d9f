"""Retention benchmark: how fast the ``retention`` job deletes expired calls from a big store.

Seeds the store of ``bench/dashboard.py`` (the shadow-evaluated calls of a 10-million-call month:
356,400 calls over 30 days, each with a shadow sample and an evaluation, plus the rollups), then runs
:func:`delete_expired_calls` with ``--days`` of retention (by default 15: about half the calls go,
with their samples, and their evaluations lose their ``call_id``) with no time budget, and prints
calls deleted per second and what is left.

    python bench/retention.py [--backend sqlite|postgresql] [--days 15]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime

from dashboard import database, seed
from sqlalchemy import func, select

from driftwatch.calls.retention import delete_expired_calls
from driftwatch.db import migrate
from driftwatch.db.engine import build_engine
from driftwatch.db.models import Call, Evaluation, ShadowSample


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--days", type=float, default=15)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    with database(args.backend) as url:
        engine = build_engine(url)
        migrate.upgrade(engine)
        now = datetime.now(UTC)
        counts = seed(engine, now, 10_000_000, 50, 0.05)
        print(f"seeded {args.backend}: {counts}")
        began = time.perf_counter()
        result = delete_expired_calls(engine, now, args.days, time_budget_seconds=float("inf"))
        seconds = time.perf_counter() - began
        with engine.connect() as connection:
            left = {
                name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in (
                    ("call", Call),
                    ("shadow_sample", ShadowSample),
                    ("evaluation", Evaluation),
                )
            }
        print(
            f"{result.summary()} in {seconds:.1f} s: {result.deleted / seconds:,.0f} calls/s "
            f"(with their samples; their evaluations' call_id set to null); left: {left}"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
