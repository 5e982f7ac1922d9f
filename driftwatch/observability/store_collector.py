"""A prometheus_client collector exposing the store's state (see ``store_snapshot``) on ``/metrics``.

Each metric family is always present, empty until the store has been read once, so the set of names a
scrape shows does not depend on the data.  Label values are task classes, tiers and fixed statuses or
kinds: their number grows with the classes a deployment has, never with traffic, and at most
``DRIFTWATCH_MAX_TASK_CLASSES`` classes (the busiest) get series of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Engine

from driftwatch.config import Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.models import SampleStatus
from driftwatch.observability.snapshot_cache import ERROR, TIMEOUT, Reading, SnapshotCache
from driftwatch.observability.store_snapshot import StoreSnapshot, read_snapshot
from driftwatch.stats.detector import Status

QUEUED = (SampleStatus.PENDING, SampleStatus.RUNNING)
FINISHED = (SampleStatus.DONE, SampleStatus.UNEVALUABLE, SampleStatus.SKIPPED_BUDGET, SampleStatus.FAILED)
DELIVERY_FINISHED = ("delivered", "failed")
DETECTOR_STATUSES = tuple(status.value for status in Status)
CLASS_TIER = ("task_class", "tier")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class StoreCollector:
    """Implements ``prometheus_client.registry.Collector``; register it on the app's registry."""

    def __init__(
        self,
        engine: Engine,
        policy: Policy,
        *,
        ttl_seconds: float,
        timeout_seconds: float,
        max_classes: int = 0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """``max_classes`` bounds the classes with series of their own (``store_snapshot``; 0: all)."""
        sessions = session_factory(engine)

        def read() -> StoreSnapshot:
            with sessions() as session:  # read only: closing rolls the transaction back
                return read_snapshot(session, policy, clock(), max_classes)

        self._cache = SnapshotCache(read, ttl_seconds=ttl_seconds, timeout_seconds=timeout_seconds)

    def describe(self) -> Iterable[Metric]:
        """The names, without reading the store (the registry checks them for clashes)."""
        return [*store_families(None), *health_families(Reading(None, False, None, None))]

    def collect(self) -> Iterator[Metric]:
        reading = self._cache.current()
        yield from store_families(reading.value)
        yield from health_families(reading)


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels or [])


def _counter(name: str, documentation: str, labels: list[str] | None = None) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, labels=labels or [])


def store_families(snapshot: StoreSnapshot | None) -> list[Metric]:
    return [*_shadow_families(snapshot), *_class_families(snapshot), *_decision_families(snapshot)]


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    return 0.0 if moment is None else max(0.0, (now - moment).total_seconds())


def _shadow_families(snapshot: StoreSnapshot | None) -> list[Metric]:
    finished = _counter(
        "driftwatch_shadow_samples_total",
        "Shadow samples that reached an end, by status (done = evaluated; failed = gave up after retries).",
        ["task_class", "status"],
    )
    queued = _gauge(
        "driftwatch_shadow_queue_samples", "Shadow samples waiting or being evaluated.", ["status"]
    )
    oldest = _gauge(
        "driftwatch_shadow_queue_oldest_seconds", "How long the oldest due pending shadow sample has waited."
    )
    spent = _counter(
        "driftwatch_shadow_spend_usd_total", "Dollars spent on shadow replays and judges.", ["task_class"]
    )
    today = _gauge(
        "driftwatch_shadow_spend_today_usd",
        "Dollars spent on shadow evaluation this UTC day.",
        ["task_class"],
    )
    budget = _gauge("driftwatch_shadow_budget_usd", "Daily shadow budget in dollars.", ["task_class"])
    families: list[Metric] = [finished, queued, oldest, spent, today, budget]
    if snapshot is None:
        return families
    waiting = dict.fromkeys(QUEUED, 0)
    for (task_class, status), count in sorted(snapshot.samples.items()):
        if status in waiting:
            waiting[SampleStatus(status)] += count
        else:
            finished.add_metric([task_class, status], count)
    for status, count in waiting.items():
        queued.add_metric([status.value], count)
    oldest.add_metric([], _seconds_since(snapshot.oldest_due_sample, snapshot.taken_at))
    for task_class, usd in sorted(snapshot.spend_total_usd.items()):
        spent.add_metric([task_class], usd)
    for task_class, usd in sorted(snapshot.spend_today_usd.items()):
        today.add_metric([task_class], usd)
    for task_class, usd in snapshot.budget_usd.items():
        budget.add_metric([task_class], usd)
    return families


def _class_gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return _gauge(name, documentation, list(CLASS_TIER))


