"""camera_config: outlines of streets and compounds (streets.outline, compounds.outline)

Revision ID: 0008_outlines
Revises: 0007_notifications
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_outlines"
down_revision: str | None = "0007_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("streets", "compounds")


def upgrade() -> None:
    # Rows already stored get an empty outline (none drawn); new rows always carry their own.
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("outline", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("outline", server_default=None)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("outline")
