"""What ``GET /v1/classes`` and the dashboard show per class: volume, evaluations, shadowing, detection.

A read model over the stages: calls (volume), evaluations (outcomes), the shadow queue and budget,
routing and the detectors.  It writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from driftwatch.calls import repository as calls_repository
from driftwatch.calls.repository import ClassSummary
from driftwatch.config import Policy
from driftwatch.detection.detectors import OTHER, class_statuses
from driftwatch.detection.score_drift import stored_drifts
from driftwatch.evaluations import repository
from driftwatch.overview.coverage import coverage_of
from driftwatch.overview.quality import (
    ClassQuality,
    ShadowStatus,
    class_evaluations,
    empty_evaluations,
    sample_counts,
)
from driftwatch.sampling.allocation_view import stored_allocation
from driftwatch.shadow import budget

CLASSES_PER_PAGE, MAX_CLASSES_PER_PAGE = 100, 1000


class Overview(NamedTuple):
    """A page of classes: volume per class and tier, quality per class, and how many classes there are."""

    volume: list[ClassSummary]
    quality: list[ClassQuality]
    total: int

    def next_offset(self, offset: int) -> int | None:
        """The ``offset`` of the next page; None on the last."""
        end = offset + len(self.quality)
        return end if end < self.total else None

    def notices(self, offset: int) -> list[str]:
        """Says that the list is a page, and how to get the rest, when there is more than one."""
        following = self.next_offset(offset)
        if following is None and offset == 0:
            return []
        shown = f"classes {offset + 1} to {offset + len(self.quality)}" if self.quality else "no classes"
        text = f"showing {shown} of {self.total}, busiest first (calls in the window)"
        return [f"{text}; ask with offset={following} for the next ones" if following is not None else text]


def class_overview(
    session: Session,
    policy: Policy,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    *,
    with_scores: bool = True,
    offset: int = 0,
    limit: int | None = None,
    task_class: str | None = None,
) -> Overview:
    """Volume per class and tier, and per class what the evaluations say and how shadowing goes, for
    the classes ``offset`` to ``offset + limit`` (``limit`` None: all) in their order: busiest first
    (calls in the window), then by name; classes without calls in the window (only evaluations,
    samples or spend) after those, by name.  ``task_class`` narrows the list to that one class.

    Every number comes from an aggregate query (rollup, GROUP BY, one day's spend rows), so this
    stays fast on stores of millions of calls and evaluations, and the per-class parts (detectors,
    scores, the answer itself) are read for the page's classes only, so a store of tens of thousands
    of classes answers a page as quickly as one of a hundred.  ``since``/``until`` bound the volume
    (by hour) and the evaluations (by ``evaluated_at``); sample counts are the queue as it stands,
    spend is today's (UTC).  ``with_scores=False`` leaves out the judge-score comparison (``scores``,
    as the ``score-drift`` job last stored it).
    """
    traffic = calls_repository.class_traffic(session, since, until)
    outcomes = repository.outcome_counts(session, since, until)
    samples = repository.sample_counts(session)
    day = budget.budget_day(now)
    spend = budget.spend_on(session, day)
    busy = [name for name, _ in traffic]
    ordered = busy + sorted({*(row.task_class for row in outcomes), *samples, *spend} - set(busy))
    if task_class is not None:
        ordered = [name for name in ordered if name == task_class]
    classes = ordered[offset:] if limit is None else ordered[offset : offset + limit]
    # Every class: no filter (an IN list of every name could pass SQLite's limit on parameters).
    page = None if len(classes) == len(ordered) and task_class is None else set(classes)
    rank = {name: position for position, name in enumerate(classes)}
    evaluations = class_evaluations([row for row in outcomes if row.task_class in rank], policy.tiers)
    volume = [
        row for row in calls_repository.class_summaries(session, since, until, page) if row.task_class in rank
    ]
    volume.sort(key=lambda row: rank[row.task_class])  # stable: tiers stay in name order
    detection = {status.task_class: status for status in class_statuses(session, policy, only=page)}
    other = {status.task_class: status for status in class_statuses(session, policy, OTHER, page)}
    scores = stored_drifts(session, detection.values()) if with_scores else {}
    allocated = {}
    if policy.shadow.any_auto:
        allocated = {view.task_class: view for view in stored_allocation(session, page)}
    coverage = coverage_of(session, page)
    quality = []
    for task_class in classes:
        spent, reserved = spend.get(task_class, (0.0, 0.0))
        auto = policy.shadow.is_auto(task_class)
        allocation = allocated.get(task_class) if auto else None
        shadow = ShadowStatus(
            rate=allocation.rate if allocation else policy.shadow.rate_for(task_class),
            rate_setting="auto" if auto else "fixed",
            allocation=allocation,
            daily_budget_usd=policy.shadow.budget_for(task_class),
            day=day,
            spent_today_usd=spent,
            reserved_today_usd=reserved,
            samples=sample_counts(samples.get(task_class, {})),
            coverage_rate=coverage[task_class].coverage_rate if task_class in coverage else None,
        )
        evaluation = evaluations.get(task_class) or empty_evaluations()
        quality.append(
            ClassQuality(
                task_class=task_class,
                evaluation=evaluation,
                shadow=shadow,
                detection=detection.get(task_class),
                other_sources_detection=other.get(task_class),
                scores=scores.get(task_class),
                coverage=coverage.get(task_class),
            )
        )
    return Overview(volume, quality, len(ordered))
