"""The sampling rule (pure): which calls get a shadow evaluation, decided by a hash of the trace id.

Hashing the trace id rather than drawing at random makes the decision reproducible: the same call is
always in or out, every replica and every re-run agrees, and independent evaluators that share the
rule (another driftwatch, an offline notebook) pick the same calls, so their results line up.  A whole
trace is in or out together, which keeps multi-call workflows comparable end to end.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from driftwatch.config import Policy

_HASH_SPACE = float(2**64)


def trace_fraction(trace_id: str) -> float:
    """A uniform number in [0, 1) fixed by the trace id (case-insensitive hex)."""
    digest = hashlib.sha256(trace_id.lower().encode("ascii", "replace")).digest()
    return int.from_bytes(digest[:8], "big") / _HASH_SPACE


def in_sample(trace_id: str, rate: float) -> bool:
    return trace_fraction(trace_id) < rate


@dataclass(frozen=True, slots=True)
class SamplingCandidate:
    trace_id: str
    task_class: str
    tier: str | None
    source: str
    status: str


def reference_tier_for(candidate: SamplingCandidate, policy: Policy) -> str | None:
    """The tier the call is replayed on, or None when it is not sampled.

    Only successful calls on a sampled tier qualify: a failed call has no answer to judge, a call on
    an unknown tier has nothing to compare against, and driftwatch's own calls are never traffic.
    """
    if candidate.source == "shadow" or candidate.status == "error":
        return None
    if candidate.tier is None or candidate.tier not in policy.sampled_tiers:
        return None
    if not in_sample(candidate.trace_id, policy.shadow.rate_for(candidate.task_class)):
        return None
    return policy.reference_tier
