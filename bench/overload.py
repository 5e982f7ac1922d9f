"""Overload benchmark: 10x the sustainable ingest rate for a minute against a real `driftwatch serve`.

1. **sustainable**: 4 closed-loop senders (503/429 retried after Retry-After), ``--calibrate`` spans
   in batches of 512 (``../shared/tools/otlp_load.py``'s GenAI spans): R = acknowledged spans/s.
2. **overload**: ``--clients`` processes together offer ``--factor`` x R spans/s for ``--seconds``,
   each in an open loop: a new batch every ``--clients`` x 512 / (factor x R) s, whatever the
   answers. Each batch behaves as an OTel exporter: a 503/429 is retried after its Retry-After, at
   most ``--attempts`` times, then dropped (the client gave up; the server never acknowledged it).
   Like a BatchSpanProcessor whose queue is full, a client with ``--client-queue`` batches still
   unacknowledged drops a new one instead of sending it (counted). Server RSS is sampled every 0.5 s.
3. **recovery**: once the offered load stops and the last retries end, the time until a fresh batch
   gets its 200, and R measured again.

Every batch has its own trace ids (the batch number is the trace id's first 8 bytes), so the store
is checked at the end: every acknowledged batch complete, nothing counted twice by the rollup.

    python bench/overload.py [--backend sqlite|postgresql] [--seconds 60] [--factor 10] [--clients 3]

One client process cannot offer 10 x R on its own (building and sending 740 KB bodies, and their
retries, takes more than one core), hence several.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import random
import struct
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from ingest import DEFAULT_TOOLS, Target, load_batch_maker, peak_rss_mb, send, start_driftwatch, stop
from sqlalchemy import text

from driftwatch.db.engine import build_engine

BATCH = 512
HEADERS = {"content-type": "application/x-protobuf"}
# A batch holds its 740 KB body only while it is being sent (it is rebuilt for each try), and only
# this many are sent at once per client: that, not the queue of batches, bounds the client's memory.
CONNECTIONS_PER_CLIENT = 128


class Batches:
    """Unique batches from one template body: each span's trace id is (batch number, span index)."""

    def __init__(self, template: bytes, trace_ids: list[bytes]) -> None:
        self._template = template
        self._offsets = [template.index(trace_id) for trace_id in trace_ids]

    def body(self, number: int) -> bytes:
        data = bytearray(self._template)
        for index, offset in enumerate(self._offsets):
            data[offset : offset + 16] = struct.pack(">QQ", number, index)
        return bytes(data)


