"""Hostile input at scale: 10,000+ generated bodies against ``POST /v1/traces`` and ``/v1/logs`` of a
real ``driftwatch serve`` process (the suite, tests/reliability/test_fuzz_ingest.py, sends 1,000).

The bodies are those of ``tests/reliability/hostile_bodies.py``: mutated protobuf, OTLP JSON with
wrong shapes, raw bytes under odd headers, gzip bombs.  Every answer must be a 2xx or a 4xx; the
script fails on the first 5xx or transport error, and prints the answers by status, the time, and the
server's peak RSS (``VmHWM`` of its process, so the client's memory does not count).

    PYTHONPATH=. python bench/fuzz_ingest.py [--examples 3400] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from tests.reliability.fuzz_target import FuzzTarget, send_examples
from tests.reliability.hostile_bodies import json_requests, protobuf_requests, raw_requests
from tests.reliability.serve import serving

MAX_REQUEST_BYTES = 2 << 20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=3400, help="bodies per kind (3 kinds)")
    parser.add_argument("--database-url", help="a migrated store (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'fuzz.db'}"
        settings = {"DRIFTWATCH_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES), "DRIFTWATCH_SCHEDULER": "false"}
        with (
            serving(Path(folder), url, settings) as serve,
            httpx.Client(base_url=serve.base_url, timeout=60) as client,
        ):
            target = FuzzTarget(client)
            started = time.monotonic()
            for name, strategy in (
                ("protobuf", protobuf_requests()),
                ("json", json_requests()),
                ("raw", raw_requests()),
            ):
                send_examples(target, strategy, args.examples)
                print(f"{name}: {sum(target.statuses.values())} bodies so far", flush=True)
            target.still_serves()
            elapsed = time.monotonic() - started
            total = sum(target.statuses.values())
            print(
                f"{total} bodies in {elapsed:.0f} s ({total / elapsed:.0f}/s); by status: {dict(target.statuses)}"
            )
            print(
                f"server peak RSS: {serve.peak_rss_mib():.0f} MiB (request limit {MAX_REQUEST_BYTES >> 20} MiB)"
            )


if __name__ == "__main__":
    main()
