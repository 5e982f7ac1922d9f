"""Alembic migrations, installed as ``driftwatch.migrations``: the only way the schema changes."""
