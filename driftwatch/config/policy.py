"""The policy file: tiers, models and prices, and the sections that configure each stage."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from driftwatch.config.sections import (
    INHERITED_FIELDS,
    ClassConfig,
    ClassDefaults,
    Classification,
    CoverageConfig,
    DecisionConfig,
    JudgeConfig,
    ProviderConfig,
    ShadowConfig,
    WebhookConfig,
)
from driftwatch.errors import ConfigError
from driftwatch.prices.pricing import ModelPrice, PriceTable


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
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="Model → price; wins over the list prices (driftwatch.prices.list_prices).",
    )
    classification: Classification = Classification()
    providers: dict[str, ProviderConfig] = Field(
        default_factory=dict, description="Tier → provider used for shadow replays and LLM judges."
    )
    shadow: ShadowConfig = ShadowConfig()
    defaults: ClassDefaults = Field(
        default_factory=ClassDefaults, description="Every class not listed, and what a listed one leaves out."
    )
    classes: dict[str, ClassConfig] = Field(default_factory=dict)
    default_tier: str | None = Field(None, description="Tier of classes not listed (default: cheapest).")
    tier_models: dict[str, str] = Field(
        default_factory=dict,
        description="Model routers use per tier (default: the tier's provider model).",
    )
    decisions: DecisionConfig = DecisionConfig()
    coverage: CoverageConfig = CoverageConfig()
    webhooks: tuple[WebhookConfig, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _shadow_defaults_in_one_place(cls, document: Any) -> Any:
        """``defaults.shadow`` fills the ``shadow`` section's defaults; both setting one is an error."""
        if not isinstance(document, dict) or document.get("defaults") is None:
            return document
        defaults = _given(document["defaults"])
        given = {name: value for name, value in _given(defaults.get("shadow")).items() if value is not None}
        if not given:
            return document
        shadow = _given(document.get("shadow"))
        if twice := sorted(set(given) & set(shadow)):
            raise ValueError(f"{twice} set both under defaults.shadow and under shadow: keep one")
        return {**document, "shadow": {**shadow, **given}}

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
        """The class's own entry, each field it leaves out taken from ``defaults``."""
        return self._class_configs.get(task_class) or self._unlisted_class_config

    @functools.cached_property
    def _class_configs(self) -> dict[str, ClassConfig]:
        # Built once (the policy is frozen): pages of 100 classes asked for each several times.
        return {name: self._with_defaults(listed) for name, listed in self.classes.items()}

    @functools.cached_property
    def _unlisted_class_config(self) -> ClassConfig:
        return self._with_defaults(ClassConfig())

    def _with_defaults(self, listed: ClassConfig) -> ClassConfig:
        inherited = {
            name: getattr(self.defaults, name)
            for name in INHERITED_FIELDS
            if name not in listed.model_fields_set
        }
        return listed.model_copy(update=inherited)

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
        """The price overrides by model name (the list prices price every other model).  A provider whose
        ``model`` is a gateway alias (a LiteLLM proxy's ``model_name``) is priced as its ``price_model``,
        unless ``prices`` names the alias itself."""
        table = PriceTable(self.prices)
        aliases = {
            provider.model: price
            for provider in self.providers.values()
            if provider.price_model and (price := table.price(provider.price_model))
        }
        return {**aliases, **self.prices}

    @model_validator(mode="after")
    def _price_models_priced(self) -> Policy:
        table = PriceTable(self.prices)
        for tier, provider in self.providers.items():
            if provider.price_model and table.price(provider.price_model) is None:
                raise ValueError(
                    f"providers.{tier}.price_model {provider.price_model!r} has no price: add it to `prices`"
                )
        return self


def _given(section: Any) -> dict[str, Any]:
    """The fields a section sets, as a mapping, whether written in a file or built in code."""
    if isinstance(section, BaseModel):
        return {name: getattr(section, name) for name in section.model_fields_set}
    return dict(section) if isinstance(section, dict) else {}


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
