"""A class's judges in a chain: the first one that decides gives the verdict.

:func:`build_judge_chain` turns a class's :class:`~driftwatch.config.JudgeConfig` list into a chain
ordered cheapest first — exact, json, embedding, then llm_pairwise, keeping the configured order
among judges of one kind — so an LLM is only paid for when the free judges cannot decide.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from driftwatch.config import JudgeConfig, JudgeKind
from driftwatch.errors import ConfigError
from driftwatch.prices.pricing import PriceTable
from driftwatch.shadow.judges.base import Judge, JudgeCase, Verdict
from driftwatch.shadow.judges.embedding import Embedder, EmbeddingJudge
from driftwatch.shadow.judges.exact import ExactJudge
from driftwatch.shadow.judges.json_structure import JsonJudge
from driftwatch.shadow.judges.llm_pairwise import LlmPairwiseJudge
from driftwatch.shadow.providers.base import Provider

# Cheapest first, in money and then in time: string compare, JSON parse, a local model, a paid model.
_COST_RANK: dict[JudgeKind, int] = {"exact": 0, "json": 1, "embedding": 2, "llm_pairwise": 3}
# The evaluation row's judge column holds 64 characters.
_NAME_LIMIT = 64
_NOTE_LIMIT = 120


class JudgeChain:
    """Runs ``judges`` in the given order until one decides; is itself a :class:`Judge`.

    The verdict is the deciding judge's, with ``cost_usd`` the total of every judge that ran (an
    undecided judge's spend is spend all the same) and the undecided judges' reasons appended.  When
    none decides, the verdict is undecided (``acceptable`` None) under the chain's name.  A judge's
    :class:`~driftwatch.shadow.providers.base.ProviderError` propagates to the runner, which retries.
    """

    def __init__(self, judges: Sequence[Judge]) -> None:
        self._judges = tuple(judges)

    @property
    def name(self) -> str:
        return "+".join(judge.name for judge in self._judges)[:_NAME_LIMIT] or "no judge"

    @property
    def judges(self) -> tuple[Judge, ...]:
        return self._judges

    def estimated_cost_usd(self, case: JudgeCase) -> float:
        """Every judge's estimate added up: the chain may have to run them all."""
        return math.fsum(judge.estimated_cost_usd(case) for judge in self._judges)

    async def judge(self, case: JudgeCase) -> Verdict:
        spent = 0.0
        undecided: list[Verdict] = []
        for judge in self._judges:
            verdict = await judge.judge(case)
            spent += verdict.cost_usd
            if verdict.decided:
                rationale = verdict.rationale
                if undecided:
                    rationale += f" [undecided before: {_notes(undecided)}]"
                return replace(verdict, rationale=rationale, cost_usd=spent)
            undecided.append(verdict)
        return Verdict(self.name, None, None, f"no judge could decide: {_notes(undecided)}", spent)


def _notes(verdicts: Sequence[Verdict]) -> str:
    return "; ".join(f"{verdict.judge}: {verdict.rationale[:_NOTE_LIMIT]}" for verdict in verdicts)


def build_judge_chain(
    configs: Sequence[JudgeConfig],
    providers_by_tier: Mapping[str, Provider],
    reference_tier: str,
    prices: PriceTable,
    *,
    embedder: Embedder | None = None,
) -> JudgeChain:
    """The chain for one class, cheapest judge first.

    An ``llm_pairwise`` judge uses the provider of its ``tier``, by default ``reference_tier``'s.
    ``embedder`` replaces the shared local model (tests pass an in-memory one).  Raises
    :class:`ConfigError` for an empty list, an llm_pairwise tier with no provider, or an embedding
    judge without the ``embedding`` extra installed.
    """
    if not configs:
        raise ConfigError("a judge chain needs at least one judge")
    ordered = sorted(configs, key=lambda config: _COST_RANK[config.kind])
    return JudgeChain(
        [_build(config, providers_by_tier, reference_tier, prices, embedder) for config in ordered]
    )


def _build(
    config: JudgeConfig,
    providers_by_tier: Mapping[str, Provider],
    reference_tier: str,
    prices: PriceTable,
    embedder: Embedder | None,
) -> Judge:
    if config.kind == "exact":
        return ExactJudge()
    if config.kind == "json":
        return JsonJudge(keys=config.keys, min_agreement=config.min_agreement)
    if config.kind == "embedding":
        return EmbeddingJudge(config.accept_above, config.reject_below, embedder=embedder)
    tier = config.tier or reference_tier
    provider = providers_by_tier.get(tier)
    if provider is None:
        raise ConfigError(
            f"the llm_pairwise judge needs a provider for tier {tier!r}: add one under 'providers' "
            "in the policy file"
        )
    return LlmPairwiseJudge(provider, prices)
