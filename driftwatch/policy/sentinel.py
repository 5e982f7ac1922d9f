"""The model-change rule (pure): when does a class on a tier serve a *new* model?

Each call reports up to three served values — the response model (a dated snapshot such as
``gpt-4o-mini-2024-07-18``), the provider, and the system fingerprint where the instrumentation reports
one — and each is watched on its own (a *dimension*).  Per dimension the sentinel keeps the last
``window`` values (with the call id each came from) and the set of *known* values.

A value not known counts as a change once it makes at least ``min_calls`` **and** ``min_share`` of the
window.  This is what real gateways need:

* a stray call (a retry a router sent to its fallback model, one request with a model override) makes
  one entry in the window and never counts;
* a load balancer alternating between two snapshots or two regions' fingerprints makes both values
  known in the class's first ``window`` calls (or at their first change), and a known value never
  counts again, so alternation cannot flap;
* a canary rollout counts when the new value reaches ``min_share`` of traffic, and a full swap after
  ``min_calls`` calls.

The values of a dimension's first ``window`` calls are learnt silently: the served set a class starts
with is not a change.  A known value unseen for ``forget_after`` calls of its dimension is forgotten,
so a rollback to a snapshot retired long ago counts as a change again.  Calls that report no value
for a dimension (an instrumentation without fingerprints) leave it untouched.

A change is reported ``min_calls`` calls after it counts (see :class:`Served`), with every other
dimension that changed meanwhile.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from driftwatch.config import ModelChangeDetection

DIMENSIONS = ("model", "provider", "fingerprint")
MAX_KNOWN = 64
"""Known values kept per dimension (the least recently seen goes first): model names are client input,
and a class's state must stay small whatever a client sends."""


@dataclass(frozen=True, slots=True)
class Change:
    """A new value of one dimension that now counts: ``old`` is the known value that served most of
    the window before it (``None`` when no known value is in the window)."""

    dimension: str
    old: str | None
    new: str
    calls: int  # calls of the new value in the window
    window: int  # calls in the window
    first_call_id: int  # the earliest call of the new value still in the window
    call_id: int  # the call at which it counted

    def as_evidence(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "old": self.old,
            "new": self.new,
            "calls": self.calls,
            "window": self.window,
            "share": round(self.calls / self.window, 4),
            "first_call_id": self.first_call_id,
            "call_id": self.call_id,
        }


@dataclass(slots=True)
class Dimension:
    known: dict[str, int] = field(default_factory=dict)  # value -> number of the call last seen in
    recent: list[tuple[str, int]] = field(default_factory=list)  # (value, call id), oldest first
    seen: int = 0  # calls that reported a value

    def observe(self, value: str, call_id: int, name: str, rule: ModelChangeDetection) -> Change | None:
        self.seen += 1
        self.recent.append((value, call_id))
        if len(self.recent) > rule.window:
            del self.recent[: len(self.recent) - rule.window]
        self._forget(rule.forget_after_calls)
        if value in self.known:
            self.known[value] = self.seen
            return None
        counts = Counter(recent for recent, _ in self.recent)
        calls = counts[value]
        if calls < rule.min_calls or calls < rule.min_share * len(self.recent):
            return None
        learning = self.seen <= rule.window
        old = max(
            (known for known in counts if known in self.known),
            key=lambda known: (counts[known], self.known[known]),
            default=None,
        )
        self.known[value] = self.seen
        if len(self.known) > MAX_KNOWN:
            del self.known[min(self.known, key=self.known.__getitem__)]
        if learning:
            return None
        first = next(call for recent, call in self.recent if recent == value)
        return Change(name, old, value, calls, len(self.recent), first, call_id)

    def _forget(self, after: int) -> None:
        # The values before this call's: a value returning after ``after`` calls is new again.
        for value in [value for value, last in self.known.items() if self.seen - 1 - last >= after]:
            del self.known[value]

    def serving(self) -> str | None:
        """The known value that served most of the window (what a dashboard shows as "the" model)."""
        counts = Counter(value for value, _ in self.recent if value in self.known)
        return counts.most_common(1)[0][0] if counts else None


@dataclass(slots=True)
class Served:
    """What one class on one tier has been seen to be served, dimension by dimension.

    Changes of several dimensions at once (a new snapshot with a new fingerprint) are confirmed a few
    calls apart when strays of one of them were in the window; a confirmed change is therefore held
    for ``min_calls`` more calls of the class, and every change confirmed meanwhile joins it: one
    decision and one event per change of what is served."""

    dimensions: dict[str, Dimension] = field(default_factory=dict)
    calls: int = 0
    pending: list[Change] = field(default_factory=list)
    settle_at: int = 0  # the call number at which the pending changes are reported

    def observe(
        self, call_id: int, values: dict[str, str | None], rule: ModelChangeDetection
    ) -> list[Change]:
        """Take one call's values (a dimension's ``None``: not reported); the changes it settles."""
        self.calls += 1
        for name in DIMENSIONS:
            value = values.get(name)
            if value is None or (name == "fingerprint" and not rule.fingerprints):
                continue
            change = self.dimensions.setdefault(name, Dimension()).observe(value, call_id, name, rule)
            if change is not None:
                if not self.pending:
                    self.settle_at = self.calls + rule.min_calls
                self.pending.append(change)
        if not self.pending or self.calls < self.settle_at:
            return []
        settled, self.pending = self.pending, []
        return settled

    def serving(self) -> dict[str, str | None]:
        return {name: dimension.serving() for name, dimension in self.dimensions.items()}

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "dimensions": {
                    name: {"known": dimension.known, "recent": dimension.recent, "seen": dimension.seen}
                    for name, dimension in self.dimensions.items()
                },
                "calls": self.calls,
                "pending": [asdict(change) for change in self.pending],
                "settle_at": self.settle_at,
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> Served:
        data = orjson.loads(text)
        dimensions = {
            name: Dimension(
                known={str(value): int(last) for value, last in found["known"].items()},
                recent=[(str(value), int(call)) for value, call in found["recent"]],
                seen=int(found["seen"]),
            )
            for name, found in data.get("dimensions", {}).items()
        }
        pending = [Change(**change) for change in data.get("pending", [])]
        return cls(dimensions, int(data.get("calls", 0)), pending, int(data.get("settle_at", 0)))
