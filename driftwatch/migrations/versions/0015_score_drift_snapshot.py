"""score_drift: each class and tier's judge-score comparison, computed by the score-drift job and read
by GET /v1/classes (it used to read the scores and run the tests on every request)

Starts empty: the job's first run computes every detector's window.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 18:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "score_drift",
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("newest_evaluation_id", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_count", sa.Integer(), nullable=False),
        sa.Column("baseline_count", sa.Integer(), nullable=False),
        sa.Column("current_median", sa.Float(), nullable=True),
        sa.Column("baseline_median", sa.Float(), nullable=True),
        sa.Column("median_difference", sa.Float(), nullable=True),
        sa.Column("probability_lower", sa.Float(), nullable=True),
        sa.Column("mann_whitney_p", sa.Float(), nullable=True),
        sa.Column("ks_statistic", sa.Float(), nullable=True),
        sa.Column("ks_p", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("task_class", "tier", name=op.f("pk_score_drift")),
    )


def downgrade() -> None:
    op.drop_table("score_drift")
