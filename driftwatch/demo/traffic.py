"""The demo's routed app: answers recorded prompts with the model of the tier the routing policy
names, and reports each call as a GenAI span through the real OpenTelemetry SDK and OTLP exporter."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import cycle

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from driftwatch.demo.dataset import CHEAP_MODEL, DRIFTING_CLASSES, PREMIUM_MODEL, WEAKER_MODEL, Prompt

DAY_NS = 86_400 * 1_000_000_000


@dataclass
class Router:
    """Where each class goes: what the app read last from ``GET /v1/policy`` (with its ETag)."""

    base_url: str
    tiers: dict[str, str] = field(default_factory=dict)
    _etag: str | None = None

    def refresh(self, client: httpx.Client) -> None:
        headers = {"If-None-Match": self._etag} if self._etag else {}
        response = client.get(f"{self.base_url}/v1/policy", headers=headers)
        if response.status_code == 200:
            self._etag = response.headers.get("etag")
            self.tiers = {name: route["tier"] for name, route in response.json()["classes"].items()}


class RoutedApp:
    """Emits one span per call. ``swapped`` turns the cheap model of the drifting classes into the
    weaker one, silently, as a provider's model update or a config change would."""

    def __init__(self, base_url: str, prompts: dict[str, list[Prompt]], seed: int = 7) -> None:
        self.router = Router(base_url)
        self.swapped = False
        self.calls = 0
        self._lock = threading.Lock()
        self._traffic_stopped = threading.Event()
        # Shut down by the demo itself: at exit it would flush to a service that is already gone.
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": "demo-router"}), shutdown_on_exit=False
        )
        exporter = OTLPSpanExporter(endpoint=f"{base_url}/v1/traces", timeout=30)
        self._provider.add_span_processor(
            BatchSpanProcessor(
                exporter, max_queue_size=200_000, max_export_batch_size=2_000, schedule_delay_millis=300
            )
        )
        self._tracer = self._provider.get_tracer("driftwatch.demo")
        draw = random.Random(seed)
        self._streams = {name: cycle(draw.sample(items, len(items))) for name, items in prompts.items()}

    def call(self, task_class: str, *, at_ns: int | None = None, tier: str | None = None) -> None:
        prompt = next(self._streams[task_class])
        tier = tier or self.router.tiers.get(task_class, "cheap")
        if tier == "premium":
            model, answer = PREMIUM_MODEL, prompt.premium_answer()
        else:
            weaker = self.swapped and task_class in DRIFTING_CLASSES
            model, answer = (WEAKER_MODEL if weaker else CHEAP_MODEL), prompt.cheap_answer(weaker=weaker)
        start = at_ns if at_ns is not None else time.time_ns()
        span = self._tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, start_time=start)
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "demo",
                "gen_ai.request.model": model,
                "gen_ai.response.model": model,
                "gen_ai.usage.input_tokens": prompt.input_tokens,
                "gen_ai.usage.output_tokens": 1,
                "gen_ai.input.messages": _messages("user", prompt.text),
                "gen_ai.output.messages": _messages("assistant", answer),
                "driftwatch.task_class": task_class,
                "driftwatch.tier": tier,
            }
        )
        span.end(end_time=start + 400_000_000)
        with self._lock:
            self.calls += 1

    def backfill(self, per_day: dict[str, int], days: int, now_ns: int) -> None:
        """Earlier days of traffic, each span dated in its day, so the store has whole days to project
        savings from, as a service that has been running a while would."""
        today_start = now_ns - now_ns % DAY_NS
        draw = random.Random(days)
        for day in range(days, 0, -1):
            for task_class, typical in per_day.items():
                count = max(1, round(typical * draw.uniform(0.8, 1.2)))  # days differ, as real ones do
                for number in range(count):
                    offset = int((number + 0.5) / count * DAY_NS)
                    tier = self.router.tiers.get(task_class, "cheap")
                    self.call(task_class, at_ns=today_start - day * DAY_NS + offset, tier=tier)

    def run(self, classes: list[str], rate_per_second: float, seconds: float) -> None:
        """Calls at ``rate_per_second``, round robin over ``classes``, following the policy, until
        :meth:`stop_traffic` or ``seconds`` have passed."""
        order: Iterator[str] = cycle(classes)
        deadline = time.monotonic() + seconds
        next_refresh = 0.0
        stop = self._traffic_stopped
        with httpx.Client(timeout=10) as client:
            while not stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                if started >= next_refresh:
                    # A router keeps its last policy while driftwatch is unreachable (as when the
                    # demo is stopping it).
                    with contextlib.suppress(httpx.TransportError):
                        self.router.refresh(client)
                    next_refresh = started + 2
                for _ in range(max(1, int(rate_per_second / 10))):
                    self.call(next(order))
                stop.wait(max(0.0, 0.1 - (time.monotonic() - started)))

    def stop_traffic(self) -> None:
        self._traffic_stopped.set()

    def flush(self) -> None:
        self._provider.force_flush(timeout_millis=60_000)

    def stop(self, *, flush: bool) -> None:
        """Stop the traffic and the exporter; ``flush`` first sends the spans still queued."""
        self.stop_traffic()
        if flush:
            self._provider.shutdown()
        # Otherwise the exporter's thread is a daemon: whatever it still holds goes with the process.


def _messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])
