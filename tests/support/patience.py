"""How long a test waits for something another thread or process does: a stated time on a quiet
machine, stretched by the machine's load.

On a 2-core machine that other test runs, builds or developers keep busy, a ``driftwatch serve`` that
starts in 2 s on its own takes 10 s or more; a fixed wait either fails there or is far too long on a
quiet machine, where a wait that runs out means a real failure. Every readiness wait and polling
deadline in the suite goes through :func:`patient`."""

from __future__ import annotations

import os
import time

MAX_FACTOR = 6.0
"""However loaded the machine, a wait is at most this many times its stated length."""


def load_factor() -> float:
    """The 1-minute load average per CPU, at least 1 and at most :data:`MAX_FACTOR`: how many times
    slower than on an idle machine a CPU-bound start-up runs now."""
    return min(MAX_FACTOR, max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1)))


def patient(seconds: float) -> float:
    """``seconds`` (the wait a quiet machine needs, with a margin) scaled by the current load."""
    return seconds * load_factor()


def deadline(seconds: float) -> float:
    """The ``time.monotonic()`` by which a wait of ``seconds`` on a quiet machine gives up now."""
    return time.monotonic() + patient(seconds)
