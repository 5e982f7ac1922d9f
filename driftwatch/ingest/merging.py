"""The store side of call identity: new LLM-call spans joined with the spans already stored.

A writer batch's spans are grouped with the stored spans of the same traces
(:func:`driftwatch.ingest.identity.group_spans`), so a call whose spans came in two export requests,
in either order, is one call, the same as when they came together:

* a new span alone in its group is a new call (the common case: one lookup per batch, no more);
* a group of new spans only is one new call, its spans kept in ``call_span``;
* a group that meets stored calls is merged into the oldest of them: it is rebuilt from every span's
  own report, the others are folded into it (their shadow samples and evaluations move with them),
  and the hourly rollup is corrected by what each stored call counted before.

Two writers that store two spans of one call at the same moment (replicas on PostgreSQL) cannot see
each other's rows and keep two calls; a single writer, whatever the batching, cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, delete, exists, insert, null, select, update
from sqlalchemy.orm import aliased

from driftwatch.db.matching import one_of
from driftwatch.db.models import Call, CallSpan, ClassHour, Evaluation, ShadowSample
from driftwatch.db.models.class_hour import NO_TIER
from driftwatch.ingest import daily_rollup, identity
from driftwatch.ingest.identity import SpanKey, span_key
from driftwatch.ingest.records import CallRow

CALL_FIELDS = tuple(column.name for column in Call.__table__.columns if column.name != "id")
_KEYS = ("trace_id", "span_id", "parent_span_id", "response_id")
_TIMES = ("start_time", "end_time")
# What the hourly rollup counts of a call, in the order the writer's ``add_to_rollup`` reads it.
ROLLUP_FIELDS = (
    "task_class",
    "tier",
    "start_time",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "cache_read_tokens",
    "cache_write_tokens",
)

AddToRollup = Callable[[Connection, Sequence[Sequence[Any]]], None]


@dataclass(slots=True)
class Group:
    """New spans that make one call with each other and with the stored calls ``stored``."""

    spans: list[CallRow]
    stored: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Plan:
    """A batch sorted: spans that are a call of their own, groups to merge, and spans already stored."""

    singles: list[CallRow]
    groups: list[Group]
    resent: list[CallRow]


def plan(connection: Connection, rows: Sequence[CallRow]) -> Plan:
    """Sort a batch's call rows (one per LLM-call span) by how each meets the store."""
    if not rows:
        return Plan([], [], [])
    stored = _stored_spans(connection, rows)
    stored_call = {span_key(span): span["call_id"] for span in stored}
    fresh: list[CallRow] = []
    resent: list[CallRow] = []
    seen: set[SpanKey] = set()
    for row in rows:
        key = span_key(row)
        (resent if key in stored_call or key in seen else fresh).append(row)
        seen.add(key)
    if not stored and not _may_join(fresh):
        return Plan(fresh, [], resent)
    by_call: dict[int, list[SpanKey]] = {}
    for key, call_id in stored_call.items():
        by_call.setdefault(call_id, []).append(key)
    linked = [(keys[0], other) for keys in by_call.values() for other in keys[1:]]
    singles: list[CallRow] = []
    groups: list[Group] = []
    for members in identity.group_spans([*fresh, *stored], linked):
        new = [row for row in members if "call_id" not in row]
        calls = sorted({row["call_id"] for row in members if "call_id" in row})
        if not new:
            continue
        if len(new) == 1 and not calls:
            singles.append(new[0])
        else:
            groups.append(Group(new, calls))
    return Plan(singles, groups, resent)


def write_groups(connection: Connection, groups: Sequence[Group], add_to_rollup: AddToRollup) -> int:
    """Store every group as one call; returns how many calls are new."""
    created = 0
    for group in groups:
        if group.stored:
            _merge_into_stored(connection, group, add_to_rollup)
        else:
            created += _insert_merged(connection, group.spans, add_to_rollup)
    return created


def _may_join(rows: Sequence[CallRow]) -> bool:
    """Whether any two rows of a batch could be one call (else grouping has nothing to do)."""
    keys = {span_key(row) for row in rows}
    responses = [row["response_id"] for row in rows if row["response_id"] is not None]
    return len(set(responses)) < len(responses) or any(
        (row["trace_id"], row["parent_span_id"]) in keys for row in rows
    )


