"""events: retention marks (alerts.evidence_removed_at/_by, case_attachments.removed_at/_by)

Revision ID: 0006_retention
Revises: 0005_access_audit
Create Date: 2026-12-06 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0006_retention"
down_revision: str | None = "0005_access_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_removed_at", core.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("evidence_removed_by", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_alerts_retention", ["evidence_removed_at", "last_seen_at", "id"], unique=False)
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed_at", core.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("removed_by", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.drop_column("removed_by")
        batch_op.drop_column("removed_at")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_retention")
        batch_op.drop_column("evidence_removed_by")
        batch_op.drop_column("evidence_removed_at")
