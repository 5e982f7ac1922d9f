"""Importers: calls recorded by other tools (Langfuse) brought into the store as ``call`` rows."""
