"""Each class's current tier, as the sample job and the allocation read it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.models import ClassPolicy

MAX_NAMED = 500
"""More classes than this are looked up by reading every routing row: an IN list of thousands of names
could pass SQLite's limit on parameters."""


def current_tiers(session: Session, policy: Policy, classes: set[str]) -> dict[str, str]:
    """Each class's current tier, as :func:`driftwatch.routing.routes.current_route` decides it, read
    without locking the routing rows (sampling must never hold up a tier change)."""
    query = select(ClassPolicy.task_class, ClassPolicy.tier)
    if len(classes) <= MAX_NAMED:
        query = query.where(ClassPolicy.task_class.in_(classes))
    rows = session.execute(query)
    decided = {task_class: tier for task_class, tier in rows}
    return {
        task_class: decided.get(task_class) or policy.configured_tier(task_class) for task_class in classes
    }