def _stored_spans(connection: Connection, rows: Sequence[CallRow]) -> list[dict[str, Any]]:
    """The stored spans a batch's spans may join: every span of their traces (each call's own, and
    the other spans of merged calls), and stored root spans that report a new root span's response
    id in another trace."""
    trace_ids = sorted({row["trace_id"] for row in rows})
    root_responses = sorted(
        {row["response_id"] for row in rows if row["response_id"] and not row["parent_span_id"]}
    )
    call_columns = (Call.id, Call.trace_id, Call.span_id, Call.parent_span_id, Call.response_id)
    queries = [
        select(*call_columns, Call.service, Call.scope, Call.start_time).where(
            one_of(connection, Call.trace_id, trace_ids)
        ),
        select(
            CallSpan.call_id,
            CallSpan.trace_id,
            CallSpan.span_id,
            CallSpan.parent_span_id,
            CallSpan.response_id,
        )
        .add_columns(null(), null(), null())
        .where(one_of(connection, CallSpan.trace_id, trace_ids)),
    ]
    if root_responses:
        queries.append(
            select(*call_columns, Call.service, Call.scope, Call.start_time).where(
                one_of(connection, Call.response_id, root_responses), Call.parent_span_id.is_(None)
            )
        )
    spans: dict[SpanKey, dict[str, Any]] = {}
    for query in queries:
        for (
            call_id,
            trace_id,
            span_id,
            parent_span_id,
            response_id,
            service,
            scope,
            start_time,
        ) in connection.execute(query):
            spans.setdefault(
                (trace_id, span_id),
                {
                    "call_id": call_id,
                    "trace_id": trace_id,
                    "span_id": span_id,
                    "parent_span_id": parent_span_id,
                    "response_id": response_id,
                    "service": service,
                    "scope": scope,
                    "start_time": start_time,
                },
            )
    return list(spans.values())


def _insert_merged(connection: Connection, spans: list[CallRow], add_to_rollup: AddToRollup) -> int:
    merged = identity.merge(spans)
    inserted = connection.execute(
        insert(Call).values(merged).returning(Call.id, *(Call.__table__.c[name] for name in ROLLUP_FIELDS))
    ).first()
    if inserted is None:  # pragma: no cover - an INSERT without ON CONFLICT returns its row or raises
        return 0
    call_id, *rollup = inserted
    _insert_reports(connection, call_id, spans)
    add_to_rollup(connection, [rollup])
    return 1


def _merge_into_stored(connection: Connection, group: Group, add_to_rollup: AddToRollup) -> None:
    survivor, *folded = group.stored
    stored_rows = {
        row["id"]: row
        for row in connection.execute(select(Call).where(one_of(connection, Call.id, group.stored)))
        .mappings()
        .all()
    }
    members = _stored_members(connection, stored_rows) + group.spans
    merged = identity.merge(members)
    # Content attached later from log records lives on the call, not in any span's report.
    for name in ("prompt", "completion"):
        if merged[name] is None:
            merged[name] = next(
                (stored_rows[id_][name] for id_ in group.stored if stored_rows[id_][name]), None
            )
    _subtract_from_rollup(connection, [stored_rows[id_] for id_ in group.stored])
    if folded:
        _fold_calls(connection, survivor, folded)
    connection.execute(delete(CallSpan).where(CallSpan.call_id == survivor))
    connection.execute(update(Call).where(Call.id == survivor).values(merged))
    _insert_reports(connection, survivor, members)
    add_to_rollup(connection, [[merged.get(name) for name in ROLLUP_FIELDS]])
    _refresh_seen(connection, [stored_rows[id_] for id_ in group.stored])


