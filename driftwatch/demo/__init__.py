"""``driftwatch demo``: the whole loop on one machine, on recorded cheap-vs-premium outcomes."""

DEFAULT_RATE = 400.0
"""Calls per second of the demo's routed app: enough that the 4% it shadow-evaluates detects a drift
within a minute or two."""
