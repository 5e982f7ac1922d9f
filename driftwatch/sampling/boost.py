"""The shadow-rate boost after a model change: which watches are on, and what they have drawn.

The sentinel (:mod:`driftwatch.policy.model_change`) starts and ends a watch in ``model_watch``;
the sampling job reads it here to sample the watched class harder, and the sentinel reads the same
count to end the watch, so both agree on when the boost has drawn its samples.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from driftwatch.db.models import ModelWatch, ShadowSample


@dataclass(slots=True)
class Boost:
    """A boost in force for one class and tier: ``rate`` for calls from ``from_call_id`` on, while
    ``left`` samples remain to draw."""

    rate: float
    from_call_id: int
    left: int

    def rate_for(self, call_id: int, base_rate: float) -> float:
        return self.rate if self.left > 0 and call_id >= self.from_call_id else base_rate


def boosted_rate(rate: float, factor: float) -> float:
    return min(1.0, rate * factor)


def active_watches(session: Session, task_classes: Collection[str] | None = None) -> list[ModelWatch]:
    """Watches started and not ended (of ``task_classes`` only, when given): a handful at a time."""
    query = select(ModelWatch).where(
        ModelWatch.watch_started_at.is_not(None), ModelWatch.watch_ended_at.is_(None)
    )
    watches = list(session.scalars(query))
    return watches if task_classes is None else [w for w in watches if w.task_class in task_classes]


def drawn_since_change(session: Session, watch: ModelWatch) -> int:
    """Forward samples of the watched class and tier drawn since its watch started."""
    return (
        session.scalar(
            select(func.count())
            .select_from(ShadowSample)
            .where(
                ShadowSample.task_class == watch.task_class,
                ShadowSample.tier == watch.tier,
                ShadowSample.direction == "forward",
                ShadowSample.call_id >= (watch.boost_from_call_id or 0),
            )
        )
        or 0
    )


def boosts(
    session: Session, task_classes: Collection[str], rate_for: dict[str, float]
) -> dict[tuple[str, str], Boost]:
    """The boosts in force for ``task_classes``, keyed by class and tier (``rate_for``: base rates)."""
    found = {}
    for watch in active_watches(session, task_classes):
        if not watch.boost_factor or not watch.boost_samples:
            continue
        left = watch.boost_samples - drawn_since_change(session, watch)
        rate = boosted_rate(rate_for[watch.task_class], watch.boost_factor)
        found[(watch.task_class, watch.tier)] = Boost(rate, watch.boost_from_call_id or 0, left)
    return found
