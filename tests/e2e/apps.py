"""Running the instrumented example apps (``instrumented_app``, ``fastapi_app``) as their own processes,
exporting to a driftwatch server, and reading back what they sent (the span dump)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.fastapi_app import INSTRUMENTATION_ENV, LLM_URL_ENV
from tests.e2e.instrumented_app import SPAN_DUMP_ENV, SPAN_PROCESSOR_ENV
from tests.support.patience import patient
from tests.support.processes import free_port, wait_healthy
from tests.support.server import ServerThread

ROOT = Path(__file__).resolve().parents[2]

SIMPLE = {SPAN_PROCESSOR_ENV: "simple"}
"""App env: export every span in a request of its own as it ends."""
BATCH = {SPAN_PROCESSOR_ENV: "batch"}
"""App env: batch spans, as the standard ``OTEL_BSP_*`` variables say."""

ROUTING_BAGGAGE = {"baggage": "driftwatch.task_class=sentiment,driftwatch.tier=cheap"}
"""The W3C baggage header of a caller that routed the request (class ``sentiment``, tier ``cheap``)."""

# What turns prompt/completion capture on for each instrumentation (see docs/ingest.md, "Content capture").
CONTENT_ENV = {
    "openai-v2": {
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
    },
    "openinference-openai": {},
    "traceloop-openai": {"TRACELOOP_TRACE_CONTENT": "true"},
    "openinference-anthropic": {},
    "traceloop-anthropic": {"TRACELOOP_TRACE_CONTENT": "true"},
}


def app_env(
    instrumentation: str,
    server: ServerThread,
    content_env: Mapping[str, str] | None,
    extra: Mapping[str, str],
) -> dict[str, str]:
    return {
        **os.environ,
        **(CONTENT_ENV[instrumentation] if content_env is None else content_env),
        "OTEL_EXPORTER_OTLP_ENDPOINT": server.base_url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": "review-router",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def run_app(
    instrumentation: str,
    llm_base_url: str,
    server: ServerThread,
    content_env: Mapping[str, str] | None = None,
    *,
    app_args: Sequence[object] = (),
    env: Mapping[str, str] | None = None,
) -> None:
    """``python -m tests.e2e.instrumented_app`` to completion; it exits once its exports were answered."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.e2e.instrumented_app",
            instrumentation,
            llm_base_url,
            *map(str, app_args),
        ],
        cwd=ROOT,
        env=app_env(instrumentation, server, content_env, env or {}),
        capture_output=True,
        text=True,
        timeout=patient(120),
    )
    assert completed.returncode == 0, completed.stderr
    assert "Failed to export" not in completed.stderr, completed.stderr


@contextmanager
def fastapi_app(
    llm_base_url: str,
    server: ServerThread,
    instrumentation: str = "openai-v2",
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The FastAPI app served by uvicorn in its own process; yields its base URL. Leaving the block
    stops it with SIGTERM and waits: its lifespan shutdown flushes every export first."""
    port = free_port()
    app = {LLM_URL_ENV: llm_base_url, INSTRUMENTATION_ENV: instrumentation, **(env or {})}
    command = [sys.executable, "-m", "uvicorn", "tests.e2e.fastapi_app:create", "--factory"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=app_env(instrumentation, server, None, app),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_healthy(process, base_url, patient(30))
        yield base_url
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=patient(60))
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert process.returncode in (0, -signal.SIGTERM), (process.returncode, stderr)
        assert "Failed to export" not in stderr, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@dataclass(frozen=True)
class SentSpan:
    """One span as the app exported it (from the span dump)."""

    scope: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    attributes: dict[str, Any]


def sent_spans(dump: Path) -> list[SentSpan]:
    """The spans an app wrote to its span dump (``INSTRUMENTED_APP_SPAN_DUMP``)."""
    return [
        SentSpan(
            scope=scope_spans["scope"]["name"],
            name=span["name"],
            kind=span["kind"],
            trace_id=span["traceId"],
            span_id=span["spanId"],
            parent_span_id=span.get("parentSpanId") or None,
            attributes={
                item["key"]: next(iter(item["value"].values()), None) for item in span.get("attributes", [])
            },
        )
        for resource_spans in json.loads(dump.read_bytes())["resourceSpans"]
        for scope_spans in resource_spans["scopeSpans"]
        for span in scope_spans["spans"]
    ]


def dump_env(dump: Path) -> dict[str, str]:
    return {SPAN_DUMP_ENV: str(dump)}
