"""Assemble a :class:`ShadowRunner` from the policy: providers per tier and judge chains per class."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import Engine

from driftwatch.config import Policy
from driftwatch.errors import ConfigError
from driftwatch.prices.pricing import PriceTable
from driftwatch.shadow.judges.base import Judge
from driftwatch.shadow.judges.chain import build_judge_chain
from driftwatch.shadow.providers.base import Provider
from driftwatch.shadow.providers.factory import build_provider
from driftwatch.shadow.runner import RunnerOptions, ShadowObserver, ShadowRunner


@asynccontextmanager
async def shadow_runner(
    engine: Engine,
    policy: Policy,
    options: RunnerOptions,
    clock: Callable[[], datetime],
    environ: Mapping[str, str],
    observer: ShadowObserver | None = None,
) -> AsyncIterator[ShadowRunner]:
    """A runner whose provider clients live on the running event loop and are closed afterwards."""
    if policy.reference_tier not in policy.providers:
        raise ConfigError(
            f"shadow evaluation needs a provider for the reference tier {policy.reference_tier!r}: "
            f"add `providers: {{{policy.reference_tier}: {{kind: ..., model: ...}}}}` to the policy file"
        )
    providers: dict[str, Provider] = {
        tier: build_provider(config, environ) for tier, config in policy.providers.items()
    }
    prices = PriceTable(policy.price_table())
    chains: dict[str, Judge] = {}

    def judges_for(task_class: str) -> Judge:
        if task_class not in chains:
            chains[task_class] = build_judge_chain(
                policy.shadow.judges_for(task_class), providers, policy.reference_tier, prices
            )
        return chains[task_class]

    runner = ShadowRunner(engine, policy, providers, judges_for, prices, options, clock, observer)
    try:
        yield runner
    finally:
        runner.close()
        for provider in providers.values():
            await provider.aclose()
