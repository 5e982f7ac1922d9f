"""What one shadow sample of a call costs before any is drawn: the replay on the reference tier and the
class's LLM judges' upper estimate (``driftwatch plan`` and ``rate: auto`` price samples with it)."""

from __future__ import annotations

from driftwatch.config import Policy
from driftwatch.prices.pricing import PriceTable
from driftwatch.shadow.judges.base import JudgeCase
from driftwatch.shadow.judges.llm_pairwise import LlmPairwiseJudge
from driftwatch.shadow.providers.base import Completion, CompletionRequest, Message


def replay_and_judge_cost(
    policy: Policy, prices: PriceTable, task_class: str | None, input_tokens: int, output_tokens: int
) -> tuple[float | None, float | None, list[str]]:
    """What one sample of a call this size costs: the replay on the reference tier's model and the
    class's LLM judges' upper estimate, each ``None`` when a price is unknown (the notes say which)."""
    tier = policy.reference_tier
    model = policy.model_for(tier)
    replay = prices.cost(model, input_tokens, output_tokens)
    judge, judge_note = _judge_cost(policy, prices, task_class, input_tokens, output_tokens)
    notes = [judge_note] if judge_note else []
    if replay is None:
        notes.insert(0, f"no price for the reference model {model!r} of tier {tier!r}")
    return replay, judge, notes


class _PricedModel:
    """A :class:`~driftwatch.shadow.providers.base.Provider` that only names its model: a judge asks
    its provider's model for its cost estimate, and planning must never call anything."""

    def __init__(self, model: str) -> None:
        self._model = model

    @property
    def name(self) -> str:
        return f"estimate/{self._model}"

    @property
    def model(self) -> str:
        return self._model

    async def complete(self, request: CompletionRequest) -> Completion:
        raise RuntimeError("a planning estimate makes no provider call")

    async def aclose(self) -> None:
        return None


def _judge_cost(
    policy: Policy, prices: PriceTable, task_class: str | None, input_tokens: int, output_tokens: int
) -> tuple[float | None, str | None]:
    """The class's LLM judges' upper estimate for a call of this size (answers of ``output_tokens``)."""
    answer = "x" * (4 * output_tokens)
    case = JudgeCase(task_class or "", (Message("user", "x" * (4 * input_tokens)),), answer, answer)
    total = 0.0
    for config in policy.shadow.judges_for(task_class or ""):
        if config.kind != "llm_pairwise":
            continue
        model = policy.model_for(config.tier or policy.reference_tier)
        if model is None or prices.price(model) is None:
            return None, f"no priced model for the llm_pairwise judge's tier ({model!r})"
        total += LlmPairwiseJudge(_PricedModel(model), prices).estimated_cost_usd(case)
    return total, None
