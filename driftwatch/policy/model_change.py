"""The ``watch-models`` job: the model-change sentinel over new calls (the rule is in :mod:`sentinel`).

It walks ``call`` by id from its own cursor in ``job_state``, a batch per transaction, and feeds each
traffic call (not driftwatch's own, not failed, on a tier of the policy) to its class and tier's
:class:`~driftwatch.policy.sentinel.Served`, kept in ``model_watch``.  Ingest does none of this: a
span is acknowledged as soon as it is stored, and the sentinel reads a few columns of the new rows on
the sampling job's interval.  On PostgreSQL a call id committed out of order behind the cursor is not
looked at again; the rule reads shares of a window, which one missing call does not move.

A change the rule confirms becomes, in the same transaction, a ``model.changed`` decision (the audit
log, the dashboard's marker) with an outbox event of the same name, and starts a *watch* of the class
on that tier: the sampling job multiplies the class's shadow rate by
``shadow.boost_on_model_change.factor`` for the calls from the first call of the new value on, and a
confidence-sequence baseline takes no more outcomes (:func:`baseline_frozen`), so the reference stays
the pre-change one.  The watch ends when ``samples`` forward samples were drawn since it started, or
after ``max_days``; its end is a ``model.watch_ended`` decision.  A second change during a watch
starts a new watch (a new decision and event); the baseline stays frozen throughout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from driftwatch.config import Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.job_states import job_state, job_state_cursor
from driftwatch.db.models import Call, ModelWatch
from driftwatch.events.outbox import emit
from driftwatch.policy.sentinel import Change, Served
from driftwatch.routing.routes import SYSTEM_ACTOR, record_decision
from driftwatch.sampling.boost import active_watches, boosted_rate, drawn_since_change

JOB_NAME = "watch-models"
CHANGED, WATCH_ENDED = "model.changed", "model.watch_ended"


@dataclass(slots=True)
class WatchResult:
    scanned: int = 0
    changes: list[str] = field(default_factory=list)  # "class/tier: old → new"
    ended: int = 0
    caught_up: bool = True

    def summary(self) -> str:
        text = f"looked at {self.scanned} calls"
        if self.changes:
            text += f"; model changed: {'; '.join(self.changes)}"
        if self.ended:
            text += f"; {self.ended} watches ended"
        return text if self.caught_up else text + "; backlog left for the next run"


def run_model_watch(
    engine: Engine,
    policy: Policy,
    clock: Callable[[], datetime],
    *,
    batch_size: int,
    time_budget_seconds: float,
    stopping: Callable[[], bool] = lambda: False,
) -> WatchResult:
    """The job: batches of ``batch_size`` calls until caught up or ``time_budget_seconds`` are spent;
    then one transaction that ends the watches that are done."""
    began = time.monotonic()
    sessions = session_factory(engine)
    result = WatchResult()
    while True:
        caught_up = _watch_batch(sessions, policy, clock, batch_size, result)
        if caught_up or stopping() or time.monotonic() - began >= time_budget_seconds:
            result.caught_up = caught_up
            break
    with sessions.begin() as session:
        job_state(session, JOB_NAME)
        result.ended = end_watches(session, policy, clock())
    return result


Key = tuple[str, str]
_CALL_COLUMNS = (
    Call.id,
    Call.task_class,
    Call.tier,
    Call.provider,
    Call.model,
    Call.system_fingerprint,
    Call.source,
    Call.status,
)


def _watch_batch(
    sessions: sessionmaker[Session],
    policy: Policy,
    clock: Callable[[], datetime],
    batch_size: int,
    result: WatchResult,
) -> bool:
    """One batch: the calls and their classes' state are read and the rule run without a lock; the
    write transaction then only stores the states and records the changes (on SQLite it holds the
    write lock for those writes, not for the rule).  A batch another replica took meanwhile (the
    cursor moved) is dropped and read again from the new cursor.  True when caught up."""
    with sessions() as session:
        cursor = job_state_cursor(session, JOB_NAME)
        rows = session.execute(
            select(*_CALL_COLUMNS).where(Call.id > cursor).order_by(Call.id).limit(batch_size)
        ).all()
        if not rows:
            return True
        calls = [
            row for row in rows if row.tier in policy.tiers and row.source != "shadow" and row.status == "ok"
        ]
        stored = _stored_states(session, {(row.task_class, row.tier) for row in calls})
    served = {key: Served.from_json(text) for key, text in stored.items()}
    rule = policy.decisions.model_change
    confirmed: list[tuple[Key, list[Change]]] = []
    for call in calls:
        key = (call.task_class, call.tier)
        values = {"model": call.model, "provider": call.provider, "fingerprint": call.system_fingerprint}
        changes = served.setdefault(key, Served()).observe(call.id, values, rule)
        if changes:
            confirmed.append((key, changes))
    with sessions.begin() as session:
        state = job_state(session, JOB_NAME)
        if state.cursor != cursor:
            return False
        now = clock()
        _store_states(session, served, stored.keys(), now)
        for key, changes in confirmed:
            watch = session.get(ModelWatch, key)
            assert watch is not None
            _record_change(session, policy, watch, served[key], changes, now)
        state.cursor = rows[-1].id
    result.scanned += len(rows)
    result.changes += [
        f"{task_class}/{tier}: " + ", ".join(map(_arrow, changes))
        for (task_class, tier), changes in confirmed
    ]
    return len(rows) < batch_size


def _stored_states(session: Session, keys: set[Key]) -> dict[Key, str]:
    found: dict[Key, str] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):  # bounded IN lists, whatever the classes in a batch
        chunk = ordered[start : start + 500]
        query = select(ModelWatch.task_class, ModelWatch.tier, ModelWatch.state).where(
            tuple_(ModelWatch.task_class, ModelWatch.tier).in_(chunk)
        )
        found.update({(task_class, tier): state for task_class, tier, state in session.execute(query)})
    return found


def _store_states(
    session: Session, served: dict[Key, Served], existing: Collection[Key], now: datetime
) -> None:
    rows = [
        {
            "task_class": task_class,
            "tier": tier,
            "state": state.to_json(),
            "calls": state.calls,
            "updated_at": now,
        }
        for (task_class, tier), state in served.items()
    ]
    old = [row for row in rows if (row["task_class"], row["tier"]) in existing]
    new = [row for row in rows if (row["task_class"], row["tier"]) not in existing]
    if old:
        session.execute(update(ModelWatch), old)  # by primary key, one statement for the batch
    if new:
        session.execute(insert(ModelWatch), new)


def _arrow(change: Change) -> str:
    return f"{change.dimension} {change.old or '?'} → {change.new}"


def _record_change(
    session: Session,
    policy: Policy,
    watch: ModelWatch,
    served: Served,
    changes: list[Change],
    now: datetime,
) -> None:
    """The decision, its event and the watch, for the changes one call confirmed."""
    boost = policy.shadow.boost_for(watch.task_class)
    rate = policy.shadow.rate_for(watch.task_class)
    boosted = boost.samples > 0 and watch.tier in policy.sampled_tiers
    first_call = min(change.first_call_id for change in changes)
    what = ", ".join(_arrow(change) for change in changes)
    reason = f"tier {watch.tier} now serves {what}"
    if boosted:
        reason += f"; shadow rate {rate:g} → {boosted_rate(rate, boost.factor):g} for the next {boost.samples} samples"
    evidence = {
        "tier": watch.tier,
        "changes": [change.as_evidence() for change in changes],
        "serving": served.serving(),
        "boost": {
            "applied": boosted,
            "factor": boost.factor,
            "samples": boost.samples,
            "max_days": boost.max_days,
            "rate": rate,
            "boosted_rate": boosted_rate(rate, boost.factor) if boosted else rate,
            "from_call_id": first_call,
        },
    }
    decision = record_decision(
        session,
        task_class=watch.task_class,
        kind=CHANGED,
        actor=SYSTEM_ACTOR,
        reason=reason,
        evidence=evidence,
        now=now,
        from_tier=watch.tier,
    )
    payload = {"tier": watch.tier, "decision_id": decision.id, "reason": reason, **evidence}
    emit(session, CHANGED, watch.task_class, payload, now, dedupe=f"{watch.tier}#{changes[0].call_id}")
    watch.watch_started_at, watch.watch_ended_at = now, None
    watch.boost_factor = boost.factor if boosted else None
    watch.boost_samples = boost.samples if boosted else 0
    watch.boost_from_call_id = first_call
    watch.decision_id = decision.id


def end_watches(session: Session, policy: Policy, now: datetime) -> int:
    """End the watches whose boost drew its samples, or that ran ``max_days``; a decision each."""
    ended = 0
    for watch in active_watches(session):
        assert watch.watch_started_at is not None
        boost = policy.shadow.boost_for(watch.task_class)
        samples = drawn_since_change(session, watch)
        if samples >= (watch.boost_samples or 0):
            why = f"{samples} samples drawn since the change"
        elif now - watch.watch_started_at >= timedelta(days=boost.max_days):
            why = f"{boost.max_days:g} days passed with {samples} of {watch.boost_samples} samples drawn"
        else:
            continue
        watch.watch_ended_at, watch.updated_at = now, now
        record_decision(
            session,
            task_class=watch.task_class,
            kind=WATCH_ENDED,
            actor=SYSTEM_ACTOR,
            reason=f"watch of the model change on tier {watch.tier} ended: {why}",
            evidence={"tier": watch.tier, "samples": samples, "model_changed_decision_id": watch.decision_id},
            now=now,
            from_tier=watch.tier,
        )
        ended += 1
    return ended
