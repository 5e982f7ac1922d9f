"""In-memory implementations of the Provider and Judge protocols for runner tests.

They keep the protocols' contracts (costs, errors, undecided verdicts); nothing here asserts calls.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from driftwatch.shadow.judges.base import JudgeCase, Verdict
from driftwatch.shadow.providers.base import Completion, CompletionRequest, ProviderError


class ScriptedProvider:
    """Answers with ``answer(request)`` (default "Paris"); ``failures`` are raised first, one per call."""

    def __init__(
        self,
        model: str = "claude-opus-4-7",
        answer: Callable[[CompletionRequest], str] = lambda _request: "Paris",
        failures: list[ProviderError] | None = None,
        latency_seconds: float = 0.0,
    ) -> None:
        self._model = model
        self._answer = answer
        self._failures = list(failures or [])
        self._latency = latency_seconds
        self._ids = itertools.count(1)
        self.requests: list[CompletionRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def name(self) -> str:
        return f"memory/{self._model}"

    @property
    def model(self) -> str:
        return self._model

    async def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self._latency:
                await asyncio.sleep(self._latency)
            if self._failures:
                raise self._failures.pop(0)
            text = self._answer(request)
            return Completion(
                text=text,
                model=self._model,
                input_tokens=sum(len(message.content) for message in request.messages) // 4 + 1,
                output_tokens=len(text) // 4 + 1,
                response_id=f"memory-{next(self._ids)}",
                latency_seconds=self._latency,
            )
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        return None


class EqualityJudge:
    """Acceptable when the answers are equal ignoring case; costs ``cost_usd`` per verdict."""

    def __init__(self, cost_usd: float = 0.0, estimate_usd: float | None = None) -> None:
        self._cost = cost_usd
        self._estimate = cost_usd if estimate_usd is None else estimate_usd

    @property
    def name(self) -> str:
        return "equality"

    def estimated_cost_usd(self, case: JudgeCase) -> float:
        return self._estimate

    async def judge(self, case: JudgeCase) -> Verdict:
        same = case.candidate.strip().lower() == case.reference.strip().lower()
        return Verdict("equality", same, 1.0 if same else 0.0, "equal" if same else "differs", self._cost)
