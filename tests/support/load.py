"""Waits that stretch with the machine's load: the test machines are shared by many processes."""

from __future__ import annotations

import os


def scaled(seconds: float) -> float:
    """``seconds`` times the load average per core over the last minute, when that is above 1."""
    return seconds * max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
