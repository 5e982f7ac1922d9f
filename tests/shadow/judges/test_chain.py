from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from driftwatch.config import JudgeConfig, ShadowConfig
from driftwatch.errors import ConfigError
from driftwatch.prices.pricing import PriceTable
from driftwatch.shadow.judges.base import Judge, JudgeCase, Verdict
from driftwatch.shadow.judges.chain import JudgeChain, build_judge_chain
from driftwatch.shadow.judges.embedding import EmbeddingJudge
from driftwatch.shadow.judges.exact import ExactJudge
from driftwatch.shadow.judges.json_structure import JsonJudge
from driftwatch.shadow.judges.llm_pairwise import LlmPairwiseJudge
from driftwatch.shadow.providers.base import Provider, ProviderError
from tests.shadow.judges.judge_models import JudgeModel, always, case, knows, verdict

PRICES = PriceTable()
PARIS, ALSO_PARIS, LYON = "Paris.", "The capital of France is Paris, on the Seine.", "Lyon."


class ConstantEmbedder:
    """Every text lands on the same vector: similarity 1, as for identical answers."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]


def chain_of(configs: list[JudgeConfig], providers: dict[str, Provider]) -> JudgeChain:
    return build_judge_chain(configs, providers, "premium", PRICES, embedder=ConstantEmbedder())


def run(chain: Judge, judged: JudgeCase) -> Verdict:
    return asyncio.run(chain.judge(judged))


def test_the_first_judge_that_decides_gives_the_verdict_and_later_ones_do_not_run() -> None:
    model = JudgeModel(knows({PARIS, ALSO_PARIS}))
    chain = JudgeChain([ExactJudge(), LlmPairwiseJudge(model, PRICES)])
    result = run(chain, case("paris", PARIS))
    assert (result.judge, result.acceptable, result.score, result.cost_usd) == ("exact", True, 1.0, 0.0)
    assert model.requests == []


def test_undecided_judges_pass_the_case_on_and_their_reasons_are_kept() -> None:
    model = JudgeModel(knows({PARIS, ALSO_PARIS}))
    llm = LlmPairwiseJudge(model, PRICES)
    chain = JudgeChain([ExactJudge(), JsonJudge(), llm])
    judged = case(ALSO_PARIS, PARIS)
    result = run(chain, judged)
    alone = run(llm, judged)
    assert (result.judge, result.acceptable, result.score) == ("llm_pairwise", True, 1.0)
    assert result.cost_usd == pytest.approx(alone.cost_usd) and result.cost_usd > 0
    assert "[undecided before: exact: free text" in result.rationale
    assert "json: the reference is not JSON" in result.rationale


def test_when_no_judge_decides_the_verdict_is_undecided_with_the_total_cost() -> None:
    chain = JudgeChain([ExactJudge(), LlmPairwiseJudge(JudgeModel(always("no idea")), PRICES)])
    result = run(chain, case(ALSO_PARIS, PARIS))
    assert (result.judge, result.acceptable, result.score) == ("exact+llm_pairwise", None, None)
    assert result.cost_usd > 0
    assert result.rationale.startswith("no judge could decide: exact: free text")


def test_the_estimate_is_every_judges_estimate_added_up() -> None:
    llm = LlmPairwiseJudge(JudgeModel(always(verdict("A"))), PRICES)
    judged = case(ALSO_PARIS, PARIS)
    assert JudgeChain([ExactJudge(), llm]).estimated_cost_usd(judged) == llm.estimated_cost_usd(judged) > 0


def test_a_provider_error_is_not_swallowed() -> None:
    failing = JudgeModel(always(verdict("A")), failure=ProviderError("timeout", retryable=True))
    with pytest.raises(ProviderError):
        run(JudgeChain([ExactJudge(), LlmPairwiseJudge(failing, PRICES)]), case(ALSO_PARIS, PARIS))


def test_built_chains_run_cheapest_first() -> None:
    configs = [
        JudgeConfig(kind="llm_pairwise"),
        JudgeConfig(kind="embedding", accept_above=0.95, reject_below=0.5),
        JudgeConfig(kind="json", keys=("name",), min_agreement=0.5),
        JudgeConfig(kind="exact"),
    ]
    chain = chain_of(configs, {"premium": JudgeModel(always(verdict("A")))})
    assert [judge.name for judge in chain.judges] == ["exact", "json", "embedding", "llm_pairwise"]
    assert isinstance(chain.judges[2], EmbeddingJudge)
    # The constant embedder finds any two texts identical, so the embedding judge decides here.
    assert run(chain, case(LYON + " Or maybe Marseille, I am not sure.", PARIS)).judge == "embedding"


def test_the_json_judge_gets_its_options() -> None:
    chain = chain_of([JudgeConfig(kind="json", keys=("name",), min_agreement=0.5)], {})
    result = run(chain, case('{"name": "ADA", "born": 1}', '{"name": "Ada", "born": 2}'))
    assert (result.acceptable, result.score) == (True, 1.0)


def test_llm_pairwise_uses_the_reference_tier_unless_told_otherwise() -> None:
    premium, mid = (
        JudgeModel(knows({PARIS}), model="claude-opus-4-7"),
        JudgeModel(knows({PARIS}), model="gpt-4.1"),
    )
    providers: dict[str, Provider] = {"premium": premium, "mid": mid}
    run(chain_of([JudgeConfig(kind="llm_pairwise")], providers), case(LYON, PARIS))
    run(chain_of([JudgeConfig(kind="llm_pairwise", tier="mid")], providers), case(LYON, PARIS))
    assert (len(premium.requests), len(mid.requests)) == (2, 2)


def test_llm_pairwise_without_a_provider_for_its_tier_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'mid'"):
        chain_of([JudgeConfig(kind="llm_pairwise", tier="mid")], {"premium": JudgeModel(always("A"))})
    with pytest.raises(ConfigError, match="'premium'"):
        chain_of([JudgeConfig(kind="exact"), JudgeConfig(kind="llm_pairwise")], {})


def test_an_empty_chain_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="at least one judge"):
        chain_of([], {})


def test_the_default_chain_from_the_policy_builds() -> None:
    chain = chain_of(list(ShadowConfig().judges), {"premium": JudgeModel(always(verdict("tie")))})
    judge: Judge = chain
    assert judge.name == "exact+llm_pairwise"
