"""Class names in a job's one-line summary: a run may touch thousands of classes (a store from
before the class cap, a first coverage run), and the line goes to the log and the job's state."""

from __future__ import annotations

from collections.abc import Sequence

SHOWN = 10


def named(label: str, names: Sequence[str]) -> str:
    """``"; label: a, b, c"``, the first :data:`SHOWN` names and how many more; empty without names."""
    if not names:
        return ""
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return f"; {label}: {', '.join(names[:SHOWN])}{more}"
