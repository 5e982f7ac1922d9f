"""detector_state.feed: a class's verdicts from the sources decisions.sources lists (which may promote
it) and from every other source (alert only) are tested by separate detectors; existing detectors
become the listed feed's

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("detector_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed", sa.String(length=16), nullable=False, server_default="listed"))
    with op.batch_alter_table("detector_state", schema=None) as batch_op:
        batch_op.alter_column("feed", server_default=None)
        batch_op.drop_constraint("pk_detector_state", type_="primary")
        batch_op.create_primary_key("pk_detector_state", ["task_class", "tier", "feed"])


def downgrade() -> None:
    # The other feed's detectors go: before this revision a class had one detector per tier.
    op.execute("DELETE FROM detector_state WHERE feed <> 'listed'")
    with op.batch_alter_table("detector_state", schema=None) as batch_op:
        batch_op.drop_constraint("pk_detector_state", type_="primary")
        batch_op.create_primary_key("pk_detector_state", ["task_class", "tier"])
        batch_op.drop_column("feed")
