"""The commented starter policy file ``driftwatch init`` writes: tiers, models and providers from its
options, with every choice a first-time user makes explained where it is made. Pure: text in, text out;
the command checks the text against :class:`~driftwatch.config.Policy` before writing it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

import yaml

ProviderKind = Literal["openai", "anthropic"]

# (cheap model, premium model, key variable) per provider: current, priced in driftwatch/prices/pricing.py.
PROVIDER_DEFAULTS: dict[ProviderKind, tuple[str, str, str]] = {
    "openai": ("gpt-4o-mini", "gpt-4o", "OPENAI_API_KEY"),
    "anthropic": ("claude-haiku-4-5", "claude-opus-4-7", "ANTHROPIC_API_KEY"),
}
DEFAULT_RATE = 0.05
DEFAULT_DAILY_BUDGET_USD = 5.0

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]*")


@dataclass(frozen=True, slots=True)
class StarterChoices:
    """What ``driftwatch init`` was asked for; ``None`` picks the provider's default."""

    provider: ProviderKind = "openai"
    cheap_model: str | None = None
    premium_model: str | None = None
    mid_model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    rate: float = DEFAULT_RATE
    daily_budget_usd: float = DEFAULT_DAILY_BUDGET_USD

    @property
    def cheap(self) -> str:
        return self.cheap_model or PROVIDER_DEFAULTS[self.provider][0]

    @property
    def premium(self) -> str:
        return self.premium_model or PROVIDER_DEFAULTS[self.provider][1]

    @property
    def key_variable(self) -> str:
        return self.api_key_env or PROVIDER_DEFAULTS[self.provider][2]

    @property
    def tier_models(self) -> dict[str, str]:
        """Tier → model, cheapest first; the mid tier exists only when it has a model (a class promoted
        from cheap goes one tier up, and routers need a model there)."""
        middle = {"mid": self.mid_model} if self.mid_model else {}
        return {"cheap": self.cheap, **middle, "premium": self.premium}


def _yaml(value: str) -> str:
    """A string as a YAML scalar: bare when it reads back as itself (not ``true``, ``1.5`` or ``null``),
    else JSON-quoted, which is valid YAML."""
    return value if _PLAIN.fullmatch(value) and yaml.safe_load(value) == value else json.dumps(value)


def _provider(choices: StarterChoices, model: str) -> str:
    fields = [f"kind: {choices.provider}", f"model: {_yaml(model)}"]
    if choices.base_url:
        fields.append(f"base_url: {_yaml(choices.base_url)}")
    fields.append(f"api_key_env: {_yaml(choices.key_variable)}")
    return "{" + ", ".join(fields) + "}"


def starter_policy(choices: StarterChoices, path: str) -> str:
    """The starter policy file's text, to be written at ``path`` (named in how to start with it)."""
    tiers = choices.tier_models
    names = ", ".join(tiers)
    model_map = "\n".join(f"  {_yaml(model)}: {tier}" for tier, model in tiers.items())
    tier_models = ", ".join(f"{tier}: {_yaml(model)}" for tier, model in tiers.items())
    providers = "\n".join(f"  {tier}: {_provider(choices, model)}" for tier, model in reversed(tiers.items()))
    return f"""\
# driftwatch policy file, written by `driftwatch init`. Start the service with it:
#   export {choices.key_variable}=...    (the provider's API key: never put it in this file)
#   DRIFTWATCH_POLICY_FILE={path} driftwatch serve
# Every field is checked at start-up: an unknown key or tier stops the service with the field named.
# Reference: docs/policy.md, docs/shadow.md, docs/decisions.md and docs/webhooks.md in driftwatch's repository.

# Tiers, cheapest first. Apps tag each LLM call's span with driftwatch.tier (and driftwatch.task_class).
tiers: [{names}]

# Model → tier, for spans that carry no driftwatch.tier. This list replaces the built-in one: add
# every model your apps call (exact names; a dated name such as gpt-4o-2024-08-06 matches gpt-4o;
# globs like claude-haiku-* work too).
model_tiers:
{model_map}

# The model routers get per tier from GET /v1/policy.
tier_models: {{{tier_models}}}

# How driftwatch reaches each tier's model. The top tier's provider replays sampled cheaper calls
# (shadow evaluation) and judges them; the others let driftwatch check whether a class on a higher
# tier would do as well one tier down (demotion recommendations).
providers:
{providers}

# ---- Applies to every task class ----------------------------------------------------------------
# The tier of every class not listed under `classes` (routers read it from GET /v1/policy).
default_tier: cheap
# Every class not listed under `classes`, and each field a listed class leaves out.
defaults:
  # A degraded class moves one tier up on its own (after its cool-down); false: alert only.
  auto_promote: true
  # Demotions wait for a person to accept the recommendation.
  auto_demote: false
  shadow:
    # Share of each class's cheaper-tier calls replayed on the premium tier (by a hash of the trace id).
    rate: {choices.rate:g}
    # Dollars per class and UTC day for replays and judges; no evaluation runs once it is spent.
    daily_budget_usd: {choices.daily_budget_usd:g}
    # Cheapest judge first; the LLM judge (premium model, both answer orders) only when undecided.
    judges: [{{kind: exact}}, {{kind: llm_pairwise}}]
shadow:
  # Seconds to wait for a prompt and completion sent as OTLP log records.
  grace_seconds: 30
decisions:
  # False alarms allowed per 10,000 samples of a class, across all classes.
  alpha: 0.01
  # Least time between two tier changes of a class.
  cooldown_hours: 24

# ---- Per task class (overrides) -----------------------------------------------------------------
classes: {{}}
# classes:
#   extraction: {{tier: cheap, auto_promote: true, acceptance_floor: 0.95}}
#   summarization: {{tier: premium, auto_demote: false}}

# Webhooks for alerts, promotions and recommendations (or `driftwatch webhooks add URL`):
# webhooks: [{{name: oncall, url: "https://alerts.example.com/dw", secret_env: ONCALL_SECRET}}]
"""
