"""model change sentinel: call.system_fingerprint, and model_watch (the served models learnt per class
and tier, and the watch a change starts)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 18:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable): both stores add it without rewriting the call table.
    op.add_column("call", sa.Column("system_fingerprint", sa.String(length=128), nullable=True))
    op.create_table(
        "model_watch",
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("watch_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("watch_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("boost_factor", sa.Float(), nullable=True),
        sa.Column("boost_samples", sa.Integer(), nullable=True),
        sa.Column("boost_from_call_id", sa.BigInteger(), nullable=True),
        sa.Column("decision_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_class", "tier", name=op.f("pk_model_watch")),
    )


def downgrade() -> None:
    op.drop_table("model_watch")
    with op.batch_alter_table("call") as batch:
        batch.drop_column("system_fingerprint")
