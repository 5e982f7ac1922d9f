"""Settings (environment ``DRIFTWATCH_*``) and the policy file (tiers, prices, classification rules).

Nothing here is read at import time: :func:`load_settings` and :func:`load_policy` are called once at
start-up and the resulting objects are passed down.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from driftwatch.errors import ConfigError
from driftwatch.ingest.redaction import compile_patterns
from driftwatch.notify.events import EventTypes, WebhookUrl
from driftwatch.pricing import DEFAULT_PRICES, ModelPrice

DEFAULT_DATABASE_URL = "sqlite:///driftwatch.db"


class Settings(BaseSettings):
    """Deployment settings, from ``DRIFTWATCH_*`` environment variables (see README, "Settings")."""

    model_config = SettingsConfigDict(env_prefix="DRIFTWATCH_", extra="ignore", frozen=True)

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the store: a SQLite file (default, in the working directory) or "
        "postgresql+psycopg://user@host/db.",
    )
    host: str = Field("127.0.0.1", description="Address `driftwatch serve` binds to.")
    port: int = Field(4318, ge=0, le=65535, description="Port; 4318 is the OTLP/HTTP standard port.")
    require_auth: bool = Field(
        False, description="Require an API key on every endpoint even on a loopback address."
    )
    policy_file: Path | None = Field(
        None, description="YAML policy file: tiers, model→tier map, prices, classification fallbacks."
    )
    capture_content: bool = Field(
        True, description="Store prompt and completion text; false keeps only metadata, tokens and cost."
    )
    redact_patterns: tuple[str, ...] = Field(
        (),
        description="Regular expressions (a JSON list) whose matches in prompt and completion text are "
        "replaced with [REDACTED] before anything is stored.",
    )
    max_request_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="Largest OTLP request body accepted, before and after gzip decompression (413 above).",
    )
    write_queue_spans: int = Field(
        50_000, gt=0, description="LLM-call spans waiting for commit before ingest answers 503."
    )
    write_batch_spans: int = Field(
        20_000, gt=0, description="Most rows the writer commits in one transaction (group commit)."
    )
    writer_threads: int = Field(
        0,
        ge=0,
        description="Database writer threads; 0 picks 1 for SQLite (single writer) and 3 for PostgreSQL.",
    )
    retry_after_seconds: int = Field(2, gt=0, description="Retry-After sent with 503 when overloaded.")
    max_concurrent_requests: int = Field(
        64, gt=0, description="Requests served at once; more get 503 (bounds memory under overload)."
    )

    scheduler: bool = Field(
        True, description="Run the scheduled jobs (sample, evaluate, …) inside `driftwatch serve`."
    )
    sample_interval_seconds: float = Field(10.0, gt=0, description="How often new calls are sampled.")
    evaluate_interval_seconds: float = Field(
        10.0, gt=0, description="How often due samples are claimed and shadow-evaluated."
    )
    evaluate_batch: int = Field(500, gt=0, description="Samples one evaluation run claims at most.")
    evaluate_max_in_flight: int = Field(
        256, gt=0, description="Shadow evaluations in flight at once per process (providers limit too)."
    )
    evaluate_lease_seconds: float = Field(
        600.0, gt=0, description="After this long a claimed sample whose worker vanished is claimed again."
    )
    decide_interval_seconds: float = Field(
        60.0,
        gt=0,
        description="How often detectors take in new evaluations and degraded classes are acted on.",
    )
    recommend_interval_seconds: float = Field(
        3600.0, gt=0, description="How often classes on a higher tier are checked for demotion parity."
    )
    metrics_cache_seconds: float = Field(
        15.0, ge=0, description="How long /metrics reuses what it last read from the store."
    )
    metrics_timeout_seconds: float = Field(
        2.0, gt=0, description="Longest /metrics waits for the store before serving the last good values."
    )
    deliver_interval_seconds: float = Field(
        5.0, gt=0, description="How often new outbox events are fanned out and due webhooks are sent."
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="A webhook receiver that has not answered by then counts as failed."
    )
    webhook_retry_hours: float = Field(
        24.0, gt=0, description="How long a delivery is retried before it is marked failed."
    )
    webhook_max_backoff_seconds: float = Field(
        900.0, gt=0, description="Longest wait between two attempts (backoff doubles from 5 s up to this)."
    )
    public_url: str | None = Field(
        None, description="Base URL people reach driftwatch at, for links in alerts (default: host:port)."
    )
    langfuse_import_interval: float = Field(
        0.0,
        ge=0,
        description="Seconds between scheduled Langfuse imports inside `driftwatch serve` (LANGFUSE_* "
        "variables); 0 turns the scheduled import off.",
    )

    @field_validator("redact_patterns")
    @classmethod
    def _redact_patterns_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        compile_patterns(patterns)  # an unusable pattern stops start-up with its reason
        return patterns

    def public_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def auth_required(self) -> bool:
        """Auth is on when asked for, or whenever the server can be reached from another machine."""
        return self.require_auth or not _is_loopback(self.host)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    )
    tier_keys: tuple[str, ...] = (
        "traceloop.association.properties.tier",
        "langfuse.observation.metadata.tier",
        "langfuse.trace.metadata.tier",
        "metadata.tier",
        "langfuse.trace.tags.tier",
    )


class ProviderConfig(BaseModel):
    """How to reach the model of one tier (for shadow replays and LLM judges)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["openai", "anthropic", "replay"] = Field(
        description="openai: any OpenAI-compatible chat-completions API (OpenAI, Azure-style gateways, "
        "vLLM, Ollama, OpenRouter, LiteLLM proxy); anthropic: the Messages API; replay: recorded answers."
    )
    model: str
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
    """Routing and decision settings of one task class."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tier: str | None = Field(None, description="Tier routers start the class on (default: default_tier).")
    auto_promote: bool = Field(False, description="Move the class one tier up when it degrades.")
    auto_demote: bool = Field(False, description="Apply demotion recommendations without a person.")
    acceptance_floor: float | None = Field(
        None, gt=0, lt=1, description="Declared acceptance rate (SLO) the detector tests against."
    )


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
    baseline_samples: int = Field(
        2_000, ge=100, description="Evaluations that form a baseline when no acceptance_floor is set."
    )
    cooldown_hours: float = Field(24.0, ge=0, description="Least time between two tier changes.")
    demotion_rate: float = Field(
        0.02, ge=0, le=1, description="Share of higher-tier calls replayed one tier down (parity)."
    )
    parity_acceptance: float = Field(
        0.95, gt=0, lt=1, description="Lower 95% bound the cheaper tier's acceptance must reach."
    )
    parity_min_samples: int = Field(200, gt=0, description="Reverse evaluations before parity is judged.")


class Policy(BaseModel):
    """The policy file: what tiers exist, which model is on which tier, what models cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tiers: tuple[str, ...] = ("cheap", "mid", "premium")
    model_tiers: dict[str, str] = Field(
        default_factory=lambda: {
            "claude-haiku-*": "cheap",
            "claude-3-5-haiku*": "cheap",
            "gpt-4o-mini*": "cheap",
            "gpt-4.1-mini*": "cheap",
            "gpt-4.1-nano*": "cheap",
            "gpt-5-mini*": "cheap",
            "gpt-5-nano*": "cheap",
            "gemini-*-flash*": "cheap",
            "claude-sonnet-*": "mid",
            "claude-opus-*": "premium",
            "gpt-4o": "premium",
            "gpt-4.1": "premium",
            "gpt-5": "premium",
            "gemini-*-pro*": "premium",
        },
        description="Model name (exact, versioned, or glob) → tier, used when a span names no tier.",
    )
    prices: dict[str, ModelPrice] = Field(default_factory=dict, description="Overrides DEFAULT_PRICES.")
    classification: Classification = Classification()
    providers: dict[str, ProviderConfig] = Field(
        default_factory=dict, description="Tier → provider used for shadow replays and LLM judges."
    )
    shadow: ShadowConfig = ShadowConfig()
    classes: dict[str, ClassConfig] = Field(default_factory=dict)
    default_tier: str | None = Field(None, description="Tier of classes not listed (default: cheapest).")
    tier_models: dict[str, str] = Field(
        default_factory=dict,
        description="Model routers use per tier (default: the tier's provider model).",
    )
    decisions: DecisionConfig = DecisionConfig()
    webhooks: tuple[WebhookConfig, ...] = ()

    @field_validator("tiers")
    @classmethod
    def _tiers_distinct(cls, tiers: tuple[str, ...]) -> tuple[str, ...]:
        if not tiers or len(set(tiers)) != len(tiers):
            raise ValueError("tiers must be a non-empty list of distinct names, cheapest first")
        return tiers

    @model_validator(mode="after")
    def _tiers_known(self) -> Policy:
        known = set(self.tiers)
        named = {*self.providers, *(self.shadow.sampled_tiers or ()), *self.tier_models}
        named |= {c.tier for c in self.classes.values() if c.tier} | {self.default_tier or self.tiers[0]}
        if "model_tiers" in self.model_fields_set:  # the default map names the default tiers
            named |= set(self.model_tiers.values())
        named |= {self.shadow.reference_tier} if self.shadow.reference_tier else set()
        named |= {judge.tier for judge in self._all_judges() if judge.tier}
        if unknown := sorted(named - known):
            raise ValueError(f"unknown tier(s) {unknown}; tiers are {list(self.tiers)}")
        return self

    @field_validator("webhooks")
    @classmethod
    def _webhook_names_distinct(cls, webhooks: tuple[WebhookConfig, ...]) -> tuple[WebhookConfig, ...]:
        names = [webhook.name for webhook in webhooks]
        if duplicated := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"webhook names must be distinct; repeated: {duplicated}")
        return webhooks

    def _all_judges(self) -> list[JudgeConfig]:
        chains = [self.shadow.judges, *(c.judges for c in self.shadow.classes.values() if c.judges)]
        return [judge for chain in chains for judge in chain]

    @property
    def reference_tier(self) -> str:
        return self.shadow.reference_tier or self.tiers[-1]

    def class_config(self, task_class: str) -> ClassConfig:
        return self.classes.get(task_class) or ClassConfig()

    def configured_tier(self, task_class: str) -> str:
        return self.class_config(task_class).tier or self.default_tier or self.tiers[0]

    def model_for(self, tier: str) -> str | None:
        if tier in self.tier_models:
            return self.tier_models[tier]
        provider = self.providers.get(tier)
        return provider.model if provider else None

    def tier_above(self, tier: str) -> str | None:
        index = self.tiers.index(tier)
        return self.tiers[index + 1] if index + 1 < len(self.tiers) else None

    def tier_below(self, tier: str) -> str | None:
        index = self.tiers.index(tier)
        return self.tiers[index - 1] if index > 0 else None

    @property
    def sampled_tiers(self) -> tuple[str, ...]:
        if self.shadow.sampled_tiers is not None:
            return self.shadow.sampled_tiers
        return self.tiers[: self.tiers.index(self.reference_tier)]

    def price_table(self) -> dict[str, ModelPrice]:
        return {**DEFAULT_PRICES, **self.prices}


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(f"invalid DRIFTWATCH_* setting: {error}") from error
    except SettingsError as error:  # a list or map setting whose value is not JSON
        raise ConfigError(f"invalid DRIFTWATCH_* setting: {error}: {error.__cause__}") from error


def load_policy(path: Path | None) -> Policy:
    """Read the policy file; no file means the defaults. Errors name the file and the bad field."""
    if path is None:
        return Policy()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read policy file {path}: {error}") from error
    try:
        return Policy.model_validate(document)
    except ValidationError as error:
        raise ConfigError(f"invalid policy file {path}: {error}") from error
