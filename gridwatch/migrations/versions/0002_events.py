"""events: alerts, cases, case audit trail, comments, attachments, outbox

Revision ID: 0002_events
Revises: 0001_site_model
Create Date: 2026-11-25 12:05:58.767911
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0002_events"
down_revision: str | None = "0001_site_model"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("open_key", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=False),
        sa.Column("triage", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("hazard", sa.String(length=32), nullable=True),
        sa.Column("grid_id", sa.String(length=64), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("street_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=True),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.Column("assignee_id", sa.String(length=64), nullable=True),
        sa.Column("informed", sa.JSON(), nullable=False),
        sa.Column("reporter_id", sa.String(length=64), nullable=True),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("open_key", name=op.f("uq_cases_open_key")),
        sa.UniqueConstraint("source", "external_id", name="uq_cases_source_external_id"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_assignee_open_deadline", ["assignee_id", "is_open", "deadline_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_cases_community_open_deadline", ["community_id", "is_open", "deadline_at", "id"], unique=False
        )
        batch_op.create_index("ix_cases_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_cases_grid_open_deadline", ["grid_id", "is_open", "deadline_at", "id"], unique=False)
        batch_op.create_index("ix_cases_open_deadline", ["is_open", "deadline_at", "id"], unique=False)
        batch_op.create_index("ix_cases_state_deadline", ["state", "deadline_at", "id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("published_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_pending", ["published_at", "id"], unique=False)

    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("episode_id", sa.String(length=128), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.Column("hazard", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("episode_state", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.String(length=64), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("street_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("measurements", sa.JSON(), nullable=False),
        sa.Column("detections", sa.JSON(), nullable=False),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.String(length=300), nullable=True),
        sa.Column("clip", sa.String(length=300), nullable=True),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("handled_by", sa.String(length=64), nullable=True),
        sa.Column("handled_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("dismiss_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_alerts_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("episode_id", name=op.f("uq_alerts_episode_id")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_camera_received", ["camera_id", "received_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_alerts_community_received", ["community_id", "received_at", "id"], unique=False)
        batch_op.create_index("ix_alerts_grid_received", ["grid_id", "received_at", "id"], unique=False)
        batch_op.create_index("ix_alerts_received", ["received_at", "id"], unique=False)
        batch_op.create_index("ix_alerts_status_received", ["status", "received_at", "id"], unique=False)

    op.create_table(
        "case_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_audit_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_audit")),
    )
    with op.batch_alter_table("case_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_audit_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_comments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_comments_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_comments")),
    )
    with op.batch_alter_table("case_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_comments_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_attachments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("audit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["audit_id"], ["case_audit.id"], name=op.f("fk_case_attachments_audit_id_case_audit")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_attachments_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_attachments")),
    )
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_attachments_audit_id"), ["audit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_attachments_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_attachments_case_id"))
        batch_op.drop_index(batch_op.f("ix_case_attachments_audit_id"))

    op.drop_table("case_attachments")
    with op.batch_alter_table("case_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_comments_case_id"))

    op.drop_table("case_comments")
    with op.batch_alter_table("case_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_audit_case_id"))

    op.drop_table("case_audit")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_status_received")
        batch_op.drop_index("ix_alerts_received")
        batch_op.drop_index("ix_alerts_grid_received")
        batch_op.drop_index("ix_alerts_community_received")
        batch_op.drop_index(batch_op.f("ix_alerts_case_id"))
        batch_op.drop_index("ix_alerts_camera_received")

    op.drop_table("alerts")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")

    op.drop_table("outbox")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_state_deadline")
        batch_op.drop_index("ix_cases_open_deadline")
        batch_op.drop_index("ix_cases_grid_open_deadline")
        batch_op.drop_index("ix_cases_created")
        batch_op.drop_index("ix_cases_community_open_deadline")
        batch_op.drop_index("ix_cases_assignee_open_deadline")

    op.drop_table("cases")
