"""Judge-score distributions per class: the detector's current window against the scores before it.

A report, not a decision: acceptance outcomes drive the sequential test; continuous scores (embedding
similarity, pairwise preference) show *how* a class's answers moved, e.g. a slide that has not yet
turned into rejections.  Each window is capped to its most recent scores so the query stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from driftwatch.db.models import Evaluation
from driftwatch.routing.decision_schemas import ClassDetection
from driftwatch.stats.distributions import compare_scores

WINDOW_SCORES = 2_000


class ScoreDrift(BaseModel):
    """Mann-Whitney U (one-sided: current lower) and two-sample KS of judge scores."""

    tier: str
    current_count: int
    baseline_count: int
    current_median: float | None
    baseline_median: float | None
    median_difference: float | None = None
    probability_lower: float | None = Field(
        None, description="P(a current score < a baseline score); 0.5 means no shift."
    )
    mann_whitney_p: float | None = None
    ks_statistic: float | None = None
    ks_p: float | None = None
    message: str


def score_drifts(session: Session, detections: Iterable[ClassDetection]) -> dict[str, ScoreDrift]:
    """For each class with a running detector: scores since its window started vs scores before."""
    drifts = {}
    for detection in detections:
        if detection.window_start is None:
            continue
        current = _scores(session, detection.task_class, detection.tier, since=detection.window_start)
        baseline = _scores(session, detection.task_class, detection.tier, before=detection.window_start)
        if not current and not baseline:
            continue
        comparison = compare_scores(current, baseline)
        drifts[detection.task_class] = ScoreDrift(
            tier=detection.tier,
            current_count=comparison.current_count,
            baseline_count=comparison.baseline_count,
            current_median=comparison.current_median,
            baseline_median=comparison.baseline_median,
            median_difference=comparison.median_difference,
            probability_lower=comparison.probability_lower,
            mann_whitney_p=comparison.mann_whitney_p,
            ks_statistic=comparison.ks_statistic,
            ks_p=comparison.ks_p,
            message=comparison.message,
        )
    return drifts


def _scores(
    session: Session,
    task_class: str,
    tier: str,
    *,
    since: datetime | None = None,
    before: datetime | None = None,
) -> list[float]:
    query = select(Evaluation.score).where(
        Evaluation.task_class == task_class, Evaluation.tier == tier, Evaluation.score.is_not(None)
    )
    if since is not None:
        query = query.where(Evaluation.evaluated_at >= since)
    if before is not None:
        query = query.where(Evaluation.evaluated_at < before)
    newest = query.order_by(Evaluation.id.desc()).limit(WINDOW_SCORES)
    return [score for score in session.scalars(newest) if score is not None]
