"""The savings ledger: cached input tokens on calls and in the hourly rollup, and the daily rollup
``class_day``

``call.cache_read_tokens`` / ``cache_write_tokens``: the part of a call's input tokens read from or
written to a prompt cache, where the instrumentation reports it; ``class_hour`` sums them per class,
tier and hour.  Calls stored before this revision did not keep them: their hours start at 0, and the
ledger prices their input tokens as uncached.  ``class_day`` holds the hourly rollup summed per UTC
day, filled here from ``class_hour`` and kept by the ingest writer from now on.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 18:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_CACHED = ("cache_read_tokens", "cache_write_tokens")
_SUMMED = ("calls", "priced_calls", "input_tokens", "output_tokens", *_CACHED, "cost_usd")
# The UTC day of an hour as each store keeps timestamps: SQLite naive UTC text, PostgreSQL timestamptz.
_DAY = {
    "sqlite": "substr(hour, 1, 10)",
    "postgresql": "to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}


def upgrade() -> None:
    # Nullable columns without a default, and NOT NULL ones with a constant default: a change of the
    # catalogue only, on both stores, however many calls are stored.
    for name in _CACHED:
        op.add_column("call", sa.Column(name, sa.Integer(), nullable=True))
        op.add_column(
            "class_hour", sa.Column(name, sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )
    op.create_table(
        "class_day",
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _SUMMED[:-1]),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("task_class", "tier", "day", name=op.f("pk_class_day")),
    )
    op.create_index(op.f("ix_class_day_day"), "class_day", ["day"])
    day = _DAY[op.get_bind().dialect.name]
    summed = ", ".join(f"sum({name})" for name in _SUMMED)
    op.execute(
        f"INSERT INTO class_day (task_class, tier, day, {', '.join(_SUMMED)}) "
        f"SELECT task_class, tier, {day}, {summed} FROM class_hour GROUP BY task_class, tier, {day}"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_class_day_day"), table_name="class_day")
    op.drop_table("class_day")
    for name in _CACHED:
        with op.batch_alter_table("class_hour") as batch:
            batch.drop_column(name)
        with op.batch_alter_table("call") as batch:
            batch.drop_column(name)
