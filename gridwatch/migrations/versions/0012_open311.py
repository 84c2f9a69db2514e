"""Open311 façade: client apps and their keys (open311_clients), resident reports (resident_reports)

Revision ID: 0012_open311
Revises: 0011_gateways
Create Date: 2026-12-08 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db import UtcDateTime

revision: str = "0012_open311"
down_revision: str | None = "0011_gateways"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open311_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("rate_per_min", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_clients")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_clients_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_open311_clients_name")),
    )
    op.create_table(
        "resident_reports",
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("address_id", sa.String(length=64), nullable=False),
        sa.Column("media_url", sa.String(length=2000), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_resident_reports_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_resident_reports")),
    )
    with op.batch_alter_table("resident_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resident_reports_client"), ["client"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("resident_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_reports_client"))
    op.drop_table("resident_reports")
    op.drop_table("open311_clients")
