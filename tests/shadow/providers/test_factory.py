"""build_provider: from a policy-file entry to a working provider, keys read from the given environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftwatch.config import ProviderConfig
from driftwatch.errors import ConfigError
from driftwatch.shadow.providers.anthropic_messages import AnthropicProvider
from driftwatch.shadow.providers.base import CompletionRequest, Message
from driftwatch.shadow.providers.factory import NO_KEY, build_provider
from driftwatch.shadow.providers.openai_compatible import OpenAICompatibleProvider
from driftwatch.shadow.providers.replay import ReplayProvider
from tests.fakes import FakeAnthropicServer, FakeOpenAIServer
from tests.shadow.providers.support import complete, failure


def test_openai_key_comes_from_the_named_variable() -> None:
    with FakeOpenAIServer() as server:
        config = ProviderConfig(kind="openai", model="gpt-4o", base_url=server.base_url, api_key_env="MY_KEY")
        provider = build_provider(config, {"MY_KEY": "sk-live"})
        complete(lambda: provider)
    assert isinstance(provider, OpenAICompatibleProvider)
    assert provider.name == "openai/gpt-4o"
    assert server.requests[0].headers["authorization"] == "Bearer sk-live"


def test_self_hosted_server_needs_no_key() -> None:
    with FakeOpenAIServer() as server:
        config = ProviderConfig(kind="openai", model="llama3.1:8b", base_url=server.base_url)
        complete(lambda: build_provider(config, {}))
    assert server.requests[0].headers["authorization"] == f"Bearer {NO_KEY}"


def test_anthropic_with_retries_from_the_config() -> None:
    with FakeAnthropicServer() as server:
        config = ProviderConfig(
            kind="anthropic",
            model="claude-opus-4-7",
            base_url=server.base_url,
            api_key_env="ANTHROPIC_KEY",
            max_retries=0,
            max_concurrency=2,
        )
        provider = build_provider(config, {"ANTHROPIC_KEY": "sk-ant"})
        server.fail_next(500)
        error = failure(lambda: provider)
    assert isinstance(provider, AnthropicProvider)
    assert error.retryable
    assert len(server.requests) == 1  # max_retries=0: one attempt
    headers = server.requests[0].headers
    assert "sk-ant" in (
        headers.get("x-api-key", ""),
        headers.get("authorization", "").removeprefix("Bearer "),
    )


@pytest.mark.parametrize("environ", [{}, {"MY_KEY": ""}, {"MY_KEY": "  "}])
def test_unset_key_variable_is_a_config_error(environ: dict[str, str]) -> None:
    config = ProviderConfig(kind="anthropic", model="claude-opus-4-7", api_key_env="MY_KEY")
    with pytest.raises(ConfigError, match="anthropic/claude-opus-4-7: environment variable MY_KEY"):
        build_provider(config, environ)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_vendor_api_without_key_variable_is_a_config_error(kind: str) -> None:
    config = ProviderConfig.model_validate({"kind": kind, "model": "m"})
    with pytest.raises(ConfigError, match="api_key_env"):
        build_provider(config, {"OPENAI_API_KEY": "ignored", "ANTHROPIC_API_KEY": "ignored"})


def test_replay_reads_its_dataset(tmp_path: Path) -> None:
    dataset = tmp_path / "answers.jsonl"
    dataset.write_text(json.dumps({"prompt": "q", "response": "a"}) + "\n", encoding="utf-8")
    provider = build_provider(ProviderConfig(kind="replay", model="opus", dataset=dataset), {})
    answer = complete(lambda: provider, CompletionRequest(messages=(Message("user", "q"),)))
    assert isinstance(provider, ReplayProvider)
    assert (answer.text, answer.model) == ("a", "opus")


def test_replay_without_dataset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="dataset"):
        build_provider(ProviderConfig(kind="replay", model="opus"), {})
