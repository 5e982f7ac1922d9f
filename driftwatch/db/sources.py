"""Names of evaluation sources the service itself writes (no SQLAlchemy here: the policy's settings
read them, and the command line loads those settings before it needs a store)."""

from __future__ import annotations

SHADOW_SOURCE = "shadow"
