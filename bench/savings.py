"""Savings-ledger benchmark: latency of ``GET /v1/savings`` on the store of ``bench/dashboard.py``
(10 million calls over 30 days: 50 classes, 50,400 ``class_hour`` rows, summed into 2,100 ``class_day``
rows as the ingest writer keeps them), plus what the ledger reads beyond it: ``shadow_cost_day`` per
class and day (1,550 rows) and the seed's promotions (one per class, cheap to mid, each in force from its
time on: 50 hourly-rollup ranges to price on the promoted-to tier).

A real server (uvicorn, in this process) answers ``--repeat`` requests per query after one warm-up;
the script prints the median and the slowest, and the size of the answer.

    python bench/savings.py [--backend sqlite|postgresql] [--calls 10000000] [--classes 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime, timedelta

import httpx
from dashboard import TIER_MODELS, database, seed, serving, timed_get
from sqlalchemy import insert

from driftwatch.config import ClassConfig, Policy
from driftwatch.db import migrate
from driftwatch.db.engine import build_engine
from driftwatch.db.models import ShadowCostDay
from driftwatch.ingest.daily_rollup import SUMMED

DAY_OF_HOUR = {
    "sqlite": "substr(hour, 1, 10)",
    "postgresql": "to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}
QUERIES = (
    "",  # the default: the last 30 UTC days, today included, every class
    "limit=10",
    "task_class=class-001",
    "since={first}&until={end}",  # the seed's 30 days exactly
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    names = [f"class-{index:03d}" for index in range(args.classes)]
    policy = Policy(
        tier_models=TIER_MODELS, classes={name: ClassConfig(acceptance_floor=0.9) for name in names}
    )
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"load average before: {os.getloadavg()}")
    with database(args.backend) as url:
        engine = build_engine(url)
        migrate.upgrade(engine)
        now = datetime.now(UTC)
        began = time.perf_counter()
        counts = seed(engine, now, args.calls, args.classes, 0.05)
        days = [(now - timedelta(days=offset)).date().isoformat() for offset in range(31)]
        with engine.begin() as connection:
            # The seed writes class_hour directly; the ingest writer keeps class_day with it.
            day = DAY_OF_HOUR[engine.dialect.name]
            connection.exec_driver_sql(
                f"INSERT INTO class_day (task_class, tier, day, {', '.join(SUMMED)}) SELECT task_class, tier, "
                f"{day}, {', '.join(f'sum({name})' for name in SUMMED)} FROM class_hour GROUP BY 1, 2, 3"
            )
            connection.execute(
                insert(ShadowCostDay),
                [{"task_class": name, "day": day, "spent_usd": 3.5} for name in names for day in days],
            )
        print(f"seeded {args.backend} in {time.perf_counter() - began:.0f} s: {counts}")
        end = (now + timedelta(days=1)).date().isoformat()
        with serving(engine, url, policy) as base, httpx.Client(base_url=base, timeout=120) as client:
            for template in QUERIES:
                query = template.format(first=(now - timedelta(days=29)).date().isoformat(), end=end)
                line, response = timed_get(client, f"/v1/savings?{query}", args.repeat)
                body = response.json()
                print(
                    f"{line}, {len(body['days'])} days, {len(body['classes'])} classes, "
                    f"net {body['totals']['net_usd']}"
                )
        engine.dispose()


if __name__ == "__main__":
    main()
