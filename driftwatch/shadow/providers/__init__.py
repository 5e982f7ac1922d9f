"""LLM providers driftwatch calls for shadow replays and LLM judges."""
