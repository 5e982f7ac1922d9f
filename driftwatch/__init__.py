"""driftwatch: keeps tiered LLM routing honest."""

__version__ = "0.1.0"
