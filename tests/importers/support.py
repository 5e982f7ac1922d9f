"""What the importer tests share: a fixed clock, the mapper of the default policy, a client on the fake."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from driftwatch.config import Policy
from driftwatch.importers.langfuse_client import LangfuseClient, LangfuseCredentials
from driftwatch.importers.langfuse_import import call_mapper
from driftwatch.ingest.records import CallMapper
from driftwatch.shadow.providers.retry import RetryPolicy
from tests.fakes._http import JsonObject
from tests.fakes.langfuse_server import PUBLIC_KEY, SECRET_KEY, FakeLangfuseServer, generation

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""When the test's generations start; the clock reads an hour later unless a test moves it."""

MESSAGES = [
    {"role": "system", "content": "Answer in one word."},
    {"role": "user", "content": "Is the sky blue?"},
]


def mapper(*, capture_content: bool = True, policy: Policy | None = None) -> CallMapper:
    return call_mapper(policy or Policy(), capture_content=capture_content)


def finished(observation_id: str, minute: float, *, base: datetime = T0, **fields: object) -> JsonObject:
    """A finished chat generation ``minute`` minutes after ``base``, classified ``faq`` (cheap)."""
    start = base + timedelta(minutes=minute)
    defaults: dict[str, object] = {
        "trace_id": f"trace-{observation_id}",
        "end": start + timedelta(seconds=2),
        "input": MESSAGES,
        "output": "Yes.",
        "metadata": {"task_class": "faq"},
    }
    defaults.update(fields)
    return generation(observation_id, start=start, **defaults)  # type: ignore[arg-type]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Sleeps:
    """Stands in for ``time.sleep``: records the pauses the client asked for, without waiting."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@contextmanager
def client_for(
    server: FakeLangfuseServer,
    *,
    sleep: Sleeps | None = None,
    secret_key: str = SECRET_KEY,
    max_retries: int = 3,
) -> Iterator[LangfuseClient]:
    client = LangfuseClient(
        LangfuseCredentials(server.url, PUBLIC_KEY, secret_key),
        retry=RetryPolicy(max_retries=max_retries, backoff_base_seconds=0.01, backoff_max_seconds=0.01),
        sleep=sleep or Sleeps(),
        timeout_seconds=10,
    )
    try:
        yield client
    finally:
        client.close()
