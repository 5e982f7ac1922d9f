"""api_key.scopes: what each key may do; keys made before scopes existed keep every scope

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Every scope, as driftwatch.auth.scopes.to_text spells it (a migration never imports the live code).
_EVERY_SCOPE = "ingest evaluations read admin"


def upgrade() -> None:
    # The default fills the existing rows; it is dropped afterwards so a new key always states its scopes.
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scopes", sa.String(length=64), nullable=False, server_default=_EVERY_SCOPE)
        )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.alter_column("scopes", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("scopes")
