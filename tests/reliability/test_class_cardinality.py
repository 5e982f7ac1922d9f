"""Bounded cardinality: a client that puts an id into the task class makes a class per call.

A real ``driftwatch serve`` (scheduler on, every job each second, shadow evaluation against a fake
provider) takes 50,000 spans of 50,000 distinct classes while the API and ``/metrics`` are polled:
ingest keeps committing (no run of refusals longer than a few seconds), the class list and the
metrics answer within a second and stay small, nothing acknowledged is lost, and SIGTERM stops the
server within seconds.  A store written before ``DRIFTWATCH_MAX_TASK_CLASSES`` existed, holding
20,000 classes each with a detector, stays as bounded: ``decide`` holds no transaction for long, and
every read model answers a bounded page.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection, Engine, event

from driftwatch.config import Policy, Settings
from driftwatch.scheduler.jobs import JobContext, run_job
from tests.fakes.openai_server import FakeOpenAIServer
from tests.reliability.load import PROTOBUF, SpanKey, assert_stored_once
from tests.reliability.serve import Serve
from tests.support.class_hours import seed_pre_cap_store
from tests.support.otlp import export_request, llm_attributes, make_span
from tests.support.patience import load_factor, patient

SPANS, BATCH, SENDERS = 50_000, 500, 2
JOBS = ("SAMPLE", "EVALUATE", "DECIDE", "RECOMMEND", "DELIVER")
SETTINGS = {f"DRIFTWATCH_{job}_INTERVAL_SECONDS": "1" for job in JOBS} | {
    "DRIFTWATCH_RETRY_AFTER_SECONDS": "1"
}
CAP = 1000  # DRIFTWATCH_MAX_TASK_CLASSES, the default
LONGEST_REFUSALS_SECONDS = 5.0
# The bound for GET /v1/classes and /metrics while the 50,000 spans go in, on a quiet machine;
# patient() stretches it by the load.  The class list used to read two windows of judge scores per
# class on the page and run scipy on them: 1.5-2.3 s here.  The score-drift job stores them now, and
# tests/policy/test_score_drift.py checks that a page's statements do not grow with its classes.
ANSWER_SECONDS = 1.0
# The suite runs in pytest-xdist workers: another worker's tests share the two CPUs with this test's
# serve, senders and store for its whole run, which the 1-minute load average only catches up with late.
# The answer bounds are stretched by the number of workers as well (2.8 s seen beside another worker).
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
# /v1/dashboard on a 20,000-class store still sums spend and savings over every class and tier for its
# totals: 0.9-1.2 s measured here (not yet the 200 ms issue 17 asks of dashboard reads).
DASHBOARD_AT_20K_SECONDS = 2.5
STOP_SECONDS = 6.0  # uvicorn's 3 s grace for open requests, then at most 3 s for running jobs
MAX_PAGE_BYTES = 1_000_000  # a page of 100 classes is ~100 KB; every class of 20,000 was ~30 MB
MAX_METRICS_BYTES = 3_000_000  # ~15 series per shown class; 264k series were 20 MB
PRE_CAP_CLASSES, PRE_CAP_EVALUATED = 20_000, 2_000


def _policy_file(folder: Path, premium: FakeOpenAIServer) -> Path:
    policy = {
        "providers": {"premium": {"kind": "openai", "model": "gpt-4o", "base_url": premium.base_url}},
        "shadow": {"rate": 0.05, "grace_seconds": 0, "judges": [{"kind": "exact"}]},
    }
    path = folder / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


@dataclass
class Answers:
    """Every export's answer in time order (True: acknowledged), and the spans acknowledged."""

    acked: set[SpanKey] = field(default_factory=set)
    timeline: list[tuple[float, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def longest_refusals(self) -> float:
        """The longest time from a refusal (or failed connection) to the next acknowledgement."""
        longest, first_refused = 0.0, None
        for moment, acknowledged in sorted(self.timeline):
            if not acknowledged and first_refused is None:
                first_refused = moment
            elif acknowledged and first_refused is not None:
                longest, first_refused = max(longest, moment - first_refused), None
        return longest


def _send(base_url: str, first_batch: int, batches: int, answers: Answers) -> None:
    """Batches of spans each of a class of its own, re-sent after a refusal as an exporter does."""
    with httpx.Client(timeout=30) as client:
        for number in range(first_batch, first_batch + batches):
            classes = range(number * BATCH, (number + 1) * BATCH)
            spans = [make_span(llm_attributes(task_class=f"request-{index}")) for index in classes]
            body = export_request(spans).SerializeToString()
            while True:
                try:
                    acknowledged = (
                        client.post(f"{base_url}/v1/traces", content=body, headers=PROTOBUF).status_code
                        == 200
                    )
                except httpx.TransportError:
                    acknowledged = False
                with answers.lock:
                    answers.timeline.append((time.monotonic(), acknowledged))
                    if acknowledged:
                        answers.acked.update((span.trace_id.hex(), span.span_id.hex()) for span in spans)
                if acknowledged:
                    break
                time.sleep(0.1)


class Poller:
    """Reads ``paths`` every half second; keeps each path's slowest answer and largest body."""

    def __init__(self, base_url: str, paths: tuple[str, ...]) -> None:
        self.slowest = dict.fromkeys(paths, 0.0)
        self.largest = dict.fromkeys(paths, 0)
        self._base_url = base_url
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        self._thread.join(60)

    def _poll(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self._stopping.is_set():
                for path in self.slowest:
                    self.read(client, path)
                self._stopping.wait(0.5)

    def read(self, client: httpx.Client, path: str) -> httpx.Response:
        started = time.monotonic()
        response = client.get(f"{self._base_url}{path}")
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        self.slowest[path] = max(self.slowest[path], time.monotonic() - started)
        self.largest[path] = max(self.largest[path], len(response.content))
        return response


def _metric_classes(exposition: str) -> set[str]:
    return {
        sample.labels["task_class"]
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if "task_class" in sample.labels
    }


def _stop_seconds(serve: Serve) -> float:
    started = time.monotonic()
    serve.stop()
    return time.monotonic() - started


def test_fifty_thousand_classes_keep_ingest_committing_and_every_answer_small(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    with FakeOpenAIServer(reply="30 days.") as premium:
        settings = {"DRIFTWATCH_POLICY_FILE": str(_policy_file(tmp_path, premium)), **SETTINGS}
        serve = Serve(tmp_path, database_url, settings).start()
        try:
            answers = Answers()
            share = SPANS // BATCH // SENDERS
            senders = [
                threading.Thread(target=_send, args=(serve.base_url, index * share, share, answers))
                for index in range(SENDERS)
            ]
            with Poller(serve.base_url, ("/v1/classes", "/metrics")) as poller:
                started = time.monotonic()
                for sender in senders:
                    sender.start()
                for sender in senders:
                    sender.join(300)
                sent_in = time.monotonic() - started
                with httpx.Client(timeout=60) as client:
                    classes = poller.read(client, "/v1/classes").json()
                    exposition = poller.read(client, "/metrics").text
            stopped_in = _stop_seconds(serve)
        finally:
            serve.kill()

    print(
        f"{len(answers.acked)} spans in {sent_in:.1f} s, {len(answers.timeline)} answers, longest refusals "
        f"{answers.longest_refusals():.2f} s; slowest {poller.slowest}, largest {poller.largest}; "
        f"stopped in {stopped_in:.2f} s; load factor {load_factor():.1f}"
    )
    assert len(answers.acked) == SPANS
    assert answers.longest_refusals() < LONGEST_REFUSALS_SECONDS
    for path, seconds in poller.slowest.items():
        assert seconds < patient(ANSWER_SECONDS) * WORKERS, (path, seconds)
    assert poller.largest["/v1/classes"] < MAX_PAGE_BYTES
    assert poller.largest["/metrics"] < MAX_METRICS_BYTES
    assert classes["total_classes"] <= CAP + 1 and len(classes["classes"]) == 100  # the cap, and overflow
    assert len(_metric_classes(exposition)) <= CAP + 1
    assert stopped_in < patient(STOP_SECONDS)
    assert len(assert_stored_once(engine, answers.acked)) == SPANS


@dataclass
class Commits:
    durations: list[float] = field(default_factory=list)


@contextmanager
def commits(engine: Engine) -> Iterator[Commits]:
    """How long each transaction that committed on ``engine`` was open (from its first statement)."""
    seen, opened = Commits(), {}

    def begin(connection: Connection) -> None:
        opened[id(connection)] = time.monotonic()

    def commit(connection: Connection) -> None:
        if (started := opened.pop(id(connection), None)) is not None:
            seen.durations.append(time.monotonic() - started)

    def rollback(connection: Connection) -> None:
        # A read-only session ends in a rollback: forget its start, or a later transaction on a
        # connection object at the same address (ids are reused) would seem to have begun with it.
        opened.pop(id(connection), None)

    listeners = {"begin": begin, "commit": commit, "rollback": rollback}
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    try:
        yield seen
    finally:
        for name, listener in listeners.items():
            event.remove(engine, name, listener)


# Seeding 20,000 classes and deciding on 2,000 of them took over the suite's 300 s on PostgreSQL at a
# load of 10 per core (about 150 ms a class there): the hang guard stretches with the load, as waits do.
@pytest.mark.timeout(patient(300))
def test_a_store_of_twenty_thousand_classes_from_before_the_cap_stays_bounded(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    names = [f"request-{index:05d}" for index in range(PRE_CAP_CLASSES)]
    seed_pre_cap_store(engine, names, names[:PRE_CAP_EVALUATED])
    context = JobContext(engine, Settings(), Policy())

    with commits(engine) as decide:
        first = run_job("decide", context)
        idle = run_job("decide", context)

    print(f"decide: {first!r}, then {idle!r}; longest transaction {max(decide.durations):.3f} s")
    assert first.startswith(f"{PRE_CAP_EVALUATED} outcomes into {PRE_CAP_EVALUATED} detectors")
    assert idle.startswith("0 outcomes into 0 detectors")  # was "0 outcomes into 20000 detectors"
    assert max(decide.durations) < patient(ANSWER_SECONDS) * WORKERS

    paths = ("/v1/classes", "/v1/dashboard", "/v1/policy", "/metrics")
    serve = Serve(tmp_path, database_url, SETTINGS).start()
    try:
        poller = Poller(serve.base_url, paths)
        with httpx.Client(timeout=60) as client:
            for path in paths:  # the first /metrics read of the store may take up to its 2 s timeout
                poller.read(client, path)
            poller.slowest = dict.fromkeys(paths, 0.0)
            for _ in range(3):
                for path in paths:
                    poller.read(client, path)
            exposition = client.get(f"{serve.base_url}/metrics").text
            listed = client.get(f"{serve.base_url}/v1/classes").json()
            routed = client.get(f"{serve.base_url}/v1/policy").json()
        stopped_in = _stop_seconds(serve)
    finally:
        serve.kill()

    print(f"slowest {poller.slowest}, largest {poller.largest}; stopped in {stopped_in:.2f} s")
    for path in paths:
        limit = DASHBOARD_AT_20K_SECONDS if path == "/v1/dashboard" else ANSWER_SECONDS
        assert poller.slowest[path] < patient(limit) * WORKERS, (path, poller.slowest[path])
        assert poller.largest[path] < (MAX_METRICS_BYTES if path == "/metrics" else MAX_PAGE_BYTES), path
    assert (listed["total_classes"], listed["next_offset"]) == (PRE_CAP_CLASSES, 100)
    assert len(routed["classes"]) == CAP and routed["unlisted_classes"] == PRE_CAP_CLASSES - CAP
    assert len(_metric_classes(exposition)) <= CAP + 1  # and overflow
    assert stopped_in < patient(STOP_SECONDS)
