"""Pure: which LLM-call spans report the same provider response, and the one call row they make.

Two LLM-call spans are one call when

* one is the parent of the other (an instrumentation's span around the SDK's own span, a gateway's
  request span around its provider request) and they do not report two different response ids; or
* they are in the same trace and report the same response id (two instrumentations side by side); or
* both are root spans of one service, from two different instrumentations, that report the same
  response id and started within a minute of each other: Traceloop's Anthropic span and the
  Anthropic SDK's own span are each the root of a trace of their own when no span is current.

The groups are the connected components of that relation.  Siblings are never joined by it (their
common parent is not an LLM call, or each would be joined to it, not to each other), and otherwise the
same response id in two traces is two calls: some servers recycle ids (Ollama answers
``chatcmpl-<0..998>``), and the same instrumentation never reports one response twice.

Everything here depends on the set of spans alone, never on the order they arrived in or how an
exporter grouped them: the merged row is built from the members in a canonical order (outermost
first, then start time, then span id), each field taken from the first member that has it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from driftwatch.ingest.classify import UNCLASSIFIED
from driftwatch.ingest.records import CallRow

SpanKey = tuple[str, str]
"""``(trace_id, span_id)`` in hex, as stored."""
_REPORT_GAP = timedelta(minutes=1)

# The ids of the merged call are those of its outermost member; these fields are chosen apart.
_IDENTITY = frozenset({"trace_id", "span_id", "parent_span_id", "status", "status_message", "task_class"})


def span_key(row: CallRow) -> SpanKey:
    return (row["trace_id"], row["span_id"])


class _Components:
    """Union-find over span keys."""

    def __init__(self) -> None:
        self._parent: dict[SpanKey, SpanKey] = {}

    def add(self, key: SpanKey) -> None:
        self._parent.setdefault(key, key)

    def find(self, key: SpanKey) -> SpanKey:
        root = key
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[key] != root:  # path compression
            self._parent[key], key = root, self._parent[key]
        return root

    def union(self, first: SpanKey, second: SpanKey) -> None:
        first_root, second_root = self.find(first), self.find(second)
        if first_root != second_root:
            # The smaller key becomes the root: the grouping does not depend on the order of unions.
            low, high = sorted((first_root, second_root))
            self._parent[high] = low


def group_spans(
    spans: Sequence[CallRow], linked: Iterable[tuple[SpanKey, SpanKey]] = ()
) -> list[list[CallRow]]:
    """The spans grouped into calls: each inner list is one provider response.

    ``spans`` are rows with at least ``trace_id``, ``span_id``, ``parent_span_id`` and ``response_id``;
    ``linked`` names pairs already known to be one call (members of one stored call).  Groups come
    in the order of their first span in ``spans``; members keep their order in ``spans``.
    """
    components = _Components()
    by_key: dict[SpanKey, CallRow] = {}
    by_response: dict[tuple[str, str], SpanKey] = {}
    roots: dict[tuple[str | None, str], list[CallRow]] = {}
    for row in spans:
        key = span_key(row)
        by_key.setdefault(key, row)
        components.add(key)
    for first, second in linked:
        if first in by_key and second in by_key:
            components.union(first, second)
    for key, row in by_key.items():
        parent = by_key.get((row["trace_id"], row["parent_span_id"] or ""))
        if parent is not None and parent is not row and _same_response(row, parent):
            components.union(key, span_key(parent))
        response_id = row["response_id"]
        if response_id is not None:
            seen = by_response.setdefault((row["trace_id"], response_id), key)
            if seen != key:
                components.union(key, seen)
            if not row["parent_span_id"] and row.get("scope"):
                roots.setdefault((row.get("service"), response_id), []).append(row)
    for reports in roots.values():
        for index, report in enumerate(reports):
            for other in reports[index + 1 :]:
                if _second_report(report, other):
                    components.union(span_key(report), span_key(other))
    groups: dict[SpanKey, list[CallRow]] = {}
    for key, row in by_key.items():
        groups.setdefault(components.find(key), []).append(row)
    return list(groups.values())


def merge(members: Sequence[CallRow]) -> CallRow:
    """The one call row of a group of spans that report the same response.

    Its trace, span and parent ids are those of the outermost member (so ``parent_span_id`` is never
    its own span); every other field is the first value any member has, outermost first; the task
    class is the first one that is not ``unclassified``; a call any member saw fail has failed.
    """
    ordered = canonical_order(members)
    if len(ordered) == 1:
        return dict(ordered[0])
    outer = ordered[0]
    merged: CallRow = {key: outer[key] for key in ("trace_id", "span_id", "parent_span_id")}
    for key in outer:
        if key not in _IDENTITY:
            merged[key] = next((row[key] for row in ordered if row.get(key) is not None), None)
    merged["task_class"] = next(
        (row["task_class"] for row in ordered if row["task_class"] != UNCLASSIFIED), UNCLASSIFIED
    )
    failed = next((row for row in ordered if row["status"] == "error"), None)
    merged["status"] = "error" if failed is not None else outer["status"]
    merged["status_message"] = (failed or outer)["status_message"]
    return merged


def canonical_order(members: Sequence[CallRow]) -> list[CallRow]:
    """Outermost first (depth among the members), then by start time, then by span id."""
    by_key = {span_key(row): row for row in members}

    def depth(row: CallRow) -> int:
        seen = {span_key(row)}
        level = 0
        parent = by_key.get((row["trace_id"], row["parent_span_id"] or ""))
        while parent is not None and span_key(parent) not in seen:  # a cycle is hostile input
            seen.add(span_key(parent))
            level += 1
            parent = by_key.get((parent["trace_id"], parent["parent_span_id"] or ""))
        return level

    return sorted(by_key.values(), key=lambda row: (depth(row), row["start_time"], row["span_id"]))


def _second_report(first: CallRow, second: CallRow) -> bool:
    """Two root spans of one service with the same response id: another instrumentation's report."""
    close: bool = abs(first["start_time"] - second["start_time"]) <= _REPORT_GAP
    return close and first["scope"] != second["scope"]


def _same_response(first: CallRow, second: CallRow) -> bool:
    return (
        first["response_id"] is None
        or second["response_id"] is None
        or (first["response_id"] == second["response_id"])
    )
