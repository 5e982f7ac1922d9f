"""The sampling rule (pure): which calls get a shadow evaluation, decided by a hash of the trace id.

Hashing the trace id rather than drawing at random makes the decision reproducible: the same call is
always in or out, every replica and every re-run agrees, and independent evaluators that share the
rule (another driftwatch, an offline notebook) pick the same calls, so their results line up.  A whole
trace is in or out together, which keeps multi-call workflows comparable end to end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from driftwatch.config import Policy

_HASH_SPACE = float(2**64)
# Reverse sampling hashes the trace id with this prefix: its draw is independent of the forward one, so
# the calls replayed one tier down are not the same calls (or a biased subset of them) as forward ones.
_REVERSE_SALT = b"driftwatch.reverse\x00"


class SampleDirection(StrEnum):
    """``shadow_sample.direction``: which answer is judged against which."""

    FORWARD = "forward"  # the call's answer is the candidate, replayed on a higher tier as reference
    REVERSE = "reverse"  # a replay one tier down is the candidate, the call's own answer the reference


def trace_fraction(trace_id: str, salt: bytes = b"") -> float:
    """A uniform number in [0, 1) fixed by the trace id (case-insensitive hex) and ``salt``."""
    digest = hashlib.sha256(salt + trace_id.lower().encode("ascii", "replace")).digest()
    return int.from_bytes(digest[:8], "big") / _HASH_SPACE


def in_sample(trace_id: str, rate: float, salt: bytes = b"") -> bool:
    return trace_fraction(trace_id, salt) < rate


@dataclass(frozen=True, slots=True)
class SamplingCandidate:
    trace_id: str
    task_class: str
    tier: str | None
    source: str
    status: str


def effective_rate(policy: Policy, task_class: str, allocated: Mapping[str, float]) -> float:
    """The class's rate: fixed, or for ``rate: auto`` its allocated one (``shadow.auto.uniform_rate``
    until an allocation names the class)."""
    if policy.shadow.is_auto(task_class):
        return allocated.get(task_class, policy.shadow.auto.uniform_rate)
    return policy.shadow.rate_for(task_class)


def reference_tier_for(candidate: SamplingCandidate, policy: Policy, rate: float | None = None) -> str | None:
    """The tier the call is replayed on, or None when it is not sampled.

    Only successful calls on a sampled tier qualify: a failed call has no answer to judge, a call on
    an unknown tier has nothing to compare against, and driftwatch's own calls are never traffic.
    ``rate`` overrides the class's configured rate (its :func:`effective_rate` under ``rate: auto``, or
    a boost after a model change): the draw uses the same hash, so a higher rate samples every call a
    lower one would, and more.
    """
    if not _is_traffic(candidate) or candidate.tier is None or candidate.tier not in policy.sampled_tiers:
        return None
    if rate is None:
        rate = policy.shadow.rate_for(candidate.task_class)
    if not in_sample(candidate.trace_id, rate):
        return None
    return policy.reference_tier


def _is_traffic(candidate: SamplingCandidate) -> bool:
    return candidate.source != "shadow" and candidate.status != "error"


def reverse_tier_for(candidate: SamplingCandidate, current_tier: str, policy: Policy) -> str | None:
    """The cheaper tier a call is replayed on to look for parity, or None when it is not sampled.

    Only calls on their class's current tier qualify (a call routed elsewhere says nothing about a
    demotion of the class), and only above the cheapest tier; the draw uses its own salt at
    ``decisions.demotion_rate``.
    """
    if not _is_traffic(candidate) or candidate.tier != current_tier or current_tier not in policy.tiers:
        return None
    below = policy.tier_below(current_tier)
    if below is None or not in_sample(candidate.trace_id, policy.decisions.demotion_rate, _REVERSE_SALT):
        return None
    return below
