"""shadow_cost_day: shadow spend per class and UTC day of the evaluated call, filled from the shadow
evaluations already stored (their call's day; the evaluation's own day when the call has expired)

Spend of attempts that failed before an evaluation was stored cannot be told apart by call day and
stays only in shadow_spend.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The UTC day as each store keeps timestamps: SQLite naive UTC text, PostgreSQL timestamptz.
_DAY = {
    "sqlite": "strftime('%Y-%m-%d', coalesce(c.start_time, e.evaluated_at))",
    "postgresql": "to_char(coalesce(c.start_time, e.evaluated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}


def upgrade() -> None:
    op.create_table(
        "shadow_cost_day",
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("spent_usd", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("task_class", "day", name=op.f("pk_shadow_cost_day")),
    )
    day = _DAY[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO shadow_cost_day (task_class, day, spent_usd) "
        f"SELECT e.task_class, {day}, sum(e.shadow_cost_usd + e.judge_cost_usd) "
        "FROM evaluation e LEFT JOIN call c ON c.id = e.call_id "
        f"WHERE e.source = 'shadow' GROUP BY e.task_class, {day}"
    )


def downgrade() -> None:
    op.drop_table("shadow_cost_day")
