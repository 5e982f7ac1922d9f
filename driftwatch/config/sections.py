"""The sections of the policy file: classification keys, providers, shadow evaluation and its judges,
per-class routing, webhooks and decision thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from driftwatch.db.models.evaluation import SHADOW_SOURCE
from driftwatch.events.catalogue import EventTypes, WebhookUrl


class Classification(BaseModel):
    """Where a call's task class and tier come from when the span lacks ``driftwatch.*`` attributes.

    Keys are tried in order after ``driftwatch.task_class`` / ``driftwatch.tier`` on the span, the same
    names from baggage-copied and resource attributes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_class_keys: tuple[str, ...] = (
        "traceloop.association.properties.task_class",
        "langfuse.observation.metadata.task_class",
        "langfuse.trace.metadata.task_class",
        "metadata.task_class",
        "langfuse.trace.tags.task_class",
        "litellm.metadata.task_class",
    )
    tier_keys: tuple[str, ...] = (
        "traceloop.association.properties.tier",
        "langfuse.observation.metadata.tier",
        "langfuse.trace.metadata.tier",
        "metadata.tier",
        "langfuse.trace.tags.tier",
        "litellm.metadata.tier",
    )


class ProviderConfig(BaseModel):
    """How to reach the model of one tier (for shadow replays and LLM judges)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["openai", "anthropic", "replay"] = Field(
        description="openai: any OpenAI-compatible chat-completions API (OpenAI, Azure-style gateways, "
        "vLLM, Ollama, OpenRouter, LiteLLM proxy); anthropic: the Messages API; replay: recorded answers."
    )
    model: str
    price_model: str | None = Field(
        None,
        description="The model behind `model` when that is a gateway alias (a LiteLLM proxy's "
        "`model_name`): replays, judges and savings are priced as this model.",
    )
    base_url: str | None = Field(None, description="API base URL; the SDK's default when absent.")
    api_key_env: str | None = Field(
        None, description="Environment variable holding the API key (never the key itself in the file)."
    )
    dataset: Path | None = Field(None, description="replay: JSONL of recorded answers.")
    max_concurrency: int = Field(16, gt=0, description="Requests in flight to this provider at once.")
    timeout_seconds: float = Field(60.0, gt=0)
    max_retries: int = Field(4, ge=0, description="Retries on 429/5xx/timeouts, exponential backoff.")


JudgeKind = Literal["exact", "json", "embedding", "llm_pairwise"]


class JudgeConfig(BaseModel):
    """One judge in a class's chain. Unused options are ignored by the other kinds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: JudgeKind
    keys: tuple[str, ...] | None = Field(None, description="json: fields compared (default: all).")
    min_agreement: float = Field(1.0, ge=0, le=1, description="json: share of fields that must agree.")
    accept_above: float = Field(0.9, ge=-1, le=1, description="embedding: similarity that accepts.")
    reject_below: float = Field(0.6, ge=-1, le=1, description="embedding: similarity that rejects.")
    tier: str | None = Field(None, description="llm_pairwise: tier whose model judges (default: top).")


class ClassShadowConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float | None = Field(None, ge=0, le=1, description="Share of calls sampled.")
    daily_budget_usd: float | None = Field(None, ge=0, description="Shadow + judge spend per UTC day.")
    judges: tuple[JudgeConfig, ...] | None = None


