"""The savings ledger of ``GET /v1/savings``, the dashboard's savings panel and the savings gauges.

A window is whole UTC days ``[since, until)``, at most :data:`MAX_DAYS` long.  ``days`` sums every class
(or the one asked for) per day, every day of the window listed; ``classes`` is a page of classes,
busiest first as ``GET /v1/classes`` pages them, each with the days it had calls or shadow spend.
Terms and their ``None``: :mod:`driftwatch.ledger.terms`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from driftwatch.calls.repository import class_traffic
from driftwatch.config import Policy
from driftwatch.errors import Unprocessable
from driftwatch.ledger import repository
from driftwatch.ledger.terms import LedgerDay, Volume, ledger_day, promotion_cost, total
from driftwatch.pricing import ModelPrice, PriceTable

MAX_DAYS = 92
DEFAULT_DAYS = 30
CLASSES_PER_PAGE, MAX_CLASSES_PER_PAGE = 100, 1000


@dataclass(frozen=True, slots=True)
class ClassLedger:
    task_class: str
    totals: LedgerDay
    days: list[LedgerDay]


@dataclass(frozen=True, slots=True)
class Ledger:
    since: date
    until: date
    reference_tier: str
    reference_model: str | None
    days: list[LedgerDay]
    totals: LedgerDay
    classes: list[ClassLedger]
    total_classes: int
    next_offset: int | None
    notices: list[str] = field(default_factory=list)


def window(since: date | None, until: date | None, today: date) -> tuple[date, date]:
    """``[since, until)`` in UTC days: by default the last :data:`DEFAULT_DAYS` days, today included."""
    end = until or (
        today + timedelta(days=1)
        if since is None
        else min(since + timedelta(DEFAULT_DAYS), today + timedelta(1))
    )
    start = since or end - timedelta(days=DEFAULT_DAYS)
    if end <= start:
        raise Unprocessable(f"until ({end}) must be after since ({start})")
    if (end - start).days > MAX_DAYS:
        raise Unprocessable(f"at most {MAX_DAYS} days at a time; asked for {(end - start).days}")
    return start, end


class _Prices:
    """Model prices on each UTC day (list prices change on dates), looked up once per model and day."""

    def __init__(self, policy: Policy) -> None:
        self._table = PriceTable(policy.price_table())
        self._policy = policy
        self._known: dict[tuple[str | None, str], ModelPrice | None] = {}

    def of_tier(self, tier: str, day: str) -> ModelPrice | None:
        model = self._policy.model_for(tier) if tier in self._policy.tiers else None
        key = (model, day)
        if key not in self._known:
            moment = datetime.combine(date.fromisoformat(day), time(), tzinfo=UTC)
            self._known[key] = None if model is None else self._table.price(model, at=moment)
        return self._known[key]


class _Reader:
    """The ledger days of a set of classes (``None``: all of them, summed) in one window."""

    def __init__(self, session: Session, policy: Policy, since: date, until: date) -> None:
        self.session = session
        self.policy = policy
        self.prices = _Prices(policy)
        self.since = datetime.combine(since, time(), tzinfo=UTC)
        self.until = datetime.combine(until, time(), tzinfo=UTC)

    def promotion_days(self, classes: Collection[str] | None) -> dict[tuple[str, str], float | None]:
        """(class, day) → the promotion cost of the day (``None`` where it cannot be priced)."""
        found: dict[tuple[str, str], list[float | None]] = {}
        for promotion in repository.promotions(self.session, self.since, self.until, classes):
            days = repository.promoted_days(self.session, promotion, self.since, self.until)
            for day, volume in days.items():
                lower = self.prices.of_tier(promotion.from_tier, day)
                found.setdefault((promotion.task_class, day), []).append(promotion_cost([volume], lower))
        return {key: _sum_known(costs) for key, costs in found.items()}

    def day(self, day: str, volumes: list[Volume], shadow: float, promoted: float | None) -> LedgerDay:
        reference_tier = self.policy.reference_tier
        reference = self.prices.of_tier(reference_tier, day)
        return ledger_day(day, volumes, shadow, promoted, reference_tier, reference)

    def by_class(self, classes: Collection[str]) -> dict[str, list[LedgerDay]]:
        volumes = repository.class_tier_days(self.session, self.since, self.until, classes)
        shadow = repository.shadow_days(self.session, self.since, self.until, classes)
        promoted = self.promotion_days(classes)
        result: dict[str, list[LedgerDay]] = {name: [] for name in classes}
        for task_class, day in sorted({*volumes, *shadow, *promoted}):
            if task_class in result:
                key = (task_class, day)
                row = self.day(day, volumes.get(key, []), shadow.get(key, 0.0), promoted.get(key, 0.0))
                result[task_class].append(row)
        return result

    def all_classes(self) -> list[LedgerDay]:
        """Every day of the window, each class's terms summed."""
        volumes = repository.tier_days(self.session, self.since, self.until)
        shadow: dict[str, float] = {}
        for (_, day), usd in repository.shadow_days(self.session, self.since, self.until, None).items():
            shadow[day] = shadow.get(day, 0.0) + usd
        promoted: dict[str, list[float | None]] = {}
        for (_, day), cost in self.promotion_days(None).items():
            promoted.setdefault(day, []).append(cost)
        days = (self.until - self.since).days
        return [
            self.day(day, volumes.get(day, []), shadow.get(day, 0.0), _sum_known(promoted.get(day, [])))
            for day in ((self.since + timedelta(days=n)).date().isoformat() for n in range(days))
        ]


