"""content events: GenAI content from OTLP log records, waiting for its call

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_event",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_event")),
        sa.UniqueConstraint(
            "trace_id", "span_id", "digest", name=op.f("uq_content_event_trace_id_span_id_digest")
        ),
    )
    with op.batch_alter_table("content_event", schema=None) as batch_op:
        batch_op.create_index("ix_content_event_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("content_event", schema=None) as batch_op:
        batch_op.drop_index("ix_content_event_received_at")

    op.drop_table("content_event")
