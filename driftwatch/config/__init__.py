"""Settings (environment ``DRIFTWATCH_*``) and the policy file (tiers, prices, classification rules).

Nothing here is read at import time: :func:`load_settings` and :func:`load_policy` are called once at
start-up and the resulting objects are passed down.
"""

from driftwatch.config.policy import Policy, load_policy
from driftwatch.config.sections import (
    AutoRateConfig,
    ClassConfig,
    ClassDefaults,
    Classification,
    ClassShadowConfig,
    DecisionConfig,
    JudgeConfig,
    JudgeKind,
    ModelChangeBoost,
    ModelChangeDetection,
    ProviderConfig,
    ShadowConfig,
    WebhookConfig,
)
from driftwatch.config.settings import DEFAULT_DATABASE_URL, Settings, load_settings

__all__ = [
    "DEFAULT_DATABASE_URL",
    "AutoRateConfig",
    "ClassConfig",
    "ClassDefaults",
    "ClassShadowConfig",
    "Classification",
    "DecisionConfig",
    "JudgeConfig",
    "JudgeKind",
    "ModelChangeBoost",
    "ModelChangeDetection",
    "Policy",
    "ProviderConfig",
    "Settings",
    "ShadowConfig",
    "WebhookConfig",
    "load_policy",
    "load_settings",
]
