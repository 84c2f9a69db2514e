"""api: the access audit (who watched, opened, exported, imported or changed what)

Revision ID: 0005_access_audit
Revises: 0004_comment_attachments
Create Date: 2026-12-09 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0005_access_audit"
down_revision: str | None = "0004_comment_attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_audit")),
    )
    with op.batch_alter_table("access_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_audit_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_audit_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_audit_target"), ["target"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_audit_target"))
        batch_op.drop_index(batch_op.f("ix_access_audit_at"))
        batch_op.drop_index(batch_op.f("ix_access_audit_actor"))

    op.drop_table("access_audit")
