"""The :class:`Judge` protocol: one way of deciding whether a candidate answer was acceptable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from driftwatch.shadow.providers.base import Message


@dataclass(frozen=True, slots=True)
class JudgeCase:
    """A sampled call: the prompt, the evaluated tier's answer and the reference tier's answer."""

    task_class: str
    messages: tuple[Message, ...]
    candidate: str
    reference: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """``acceptable`` is None when this judge cannot decide and the next judge in the chain should.

    ``score`` is in [0, 1] (1 = as good as the reference) or None when the judge has no graded view.
    ``cost_usd`` is what the judge itself spent (0 for local judges).
    """

    judge: str
    acceptable: bool | None
    score: float | None
    rationale: str
    cost_usd: float = 0.0

    @property
    def decided(self) -> bool:
        return self.acceptable is not None


class Judge(Protocol):
    @property
    def name(self) -> str: ...

    def estimated_cost_usd(self, case: JudgeCase) -> float:
        """Upper estimate of what :meth:`judge` will spend, reserved against the class's budget first."""
        ...

    async def judge(self, case: JudgeCase) -> Verdict: ...
