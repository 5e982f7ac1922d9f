"""The last good reading of something slow, refreshed at most once per TTL, never waited on for long.

``/metrics`` reads the store at scrape time.  Prometheus (and every replica's scraper) may ask often,
the store may be large, and it may be slow or down: so a reading is reused for ``ttl`` seconds, a
refresh runs on its own thread (one at a time, however many scrapes arrive), and a scrape waits for it
at most ``timeout`` seconds before answering with the last good reading, marked not up.  A failed
refresh is not retried before ``ttl`` has passed, so an outage does not turn into a query storm.

A store large enough that one read takes long sets its own pace: a read is not repeated within
``SPACING`` times its last duration (a 6 s read, every 24 s at most), and a read only counts as stalled
(not up, a timeout) once it has run ``SPACING`` times as long as the last one, or ``timeout`` if longer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")

ERROR, TIMEOUT = "error", "timeout"
SPACING = 4.0


@dataclass(frozen=True, slots=True)
class Reading(Generic[T]):
    """What one scrape serves: the last good value (None before the first success) and its health."""

    value: T | None
    up: bool  # the latest refresh succeeded and this scrape did not give up waiting for one
    age_seconds: float | None  # since the value was read; None without a value
    refresh_seconds: float | None  # how long the last successful refresh took
    failures: dict[str, int] = field(default_factory=dict)  # refreshes that failed, by ERROR / TIMEOUT


class SnapshotCache(Generic[T]):
    def __init__(
        self,
        read: Callable[[], T],
        *,
        ttl_seconds: float,
        timeout_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._ttl = ttl_seconds
        self._timeout = timeout_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._value: T | None = None
        self._value_at: float | None = None
        self._refresh_seconds: float | None = None
        self._started_at: float | None = None
        self._last_ok = False
        self._running: threading.Event | None = None
        self._timeout_counted = False
        self._failures = {ERROR: 0, TIMEOUT: 0}

    def current(self) -> Reading[T]:
        with self._lock:
            if self._running is None and self._due():
                self._start()
            running = self._running
        gave_up = running is not None and not running.wait(self._timeout) and self._stalled()
        with self._lock:
            if gave_up and self._running is running and not self._timeout_counted:
                self._timeout_counted = True  # once per refresh, however many scrapes wait on it
                self._failures[TIMEOUT] += 1
            now = self._monotonic()
            return Reading(
                value=self._value,
                up=self._last_ok and not gave_up,
                age_seconds=None if self._value_at is None else now - self._value_at,
                refresh_seconds=self._refresh_seconds,
                failures=dict(self._failures),
            )

    def _due(self) -> bool:
        spacing = max(self._ttl, SPACING * (self._refresh_seconds or 0.0))
        return self._started_at is None or self._monotonic() - self._started_at >= spacing

    def _stalled(self) -> bool:
        with self._lock:
            if self._started_at is None:
                return False
            usual = max(self._timeout, SPACING * (self._refresh_seconds or 0.0))
            return self._monotonic() - self._started_at >= usual

    def _start(self) -> None:
        done = threading.Event()
        self._running, self._timeout_counted = done, False
        self._started_at = self._monotonic()
        threading.Thread(target=self._refresh, args=(done,), name="store-metrics", daemon=True).start()

    def _refresh(self, done: threading.Event) -> None:
        started = self._monotonic()
        try:
            value = self._read()
        except Exception as error:  # any failure of the store: keep serving the last good reading
            logger.warning("store metrics refresh failed: %s: %s", type(error).__name__, error)
            with self._lock:
                self._last_ok = False
                self._failures[ERROR] += 1
        else:
            with self._lock:
                finished = self._monotonic()
                self._value, self._value_at, self._last_ok = value, finished, True
                self._refresh_seconds = finished - started
        finally:
            with self._lock:
                self._running = None
            done.set()
