"""class_coverage: each class's coverage as the coverage job last assessed it, the raised sample
rate of coverage-first sampling, and since when the class has been unprotected

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "class_coverage",
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("target_drop", sa.Float(), nullable=False),
        sa.Column("window_days", sa.Float(), nullable=False),
        sa.Column("min_detectable_drop", sa.Float(), nullable=True),
        sa.Column("protected_in_days", sa.Float(), nullable=True),
        sa.Column("calls_per_day", sa.Float(), nullable=False),
        sa.Column("samples_per_day", sa.Float(), nullable=False),
        sa.Column("rate_to_protect", sa.Float(), nullable=True),
        sa.Column("coverage_rate", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("unprotected_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_class", name=op.f("pk_class_coverage")),
    )


def downgrade() -> None:
    op.drop_table("class_coverage")
