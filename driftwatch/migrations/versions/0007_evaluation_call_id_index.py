"""index evaluation.call_id: deleting expired calls sets it to null, one lookup per deleted call

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 05:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_evaluation_call_id", "evaluation", ["call_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_evaluation_call_id", table_name="evaluation")
