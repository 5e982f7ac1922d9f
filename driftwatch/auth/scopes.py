"""What a key may do: each route needs one scope, and a key holds one or more.

``ingest`` is the key every app holds for OTLP export, so it reaches nothing else: a leaked exporter key
can add spans, not read prompts back, move a class or add a webhook.  ``evaluations`` may post verdicts
(which move traffic only from the sources ``decisions.sources`` lists), ``read`` may read every stored
thing but webhooks, and ``admin`` controls the policy, recommendations and webhooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    INGEST = "ingest"
    EVALUATIONS = "evaluations"
    READ = "read"
    ADMIN = "admin"


ALL_SCOPES = frozenset(Scope)
DEFAULT_SCOPES = frozenset({Scope.INGEST})

WHAT_EACH_ALLOWS = {
    Scope.INGEST: "POST /v1/traces and /v1/logs (OTLP export)",
    Scope.EVALUATIONS: "POST /v1/evaluations (verdicts from elsewhere)",
    Scope.READ: "every GET of data: calls, classes, evaluations, decisions, recommendations, the "
    "routing policy, plan, dashboard data and /metrics",
    Scope.ADMIN: "pins, accepting and rejecting recommendations, and webhooks (listing them too)",
}


def to_text(scopes: Iterable[Scope]) -> str:
    """How scopes are stored: space-separated, in a fixed order (as OAuth spells a scope list)."""
    return " ".join(scope.value for scope in Scope if scope in set(scopes))


def from_text(text: str) -> frozenset[Scope]:
    """The scopes stored as ``text``; a word that names no scope (from a newer version) grants nothing."""
    known = {scope.value: scope for scope in Scope}
    return frozenset(known[word] for word in text.split() if word in known)