def _stored_members(connection: Connection, calls: dict[int, Any]) -> list[CallRow]:
    """Each stored call's spans as reported: from ``call_span``, or the call itself when it had one."""
    reported: dict[int, list[CallRow]] = {}
    query = select(CallSpan).where(one_of(connection, CallSpan.call_id, sorted(calls)))
    for span in connection.execute(query).mappings():
        report = orjson.loads(span["report"])
        for name in _TIMES:
            report[name] = datetime.fromisoformat(report[name]) if report[name] else None
        reported.setdefault(span["call_id"], []).append({**report, **{name: span[name] for name in _KEYS}})
    members: list[CallRow] = []
    for call_id, call in sorted(calls.items()):
        members.extend(reported.get(call_id) or [{name: call[name] for name in CALL_FIELDS}])
    return members


def _insert_reports(connection: Connection, call_id: int, spans: Sequence[CallRow]) -> None:
    connection.execute(
        insert(CallSpan),
        [
            {
                "call_id": call_id,
                **{name: span[name] for name in _KEYS},
                "report": orjson.dumps(
                    {name: span.get(name) for name in CALL_FIELDS if name not in _KEYS}
                ).decode(),
            }
            for span in identity.canonical_order(spans)
        ],
    )


def _fold_calls(connection: Connection, survivor: int, folded: list[int]) -> None:
    """The folded calls' shadow samples and evaluations now belong to the survivor; the calls go."""
    survivor_sample = aliased(ShadowSample)
    already_sampled = exists().where(
        survivor_sample.call_id == survivor, survivor_sample.reference_tier == ShadowSample.reference_tier
    )
    connection.execute(
        update(ShadowSample)
        .where(one_of(connection, ShadowSample.call_id, folded), ~already_sampled)
        .values(call_id=survivor)
        .execution_options(synchronize_session=False)
    )
    connection.execute(
        update(Evaluation)
        .where(one_of(connection, Evaluation.call_id, folded))
        .values(call_id=survivor)
        .execution_options(synchronize_session=False)
    )
    connection.execute(delete(Call).where(one_of(connection, Call.id, folded)))


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _bucket(call: Any) -> tuple[str, str, datetime]:
    return (call["task_class"], call["tier"] or NO_TIER, _hour(call["start_time"]))


def _subtract_from_rollup(connection: Connection, calls: Sequence[Any]) -> None:
    """Take what stored calls counted out of the hourly rollup and its days (they are counted again
    merged)."""
    for call in calls:
        daily_rollup.subtract_call(connection, call)
        task_class, tier, hour = _bucket(call)
        cost = call["cost_usd"]
        connection.execute(
            update(ClassHour)
            .where(ClassHour.task_class == task_class, ClassHour.tier == tier, ClassHour.hour == hour)
            .values(
                calls=ClassHour.calls - 1,
                input_tokens=ClassHour.input_tokens - (call["input_tokens"] or 0),
                output_tokens=ClassHour.output_tokens - (call["output_tokens"] or 0),
                cost_usd=ClassHour.cost_usd - (cost or 0.0),
                cache_read_tokens=ClassHour.cache_read_tokens - (call["cache_read_tokens"] or 0),
                cache_write_tokens=ClassHour.cache_write_tokens - (call["cache_write_tokens"] or 0),
                priced_calls=ClassHour.priced_calls - (0 if cost is None else 1),
            )
        )


def _refresh_seen(connection: Connection, calls: Sequence[Any]) -> None:
    """A rollup hour that lost a call gets its first and last call time from the calls it still has,
    or goes when it has none."""
    for task_class, tier, hour in sorted({_bucket(call) for call in calls}):
        in_bucket = (
            Call.task_class == task_class,
            Call.tier.is_(None) if tier == NO_TIER else Call.tier == tier,
            Call.start_time >= hour,
            Call.start_time < hour + timedelta(hours=1),
        )
        key = (ClassHour.task_class == task_class, ClassHour.tier == tier, ClassHour.hour == hour)
        connection.execute(delete(ClassHour).where(*key, ClassHour.calls <= 0))
        connection.execute(
            update(ClassHour)
            .where(*key)
            .values(
                first_seen=select(Call.start_time)
                .where(*in_bucket)
                .order_by(Call.start_time)
                .limit(1)
                .scalar_subquery(),
                last_seen=select(Call.start_time)
                .where(*in_bucket)
                .order_by(Call.start_time.desc())
                .limit(1)
                .scalar_subquery(),
            )
        )
