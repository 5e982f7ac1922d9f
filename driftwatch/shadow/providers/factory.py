"""A :class:`Provider` from its policy-file entry, built once at start-up."""

from __future__ import annotations

from collections.abc import Mapping

from driftwatch.config import ProviderConfig
from driftwatch.errors import ConfigError
from driftwatch.shadow.providers.base import Provider
from driftwatch.shadow.providers.replay import ReplayProvider
from driftwatch.shadow.providers.retry import RetryPolicy

NO_KEY = "no-key"
"""Sent where no key is configured for a self-hosted server (Ollama, vLLM): the SDKs insist on a
non-empty key, and such servers ignore it."""


def build_provider(config: ProviderConfig, environ: Mapping[str, str]) -> Provider:
    """The provider ``config`` describes, its API key read from ``environ[config.api_key_env]``.

    :class:`ConfigError` when the key's variable is unset or empty, when a vendor's own API (no
    ``base_url``) has no ``api_key_env`` at all, or when a replay provider has no usable dataset.
    """
    if config.kind == "replay":
        if config.dataset is None:
            raise ConfigError(f"provider replay/{config.model}: `dataset` (a JSONL file) is required")
        return ReplayProvider.from_jsonl(
            config.dataset, model=config.model, max_concurrency=config.max_concurrency
        )
    # The vendor SDKs are imported only when configured: loading both took most of `driftwatch serve`'s
    # start-up (6 of 12 s on a busy 2-core machine), which is downtime when a crashed server restarts.
    from driftwatch.shadow.providers.anthropic_messages import AnthropicProvider
    from driftwatch.shadow.providers.openai_compatible import OpenAICompatibleProvider

    provider_class: type[OpenAICompatibleProvider | AnthropicProvider]
    provider_class = OpenAICompatibleProvider if config.kind == "openai" else AnthropicProvider
    return provider_class(
        model=config.model,
        api_key=_api_key(config, environ),
        base_url=config.base_url,
        max_concurrency=config.max_concurrency,
        timeout_seconds=config.timeout_seconds,
        retry=RetryPolicy(max_retries=config.max_retries),
    )


def _api_key(config: ProviderConfig, environ: Mapping[str, str]) -> str:
    label = f"provider {config.kind}/{config.model}"
    if config.api_key_env is None:
        if config.base_url is None:
            raise ConfigError(f"{label}: set `api_key_env` to the environment variable holding the API key")
        return NO_KEY
    key = environ.get(config.api_key_env, "").strip()
    if not key:
        raise ConfigError(f"{label}: environment variable {config.api_key_env} (api_key_env) is not set")
    return key
