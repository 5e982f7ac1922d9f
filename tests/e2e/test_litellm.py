"""The real ``litellm`` package — SDK (sync, async, ``Router``) and a proxy process — exporting with its own
``otel`` callback, configured as the "LiteLLM" section of docs/ingest.md says, into a running driftwatch: every
call is stored once with the real model, provider, tokens, cost, content, class and tier, and a shadow
replay sent through the proxy is not stored."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from driftwatch.auth.keys import create_key
from driftwatch.auth.scopes import Scope
from driftwatch.config.sections import ProviderConfig
from driftwatch.shadow.providers.base import CompletionRequest, Message
from driftwatch.shadow.providers.factory import build_provider
from tests.conftest import StartServer
from tests.e2e.instrumented_app import SYSTEM_PROMPT, USER_PROMPT
from tests.fakes import FakeOpenAIServer
from tests.support.manual import ROOT, doc, fenced_blocks, section
from tests.support.processes import free_port
from tests.support.server import ServerThread

LITELLM_SECTION = section(doc("ingest.md"), "LiteLLM")
MASTER_KEY = "sk-driftwatch-test-0123456789abcdef"
PROXY_CALLS = 5
# The proxy imports for a minute on a busy machine; waits are generous, never fixed sleeps.
PROXY_START_SECONDS = 300
EXPORT_SECONDS = 120
GPT_4O_MINI_COST = (42 * 0.15 + 7 * 0.60) / 1e6


def _without_otel_env() -> dict[str, str]:
    # LiteLLM prefers OTEL_EXPORTER_OTLP_* over its own variables: nothing inherited may redirect it.
    return {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}


def _documented_block(language: str, first_line: str) -> str:
    for block in fenced_blocks(LITELLM_SECTION, language):
        if block.startswith(first_line):
            return block
    raise AssertionError(f"docs/ingest.md, LiteLLM, has no {language} block starting {first_line!r}")


def _assert_stored_as_made(calls: list[dict[str, Any]], made: int, model: str, service: str) -> None:
    assert len(calls) == made, calls
    for call in calls:
        assert call["service"] == service
        assert (call["provider"], call["model"]) == ("openai", model)
        assert (call["input_tokens"], call["output_tokens"]) == (42, 7)
        assert call["cost_usd"] == pytest.approx(GPT_4O_MINI_COST)
        assert call["prompt"] == [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": USER_PROMPT},
        ]
        assert call["completion"] == "positive"
        assert (call["task_class"], call["tier"]) == ("sentiment", "cheap")
        assert (call["operation"], call["status"]) == ("chat", "ok")


def _calls(server: ServerThread, key: str | None = None) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.base_url}/v1/calls?limit=100", headers=_bearer(key))
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _bearer(key: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"} if key else {}


def test_sdk_sync_async_and_router_calls_are_each_stored_once(server: ServerThread) -> None:
    with FakeOpenAIServer(reply="positive", response_model="gpt-4o-mini-2024-07-18") as llm:
        completed = subprocess.run(
            [sys.executable, "-m", "tests.e2e.litellm_app", llm.base_url],
            cwd=ROOT,
            env={
                **_without_otel_env(),
                "OTEL_EXPORTER_OTLP_ENDPOINT": server.base_url,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_SERVICE_NAME": "review-router",
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of LiteLLM's price list
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert completed.returncode == 0, completed.stderr
        assert len(llm.requests) == 4

    # The app flushed its exporter before exiting, and driftwatch answers only once committed.
    _assert_stored_as_made(
        _calls(server), int(completed.stdout.split()[-1]), "gpt-4o-mini-2024-07-18", "review-router"
    )


@contextmanager
def _litellm_proxy(folder: Path, llm_base_url: str, traces_url: str, driftwatch_key: str) -> Iterator[str]:
    """A LiteLLM proxy process with the documented config.yaml, the deployments pointed at the fake."""
    config = yaml.safe_load(_documented_block("yaml", "# config.yaml of a LiteLLM proxy"))
    for deployment in config["model_list"]:
        deployment["litellm_params"]["api_base"] = llm_base_url
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    env = {
        **_without_otel_env(),
        # The documented exports, pointed at the test's driftwatch.
        "OTEL_EXPORTER": "otlp_http",
        "OTEL_ENDPOINT": traces_url,
        "OTEL_HEADERS": f"Authorization=Bearer {driftwatch_key}",
        "OTEL_SERVICE_NAME": "gateway",
        "OPENAI_API_KEY": "test",
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    litellm_cli = Path(sys.executable).with_name("litellm")
    with (folder / "proxy.log").open("w") as log:
        process = subprocess.Popen(
            [str(litellm_cli), "--config", "config.yaml", "--host", "127.0.0.1", "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_for(lambda: _alive(process, base_url, folder), PROXY_START_SECONDS, "the LiteLLM proxy")
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _alive(process: subprocess.Popen[bytes], base_url: str, folder: Path) -> bool:
    if process.poll() is not None:
        log = (folder / "proxy.log").read_text(encoding="utf-8")
        raise AssertionError(f"the LiteLLM proxy exited with {process.returncode}:\n{log[-3000:]}")
    try:
        return httpx.get(f"{base_url}/health/liveliness", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def _shadow_spans(server: ServerThread, key: str) -> float:
    metrics = httpx.get(f"{server.base_url}/metrics", headers=_bearer(key)).text
    found = re.search(r'^driftwatch_ingest_spans_received_total\{kind="shadow"\} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def _shadow_replay(proxy_url: str) -> str:
    # driftwatch's own OpenAI-compatible provider, configured as docs/ingest.md says for a proxy alias.
    config = ProviderConfig(
        kind="openai", model="premium", price_model="gpt-4o", base_url=f"{proxy_url}/v1", api_key_env="KEY"
    )
    provider = build_provider(config, {"KEY": MASTER_KEY})
    try:
        answer = await provider.complete(CompletionRequest((Message("user", USER_PROMPT),)))
    finally:
        await provider.aclose()
    return answer.text


def test_proxy_calls_are_stored_once_and_a_shadow_replay_through_it_is_not(
    start_server: StartServer, engine: Engine, tmp_path: Path
) -> None:
    server = start_server(require_auth=True)  # the documented OTEL_HEADERS carry the key
    with Session(engine) as session, session.begin():
        key = create_key(session, "gateway", scopes={Scope.INGEST}).key  # the proxy's exporter key
        reader = create_key(session, "reader", scopes={Scope.READ}).key
    with (
        FakeOpenAIServer(reply="positive") as llm,
        _litellm_proxy(tmp_path, llm.base_url, f"{server.base_url}/v1/traces", key) as proxy_url,
    ):
        client = openai.OpenAI(base_url=f"{proxy_url}/v1", api_key=MASTER_KEY)
        for _ in range(PROXY_CALLS):
            client.chat.completions.create(
                model="cheap",
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": USER_PROMPT},
                ],
                extra_body={"metadata": {"task_class": "sentiment", "tier": "cheap"}},
            )
        assert asyncio.run(_shadow_replay(proxy_url)) == "positive"

        # LiteLLM exports in batches (every 5 s): wait until the replay's span has been counted too.
        _wait_for(
            lambda: len(_calls(server, reader)) >= PROXY_CALLS and _shadow_spans(server, reader) >= 1,
            EXPORT_SECONDS,
            "the proxy's spans",
        )

    completions = [request for request in llm.requests if request.path == llm.route]
    assert [request.body["model"] for request in completions] == ["gpt-4o-mini"] * PROXY_CALLS + ["gpt-4o"]
    # The proxy reports its alias "cheap" as the response model; stored is the model that ran.
    _assert_stored_as_made(_calls(server, reader), PROXY_CALLS, "gpt-4o-mini", "gateway")
    assert _shadow_spans(server, reader) == 1


def test_the_readme_sdk_recipe_is_the_one_the_test_app_runs() -> None:
    recipe = _documented_block("python", "import litellm\n")
    app = (ROOT / "tests" / "e2e" / "litellm_app.py").read_text(encoding="utf-8")
    app_lines = {line.strip() for line in app.splitlines()}

    missing = [
        line.strip()
        for line in recipe.splitlines()
        if line.strip() and not line.startswith(("import", "from")) and line.strip() not in app_lines
    ]

    assert missing == []
