"""The cache behind the store metrics, with a hand-driven clock: TTL, single flight, failures, stalls."""

from __future__ import annotations

import threading
import time

import pytest

from driftwatch.observability.snapshot_cache import ERROR, SPACING, TIMEOUT, Reading, SnapshotCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Store:
    """A read that counts itself, can fail, and can be held until released."""

    def __init__(self) -> None:
        self.reads = 0
        self.failing = False
        self.gate = threading.Event()
        self.gate.set()

    def read(self) -> int:
        self.gate.wait(10)
        if self.failing:
            raise OSError("connection refused")
        self.reads += 1
        return self.reads


def test_a_reading_is_reused_until_the_ttl_has_passed() -> None:
    clock, store = Clock(), Store()
    cache = SnapshotCache(store.read, ttl_seconds=15, timeout_seconds=5, monotonic=clock)

    first = cache.current()
    clock.now += 14.9
    reused = cache.current()
    clock.now += 0.1
    refreshed = cache.current()

    assert (first.value, reused.value, refreshed.value) == (1, 1, 2)
    assert reused.up and reused.age_seconds == pytest.approx(14.9)
    assert refreshed.age_seconds == 0


def test_a_failed_read_keeps_the_last_value_and_is_not_retried_before_the_ttl() -> None:
    clock, store = Clock(), Store()
    cache = SnapshotCache(store.read, ttl_seconds=15, timeout_seconds=5, monotonic=clock)
    cache.current()
    store.failing = True
    clock.now += 15

    failed = cache.current()
    clock.now += 1
    still = cache.current()
    store.failing = False
    clock.now += 14
    recovered = cache.current()

    assert (failed.value, failed.up, failed.failures[ERROR]) == (1, False, 1)
    assert (still.value, still.up, still.failures[ERROR]) == (1, False, 1)  # no new attempt yet
    assert (recovered.value, recovered.up) == (2, True)


def test_a_stalled_read_is_waited_for_at_most_the_timeout_and_runs_once() -> None:
    store = Store()  # on the real clock: a read is stalled once it has run past the timeout
    cache = SnapshotCache(store.read, ttl_seconds=0, timeout_seconds=0.05)
    cache.current()
    store.gate.clear()

    # A read counts as stalled past the timeout or 4x the last read's time, whichever is longer, and
    # the first read's time depends on how busy the machine is: scrape until the stall shows.
    scrapes: list[Reading[int]] = []
    started = time.monotonic()
    while time.monotonic() - started < 10 and (not scrapes or scrapes[-1].up):
        began = time.monotonic()
        scrapes.append(cache.current())
        assert time.monotonic() - began < 2  # never waited on for long
    stalled = scrapes[-1]
    again = [cache.current() for _ in range(2)]
    store.gate.set()
    deadline = threading.Event()
    while cache.current().value != 2 and not deadline.wait(0.01):
        pass

    assert [(reading.value, reading.up) for reading in (stalled, *again)] == [(1, False)] * 3
    assert again[-1].failures[TIMEOUT] == 1  # one stalled read, however many scrapes waited on it
    assert store.reads == 2


def test_nothing_is_served_before_the_first_successful_read() -> None:
    store = Store()
    store.failing = True
    cache = SnapshotCache(store.read, ttl_seconds=15, timeout_seconds=5, monotonic=Clock())

    reading = cache.current()

    assert (reading.value, reading.up, reading.age_seconds) == (None, False, None)


def test_a_store_whose_reads_take_long_is_read_less_often_and_not_called_stalled() -> None:
    store = Store()
    slow = 0.3

    def read() -> int:
        time.sleep(slow)
        return store.read()

    cache = SnapshotCache(read, ttl_seconds=0, timeout_seconds=0.05)
    while cache.current().value is None:
        time.sleep(0.05)
    right_after = cache.current()  # within SPACING x the last read: no new read
    time.sleep(SPACING * slow)
    refreshing = cache.current()  # a new read starts; the scrape gives up waiting, but it is usual

    assert (right_after.value, right_after.up) == (1, True)
    assert (refreshing.value, refreshing.up) == (1, True)
    assert refreshing.failures[TIMEOUT] == 1  # only the first read, which had no usual duration yet
