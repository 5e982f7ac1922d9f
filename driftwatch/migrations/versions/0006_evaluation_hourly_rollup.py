"""evaluation_hour: evaluation outcomes per class, tier, source and hour, filled from evaluation;
the index 0005 added for /metrics' all-time outcome counts, which now come from evaluation_hour, goes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 04:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The start of the evaluation's UTC hour, as each store keeps timestamps: SQLite holds naive UTC text
# "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's format), PostgreSQL a timestamptz.
_HOUR = {
    "sqlite": "strftime('%Y-%m-%d %H:00:00.000000', evaluated_at)",
    "postgresql": "date_trunc('hour', evaluated_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
}


def upgrade() -> None:
    op.create_table(
        "evaluation_hour",
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evaluations", sa.BigInteger(), nullable=False),
        sa.Column("decided", sa.BigInteger(), nullable=False),
        sa.Column("acceptable", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("task_class", "tier", "source", "hour", name=op.f("pk_evaluation_hour")),
    )
    with op.batch_alter_table("evaluation_hour", schema=None) as batch_op:
        batch_op.create_index("ix_evaluation_hour_hour", ["hour"], unique=False)
    hour = _HOUR[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO evaluation_hour (task_class, tier, source, hour, evaluations, decided, acceptable) "
        f"SELECT task_class, coalesce(tier, ''), source, {hour}, count(*), count(acceptable), "
        "coalesce(sum(CASE WHEN acceptable THEN 1 ELSE 0 END), 0) "
        f"FROM evaluation GROUP BY task_class, coalesce(tier, ''), source, {hour}"
    )
    op.drop_index("ix_evaluation_task_class_tier_acceptable", table_name="evaluation")


def downgrade() -> None:
    op.create_index(
        "ix_evaluation_task_class_tier_acceptable",
        "evaluation",
        ["task_class", "tier", "acceptable"],
        unique=False,
    )
    with op.batch_alter_table("evaluation_hour", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_hour_hour")
    op.drop_table("evaluation_hour")
