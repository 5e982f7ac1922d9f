"""CPU cost of each ingest stage, per span, in one process: decode, map, write (SQLite, PostgreSQL).

``bench/ingest.py`` measures what a user sees (persisted spans/s over HTTP), but on a shared 2-core
machine its wall-clock figure moves with the load of everything else.  This script measures the
process CPU time (``time.process_time``) each stage spends per span on the same pre-generated load,
which the other processes on the machine change far less, so a change to one stage can be compared
before and after even on a busy machine.  The write stage on PostgreSQL also costs server CPU, which
this process does not see: its wall time is printed beside it.

    python bench/ingest_stages.py --spans 20480 --batch 2048 --targets sqlite,postgresql
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import ModuleType

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy import Engine, create_engine, text

from driftwatch.config import Policy
from driftwatch.db.engine import build_engine
from driftwatch.db.migrate import upgrade
from driftwatch.ingest.classify import Classifier
from driftwatch.ingest.otlp import DecodedSpans, iter_spans, parse_request
from driftwatch.ingest.records import CallMapper, CallRow
from driftwatch.ingest.redaction import Redactor
from driftwatch.ingest.store import commit_batch
from driftwatch.prices.pricing import PriceTable

SEED = 20261122
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def load_generator(tools: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("otlp_load", tools / "otlp_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def store(target: str) -> Iterator[Engine]:
    if target == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            engine = build_engine(f"sqlite:///{directory}/bench.db")
            upgrade(engine)
            yield engine
            engine.dispose()
        return
    name = f"dwbench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine = build_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def timed(work: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def write_all(engine: Engine, batches: list[list[CallRow]]) -> None:
    now = datetime.now(UTC)
    for batch in batches:
        commit_batch(engine, batch, (), now)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=20480)
    parser.add_argument("--batch", type=int, default=2048, help="spans per request and per commit")
    parser.add_argument("--targets", default="sqlite,postgresql")
    parser.add_argument("--tools", type=Path, default=Path("../shared/tools"))
    options = parser.parse_args()

    generator = load_generator(options.tools)
    rng = random.Random(SEED)
    start_ns = time.time_ns() - 3_600 * 10**9
    bodies = [
        generator.make_batch(rng, options.batch, start_ns + index * options.batch * 1000)
        for index in range(options.spans // options.batch)
    ]
    spans = len(bodies) * options.batch
    mapper = CallMapper(
        Classifier.from_policy(Policy()),
        PriceTable(Policy().price_table()),
        capture_content=True,
        redactor=Redactor(()),
    )

    decoded: list[DecodedSpans] = []
    decode_cpu, _ = timed(
        lambda: decoded.extend(
            iter_spans(parse_request(body, "protobuf", ExportTraceServiceRequest())) for body in bodies
        )
    )
    rows: list[list[CallRow]] = []
    map_cpu, _ = timed(lambda: rows.extend(mapper.map(batch).rows for batch in decoded))
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {spans} spans in batches of {options.batch}, Python {sys.version.split()[0]}"
    )
    print(
        f"decode  {decode_cpu / spans * 1e6:8.1f} µs CPU/span   ({spans / decode_cpu:9,.0f} spans per CPU-second)"
    )
    print(
        f"map     {map_cpu / spans * 1e6:8.1f} µs CPU/span   ({spans / map_cpu:9,.0f} spans per CPU-second)"
    )
    for target in options.targets.split(","):
        with store(target) as engine:
            write_cpu, write_wall = timed(partial(write_all, engine, rows))
            with engine.connect() as connection:
                stored = connection.execute(text("SELECT count(*) FROM call")).scalar_one()
        assert stored == spans, (target, stored, spans)
        total = decode_cpu + map_cpu + write_cpu
        print(
            f"write   {write_cpu / spans * 1e6:8.1f} µs CPU/span   ({spans / write_cpu:9,.0f} spans per CPU-second)"
            f"  {target}, wall {spans / write_wall:,.0f} spans/s"
        )
        print(f"  all stages on {target}: {spans / total:,.0f} spans per CPU-second of this process")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
