"""Each class's current tier, as the sample job and the allocation read it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.models import ClassPolicy


def current_tiers(session: Session, policy: Policy, classes: set[str]) -> dict[str, str]:
    """Each class's current tier, as :func:`driftwatch.policy.routing.current_route` decides it, read
    without locking the routing rows (sampling must never hold up a tier change)."""
    rows = session.execute(
        select(ClassPolicy.task_class, ClassPolicy.tier).where(ClassPolicy.task_class.in_(classes))
    )
    decided = {task_class: tier for task_class, tier in rows}
    return {
        task_class: decided.get(task_class) or policy.configured_tier(task_class) for task_class in classes
    }
