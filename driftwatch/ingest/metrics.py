"""Prometheus metrics, on a registry per app instance so several apps (tests, replicas) never clash."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.spans_received = Counter(
            "driftwatch_ingest_spans_received",
            "Spans received on /v1/traces, by what they turned out to be.",
            ["kind"],  # llm, other, shadow, rejected
            registry=self.registry,
        )
        self.log_records_received = Counter(
            "driftwatch_ingest_log_records_received",
            "Log records received on /v1/logs, by what they turned out to be.",
            ["kind"],  # content, empty, other, shadow, not_captured, rejected
            registry=self.registry,
        )
        self.content_events_stored = Counter(
            "driftwatch_ingest_content_events_stored",
            "New GenAI content events committed to wait for their call (re-sent ones excluded).",
            registry=self.registry,
        )
        self.calls_content_filled = Counter(
            "driftwatch_ingest_calls_content_filled",
            "Calls whose prompt or completion was filled from content events by the ingest writer.",
            registry=self.registry,
        )
        self.calls_overflowed = Counter(
            "driftwatch_ingest_calls_overflowed",
            "Calls stored under the class overflow: their class was first seen beyond "
            "DRIFTWATCH_MAX_TASK_CLASSES.",
            registry=self.registry,
        )
        self.calls_stored = Counter(
            "driftwatch_ingest_calls_stored",
            "New call rows committed (duplicates excluded).",
            registry=self.registry,
        )
        self.calls_duplicate = Counter(
            "driftwatch_ingest_calls_duplicate",
            "LLM-call spans ignored because their trace id + span id was already stored.",
            registry=self.registry,
        )
        self.requests_refused = Counter(
            "driftwatch_ingest_requests_refused",
            "OTLP requests answered with an error status, by status.",
            ["status"],
            registry=self.registry,
        )
        self.write_queue_spans = Gauge(
            "driftwatch_ingest_write_queue_spans",
            "Spans and log records waiting for or in a commit.",
            registry=self.registry,
        )
        self.write_seconds = Histogram(
            "driftwatch_ingest_write_seconds",
            "Time of one writer transaction (insert + rollup + commit).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        # Only where the runner runs in this process (serve's scheduler); `driftwatch evaluate` workers
        # have no /metrics, and the store-derived shadow metrics cover their work.
        self.shadow_evaluation_seconds = Histogram(
            "driftwatch_shadow_evaluation_seconds",
            "Time of one shadow evaluation run by this process (replay and judges), by outcome.",
            ["outcome"],  # acceptable, unacceptable, undecided, retried, failed
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120),
            registry=self.registry,
        )

    def shadow_evaluation_finished(self, outcome: str, seconds: float) -> None:
        """The runner's ``ShadowObserver``: one evaluation that called the provider ended."""
        self.shadow_evaluation_seconds.labels(outcome=outcome).observe(seconds)
