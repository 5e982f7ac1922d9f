"""In-memory judge models: Providers that answer the pairwise prompt the way a model might.

They speak the :class:`~driftwatch.shadow.providers.base.Provider` protocol with its contract — usage
in tokens (or None, as some APIs report), :class:`ProviderError` on failure — and decide by reading
the prompt they are sent, as a real judge does; nothing here asserts how it was called.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace

from driftwatch.shadow.judges.base import JudgeCase
from driftwatch.shadow.providers.base import Completion, CompletionRequest, Message, ProviderError
from tests.shadow.memory import ScriptedProvider

Reply = Callable[[CompletionRequest], str]

_SLOT = re.compile(r"<answer_(a|b)>\n(.*?)\n</answer_\1>", re.DOTALL)


class JudgeModel(ScriptedProvider):
    """The runner tests' scripted provider as a judge model: answers ``reply(request)``, raises
    ``failure`` on the first call, and keeps every completion it returned (``replies``) so a test
    can price them; ``reports_usage=False`` withholds token counts, as some APIs do."""

    def __init__(
        self,
        reply: Reply,
        model: str = "claude-opus-4-7",
        failure: ProviderError | None = None,
        reports_usage: bool = True,
    ) -> None:
        super().__init__(model, reply, [failure] if failure else None)
        self._reports_usage = reports_usage
        self.replies: list[Completion] = []

    async def complete(self, request: CompletionRequest) -> Completion:
        completion = await super().complete(request)
        if not self._reports_usage:
            completion = replace(completion, input_tokens=None, output_tokens=None)
        self.replies.append(completion)
        return completion


def slots(request: CompletionRequest) -> tuple[str, str]:
    """The answers shown as A and B, read from the pairwise prompt (the first user message)."""
    prompt = next(message.content for message in request.messages if message.role == "user")
    found = dict(_SLOT.findall(prompt))
    return found["a"], found["b"]


def verdict(winner: str, reason: str = "because") -> str:
    return json.dumps({"winner": winner, "reason": reason})


def knows(correct: set[str]) -> Reply:
    """A fair judge: an answer in ``correct`` beats one that is not; two of a kind tie."""

    def reply(request: CompletionRequest) -> str:
        a, b = (answer in correct for answer in slots(request))
        return verdict("tie" if a == b else "A" if a else "B")

    return reply


def always(text: str) -> Reply:
    return lambda request: text


def in_turn(*texts: str) -> Reply:
    """Replies with ``texts`` one after the other, the last one from then on."""
    queue: Iterator[str] = iter(texts)
    return lambda request: next(queue, texts[-1])


def case(candidate: str, reference: str, question: str = "What is the capital of France?") -> JudgeCase:
    return JudgeCase(
        "qa", (Message("system", "Answer briefly."), Message("user", question)), candidate, reference
    )
