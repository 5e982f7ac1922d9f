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

from driftwatch.config import Policy
from driftwatch.errors import Unprocessable
from driftwatch.ledger import repository
from driftwatch.ledger.terms import LedgerDay, Volume, ledger_day, promotion_cost, total
from driftwatch.prices.pricing import ModelPrice, PriceTable

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
    """The ledger days of ``classes`` (``None``: every class) in one window: one scan of the window's
    hourly rollup grouped by class, tier and day, one of shadow spend, one of promotions."""

    def __init__(
        self, session: Session, policy: Policy, since: date, until: date, classes: Collection[str] | None
    ) -> None:
        self.policy = policy
        self.prices = _Prices(policy)
        self.since = datetime.combine(since, time(), tzinfo=UTC)
        self.until = datetime.combine(until, time(), tzinfo=UTC)
        self.volumes = repository.class_tier_days(session, self.since, self.until, classes)
        self.shadow = repository.shadow_days(session, self.since, self.until, classes)
        self.promoted = self._promotion_days(session, classes)
        self.days: dict[str, list[LedgerDay]] = {}  # class -> its days with calls or shadow spend
        for task_class, day in sorted({*self.volumes, *self.shadow, *self.promoted}):
            self.days.setdefault(task_class, []).append(self._day(task_class, day))

    def _promotion_days(
        self, session: Session, classes: Collection[str] | None
    ) -> dict[tuple[str, str], float | None]:
        """(class, day) → the promotion cost of the day (``None`` where it cannot be priced).

        The days a promotion was in force all day are read from the daily rollup already loaded; only
        its first and last day, where it may have been in force part of the day, from the hourly one."""
        costs: dict[tuple[str, str], list[float | None]] = {}

        def add(promotion: repository.Promotion, day: str, volume: Volume | None) -> None:
            if volume is not None:
                lower = self.prices.of_tier(promotion.from_tier, day)
                costs.setdefault((promotion.task_class, day), []).append(promotion_cost([volume], lower))

        partial: list[tuple[repository.Promotion, repository.HourRange]] = []
        for promotion in repository.promotions(session, self.since, self.until, classes):
            start, end = promotion.hours(self.since, self.until)
            for first, last, whole in _split_by_day(start, end):
                day = first.date().isoformat()
                if whole:
                    add(promotion, day, self._on_tier(promotion.task_class, day, promotion.to_tier))
                else:
                    hours = repository.HourRange(promotion.task_class, promotion.to_tier, first, last)
                    partial.append((promotion, hours))
        volumes = repository.hour_ranges(session, [hours for _, hours in partial])
        for (promotion, hours), volume in zip(partial, volumes, strict=True):
            add(promotion, hours.start.date().isoformat(), volume)
        return {key: _sum_known(parts) for key, parts in costs.items()}

    def _on_tier(self, task_class: str, day: str, tier: str) -> Volume | None:
        return next((v for v in self.volumes.get((task_class, day), []) if v.tier == tier), None)

    def _day(self, task_class: str, day: str) -> LedgerDay:
        key = (task_class, day)
        reference_tier = self.policy.reference_tier
        reference = self.prices.of_tier(reference_tier, day)
        volumes, shadow = self.volumes.get(key, []), self.shadow.get(key, 0.0)
        return ledger_day(day, volumes, shadow, self.promoted.get(key, 0.0), reference_tier, reference)

    def busiest(self) -> list[str]:
        """The classes with calls in the window, busiest first, then by name (as ``GET /v1/classes``)."""
        calls: dict[str, int] = {}
        for (task_class, _), volumes in self.volumes.items():
            calls[task_class] = calls.get(task_class, 0) + sum(v.calls for v in volumes)
        return sorted(calls, key=lambda name: (-calls[name], name))

    def every_day(self) -> list[LedgerDay]:
        """Every day of the window, the classes read summed."""
        by_day: dict[str, list[LedgerDay]] = {}
        for rows in self.days.values():
            for row in rows:
                by_day.setdefault(row.day, []).append(row)
        count = (self.until - self.since).days
        names = [(self.since + timedelta(days=n)).date().isoformat() for n in range(count)]
        return [total(by_day.get(day, []), day) for day in names]


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
    reader = _Reader(session, policy, since, until, None if task_class is None else [task_class])
    if task_class is not None:
        page, total_classes = [task_class], 1
    else:
        busiest = reader.busiest()
        page, total_classes = busiest[offset : offset + limit], len(busiest)
    days = reader.every_day()
    following = offset + len(page) if task_class is None and offset + len(page) < total_classes else None
    return Ledger(
        since=since,
        until=until,
        reference_tier=policy.reference_tier,
        reference_model=policy.model_for(policy.reference_tier),
        days=days,
        totals=total(days),
        classes=[
            ClassLedger(name, total(reader.days.get(name, [])), reader.days.get(name, [])) for name in page
        ],
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
    reader = _Reader(session, policy, since, until, among)
    return {name: total(reader.days.get(name, [])) for name in reader.busiest()}


def _notices(offset: int, shown: int, total_classes: int, following: int | None) -> list[str]:
    if following is None and offset == 0:
        return []
    text = f"classes {offset + 1} to {offset + shown} of {total_classes}, busiest first (calls in the window)"
    return [f"{text}; ask with offset={following} for the next ones" if following is not None else text]


def _split_by_day(start: datetime, end: datetime) -> list[tuple[datetime, datetime, bool]]:
    """``[start, end)`` cut at UTC midnights: each piece, and whether it is a whole day."""
    pieces = []
    while start < end:
        midnight = datetime.combine(start.date() + timedelta(days=1), time(), tzinfo=UTC)
        last = min(midnight, end)
        pieces.append((start, last, start.hour == 0 and last == midnight))
        start = last
    return pieces


def _sum_known(costs: list[float | None]) -> float | None:
    return None if any(cost is None for cost in costs) else sum(cost or 0.0 for cost in costs)
