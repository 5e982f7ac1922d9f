"""While a model change is under watch, a class's confidence-sequence baseline stays the pre-change one:
post-change outcomes are tested against it, not taken into it; once the watch ends it learns again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from driftwatch.config import DecisionConfig, Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.models import ModelWatch
from tests.policy.support import NOW, decide, detector, seed, stream

POLICY = Policy(decisions=DecisionConfig(min_baseline_samples=300, baseline_samples=2_000))


def _watch(engine: Engine, task_class: str, *, ended: bool = False) -> None:
    with session_factory(engine).begin() as session:
        watch = session.get(ModelWatch, (task_class, "cheap")) or ModelWatch(
            task_class=task_class, tier="cheap", state="{}", calls=0, updated_at=NOW
        )
        watch.watch_started_at = NOW - timedelta(hours=2)
        watch.watch_ended_at = NOW if ended else None
        session.merge(watch)


def test_a_watched_class_keeps_its_pre_change_reference_and_learns_again_after_the_watch(
    engine: Engine,
) -> None:
    for task_class in ("watched", "control"):
        seed(engine, task_class, stream(0.85, 400, seed=1))
    decide(engine, POLICY)
    before = detector(engine, "watched")
    assert before is not None and before.reference_rate is not None and before.baseline_total == 400

    _watch(engine, "watched")
    for task_class in ("watched", "control"):
        seed(engine, task_class, stream(0.97, 1_000, seed=2))  # the new model answers better
    decide(engine, POLICY)
    watched, control = detector(engine, "watched"), detector(engine, "control")
    assert watched is not None and control is not None
    assert (watched.baseline_total, watched.reference_rate) == (400, before.reference_rate)
    assert watched.samples == control.samples == 1_100  # every outcome tested, against the old reference
    assert control.baseline_total == 1_400
    assert control.reference_rate is not None and control.reference_rate > before.reference_rate

    _watch(engine, "watched", ended=True)
    seed(engine, "watched", stream(0.97, 100, seed=3))
    decide(engine, POLICY)
    after = detector(engine, "watched")
    assert after is not None and after.baseline_total == 500