class ShadowConfig(BaseModel):
    """Sampling, budgets and judges; per-class entries override the defaults field by field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float = Field(0.05, ge=0, le=1, description="Default share of each class's calls sampled.")
    daily_budget_usd: float = Field(5.0, ge=0, description="Default per-class daily budget in dollars.")
    sampled_tiers: tuple[str, ...] | None = Field(
        None, description="Tiers whose calls are sampled (default: every tier below the reference)."
    )
    reference_tier: str | None = Field(None, description="Tier replays run on (default: the top tier).")
    judges: tuple[JudgeConfig, ...] = (JudgeConfig(kind="exact"), JudgeConfig(kind="llm_pairwise"))
    grace_seconds: float = Field(
        30.0, ge=0, description="Wait after a call before replaying it, so content sent as logs arrives."
    )
    classes: dict[str, ClassShadowConfig] = Field(default_factory=dict)

    def rate_for(self, task_class: str) -> float:
        override = self.classes.get(task_class)
        return self.rate if override is None or override.rate is None else override.rate

    def budget_for(self, task_class: str) -> float:
        override = self.classes.get(task_class)
        if override is None or override.daily_budget_usd is None:
            return self.daily_budget_usd
        return override.daily_budget_usd

    def judges_for(self, task_class: str) -> tuple[JudgeConfig, ...]:
        override = self.classes.get(task_class)
        return self.judges if override is None or override.judges is None else override.judges


class ClassConfig(BaseModel):
    """Routing and decision settings of one task class; a field it leaves out comes from ``defaults``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tier: str | None = Field(None, description="Tier routers start the class on (default: default_tier).")
    auto_promote: bool = Field(False, description="Move the class one tier up when it degrades.")
    auto_demote: bool = Field(False, description="Apply demotion recommendations without a person.")
    acceptance_floor: float | None = Field(
        None, gt=0, lt=1, description="Declared acceptance rate (SLO) the detector tests against."
    )


class ClassDefaults(BaseModel):
    """Settings of every class not listed under ``classes``, and of the fields a listed one leaves out.

    ``shadow`` is the same as the ``shadow`` section's ``rate``, ``daily_budget_usd`` and ``judges``
    (give each in one place); ``shadow.classes`` entries still override it per class.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_promote: bool = Field(False, description="Move a class one tier up when it degrades.")
    auto_demote: bool = Field(False, description="Apply demotion recommendations without a person.")
    acceptance_floor: float | None = Field(
        None, gt=0, lt=1, description="Declared acceptance rate (SLO); none: learn a baseline per class."
    )
    shadow: ClassShadowConfig = Field(
        default_factory=ClassShadowConfig, description="Sampling rate, daily budget and judges."
    )


INHERITED_FIELDS = ("auto_promote", "auto_demote", "acceptance_floor")


class WebhookConfig(BaseModel):
    """A webhook endpoint declared in the policy file (others are added with the API or CLI)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    url: WebhookUrl = Field(description="http(s) URL events are POSTed to.")
    format: Literal["standard", "slack"] = "standard"
    events: EventTypes | None = Field(None, description="Event types sent (default: all).")
    secret_env: str | None = Field(
        None, description="Environment variable holding the signing secret (whsec_…); default: generated."
    )


class DecisionConfig(BaseModel):
    """Thresholds of the sequential tests and the rules that act on them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alpha: float = Field(0.01, gt=0, lt=1, description="False alarms allowed per horizon, all classes.")
    horizon_samples: int = Field(10_000, gt=0, description="Samples per class the alpha covers.")
    baseline: Literal["confidence_sequence", "window"] = Field(
        "confidence_sequence",
        description="Reference of a class without acceptance_floor: a lower confidence sequence that starts "
        "after min_baseline_samples and tightens up to baseline_samples, or (window) the lower 95% bound "
        "of baseline_samples evaluations, the detector starting after them.",
    )
    baseline_samples: int = Field(
        2_000, ge=100, description="Evaluations that form a baseline when no acceptance_floor is set."
    )
    min_baseline_samples: int = Field(
        300,
        ge=1,
        description="Evaluations before a confidence-sequence reference is used (at most baseline_samples).",
    )
    baseline_delta: float = Field(
        0.005,
        gt=0,
        lt=1,
        description="Chance that a confidence-sequence reference ever exceeds its class's true rate, split "
        "evenly across classes; false alarms stay within alpha + baseline_delta.",
    )
    cooldown_hours: float = Field(24.0, ge=0, description="Least time between two tier changes.")
    demotion_rate: float = Field(
        0.02, ge=0, le=1, description="Share of higher-tier calls replayed one tier down (parity)."
    )
    parity_acceptance: float = Field(
        0.95, gt=0, lt=1, description="Lower 95% bound the cheaper tier's acceptance must reach."
    )
    parity_min_samples: int = Field(200, gt=0, description="Reverse evaluations before parity is judged.")
    sources: tuple[str, ...] = Field(
        (SHADOW_SOURCE,),
        description="Evaluation sources whose verdicts feed the detectors that may promote a class "
        "(default: driftwatch's own shadow evaluations). Verdicts of other sources are tested on their "
        "own and raise degraded alerts, never a promotion.",
    )
