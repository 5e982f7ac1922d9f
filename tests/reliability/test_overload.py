"""Overload, short version (``bench/overload.py`` is the minute-long one): a real ``driftwatch serve``
with small limits gets far more than it can take from senders that retry at once, ignoring
Retry-After, for a few seconds. Every refusal is a 503 with Retry-After, memory stays bounded, every
acknowledged span is stored once, and the service answers normally again as soon as the load stops.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine

from tests.reliability.load import PROTOBUF, SpanLoad, assert_stored_once
from tests.reliability.serve import serving
from tests.support.otlp import export_request, make_span
from tests.support.patience import deadline

OVERLOAD_SECONDS = 8
LIMITS = {
    "DRIFTWATCH_MAX_CONCURRENT_REQUESTS": "3",
    "DRIFTWATCH_WRITE_QUEUE_SPANS": "600",
    "DRIFTWATCH_RETRY_AFTER_SECONDS": "1",
    "DRIFTWATCH_SCHEDULER": "false",
}
PEAK_RSS_GROWTH_MIB = 150  # a few requests' bodies and rows over the idle process; unbounded is GBs


def test_ten_times_the_load_is_refused_with_retry_after_and_loses_nothing(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    with serving(tmp_path, database_url, LIMITS) as serve:
        idle_rss = serve.peak_rss_mib()
        with SpanLoad(lambda: serve.base_url, senders=16, batch=200, retry_pause=0.01) as load:
            time.sleep(OVERLOAD_SECONDS)
            tally = load.stop()
        peak_rss = serve.peak_rss_mib()
        recovered_in = _seconds_until_accepted(serve.base_url)
        stderr = serve.stop()

    print(
        f"{dict(tally.statuses)}; RSS idle {idle_rss:.0f} MiB, peak {peak_rss:.0f}; recovered in {recovered_in:.2f} s"
    )
    refused = tally.statuses["503"] + tally.statuses["429"]
    answered = refused + tally.statuses["200"]
    assert refused > tally.statuses["200"] > 0, tally.statuses  # overloaded, yet still taking spans in
    assert tally.refusals_without_retry_after == 0
    assert sum(tally.statuses.values()) - answered <= 0.01 * answered, tally.statuses  # few resets
    assert peak_rss - idle_rss < PEAK_RSS_GROWTH_MIB, (idle_rss, peak_rss)
    assert recovered_in < 5
    assert_stored_once(engine, tally.acked)
    assert "Traceback" not in stderr


def _seconds_until_accepted(base_url: str) -> float:
    """How long after the load stops a fresh batch takes to get its 200 (retried on 503)."""
    body = export_request([make_span() for _ in range(10)]).SerializeToString()
    started = time.monotonic()
    while httpx.post(f"{base_url}/v1/traces", content=body, headers=PROTOBUF, timeout=30).status_code != 200:
        assert time.monotonic() - started < 30, "the service did not recover by itself"
        time.sleep(0.1)
    return time.monotonic() - started


REFUSED_BODY_BYTES = 3 * 1024 * 1024  # more than the kernel buffers between client and server hold


def test_a_refused_large_export_gets_its_503_and_retry_after_not_a_reset(
    database_url: str, tmp_path: Path
) -> None:
    """An exporter sending a body of megabytes to a full server must read the refusal's Retry-After.
    A server that answers without reading the body closes the connection on the unread bytes, and
    the client sees a reset instead (it retries at once, blind to Retry-After)."""
    settings = {"DRIFTWATCH_MAX_CONCURRENT_REQUESTS": "1", "DRIFTWATCH_SCHEDULER": "false"}
    with serving(tmp_path, database_url, settings) as serve, _request_in_progress(serve.base_url):
        answers = [_post_large_body(serve.base_url) for _ in range(5)]
    assert answers == [("503", "2")] * 5


@contextmanager
def _request_in_progress(base_url: str) -> Iterator[None]:
    """Hold the one request slot: an export whose body has started and not finished."""
    url = httpx.URL(base_url)
    with socket.create_connection((url.host, url.port or 80)) as held:
        held.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: "
            + url.netloc
            + b"\r\ncontent-type: application/x-protobuf\r\n"
            b"content-length: 1000\r\n\r\n" + b"\n" * 10
        )
        give_up = deadline(10)
        while _post_large_body(base_url, size=10)[0] != "503":
            assert time.monotonic() < give_up, "the held request never took the slot"
            time.sleep(0.05)
        yield


def _post_large_body(base_url: str, size: int = REFUSED_BODY_BYTES) -> tuple[str, str | None]:
    try:
        response = httpx.post(f"{base_url}/v1/traces", content=b"\n" * size, headers=PROTOBUF, timeout=30)
    except httpx.TransportError as error:
        return type(error).__name__, None
    return str(response.status_code), response.headers.get("retry-after")
