"""Cached input tokens on calls and in the hourly rollup, for the savings ledger's counterfactual

``call.cache_read_tokens`` / ``cache_write_tokens``: the part of a call's input tokens read from or
written to a prompt cache, where the instrumentation reports it; ``class_hour`` sums them per class,
tier and hour.  Calls stored before this revision did not keep them: their hours start at 0, and the
ledger prices their input tokens as uncached.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 18:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_CACHED = ("cache_read_tokens", "cache_write_tokens")


def upgrade() -> None:
    # Nullable columns without a default, and NOT NULL ones with a constant default: a change of the
    # catalogue only, on both stores, however many calls are stored.
    for name in _CACHED:
        op.add_column("call", sa.Column(name, sa.Integer(), nullable=True))
        op.add_column(
            "class_hour", sa.Column(name, sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    for name in _CACHED:
        with op.batch_alter_table("class_hour") as batch:
            batch.drop_column(name)
        with op.batch_alter_table("call") as batch:
            batch.drop_column(name)
