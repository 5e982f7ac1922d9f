"""Which calls are shadow-evaluated: a deterministic rule and the job that applies it."""
