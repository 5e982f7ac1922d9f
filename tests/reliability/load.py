"""Exporter-like OTLP load for the reliability tests: threads that send batches of fresh spans and
keep the ids of every span that got its 200.

Each sender behaves as an OTel exporter does: a batch that was refused (503/429) or never answered
(connection refused or reset, e.g. while the server is being killed) is sent again, unchanged, until it
is acknowledged or the load stops. A batch that was committed but whose 200 was lost is therefore
re-sent too, which is what makes "stored once" meaningful.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine, func, select

from driftwatch.db.models import Call, ClassHour
from tests.support.otlp import export_request, make_span

SpanKey = tuple[str, str]  # (trace id, span id) in hex, as the call table stores them
PROTOBUF = {"content-type": "application/x-protobuf"}


@dataclass
class Tally:
    """What the senders saw: acknowledged span ids, answers by status, and refusals' Retry-After."""

    acked: set[SpanKey] = field(default_factory=set)
    statuses: Counter[str] = field(default_factory=Counter)
    refusals_without_retry_after: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: str, keys: list[SpanKey] | None = None) -> None:
        with self.lock:
            self.statuses[status] += 1
            if keys is not None:
                self.acked.update(keys)


class SpanLoad:
    """``senders`` threads posting batches of ``batch`` spans to ``url()`` (read before every attempt, so
    the target can move, e.g. to a restarted server) until :meth:`stop`.

    ``retry_pause`` is the wait after a refusal or a failed connection; ``honour_retry_after`` makes
    a refusal wait its ``Retry-After`` instead, as a well-behaved exporter does.
    """

    def __init__(
        self,
        url: Callable[[], str],
        *,
        senders: int = 4,
        batch: int = 50,
        retry_pause: float = 0.05,
        honour_retry_after: bool = False,
    ) -> None:
        self.tally = Tally()
        self._url = url
        self._batch = batch
        self._retry_pause = retry_pause
        self._honour_retry_after = honour_retry_after
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._send, daemon=True) for _ in range(senders)]

    def __enter__(self) -> SpanLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> Tally:
        self._stopping.set()
        for thread in self._threads:
            thread.join(60)
        return self.tally

    def acked_count(self) -> int:
        with self.tally.lock:
            return len(self.tally.acked)

    def _send(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stopping.is_set():
                spans = [make_span() for _ in range(self._batch)]
                keys = [(span.trace_id.hex(), span.span_id.hex()) for span in spans]
                body = export_request(spans).SerializeToString()
                while not self._stopping.is_set() and not self._post(client, body, keys):
                    pass

    def _post(self, client: httpx.Client, body: bytes, keys: list[SpanKey]) -> bool:
        """One attempt; True when the batch was acknowledged."""
        try:
            response = client.post(f"{self._url()}/v1/traces", content=body, headers=PROTOBUF)
        except httpx.TransportError as error:
            self.tally.record(type(error).__name__)
            time.sleep(self._retry_pause)
            return False
        if response.status_code == 200:
            self.tally.record("200", keys)
            return True
        self.tally.record(str(response.status_code))
        retry_after = response.headers.get("retry-after")
        if response.status_code in (429, 503) and retry_after is None:
            with self.tally.lock:
                self.tally.refusals_without_retry_after += 1
        pause = float(retry_after) if self._honour_retry_after and retry_after else self._retry_pause
        time.sleep(pause)
        return False


def stored_calls(engine: Engine) -> Counter[SpanKey]:
    with engine.connect() as connection:
        rows = connection.execute(select(Call.trace_id, Call.span_id))
        return Counter((row.trace_id, row.span_id) for row in rows)


def rollup_calls(engine: Engine) -> int:
    """Calls counted by the hourly rollup: equal to the stored calls unless a batch was counted twice."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.coalesce(func.sum(ClassHour.calls), 0))).scalar_one())


def assert_stored_once(engine: Engine, acked: set[SpanKey]) -> Counter[SpanKey]:
    """Every acknowledged span is stored, and nothing (call row or rollup count) twice."""
    stored = stored_calls(engine)
    lost = acked - set(stored)
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged spans are not in the store"
    assert max(stored.values(), default=1) == 1
    assert rollup_calls(engine) == sum(stored.values())
    return stored
