"""camera_config: a camera's ONVIF device service (cameras.onvif: host, port, events on/off)

Revision ID: 0010_onvif
Revises: 0009_parties
Create Date: 2026-12-08 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_onvif"
down_revision: str | None = "0009_parties"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Cameras stored before this have no ONVIF device service (NULL): they were added by their stream URLs.
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.add_column(sa.Column("onvif", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_column("onvif")