def build(
    session: Session,
    policy: Policy,
    since: date,
    until: date,
    task_class: str | None,
    *,
    offset: int = 0,
    limit: int = CLASSES_PER_PAGE,
) -> Ledger:
    reader = _Reader(session, policy, since, until)
    if task_class is not None:
        names = [task_class]
        days = _every_day(reader, reader.by_class(names)[task_class])
        page, total_classes = names, 1
    else:
        traffic = [name for name, _ in class_traffic(session, reader.since, reader.until)]
        page, total_classes = traffic[offset : offset + limit], len(traffic)
        days = reader.all_classes()
    per_class = reader.by_class(page) if page else {}
    following = offset + len(page) if task_class is None and offset + len(page) < total_classes else None
    return Ledger(
        since=since,
        until=until,
        reference_tier=policy.reference_tier,
        reference_model=policy.model_for(policy.reference_tier),
        days=days,
        totals=total(days),
        classes=[ClassLedger(name, total(per_class[name]), per_class[name]) for name in page],
        total_classes=total_classes,
        next_offset=following,
        notices=_notices(offset, len(page), total_classes, following),
    )


def recent_totals(
    session: Session, policy: Policy, today: date, among: Collection[str] | None
) -> dict[str, LedgerDay]:
    """Each class with calls in the last :data:`DEFAULT_DAYS` UTC days (today included) and its terms
    summed over them; ``among`` narrows the classes (``/metrics`` shows the ones within the class cap)."""
    since, until = window(None, None, today)
    reader = _Reader(session, policy, since, until)
    names = [name for name, _ in class_traffic(session, reader.since, reader.until)]
    chosen = [name for name in names if among is None or name in among]
    return {name: total(days) for name, days in reader.by_class(chosen).items()}


def _every_day(reader: _Reader, days: list[LedgerDay]) -> list[LedgerDay]:
    known = {day.day: day for day in days}
    count = (reader.until - reader.since).days
    result = []
    for n in range(count):
        day = (reader.since + timedelta(days=n)).date().isoformat()
        result.append(known.get(day) or reader.day(day, [], 0.0, 0.0))
    return result


def _notices(offset: int, shown: int, total_classes: int, following: int | None) -> list[str]:
    if following is None and offset == 0:
        return []
    text = f"classes {offset + 1} to {offset + shown} of {total_classes}, busiest first (calls in the window)"
    return [f"{text}; ask with offset={following} for the next ones" if following is not None else text]


def _sum_known(costs: list[float | None]) -> float | None:
    return None if any(cost is None for cost in costs) else sum(cost or 0.0 for cost in costs)