def _class_families(snapshot: StoreSnapshot | None) -> list[Metric]:
    evaluations = _counter(
        "driftwatch_evaluations_total",
        "Evaluations stored (shadow and from elsewhere), by outcome.",
        [*CLASS_TIER, "outcome"],
    )
    acceptance = _class_gauge(
        "driftwatch_class_acceptance_rate",
        "Share of the decided evaluations of the last 24 hours judged acceptable.",
    )
    tier = _class_gauge(
        "driftwatch_class_tier",
        "The class's current tier; the value is its position in the policy's tiers (0 = cheapest).",
    )
    pinned = _gauge("driftwatch_class_pinned", "1 when a person pinned the class.", ["task_class"])
    folded = _gauge(
        "driftwatch_metrics_classes_folded",
        "Classes with calls beyond DRIFTWATCH_MAX_TASK_CLASSES (the busiest kept): their counts and spend "
        'are summed under task_class="overflow", their tier, budget and detector series left out.',
    )
    families: list[Metric] = [
        evaluations,
        acceptance,
        tier,
        pinned,
        folded,
        *_detector_families(snapshot),
        *_coverage_families(snapshot),
    ]
    if snapshot is None:
        return families
    folded.add_metric([], snapshot.classes_folded)
    for (task_class, on_tier, outcome), count in sorted(snapshot.evaluations.items()):
        evaluations.add_metric([task_class, on_tier, outcome], count)
    for (task_class, on_tier), window in sorted(snapshot.acceptance.items()):
        acceptance.add_metric([task_class, on_tier], window.rate)
    for route in snapshot.routes:
        tier.add_metric([route.task_class, route.tier], route.tier_rank)
        pinned.add_metric([route.task_class], float(route.pinned))
    return families


def _detector_families(snapshot: StoreSnapshot | None) -> list[Metric]:
    statistic = _class_gauge(
        "driftwatch_detector_log_statistic",
        "Natural log of the drift detector's statistic on the class's current tier.",
    )
    threshold = _gauge("driftwatch_detector_log_threshold", "Natural log of the detectors' alarm threshold.")
    samples = _class_gauge("driftwatch_detector_samples", "Outcomes the detector has seen since it started.")
    reference = _class_gauge(
        "driftwatch_detector_reference_rate", "Acceptance rate the detector tests against."
    )
    status = _gauge(
        "driftwatch_detector_status", "1 for the detector's current status, else 0.", [*CLASS_TIER, "status"]
    )
    families: list[Metric] = [statistic, threshold, samples, reference, status]
    if snapshot is None:
        return families
    threshold.add_metric([], snapshot.log_threshold)
    for reading in snapshot.detectors:
        labels = [reading.task_class, reading.tier]
        samples.add_metric(labels, reading.samples)
        if reading.log_statistic is not None:
            statistic.add_metric(labels, reading.log_statistic)
        if reading.reference_rate is not None:
            reference.add_metric(labels, reading.reference_rate)
        for name in DETECTOR_STATUSES:
            status.add_metric([*labels, name], float(name == reading.status))
    return families


def _coverage_families(snapshot: StoreSnapshot | None) -> list[Metric]:
    protected = _gauge(
        "driftwatch_class_protected",
        "1 when the class's detector would catch the policy's coverage drop within its window, else 0.",
        ["task_class"],
    )
    drop = _gauge(
        "driftwatch_class_min_detectable_drop",
        "Smallest drop in acceptance rate the class's detector would catch within the coverage window.",
        ["task_class"],
    )
    if snapshot is None:
        return [protected, drop]
    for reading in snapshot.coverage:
        protected.add_metric([reading.task_class], float(reading.protected))
        if reading.min_detectable_drop is not None:
            drop.add_metric([reading.task_class], reading.min_detectable_drop)
    return [protected, drop]


def _decision_families(snapshot: StoreSnapshot | None) -> list[Metric]:
    decisions = _counter("driftwatch_decisions_total", "Audit-log decisions, by kind.", ["kind"])
    deliveries = _counter(
        "driftwatch_webhook_deliveries_total", "Webhook deliveries finished, by status.", ["status"]
    )
    pending = _gauge(
        "driftwatch_webhook_deliveries_pending", "Webhook deliveries not yet delivered or given up."
    )
    attempts = _counter("driftwatch_webhook_attempts_total", "Webhook delivery attempts made.")
    oldest = _gauge(
        "driftwatch_webhook_oldest_pending_seconds", "Age of the oldest pending webhook delivery."
    )
    families: list[Metric] = [decisions, deliveries, pending, attempts, oldest]
    if snapshot is None:
        return families
    for kind, count in sorted(snapshot.decisions.items()):
        decisions.add_metric([kind], count)
    for name in DELIVERY_FINISHED:
        deliveries.add_metric([name], snapshot.deliveries.get(name, 0))
    pending.add_metric([], snapshot.deliveries.get("pending", 0))
    attempts.add_metric([], sum(snapshot.delivery_attempts.values()))
    oldest.add_metric([], _seconds_since(snapshot.oldest_pending_delivery, snapshot.taken_at))
    return families


def health_families(reading: Reading[StoreSnapshot]) -> list[Metric]:
    up = _gauge(
        "driftwatch_store_metrics_up",
        "1 when the store-derived metrics are fresh; 0 when the last read failed or is still running.",
    )
    errors = _counter(
        "driftwatch_store_metrics_errors_total",
        "Reads of the store for /metrics that failed or outlasted a scrape, by reason.",
        ["reason"],
    )
    age = _gauge("driftwatch_store_metrics_age_seconds", "Age of the store-derived metrics served.")
    took = _gauge(
        "driftwatch_store_metrics_read_seconds", "Duration of the last successful read of the store."
    )
    up.add_metric([], float(reading.up))
    for reason in (ERROR, TIMEOUT):
        errors.add_metric([reason], reading.failures.get(reason, 0))
    if reading.age_seconds is not None:
        age.add_metric([], reading.age_seconds)
    if reading.refresh_seconds is not None:
        took.add_metric([], reading.refresh_seconds)
    return [up, errors, age, took]
