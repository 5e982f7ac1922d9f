"""shadow samples, evaluations, spend and job state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 19:29:12.296087
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "job_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_summary", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_state")),
    )
    op.create_table(
        "shadow_spend",
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("reserved_usd", sa.Float(), nullable=False),
        sa.Column("spent_usd", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("task_class", "day", name=op.f("pk_shadow_spend")),
    )
    op.create_table(
        "shadow_sample",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("reference_tier", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("reserved_usd", sa.Float(), nullable=False),
        sa.Column("reserved_day", sa.String(length=10), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call.id"], name=op.f("fk_shadow_sample_call_id_call"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_sample")),
        sa.UniqueConstraint(
            "call_id", "reference_tier", name=op.f("uq_shadow_sample_call_id_reference_tier")
        ),
    )
    with op.batch_alter_table("shadow_sample", schema=None) as batch_op:
        batch_op.create_index("ix_shadow_sample_status_not_before", ["status", "not_before"], unique=False)
        batch_op.create_index("ix_shadow_sample_task_class_status", ["task_class", "status"], unique=False)

    op.create_table(
        "evaluation",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("sample_id", sa.BigInteger(), nullable=True),
        sa.Column("call_id", sa.BigInteger(), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("task_class", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=255), nullable=True),
        sa.Column("reference_tier", sa.String(length=64), nullable=True),
        sa.Column("reference_model", sa.String(length=255), nullable=True),
        sa.Column("acceptable", sa.Boolean(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("judge", sa.String(length=64), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("shadow_cost_usd", sa.Float(), nullable=False),
        sa.Column("judge_cost_usd", sa.Float(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call.id"], name=op.f("fk_evaluation_call_id_call"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["shadow_sample.id"],
            name=op.f("fk_evaluation_sample_id_shadow_sample"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation")),
        sa.UniqueConstraint("sample_id", name=op.f("uq_evaluation_sample_id")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_evaluation_source_external_id")),
    )
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.create_index("ix_evaluation_evaluated_at_id", ["evaluated_at", "id"], unique=False)
        batch_op.create_index(
            "ix_evaluation_task_class_tier_evaluated_at", ["task_class", "tier", "evaluated_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_task_class_tier_evaluated_at")
        batch_op.drop_index("ix_evaluation_evaluated_at_id")

    op.drop_table("evaluation")
    with op.batch_alter_table("shadow_sample", schema=None) as batch_op:
        batch_op.drop_index("ix_shadow_sample_task_class_status")
        batch_op.drop_index("ix_shadow_sample_status_not_before")

    op.drop_table("shadow_sample")
    op.drop_table("shadow_spend")
    op.drop_table("job_state")
