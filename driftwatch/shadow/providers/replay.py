"""Recorded answers played back as a provider: for the demo, tests and benchmarks, no network.

A dataset is JSONL, one recorded call a line::

    {"messages": [{"role": "user", "content": "Great phone."}], "response": "positive",
     "model": "claude-opus-4-7", "input_tokens": 12, "output_tokens": 1}

``"prompt": "..."`` stands for a single user message; ``model`` and the token counts are optional. A
request finds its answer by :func:`prompt_key` of its messages; a later line with the same key replaces
an earlier one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from driftwatch.errors import ConfigError
from driftwatch.shadow.providers.base import Completion, CompletionRequest, Message, ProviderError

_T = TypeVar("_T")


def prompt_key(messages: Iterable[Message]) -> str:
    """The stable lookup key of a conversation: SHA-256 over each message's role and content.

    Roles are lower-cased and both are stripped of surrounding whitespace, so a prompt recorded from one
    instrumentation finds the same answer when another adds a trailing newline. Nothing else of the
    request (token limit, temperature, JSON mode) is part of the key.
    """
    normalised = [[message.role.strip().lower(), message.content.strip()] for message in messages]
    encoded = json.dumps(normalised, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RecordedAnswer:
    """What the provider answered once; ``model`` None answers as the provider's own model."""

    response: str
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


class ReplayProvider:
    """Answers each request with its recorded answer, after ``latency_seconds`` (simulating a slow
    provider for benchmarks); an unrecorded prompt is a non-retryable :class:`ProviderError`.

    ``max_concurrency`` None lets every request through at once; a number caps them as a real provider's
    limit would, so a benchmark's throughput is what it would be against the real thing.
    """

    def __init__(
        self,
        answers: Mapping[str, RecordedAnswer],
        *,
        model: str,
        latency_seconds: float = 0.0,
        max_concurrency: int | None = None,
    ) -> None:
        """``answers`` is keyed by :func:`prompt_key`; see :meth:`from_mapping` for a friendlier form."""
        self._answers = dict(answers)
        self.model: Final = model
        self.name: Final = f"replay/{model}"
        self._latency_seconds = latency_seconds
        self._semaphore = asyncio.Semaphore(max_concurrency) if max_concurrency else None

    @classmethod
    def from_mapping(
        cls,
        answers: Mapping[str | tuple[Message, ...], str | RecordedAnswer],
        *,
        model: str,
        latency_seconds: float = 0.0,
        max_concurrency: int | None = None,
    ) -> ReplayProvider:
        """Answers given in memory: a key is a conversation, or a string standing for one user message."""
        keyed = {
            prompt_key(_conversation(prompt)): answer
            if isinstance(answer, RecordedAnswer)
            else RecordedAnswer(answer)
            for prompt, answer in answers.items()
        }
        return cls(keyed, model=model, latency_seconds=latency_seconds, max_concurrency=max_concurrency)

    @classmethod
    def from_jsonl(
        cls,
        path: Path,
        *,
        model: str,
        latency_seconds: float = 0.0,
        max_concurrency: int | None = None,
    ) -> ReplayProvider:
        """The dataset at ``path`` (format in the module docstring); :class:`ConfigError` naming the file
        and line when it cannot be read."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ConfigError(f"replay dataset {path}: {error.strerror or error}") from error
        answers: dict[str, RecordedAnswer] = {}
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    key, answer = _parse_record(json.loads(line))
                except (ValueError, TypeError) as error:
                    raise ConfigError(f"replay dataset {path}, line {number}: {error}") from error
                answers[key] = answer
        return cls(answers, model=model, latency_seconds=latency_seconds, max_concurrency=max_concurrency)

    def __len__(self) -> int:
        """How many recorded prompts the provider can answer."""
        return len(self._answers)

    async def complete(self, request: CompletionRequest) -> Completion:
        key = prompt_key(request.messages)
        answer = self._answers.get(key)
        if answer is None:
            raise ProviderError(f"{self.name}: no recorded answer for prompt {key[:12]}", retryable=False)
        started = time.perf_counter()
        if self._semaphore is None:
            await asyncio.sleep(self._latency_seconds)
        else:
            async with self._semaphore:
                await asyncio.sleep(self._latency_seconds)
        return Completion(
            text=answer.response,
            model=answer.model or self.model,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            response_id=None,
            latency_seconds=time.perf_counter() - started,
        )

    async def aclose(self) -> None:
        """Nothing to release."""


def _conversation(prompt: str | tuple[Message, ...]) -> tuple[Message, ...]:
    return (Message("user", prompt),) if isinstance(prompt, str) else prompt


def _parse_record(record: object) -> tuple[str, RecordedAnswer]:
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    if not isinstance(record.get("response"), str):
        raise ValueError('"response" must be a string')
    messages = record.get("messages")
    if isinstance(messages, list):
        conversation = tuple(_message(item) for item in messages)
    elif isinstance(record.get("prompt"), str):
        conversation = _conversation(record["prompt"])
    else:
        raise ValueError('a record needs "messages" (a list of {"role", "content"}) or "prompt" (a string)')
    answer = RecordedAnswer(
        response=record["response"],
        model=_optional(record, "model", str, "a string"),
        input_tokens=_optional(record, "input_tokens", int, "an integer"),
        output_tokens=_optional(record, "output_tokens", int, "an integer"),
    )
    return prompt_key(conversation), answer


def _message(item: object) -> Message:
    if isinstance(item, dict) and isinstance(item.get("role"), str) and isinstance(item.get("content"), str):
        return Message(item["role"], item["content"])
    raise ValueError('each of "messages" must be {"role": string, "content": string}')


def _optional(record: dict[str, object], field: str, kind: type[_T], described: str) -> _T | None:
    value = record.get(field)
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):  # True is an int too
        return value
    raise ValueError(f'"{field}" must be {described}')
