"""Judge-score distributions per class: the detector's current window against the scores before it.

A report, not a decision: acceptance outcomes drive the sequential test; continuous scores (embedding
similarity, pairwise preference) show *how* a class's answers moved, e.g. a slide that has not yet
turned into rejections.  Each window is capped to its most recent scores.

The ``score-drift`` job computes the comparison and stores it (``score_drift``, one row per class and
tier); ``GET /v1/classes`` only reads those rows.  Reading up to 4,000 scores and running two tests
per class on every request took 0.9-2.4 s a page.  A run recomputes only the detectors whose window
started since their row was written, or that got scores past the ones their row read, in chunks of
``CHUNK_CLASSES`` per short transaction; a class without scores costs one row and no query of its
own.  The report is as old as the job's last run (the decide interval by default), and says when.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import Engine, and_, exists, func, select, tuple_
from sqlalchemy.orm import Session

from driftwatch.db.dialect_insert import dialect_insert
from driftwatch.db.engine import session_factory
from driftwatch.db.job_states import job_state, job_state_cursor
from driftwatch.db.models import DetectorRow, Evaluation, ScoreDriftRow
from driftwatch.detection.detectors import LISTED
from driftwatch.routing.decision_schemas import ClassDetection
from driftwatch.stats.distributions import ScoreComparison, compare_scores

JOB_NAME = "score-drift"
WINDOW_SCORES = 2_000
CHUNK_CLASSES = 50  # detectors per transaction: a few hundred ms of reads, a few ms of writing
# On PostgreSQL evaluations commit concurrently, so ids just below the cursor may become visible
# after a run; a run looks this far back and recomputes only rows that have not read those ids.
LOOKBACK_IDS = 5_000
MANY_CLASSES = 500  # more classes than this: read every row instead of an IN list


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
    computed_at: datetime | None = Field(
        None, description="When the score-drift job computed this (it runs on the decide interval)."
    )


def stored_drifts(session: Session, detections: Iterable[ClassDetection]) -> dict[str, ScoreDrift]:
    """Each class's stored comparison for its detector's current window (reads only): none for a
    class without scores, or whose detector started a window the job has not computed yet."""
    windows = {
        (detection.task_class, detection.tier): detection.window_start
        for detection in detections
        if detection.window_start is not None
    }
    query = select(ScoreDriftRow)
    if len(windows) <= MANY_CLASSES:
        query = query.where(ScoreDriftRow.task_class.in_(sorted({name for name, _ in windows})))
    drifts = {}
    for row in session.scalars(query):
        if windows.get((row.task_class, row.tier)) != row.window_start:
            continue
        if row.current_count or row.baseline_count:
            drifts[row.task_class] = ScoreDrift.model_validate(row, from_attributes=True)
    return drifts


@dataclass(slots=True)
class ScoreDriftResult:
    detectors: int = 0
    with_scores: int = 0

    def summary(self) -> str:
        return f"score drift of {self.detectors} detectors, {self.with_scores} with scores"


@dataclass(frozen=True, slots=True)
class Window:
    task_class: str
    tier: str
    start: datetime


def run_score_drift(
    engine: Engine,
    now: datetime,
    *,
    stopping: Callable[[], bool] = lambda: False,
    chunk: int = CHUNK_CLASSES,
) -> ScoreDriftResult:
    """Recompute the rows that are out of date (module doc), ``chunk`` detectors per transaction: the
    scores are read and compared first, then the rows written in a transaction that holds the job's
    ``job_state`` row, so two replicas take turns.  ``stopping`` is asked between chunks; a run
    stopped early leaves its cursor, and the next one picks up the rest."""
    sessions = session_factory(engine)
    with sessions() as session:
        after = job_state_cursor(session, JOB_NAME)
        work, newest = _out_of_date(session, after)
    result = ScoreDriftResult()
    for start in range(0, len(work), chunk):
        if stopping():
            return result
        with sessions() as session:
            rows = _computed(session, work[start : start + chunk], now)
        with sessions.begin() as session:
            job_state(session, JOB_NAME)  # first statement: on SQLite it takes the write lock at once
            _write(session, rows)
        result.detectors += len(rows)
        result.with_scores += sum(1 for row in rows if row["current_count"] or row["baseline_count"])
    with sessions.begin() as session:
        lock = job_state(session, JOB_NAME)
        lock.cursor = max(lock.cursor, newest)
    return result


def _out_of_date(session: Session, after_id: int) -> tuple[list[Window], int]:
    """The listed detectors (every tier) whose row is missing, is of an earlier window, or has not
    read the newest scores of its class and tier; and the newest evaluation id (the next cursor)."""
    newest = session.scalar(select(func.max(Evaluation.id))) or 0
    scored = {
        (task_class, tier): highest
        for task_class, tier, highest in session.execute(
            select(Evaluation.task_class, Evaluation.tier, func.max(Evaluation.id))
            .where(Evaluation.id > after_id - LOOKBACK_IDS, Evaluation.id <= newest)
            .where(Evaluation.score.is_not(None))
            .group_by(Evaluation.task_class, Evaluation.tier)
        )
    }
    detectors = session.execute(
        select(
            DetectorRow.task_class,
            DetectorRow.tier,
            DetectorRow.started_at,
            ScoreDriftRow.window_start,
            ScoreDriftRow.newest_evaluation_id,
        )
        .outerjoin(
            ScoreDriftRow,
            and_(ScoreDriftRow.task_class == DetectorRow.task_class, ScoreDriftRow.tier == DetectorRow.tier),
        )
        .where(DetectorRow.feed == LISTED)
        .order_by(DetectorRow.task_class, DetectorRow.tier)
    )
    work = [
        Window(task_class, tier, started_at)
        for task_class, tier, started_at, computed_for, read_through in detectors
        if computed_for != started_at or scored.get((task_class, tier), 0) > (read_through or 0)
    ]
    return work, max(newest, after_id)


def _computed(session: Session, windows: list[Window], now: datetime) -> list[dict[str, object]]:
    """The rows for ``windows``: one query finds those with any score, then two per such window."""
    keys = [(window.task_class, window.tier) for window in windows]
    has_scores = exists().where(
        Evaluation.task_class == DetectorRow.task_class,
        Evaluation.tier == DetectorRow.tier,
        Evaluation.score.is_not(None),
    )
    scored = {
        (task_class, tier)
        for task_class, tier in session.execute(
            select(DetectorRow.task_class, DetectorRow.tier)
            .where(DetectorRow.feed == LISTED, tuple_(DetectorRow.task_class, DetectorRow.tier).in_(keys))
            .where(has_scores)
        )
    }
    rows = []
    for window in windows:
        current, baseline = [], []
        if (window.task_class, window.tier) in scored:
            current = _scores(session, window, since=True)
            baseline = _scores(session, window, since=False)
        comparison = compare_scores([score for _, score in current], [score for _, score in baseline])
        read_through = max([ids[0][0] for ids in (current, baseline) if ids], default=0)
        rows.append(_row(window, comparison, read_through, now))
    return rows


def _scores(session: Session, window: Window, *, since: bool) -> list[tuple[int, float]]:
    """(id, score) of the window's newest scores, newest first: from its start on, or before it."""
    bound = Evaluation.evaluated_at >= window.start if since else Evaluation.evaluated_at < window.start
    newest = (
        select(Evaluation.id, Evaluation.score)
        .where(Evaluation.task_class == window.task_class, Evaluation.tier == window.tier)
        .where(Evaluation.score.is_not(None), bound)
        .order_by(Evaluation.id.desc())
        .limit(WINDOW_SCORES)
    )
    return [(identifier, score) for identifier, score in session.execute(newest) if score is not None]


def _row(window: Window, comparison: ScoreComparison, read_through: int, now: datetime) -> dict[str, object]:
    return {
        "task_class": window.task_class,
        "tier": window.tier,
        "window_start": window.start,
        "newest_evaluation_id": read_through,
        "computed_at": now,
        "current_count": comparison.current_count,
        "baseline_count": comparison.baseline_count,
        "current_median": comparison.current_median,
        "baseline_median": comparison.baseline_median,
        "median_difference": comparison.median_difference,
        "probability_lower": comparison.probability_lower,
        "mann_whitney_p": comparison.mann_whitney_p,
        "ks_statistic": comparison.ks_statistic,
        "ks_p": comparison.ks_p,
        "message": comparison.message,
    }


def _write(session: Session, rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    insert = dialect_insert(session, ScoreDriftRow).values(rows)
    kept = ("task_class", "tier")
    changed = {name: insert.excluded[name] for name in rows[0] if name not in kept}
    session.execute(insert.on_conflict_do_update(index_elements=list(kept), set_=changed))
