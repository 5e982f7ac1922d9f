"""Pure rules for a call's task class and tier.

Order, first hit wins:

1. span attributes ``driftwatch.task_class`` / ``driftwatch.tier`` — this also covers W3C baggage,
   which OTel's ``BaggageSpanProcessor`` copies onto every span under the same names;
2. the same names on the resource (``OTEL_RESOURCE_ATTRIBUTES=driftwatch.task_class=faq``);
3. the configured fallback keys (Traceloop association properties, Langfuse metadata, …), on the span
   and then on the resource;
4. tier only: the policy's model → tier map, for a LiteLLM alias (``litellm.model_group``) first.

No class → ``unclassified``; no tier → ``None``.  Nothing is dropped for lack of either.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftwatch.config import Policy
from driftwatch.ingest import litellm
from driftwatch.ingest.otlp import AttributeValue
from driftwatch.prices.models_table import ModelTable

UNCLASSIFIED = "unclassified"
TASK_CLASS_KEY = "driftwatch.task_class"
TIER_KEY = "driftwatch.tier"
_MAX_NAME_LENGTH = 255
_MAX_TIER_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Classifier:
    task_class_keys: tuple[str, ...]
    tier_keys: tuple[str, ...]
    model_tiers: ModelTable[str]

    @classmethod
    def from_policy(cls, policy: Policy) -> Classifier:
        return cls(
            task_class_keys=(TASK_CLASS_KEY, *policy.classification.task_class_keys),
            tier_keys=(TIER_KEY, *policy.classification.tier_keys),
            model_tiers=ModelTable(policy.model_tiers),
        )

    def task_class(self, attributes: dict[str, AttributeValue], resource: dict[str, AttributeValue]) -> str:
        found = _lookup(self.task_class_keys, attributes, resource)
        return found[:_MAX_NAME_LENGTH] if found else UNCLASSIFIED

    def tier(
        self, attributes: dict[str, AttributeValue], resource: dict[str, AttributeValue], model: str | None
    ) -> str | None:
        found = _lookup(self.tier_keys, attributes, resource)
        if found:
            return found.lower()[:_MAX_TIER_LENGTH]
        return self.model_tiers.get(litellm.model_alias(attributes)) or self.model_tiers.get(model)


def _lookup(
    keys: tuple[str, ...], attributes: dict[str, AttributeValue], resource: dict[str, AttributeValue]
) -> str | None:
    # driftwatch's own key is checked on the resource before any fallback key on the span: an explicit
    # driftwatch.* setting is always more specific than another tool's metadata.
    own_key, *fallbacks = keys
    for key, source in ((own_key, attributes), (own_key, resource)):
        text = _label(source.get(key))
        if text:
            return text
    for source in (attributes, resource):
        for key in fallbacks:
            text = _label(source.get(key))
            if text:
                return text
    return None


def _label(value: AttributeValue) -> str | None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value).strip()
        return text or None
    return None
