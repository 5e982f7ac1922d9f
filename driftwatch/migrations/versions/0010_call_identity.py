"""call identity: a response id is only one call within a trace (the store-wide unique constraint
goes: some servers recycle ids; an index finds a second report), call.scope names the reporting
instrumentation, and call_span keeps every span of a call that several spans reported

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_constraint("uq_call_response_id", type_="unique")
        batch_op.add_column(sa.Column("scope", sa.String(length=255), nullable=True))
        batch_op.create_index("ix_call_response_id", ["response_id"], unique=False)
    op.create_table(
        "call_span",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("response_id", sa.String(length=255), nullable=True),
        sa.Column("report", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call.id"], name=op.f("fk_call_span_call_id_call"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_span")),
        sa.UniqueConstraint("trace_id", "span_id", name=op.f("uq_call_span_trace_id_span_id")),
    )
    with op.batch_alter_table("call_span", schema=None) as batch_op:
        batch_op.create_index("ix_call_span_call_id", ["call_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_span", schema=None) as batch_op:
        batch_op.drop_index("ix_call_span_call_id")
    op.drop_table("call_span")
    # Calls that share a response id (in different traces) cannot all keep it under the old
    # constraint: all but the first lose it.
    op.execute(
        "UPDATE call SET response_id = NULL WHERE response_id IS NOT NULL AND id > "
        "(SELECT min(other.id) FROM call AS other WHERE other.response_id = call.response_id)"
    )
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_index("ix_call_response_id")
        batch_op.drop_column("scope")
        batch_op.create_unique_constraint("uq_call_response_id", ["response_id"])
