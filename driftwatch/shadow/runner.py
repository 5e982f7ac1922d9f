"""The evaluation runner: claim due samples, replay each on the reference tier, judge, commit.

One :meth:`ShadowRunner.run_once` is one unit of work.  Provider and judge calls run concurrently on
the event loop (bounded by ``max_in_flight``; each provider also limits itself), while database work
runs on one thread that commits waiting units together (:mod:`group_commit`), so commits never
stall the calls in flight.  Each sample's result is committed with its cost as soon as it is known,
together with the results that became known meanwhile: reserving budget and recording results are
batched per group commit (a few statements for the whole group, not several per evaluation).

Guarantees: a sample's evaluation is recorded at most once (every transition is conditional on the
worker still owning the sample, and ``evaluation.sample_id`` is unique); a crash loses nothing (an
expired lease makes the sample claimable again and releases the dead worker's reservation).  What a
crash can cost is one repeated provider call: the money is spent before the result is committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.models import SampleStatus
from driftwatch.db.models.evaluation import SHADOW_SOURCE
from driftwatch.evaluations import writer
from driftwatch.events.outbox import emit
from driftwatch.prices.pricing import PriceTable
from driftwatch.shadow import budget, queue
from driftwatch.shadow.estimate import (
    UnreplayablePrompt,
    estimate_replay,
    replay_request,
    worst_case_reference,
)
from driftwatch.shadow.group_commit import GroupCommitter
from driftwatch.shadow.judges.base import Judge, JudgeCase, Verdict
from driftwatch.shadow.providers.base import Completion, CompletionRequest, Provider, ProviderError
from driftwatch.shadow.queue import ClaimedSample

logger = logging.getLogger(__name__)
R = TypeVar("R")
# A sample the budget cannot cover while other evaluations hold reservations waits this long.
BUDGET_WAIT = timedelta(seconds=5)


class Reservation(Enum):
    MADE = "made"
    WAIT = "wait"  # no room now, but evaluations in flight hold some that may come back
    SPENT = "spent"  # the day's budget is spent
    LOST = "lost"  # the sample's lease was taken by another worker


class ShadowObserver(Protocol):
    """Told of each evaluation that reached the provider (e.g. :class:`driftwatch.ingest.metrics.Metrics`)."""

    def shadow_evaluation_finished(self, outcome: str, seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    worker_id: str
    batch_size: int = 500
    max_in_flight: int = 256
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    retry_base: timedelta = timedelta(seconds=30)


@dataclass(slots=True)
class RunSummary:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    spent_usd: float = 0.0

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def summary(self) -> str:
        parts = ", ".join(f"{outcome} {count}" for outcome, count in sorted(self.outcomes.items()))
        return f"claimed {self.claimed}: {parts or 'nothing due'}; spent ${self.spent_usd:.4f}"


@dataclass(frozen=True, slots=True)
class _Plan:
    request: CompletionRequest
    case: JudgeCase
    provider: Provider
    judge: Judge
    replay_estimate_usd: float
    judge_estimate_usd: float

    @property
    def estimate_usd(self) -> float:
        return self.replay_estimate_usd + self.judge_estimate_usd


@dataclass(frozen=True, slots=True)
class _Wanted:
    """An evaluation about to call its provider: the budget it needs on ``day`` (upper estimate)."""

    sample: ClaimedSample
    day: str
    amount: float


@dataclass(frozen=True, slots=True)
class _Judged:
    """An evaluation the provider answered and the judge decided, waiting to be committed."""

    sample: ClaimedSample
    day: str
    reserved: float
    answer: Completion
    verdict: Verdict
    spent: float

    def evaluation(self, now: datetime) -> dict[str, object]:
        sample, verdict = self.sample, self.verdict
        return {
            "source": SHADOW_SOURCE,
            "sample_id": sample.sample_id,
            "call_id": sample.call_id,
            "trace_id": sample.trace_id,
            "span_id": sample.span_id,
            "task_class": sample.task_class,
            **sample.evaluated_as(self.answer.model),
            "acceptable": verdict.acceptable,
            "score": verdict.score,
            "judge": verdict.judge,
            "rationale": verdict.rationale[:4000],
            "shadow_cost_usd": self.spent - verdict.cost_usd,
            "judge_cost_usd": verdict.cost_usd,
            "evaluated_at": now,
            "created_at": now,
        }


class ShadowRunner:
    def __init__(
        self,
        engine: Engine,
        policy: Policy,
        providers: Mapping[str, Provider],
        judges_for: Callable[[str], Judge],
        prices: PriceTable,
        options: RunnerOptions,
        clock: Callable[[], datetime],
        observer: ShadowObserver | None = None,
    ) -> None:
        self._commits = GroupCommitter(session_factory(engine))
        self._observer = observer
        self._policy = policy
        self._providers = providers
        self._judges_for = judges_for
        self._prices = prices
        self._options = options
        self._clock = clock

    def close(self) -> None:
        self._commits.close()

    async def run_once(self, task_class: str | None = None) -> RunSummary:
        options = self._options
        claimed = await self._in_transaction(
            queue.claim, options.worker_id, self._clock(), options.batch_size, options.lease, task_class
        )
        summary = RunSummary(claimed=len(claimed))
        in_flight = asyncio.Semaphore(options.max_in_flight)

        async def bounded(sample: ClaimedSample) -> None:
            async with in_flight:
                await self._evaluate(sample, summary)

        await asyncio.gather(*(bounded(sample) for sample in claimed))
        return summary

    async def _evaluate(self, sample: ClaimedSample, summary: RunSummary) -> None:
        try:
            plan = self._plan(sample)
        except UnreplayablePrompt as error:
            await self._finish(sample, SampleStatus.UNEVALUABLE, str(error), summary)
            return
        except LookupError as error:
            await self._finish(sample, SampleStatus.FAILED, str(error), summary)
            return
        day = budget.budget_day(self._clock())
        reservation = await self._commits.run_batched(self._reserve, _Wanted(sample, day, plan.estimate_usd))
        if reservation is Reservation.LOST:  # its lease ran out and another worker has it now
            return
        if reservation is Reservation.WAIT:
            await self._in_transaction(self._defer, sample)
            summary.count("deferred")
            return
        if reservation is Reservation.SPENT:
            limit = self._policy.shadow.budget_for(sample.task_class)
            await self._finish(
                sample, SampleStatus.SKIPPED_BUDGET, f"daily budget of ${limit:.2f} is spent", summary
            )
            return
        spent, started = 0.0, time.perf_counter()
        try:
            answer = await plan.provider.complete(plan.request)
            spent = self._replay_cost(plan, answer)
            try:
                verdict = await plan.judge.judge(sample.judge_case(plan.case.messages, answer.text))
            except ProviderError:
                # A judge that failed part-way may have paid for calls it cannot report: charge its
                # upper estimate, so failed judging can never let spend slip past the budget.
                spent += plan.judge_estimate_usd
                raise
        except ProviderError as error:
            await self._in_transaction(self._retry_or_fail, sample, error, spent)
            outcome = "retried" if self._will_retry(sample, error) else SampleStatus.FAILED.value
        else:
            spent += verdict.cost_usd
            judged = _Judged(sample, day, plan.estimate_usd, answer, verdict, spent)
            await self._commits.run_batched(self._record, judged)
            outcome = {True: "acceptable", False: "unacceptable", None: "undecided"}[verdict.acceptable]
        summary.spent_usd += spent
        summary.count(outcome)
        if self._observer is not None:
            self._observer.shadow_evaluation_finished(outcome, time.perf_counter() - started)

    def _plan(self, sample: ClaimedSample) -> _Plan:
        if not sample.prompt:
            raise UnreplayablePrompt("no prompt captured for this call: enable content capture")
        if sample.completion is None:
            raise UnreplayablePrompt("no completion captured for this call: enable content capture")
        provider = self._providers.get(sample.reference_tier)
        if provider is None:
            raise LookupError(f"no provider configured for tier {sample.reference_tier!r}")
        request = replay_request(sample.prompt, sample.completion, sample.output_tokens)
        judge = self._judges_for(sample.task_class)
        try:
            replay = estimate_replay(request, sample.input_tokens, provider.model, self._prices)
        except KeyError:
            raise LookupError(
                f"no price for reference model {provider.model!r}: add it to the policy's prices"
            ) from None
        case = JudgeCase(sample.task_class, request.messages, sample.completion, "")
        judge_estimate = judge.estimated_cost_usd(
            sample.judge_case(request.messages, worst_case_reference(request))
        )
        return _Plan(request, case, provider, judge, replay.cost_usd, judge_estimate)

    def _replay_cost(self, plan: _Plan, answer: Completion) -> float:
        actual = self._prices.cost(answer.model, answer.input_tokens, answer.output_tokens)
        if actual is None:  # a provider that reports no usage or an unpriced model name
            actual = self._prices.cost(plan.provider.model, answer.input_tokens, answer.output_tokens)
        # Still unknown: charge the reservation's upper estimate, so the budget errs on the safe side.
        return plan.replay_estimate_usd if actual is None else actual

    def _will_retry(self, sample: ClaimedSample, error: ProviderError) -> bool:
        return error.retryable and sample.attempts < self._options.max_attempts

    # Each of these runs on the group-commit thread, in a transaction shared with other waiting units.

    def _reserve(self, session: Session, wanted: list[_Wanted]) -> list[Reservation]:
        """Reserve budget for the evaluations about to call their provider, and record each
        reservation on its sample: per class and day one reservation for all when they fit together
        (they fit in any order then), one by one otherwise; and the samples' rows in one batch."""
        outcomes: list[Reservation | None] = [None] * len(wanted)
        by_class_day: dict[tuple[str, str], list[int]] = {}
        for index, each in enumerate(wanted):
            by_class_day.setdefault((each.sample.task_class, each.day), []).append(index)
        reserved: list[int] = []
        for (task_class, day), indices in sorted(by_class_day.items()):
            limit = self._policy.shadow.budget_for(task_class)
            together = sum(wanted[index].amount for index in indices)
            if len(indices) > 1 and budget.reserve(session, task_class, day, together, limit):
                reserved.extend(indices)
                continue
            for index in indices:
                if budget.reserve(session, task_class, day, wanted[index].amount, limit):
                    reserved.append(index)
                    continue
                # Reservations are upper estimates: while others are held, settling them may free room.
                held = budget.held_in_flight(session, task_class, day)
                outcomes[index] = Reservation.WAIT if held > 0 else Reservation.SPENT
        recorded = queue.start(
            session,
            [(wanted[index].sample.sample_id, wanted[index].day, wanted[index].amount) for index in reserved],
            self._options.worker_id,
            self._clock(),
        )
        for index in reserved:
            each = wanted[index]
            if each.sample.sample_id in recorded:
                outcomes[index] = Reservation.MADE
            else:  # lost the sample to another worker
                budget.release(session, each.sample.task_class, each.day, each.amount)
                outcomes[index] = Reservation.LOST
        return [outcome or Reservation.LOST for outcome in outcomes]

    def _defer(self, session: Session, sample: ClaimedSample) -> None:
        """Back in the queue for a little while, its attempt given back: it was not tried."""
        now = self._clock()
        queue.transition(
            session,
            sample.sample_id,
            self._options.worker_id,
            now,
            SampleStatus.PENDING,
            error="waiting for budget held by evaluations in flight",
            not_before=now + BUDGET_WAIT,
            refund_attempt=True,
        )

    def _retry_or_fail(
        self, session: Session, sample: ClaimedSample, error: ProviderError, spent: float
    ) -> None:
        now = self._clock()
        day, reserved = queue.reservation_of(session, sample.sample_id)
        if self._will_retry(sample, error):
            delay = self._options.retry_base * 2 ** (sample.attempts - 1)
            status, not_before = SampleStatus.PENDING, now + delay
        else:
            status, not_before = SampleStatus.FAILED, None
        owned = queue.transition(
            session,
            sample.sample_id,
            self._options.worker_id,
            now,
            status,
            error=str(error)[:2000],
            not_before=not_before,
            reserved=(day or "", 0.0) if day else None,
        )
        budget.settle(session, sample.task_class, day, reserved if owned else 0.0, spent, sample.call_day)

    def _record(self, session: Session, judged: list[_Judged]) -> list[None]:
        """Commit the results of all the evaluations judged meanwhile: a few statements for the lot.

        Each one's reservation is what ``_reserve`` wrote on its row: while this worker owns the sample
        (the DONE transition checks it) nobody else changes it, so there is no need to read it back.
        """
        now = self._clock()
        owned = queue.done(session, [each.sample.sample_id for each in judged], self._options.worker_id, now)
        writer.insert_shadow(
            session, [each.evaluation(now) for each in judged if each.sample.sample_id in owned]
        )
        # A sample whose lease was taken over had its reservation released: count the money, not the result.
        budget.settle_many(
            session,
            [
                budget.Settlement(
                    each.sample.task_class,
                    each.day,
                    each.reserved if each.sample.sample_id in owned else 0.0,
                    each.spent,
                    each.sample.call_day,
                )
                for each in judged
            ],
        )
        return [None] * len(judged)

    async def _finish(
        self, sample: ClaimedSample, status: SampleStatus, reason: str, summary: RunSummary
    ) -> None:
        def finish(session: Session) -> None:
            now = self._clock()
            if not queue.transition(
                session, sample.sample_id, self._options.worker_id, now, status, error=reason
            ):
                return
            # Worth a notification once per class and day, not once per sample.
            day = budget.budget_day(now)
            if status is SampleStatus.SKIPPED_BUDGET:
                limit = self._policy.shadow.budget_for(sample.task_class)
                payload = {"day": day, "daily_budget_usd": limit, "reason": reason}
                emit(session, "budget.exhausted", sample.task_class, payload, now, dedupe=day)
            elif status is SampleStatus.UNEVALUABLE:
                payload = {"day": day, "reason": reason}
                emit(session, "class.unevaluable", sample.task_class, payload, now, dedupe=day)

        await self._in_transaction(finish)
        summary.count(status)

    async def _in_transaction(self, work: Callable[..., R], *args: object) -> R:
        return await self._commits.run(work, *args)
