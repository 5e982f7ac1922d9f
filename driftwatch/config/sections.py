"""The sections of the policy file: classification keys, providers, shadow evaluation and its judges,
per-class routing, webhooks and decision thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from driftwatch.db.sources import SHADOW_SOURCE
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


class ModelChangeBoost(BaseModel):
    """How much harder a class is watched after its served model changed (see docs/model-change.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    factor: float = Field(
        5.0, ge=1, description="The class's shadow rate is multiplied by this (at most 1) during the watch."
    )
    samples: int = Field(
        1_000,
        ge=0,
        description="Forward samples drawn at the boosted rate before the watch ends; 0: no boost.",
    )
    max_days: float = Field(
        14.0, gt=0, description="A watch ends after this long even when fewer samples were drawn."
    )


AUTO = "auto"
Rate = Annotated[float, Field(ge=0, le=1)] | Literal["auto"]
"""A share of calls sampled, or ``auto``: the share ``shadow.auto`` allocates (docs/sampling-auto.md)."""


class AutoRateConfig(BaseModel):
    """``rate: auto``: each day's shadow budget split across the auto classes so that the money-weighted
    expected delay to catch a drop is smallest, unprotected classes first (docs/sampling-auto.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    daily_budget_usd: float | None = Field(
        None,
        ge=0,
        description="Shadow spend per UTC day shared by the auto classes (default: what uniform_rate would "
        "spend on them). Each class's own daily_budget_usd still caps it.",
    )
    uniform_rate: float = Field(
        0.05,
        ge=0,
        le=1,
        description="The fixed rate auto replaces: the default budget is what it would spend, and a class "
        "not yet in the allocation (new traffic) samples at it until the next one.",
    )
    max_rate: float = Field(0.5, gt=0, le=1, description="The highest rate auto gives a class.")
    min_rate: float = Field(0.0, ge=0, le=1, description="The lowest rate auto gives a protected class.")
    drop: float = Field(0.10, gt=0, lt=1, description="The drop whose detection delay is minimised.")
    coverage_days: float = Field(
        7.0, gt=0, description="An unprotected class first gets the rate that gives it a reference this soon."
    )
    traffic_days: float = Field(7.0, gt=0, description="Days of traffic the allocation is computed from.")
    every_hours: float = Field(24.0, gt=0, description="Hours between two allocations (the sample job).")


class ClassShadowConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: Rate | None = Field(None, description="Share of calls sampled, or auto.")
    daily_budget_usd: float | None = Field(None, ge=0, description="Shadow + judge spend per UTC day.")
    judges: tuple[JudgeConfig, ...] | None = None
    boost_on_model_change: ModelChangeBoost | None = Field(
        None, description="Shadow-rate boost after a change of the served model (default: the policy's)."
    )


class ShadowConfig(BaseModel):
    """Sampling, budgets and judges; per-class entries override the defaults field by field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: Rate = Field(0.05, description="Default share of each class's calls sampled, or auto.")
    daily_budget_usd: float = Field(5.0, ge=0, description="Default per-class daily budget in dollars.")
    sampled_tiers: tuple[str, ...] | None = Field(
        None, description="Tiers whose calls are sampled (default: every tier below the reference)."
    )
    reference_tier: str | None = Field(None, description="Tier replays run on (default: the top tier).")
    judges: tuple[JudgeConfig, ...] = (JudgeConfig(kind="exact"), JudgeConfig(kind="llm_pairwise"))
    grace_seconds: float = Field(
        30.0, ge=0, description="Wait after a call before replaying it, so content sent as logs arrives."
    )
    coverage_rate_cap: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Highest rate coverage-first sampling raises a class without a reference to (0: never "
        "raise); the class's daily budget still applies.",
    )
    boost_on_model_change: ModelChangeBoost = Field(
        default_factory=ModelChangeBoost,
        description="Shadow-rate boost after a change of a class's served model (model, provider or "
        "system fingerprint), within the class's daily budget.",
    )
    auto: AutoRateConfig = Field(default_factory=AutoRateConfig, description="How rate: auto allocates.")
    classes: dict[str, ClassShadowConfig] = Field(default_factory=dict)

    def boost_for(self, task_class: str) -> ModelChangeBoost:
        override = self.classes.get(task_class)
        if override is None or override.boost_on_model_change is None:
            return self.boost_on_model_change
        return override.boost_on_model_change

    def _rate_setting(self, task_class: str) -> float | str:
        override = self.classes.get(task_class)
        return self.rate if override is None or override.rate is None else override.rate

    def is_auto(self, task_class: str) -> bool:
        """Whether the class's rate is allocated (``rate: auto``) rather than fixed."""
        return self._rate_setting(task_class) == AUTO

    @property
    def any_auto(self) -> bool:
        return self.rate == AUTO or any(c.rate == AUTO for c in self.classes.values())

    def rate_for(self, task_class: str) -> float:
        """The class's fixed rate; for an auto class ``auto.uniform_rate``, what it samples at before an
        allocation names it (the sample job reads the allocation, see ``policy/allocation.py``)."""
        setting = self._rate_setting(task_class)
        return self.auto.uniform_rate if isinstance(setting, str) else setting

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


class ModelChangeDetection(BaseModel):
    """When a new served value counts as a change (see docs/model-change.md): it must make at least
    ``min_calls`` and ``min_share`` of a class's last ``window`` calls on a tier.  Values seen in a
    class's first ``window`` calls, and every value that once counted, are known; a known value is
    forgotten after ``forget_after_calls`` calls without it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: int = Field(50, ge=2, le=1_000, description="Recent calls per class and tier looked at.")
    min_calls: int = Field(10, ge=1, description="Calls of a new value in the window before it counts.")
    min_share: float = Field(0.2, gt=0, le=1, description="Share of the window a new value must reach.")
    forget_after_calls: int = Field(
        5_000, ge=1, description="A known value unseen for this many calls is forgotten (then new again)."
    )
    fingerprints: bool = Field(
        True, description="Watch the system fingerprint where the instrumentation reports one."
    )

    @model_validator(mode="after")
    def _can_count(self) -> ModelChangeDetection:
        if self.min_calls > self.window:
            raise ValueError(f"min_calls ({self.min_calls}) must not exceed window ({self.window})")
        return self


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
    model_change: ModelChangeDetection = Field(
        default_factory=ModelChangeDetection, description="When a change of the served model is recorded."
    )
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


class CoverageConfig(BaseModel):
    """What "protected" means: the drop a class's detector must catch, and how fast; and how long a
    class may stay unprotected before a ``class.unprotected`` event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drop: float = Field(
        0.10, gt=0, lt=1, description="Drop in acceptance rate a class must be protected against."
    )
    window_days: float = Field(
        7.0, gt=0, description="Days within which the drop must be caught (9 times in 10)."
    )
    alert_after_days: float = Field(
        7.0, ge=0, description="Days a class may stay unprotected before a class.unprotected event."
    )
