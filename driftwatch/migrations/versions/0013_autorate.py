"""shadow_allocation: the sample rate `shadow.rate: auto` allocated each class, and the figures behind it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 18:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_allocation",
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("traffic_per_day", sa.Float(), nullable=False),
        sa.Column("cost_per_sample_usd", sa.Float(), nullable=False),
        sa.Column("money_at_risk_usd", sa.Float(), nullable=True),
        sa.Column("samples_to_detect", sa.Float(), nullable=True),
        sa.Column("reference_samples_needed", sa.BigInteger(), nullable=False),
        sa.Column("expected_delay_days", sa.Float(), nullable=True),
        sa.Column("days_to_reference", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_class", name=op.f("pk_shadow_allocation")),
    )


def downgrade() -> None:
    op.drop_table("shadow_allocation")
