"""A small store whose savings ledger is worked out by hand: three classes over two UTC days, calls on
two tiers with known token counts and prices, shadow spend booked on the evaluated calls' days, one
promotion in the middle of a day and one call whose model has no price.

Prices (USD per million input / output tokens), set in the policy so list prices play no part:
``m-cheap`` 1 / 5, ``m-mid`` 3 / 15, ``m-top`` 10 / 50 (the reference tier, premium).

* ``extraction``, day 1: 10 cheap calls at 08:00 (1000 in, 200 out: $0.002 each), one mid call at
  09:00 (1000 / 100: $0.0045), promoted cheap → mid at 12:30, then 4 mid calls at 13:00-14:00
  (2000 / 400: $0.012 each); $0.03 of shadow spend.  Day 2: 5 mid calls (1000 / 100); $0.01 shadow.
* ``codegen``, day 1: 2 premium calls (3000 / 1000: $0.08 each): its counterfactual is its spend.
* ``tagging``, day 2: 3 cheap calls (500 / 50) and one call of ``mystery-model`` (unpriced).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from driftwatch.config import Policy
from driftwatch.db.engine import session_factory
from driftwatch.ingest.store import commit_batch
from driftwatch.prices.pricing import ModelPrice
from driftwatch.routing.routes import move_class
from driftwatch.shadow import budget
from tests.dashboard.scenario import _call as call_row

MODELS = {"cheap": "m-cheap", "mid": "m-mid", "premium": "m-top"}
RATES = {"m-cheap": (1.0, 5.0), "m-mid": (3.0, 15.0), "m-top": (10.0, 50.0)}
POLICY = Policy(
    tier_models=MODELS,
    prices={model: ModelPrice(input_per_mtok=i, output_per_mtok=o) for model, (i, o) in RATES.items()},
)


def usd(model: str, input_tokens: int, output_tokens: int) -> float:
    rate_in, rate_out = RATES[model]
    return (input_tokens * rate_in + output_tokens * rate_out) / 1e6


@dataclass(frozen=True, slots=True)
class Day:
    calls: int
    unpriced_calls: int
    spend_usd: float | None
    counterfactual_usd: float | None
    shadow_usd: float
    promotion_cost_usd: float | None
    net_usd: float | None


@dataclass(frozen=True, slots=True)
class Expected:
    day1: str
    day2: str
    extraction: dict[str, Day]
    codegen: dict[str, Day]
    tagging: dict[str, Day]


def expected(day1: datetime) -> Expected:
    """The ledger by hand (each figure written out from the module doc, not computed by the code)."""
    one, two = day1.date().isoformat(), (day1 + timedelta(days=1)).date().isoformat()
    # extraction, day 1: spend 10 x 0.002 + 0.0045 + 4 x 0.012 = 0.0725; on m-top 10 x 0.02 + 0.015
    # + 4 x 0.04 = 0.375; the promoted calls cost 4 x (0.012 - 0.004 on m-cheap) = 0.032 more.
    extraction_1 = Day(15, 0, 0.0725, 0.375, 0.03, 0.032, 0.375 - 0.0725 - 0.03)
    # day 2: 5 x 0.0045 = 0.0225; on m-top 5 x 0.015 = 0.075; promoted: 5 x (0.0045 - 0.0015) = 0.015.
    extraction_2 = Day(5, 0, 0.0225, 0.075, 0.01, 0.015, 0.075 - 0.0225 - 0.01)
    codegen_1 = Day(2, 0, 0.16, 0.16, 0.0, 0.0, 0.0)
    tagging_2 = Day(4, 1, None, None, 0.0, 0.0, None)
    return Expected(one, two, {one: extraction_1, two: extraction_2}, {one: codegen_1}, {two: tagging_2})


def seed(engine: Engine, day1: datetime) -> Expected:
    """``day1`` is a UTC midnight; the store gets the calls, shadow spend and promotion above."""
    rows = [
        *_calls("extraction", "cheap", day1 + timedelta(hours=8), 10, 1000, 200),
        *_calls("extraction", "mid", day1 + timedelta(hours=9), 1, 1000, 100),
        *_calls("extraction", "mid", day1 + timedelta(hours=13), 2, 2000, 400),
        *_calls("extraction", "mid", day1 + timedelta(hours=14), 2, 2000, 400),
        *_calls("extraction", "mid", day1 + timedelta(days=1, hours=10), 5, 1000, 100),
        *_calls("codegen", "premium", day1 + timedelta(hours=11), 2, 3000, 1000),
        *_calls("tagging", "cheap", day1 + timedelta(days=1, hours=7), 3, 500, 50),
        *_calls("tagging", "cheap", day1 + timedelta(days=1, hours=7), 1, 500, 50, model="mystery-model"),
    ]
    commit_batch(engine, rows, [], day1 + timedelta(days=2))
    move(engine, "extraction", "mid", "promoted", day1 + timedelta(hours=12, minutes=30))
    with session_factory(engine).begin() as session:
        for offset, spent in ((0, 0.03), (1, 0.01)):
            call_day = (day1 + timedelta(days=offset)).date().isoformat()
            budget.settle(session, "extraction", None, 0.0, spent, call_day)
    return expected(day1)


def _calls(
    task_class: str,
    tier: str,
    start: datetime,
    count: int,
    input_tokens: int,
    output_tokens: int,
    model: str | None = None,
) -> list[dict[str, Any]]:
    model = model or MODELS[tier]
    rows = [
        call_row(task_class, tier, model, start + timedelta(minutes=index), input_tokens, output_tokens, 0.0)
        for index in range(count)
    ]
    for row in rows:  # as ingest prices it: unknown for a model without a price
        row["cost_usd"] = usd(model, input_tokens, output_tokens) if model in RATES else None
    return rows


def move(engine: Engine, task_class: str, to_tier: str, kind: str, at: datetime) -> None:
    """Move the class as the decide job or a person does: its routing row and the audit log."""
    with session_factory(engine).begin() as session:
        move_class(
            session,
            POLICY,
            task_class=task_class,
            to_tier=to_tier,
            kind=kind,
            actor="driftwatch",
            reason=f"{kind} (test)",
            evidence={},
            now=at,
        )


def midnight_days_ago(days: int) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)
