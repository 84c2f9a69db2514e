"""Partner units (partner_units), and who holds a case (cases.holder, cases.compound_id)

Revision ID: 0009_parties
Revises: 0008_outlines
Create Date: 2026-12-08 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_parties"
down_revision: str | None = "0008_outlines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_units",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=False),
        sa.Column("community_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_units")),
    )
    # Cases stored before this held by their grid, as they were routed.
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder", sa.String(length=80), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("compound_id", sa.String(length=64), nullable=True))
    op.execute("UPDATE cases SET holder = 'grid:' || grid_id")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column("holder", server_default=None)
        batch_op.create_index("ix_cases_holder_open_deadline", ["holder", "is_open", "deadline_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_holder_open_deadline")
        batch_op.drop_column("compound_id")
        batch_op.drop_column("holder")
    op.drop_table("partner_units")
