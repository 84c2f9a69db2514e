"""GB/T 28181 gateways (gateways): wvp-GB28181-pro instances whose channels are imported as cameras

Revision ID: 0011_gateways
Revises: 0010_onvif
Create Date: 2026-12-08 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0011_gateways"
down_revision: str | None = "0010_onvif"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateways",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("password_enc", sa.Text(), nullable=False),
        sa.Column("compound_id", sa.String(length=64), nullable=False),
        sa.Column("grid_id", sa.String(length=64), nullable=True),
        sa.Column("retired", sa.JSON(), nullable=False),
        sa.Column("synced_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("sync_summary", sa.Text(), nullable=True),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["compound_id"], ["compounds.id"], name=op.f("fk_gateways_compound_id_compounds")),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_gateways_grid_id_grids")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateways")),
    )


def downgrade() -> None:
    op.drop_table("gateways")