def template(tools: Path) -> Batches:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    body = load_batch_maker(tools)(random.Random(20261126), BATCH, 1_700_000_000_000_000_000)
    request = ExportTraceServiceRequest.FromString(body)
    ids = [span.trace_id for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
    return Batches(body, ids)


@dataclass(frozen=True)
class Client:
    http: httpx.AsyncClient
    connection: asyncio.Semaphore


@dataclass
class Overload:
    statuses: Counter[str] = field(default_factory=Counter)
    without_retry_after: int = 0
    acked: set[int] = field(default_factory=set)
    gave_up: int = 0
    dropped_by_client: int = 0
    offered: int = 0

    def add(self, other: Overload) -> None:
        self.statuses.update(other.statuses)
        self.without_retry_after += other.without_retry_after
        self.acked |= other.acked
        self.gave_up += other.gave_up
        self.dropped_by_client += other.dropped_by_client
        self.offered += other.offered


async def exporter(
    client: Client, url: str, batches: Batches, number: int, attempts: int, tally: Overload
) -> None:
    for _ in range(attempts):
        answer, retry_after = await attempt(client, url, batches, number)
        tally.statuses[answer] += 1
        if answer == "200":
            tally.acked.add(number)
            return
        if retry_after is None and answer.isdigit():
            tally.without_retry_after += 1
        await asyncio.sleep(float(retry_after or 1))
    tally.gave_up += 1


async def attempt(client: Client, url: str, batches: Batches, number: int) -> tuple[str, str | None]:
    """One try: the status (or the transport error's name) and the Retry-After.  Nothing of the
    request outlives it: a response holds its request's 740 KB body, and a batch waiting out its
    Retry-After must not."""
    async with client.connection:  # the body is built only once a connection is free
        try:
            response = await client.http.post(url, content=batches.body(number), headers=HEADERS)
        except httpx.HTTPError as error:
            return type(error).__name__, None
    return str(response.status_code), response.headers.get("retry-after")


async def open_loop(
    url: str, batches: Batches, numbers: range, rate: float, seconds: float, attempts: int, queue: int
) -> Overload:
    """One client's share: a batch from ``numbers`` every 512 / ``rate`` s for ``seconds``."""
    tally = Overload()
    interval = BATCH / rate
    limits = httpx.Limits(
        max_connections=CONNECTIONS_PER_CLIENT, max_keepalive_connections=CONNECTIONS_PER_CLIENT
    )
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        client = Client(http, asyncio.Semaphore(CONNECTIONS_PER_CLIENT))
        tasks: set[asyncio.Task[None]] = set()
        started = time.perf_counter()
        numbered = iter(numbers)
        while (now := time.perf_counter()) - started < seconds:
            due = int((now - started) / interval) + 1
            while tally.offered < due:
                tally.offered += 1
                number = next(numbered)
                if len(tasks) >= queue:
                    tally.dropped_by_client += 1
                    continue
                task = asyncio.create_task(exporter(client, url, batches, number, attempts, tally))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(min(interval, 0.05))
        if tasks:  # the last exporters finish their retries (or give up)
            await asyncio.wait(tasks)
    return tally


def client_process(
    url: str, batches: Batches, numbers: range, rate: float, seconds: float, attempts: int, queue: int
) -> Overload:
    return asyncio.run(open_loop(url, batches, numbers, rate, seconds, attempts, queue))


def overload(
    url: str, batches: Batches, first: int, rate: float, seconds: float, options: argparse.Namespace, pid: int
) -> tuple[Overload, list[float]]:
    """``options.clients`` processes share ``rate``; the server's RSS is sampled while they run."""
    tally = Overload()
    rss: list[float] = []
    share = rate / options.clients
    with ProcessPoolExecutor(options.clients) as pool:
        futures = [
            pool.submit(
                client_process,
                url,
                batches,
                range(first + client * 10**7, first + (client + 1) * 10**7),
                share,
                seconds,
                options.attempts,
                options.client_queue,
            )
            for client in range(options.clients)
        ]
        while not all(future.done() for future in futures):
            rss.append(current_rss_mb(pid))
            wait(futures, timeout=0.5)
        for future in futures:
            tally.add(future.result())
    return tally, rss


def current_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def seconds_to_first_ack(url: str, body: bytes) -> float:
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(600):  # a minute of tries, 0.1 s apart
            if (await client.post(url, content=body, headers=HEADERS)).status_code == 200:
                return time.perf_counter() - started
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not recover within a minute")


def sustainable(url: str, batches: Batches, first: int, count: int) -> float:
    bodies = [batches.body(first + index) for index in range(count)]
    started = time.perf_counter()
    asyncio.run(send(url, bodies, 4))
    return count * BATCH / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--factor", type=float, default=10)
    parser.add_argument("--calibrate", type=int, default=40, help="batches of 512 for the sustainable rate")
    parser.add_argument("--attempts", type=int, default=6, help="tries per batch before the client gives up")
    parser.add_argument("--clients", type=int, default=3, help="client processes sharing the offered load")
    parser.add_argument(
        "--client-queue",
        type=int,
        default=500,
        help="unacknowledged batches a client holds before dropping new ones",
    )
    parser.add_argument("--tools", type=Path, default=DEFAULT_TOOLS)
    args = parser.parse_args()

    batches = template(args.tools)
    print(
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, nproc {os.cpu_count()}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as folder:
        target = start_driftwatch(args.backend, Path(folder))
        pid = target.process.pid
        try:
            rss_idle = current_rss_mb(pid)
            rate = sustainable(target.url, batches, 1, args.calibrate)
            print(f"{target.name}: sustainable {rate:.0f} spans/s (RSS {rss_idle:.0f} MiB idle)")
            first = 1 + args.calibrate
            started = time.perf_counter()
            tally, rss = overload(target.url, batches, first, args.factor * rate, args.seconds, args, pid)
            elapsed = time.perf_counter() - started
            recovered = asyncio.run(seconds_to_first_ack(target.url, batches.body(10**9)))
            after = sustainable(target.url, batches, 10**9 + 1, args.calibrate)
            peak = peak_rss_mb(pid)
            stored, rollup = stored_batches(target)
        finally:
            stop(target.process)
            target.cleanup()

    offered_rate = tally.offered * BATCH / args.seconds
    acked_rate = len(tally.acked) * BATCH / elapsed
    lost = [number for number in tally.acked if stored.get(number) != BATCH]
    doubled = sum(count > BATCH for count in stored.values()) + (rollup != sum(stored.values()))
    print(
        f"overload: offered {tally.offered} batches = {offered_rate:.0f} spans/s "
        f"({offered_rate / rate:.1f}x) for {args.seconds:.0f} s from {args.clients} processes; "
        f"dropped by full client queues {tally.dropped_by_client}; answers {dict(tally.statuses)}; "
        f"refusals without Retry-After {tally.without_retry_after}"
    )
    print(
        f"acknowledged {len(tally.acked)} batches ({acked_rate:.0f} spans/s over {elapsed:.0f} s incl. "
        f"retries), client gave up on {tally.gave_up}; RSS median {sorted(rss)[len(rss) // 2]:.0f} MiB, "
        f"peak (VmHWM) {peak:.0f} MiB"
    )
    print(
        f"recovery: first 200 after {recovered:.2f} s; sustainable again {after:.0f} spans/s; "
        f"acknowledged but not stored: {len(lost)} batches; batches stored twice: {doubled}"
    )
    if lost or doubled or tally.without_retry_after:
        sys.exit(1)


def stored_batches(target: Target) -> tuple[Counter[int], int]:
    """Spans stored per batch number (the trace id's first 8 bytes), and the calls the hourly rollup
    counted (equal to the stored calls unless a batch was counted twice)."""
    engine = build_engine(target.database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT trace_id FROM call")).scalars()
        counts = Counter(int(trace_id[:16], 16) for trace_id in rows)
        rollup = connection.execute(text("SELECT coalesce(sum(calls), 0) FROM class_hour")).scalar_one()
    engine.dispose()
    return counts, int(rollup)


if __name__ == "__main__":
    main()
