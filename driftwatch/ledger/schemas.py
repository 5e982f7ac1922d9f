"""Pydantic shapes of ``GET /v1/savings``."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from driftwatch.ledger.service import ClassLedger, Ledger
from driftwatch.ledger.terms import LedgerDay


class SavingsTerms(BaseModel):
    """What tiering earned over some time; ``net = counterfactual - spend - shadow``.  A term is null
    when it needs a price nobody knows (``unpriced_calls`` says how many calls lack one)."""

    calls: int
    unpriced_calls: int = Field(description="Calls whose cost is unknown (their model has no price).")
    spend_usd: float | None = Field(description="What the calls cost.")
    counterfactual_usd: float | None = Field(
        description="What the same calls would have cost on the reference tier's model."
    )
    shadow_usd: float = Field(description="Shadow evaluation spent on these calls (by the day of the call).")
    promotion_cost_usd: float | None = Field(
        description="The part of spend promotions added (already inside spend, not subtracted again)."
    )
    net_usd: float | None = Field(description="counterfactual - spend - shadow.")

    @classmethod
    def of(cls, row: LedgerDay) -> dict[str, object]:
        return {
            "calls": row.calls,
            "unpriced_calls": row.unpriced_calls,
            "spend_usd": _cents(row.spend_usd),
            "counterfactual_usd": _cents(row.counterfactual_usd),
            "shadow_usd": _cents(row.shadow_usd),
            "promotion_cost_usd": _cents(row.promotion_cost_usd),
            "net_usd": _cents(row.net_usd),
        }


class SavingsDay(SavingsTerms):
    day: date = Field(description="UTC day of the calls.")


class ClassSavings(BaseModel):
    task_class: str
    totals: SavingsTerms
    days: list[SavingsDay] = Field(description="The class's days with calls or shadow spend, oldest first.")


class SavingsLedger(BaseModel):
    since: date = Field(description="First UTC day (inclusive).")
    until: date = Field(description="End (exclusive): the UTC day after the last one.")
    reference_tier: str
    reference_model: str | None = Field(description="Model whose prices make the counterfactual.")
    days: list[SavingsDay] = Field(
        description="Every day of the window, over all classes (or the one asked)."
    )
    totals: SavingsTerms
    classes: list[ClassSavings] = Field(description="A page of classes, busiest first.")
    total_classes: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")
    notices: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, ledger: Ledger) -> SavingsLedger:
        return cls(
            since=ledger.since,
            until=ledger.until,
            reference_tier=ledger.reference_tier,
            reference_model=ledger.reference_model,
            days=[_day(row) for row in ledger.days],
            totals=SavingsTerms.model_validate(SavingsTerms.of(ledger.totals)),
            classes=[_class(entry) for entry in ledger.classes],
            total_classes=ledger.total_classes,
            next_offset=ledger.next_offset,
            notices=ledger.notices,
        )


def _day(row: LedgerDay) -> SavingsDay:
    return SavingsDay.model_validate({"day": row.day, **SavingsTerms.of(row)})


def _class(entry: ClassLedger) -> ClassSavings:
    return ClassSavings(
        task_class=entry.task_class,
        totals=SavingsTerms.model_validate(SavingsTerms.of(entry.totals)),
        days=[_day(row) for row in entry.days],
    )


def _cents(usd: float | None) -> float | None:
    """Dollars to 6 places: sums of floats differ in their last bits, which nobody should see."""
    return None if usd is None else round(usd, 6)
