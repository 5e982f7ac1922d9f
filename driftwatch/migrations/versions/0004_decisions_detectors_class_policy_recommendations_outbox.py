"""decisions, detectors, class policy, recommendations, outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 20:35:16.687533
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.create_index("ix_evaluation_task_class_tier_id", ["task_class", "tier", "id"], unique=False)

    op.create_table(
        "class_policy",
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("cooldown_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("task_class", name=op.f("pk_class_policy")),
    )
    op.create_table(
        "decision",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("from_tier", sa.String(length=64), nullable=True),
        sa.Column("to_tier", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
    )
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.create_index("ix_decision_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_decision_task_class_created_at", ["task_class", "created_at"], unique=False)

    op.create_table(
        "detector_state",
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("reference_rate", sa.Float(), nullable=True),
        sa.Column("reference_source", sa.String(length=32), nullable=True),
        sa.Column("baseline_accepted", sa.BigInteger(), nullable=False),
        sa.Column("baseline_total", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("samples", sa.BigInteger(), nullable=False),
        sa.Column("last_evaluation_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alarmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("task_class", "tier", name=op.f("pk_detector_state")),
    )
    op.create_table(
        "outbox_event",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("task_class", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_event_idempotency_key")),
    )
    op.create_table(
        "recommendation",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("from_tier", sa.String(length=64), nullable=False),
        sa.Column("to_tier", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("monthly_savings_usd", sa.Float(), nullable=True),
        sa.Column("savings_low_usd", sa.Float(), nullable=True),
        sa.Column("savings_high_usd", sa.Float(), nullable=True),
        sa.Column("shadow_cost_monthly_usd", sa.Float(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation")),
    )
    with op.batch_alter_table("recommendation", schema=None) as batch_op:
        batch_op.create_index("ix_recommendation_task_class_status", ["task_class", "status"], unique=False)

    with op.batch_alter_table("shadow_sample", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("direction", sa.String(length=8), server_default="forward", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_task_class_tier_id")

    with op.batch_alter_table("shadow_sample", schema=None) as batch_op:
        batch_op.drop_column("direction")

    with op.batch_alter_table("recommendation", schema=None) as batch_op:
        batch_op.drop_index("ix_recommendation_task_class_status")

    op.drop_table("recommendation")
    op.drop_table("outbox_event")
    op.drop_table("detector_state")
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_index("ix_decision_task_class_created_at")
        batch_op.drop_index("ix_decision_created_at_id")

    op.drop_table("decision")
    op.drop_table("class_policy")
