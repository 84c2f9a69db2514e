"""events: photos of a progress note (case_attachments.comment_id)

Revision ID: 0004_comment_attachments
Revises: 0003_api
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_comment_attachments"
down_revision: str | None = "0003_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("comment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_case_attachments_comment_id"), ["comment_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_case_attachments_comment_id_case_comments"), "case_comments", ["comment_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_case_attachments_comment_id_case_comments"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_case_attachments_comment_id"))
        batch_op.drop_column("comment_id")
