"""How a recorded conversation is re-sent: what both chat APIs share about roles and JSON mode."""

from __future__ import annotations

SYSTEM_ROLES = frozenset({"system", "developer"})
"""Roles that instruct rather than converse (OpenAI's newer models call the system role "developer")."""

JSON_INSTRUCTION = "Answer with a single JSON object and nothing else."
"""JSON mode's instruction to the model where the API has no such mode of its own (Anthropic), or where
the API refuses the mode unless the conversation mentions JSON (OpenAI answers 400 otherwise)."""
