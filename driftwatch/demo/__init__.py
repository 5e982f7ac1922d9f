"""``driftwatch demo``: the whole loop on one machine, on recorded cheap-vs-premium outcomes."""
