"""Tables of alerts, cases, their trail and the outbox. Rows never leave events: the service returns values.

Routing is stored as it was when the alert or case arrived (grid, community, street ids, no foreign
keys to the site model): history and figures must not change when the site is reorganised later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import psycopg
from psycopg.types.json import Json
from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint, insert
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit ids on PostgreSQL; SQLite only autoincrements an INTEGER PRIMARY KEY."""


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    episode_id: Mapped[str] = mapped_column(String(128), unique=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    zone_id: Mapped[str | None] = mapped_column(String(64))
    hazard: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    episode_state: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int]
    grid_id: Mapped[str] = mapped_column(String(64))
    community_id: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    received_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    summary: Mapped[str] = mapped_column(Text, default="")
    measurements: Mapped[dict[str, Any]] = mapped_column(default=dict)
    detections: Mapped[list[Any]] = mapped_column(default=list)
    updates: Mapped[int] = mapped_column(default=1)
    evidence: Mapped[str | None] = mapped_column(String(300))
    clip: Mapped[str | None] = mapped_column(String(300))
    case_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("cases.id"), index=True)
    handled_by: Mapped[str | None] = mapped_column(String(64))
    handled_at: Mapped[datetime | None]
    dismiss_reason: Mapped[str | None] = mapped_column(String(200))
    evidence_removed_at: Mapped[datetime | None]
    """When the alert's snapshots and clip were deleted (the paths stay, so the API can say they are gone)."""
    evidence_removed_by: Mapped[str | None] = mapped_column(String(16))
    """``retention`` (their keeping period ended) or ``disk`` (the disk watchdog made room)."""
    held_back: Mapped[str | None] = mapped_column(String(32))
    """The alert-fatigue control that kept it from notifying and from opening a case: ``cooldown``,
    ``suspend:camera`` or ``suspend:grid`` (the alert is recorded and shown all the same)."""


# The alert list is newest first, filtered by at most one of these; each index serves one filter in order.
Index("ix_alerts_received", AlertRow.received_at, AlertRow.id)
Index("ix_alerts_grid_received", AlertRow.grid_id, AlertRow.received_at, AlertRow.id)
Index("ix_alerts_community_received", AlertRow.community_id, AlertRow.received_at, AlertRow.id)
Index("ix_alerts_camera_received", AlertRow.camera_id, AlertRow.received_at, AlertRow.id)
Index("ix_alerts_status_received", AlertRow.status, AlertRow.received_at, AlertRow.id)
# Retention and the disk watchdog: alerts whose files are still there, oldest last seen first.
Index("ix_alerts_retention", AlertRow.evidence_removed_at, AlertRow.last_seen_at, AlertRow.id)


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_cases_source_external_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    is_open: Mapped[bool]
    """Not closed or dismissed; kept as a column so the board's main filter is one index range."""
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    """camera|hazard while a camera case is open, NULL otherwise: the database itself refuses a duplicate."""
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(300), default="")
    triage: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    hazard: Mapped[str | None] = mapped_column(String(32))
    grid_id: Mapped[str] = mapped_column(String(64))
    community_id: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str | None] = mapped_column(String(64))
    zone_id: Mapped[str | None] = mapped_column(String(64))
    assignee_id: Mapped[str | None] = mapped_column(String(64))
    informed: Mapped[list[Any]] = mapped_column(default=list)
    reporter_id: Mapped[str | None] = mapped_column(String(64))
    alert_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    due_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    holder: Mapped[str] = mapped_column(String(80))
    """Who holds the case now (``grid:G-01``, ``company:PC-01``, ``partner:PU-01``): what a property company's
    or partner unit's people see; the trail says who held it when."""
    compound_id: Mapped[str | None] = mapped_column(String(64))


# The board: open (or any) cases, most urgent first, optionally for one grid / community / worker.
Index("ix_cases_open_deadline", CaseRow.is_open, CaseRow.deadline_at, CaseRow.id)
Index("ix_cases_state_deadline", CaseRow.state, CaseRow.deadline_at, CaseRow.id)
Index("ix_cases_grid_open_deadline", CaseRow.grid_id, CaseRow.is_open, CaseRow.deadline_at, CaseRow.id)
Index("ix_cases_community_open_deadline", CaseRow.community_id, CaseRow.is_open, CaseRow.deadline_at, CaseRow.id)
Index("ix_cases_assignee_open_deadline", CaseRow.assignee_id, CaseRow.is_open, CaseRow.deadline_at, CaseRow.id)
Index("ix_cases_holder_open_deadline", CaseRow.holder, CaseRow.is_open, CaseRow.deadline_at, CaseRow.id)
# Newest first, and figures per period.
Index("ix_cases_created", CaseRow.created_at, CaseRow.id)


class ResidentReportRow(Base):
    """What came with a resident's report besides its case: the point, the app, and the resident's contact
    details (for the grid's people to call back; the Open311 façade never hands them out)."""

    __tablename__ = "resident_reports"
    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("cases.id"), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    lat: Mapped[float]
    lon: Mapped[float]
    address: Mapped[str] = mapped_column(String(300), default="")
    address_id: Mapped[str] = mapped_column(String(64), default="")
    media_url: Mapped[str] = mapped_column(String(2000), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    device_id: Mapped[str] = mapped_column(String(64), default="")
    account_id: Mapped[str] = mapped_column(String(64), default="")


class CaseAuditRow(Base):
    __tablename__ = "case_audit"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CaseCommentRow(Base):
    __tablename__ = "case_comments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)


class CaseAttachmentRow(Base):
    __tablename__ = "case_attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("cases.id"), index=True)
    audit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("case_audit.id"), index=True)
    comment_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("case_comments.id"), index=True)
    """A file belongs to a step of the trail (audit_id), to a comment (comment_id), or to neither."""
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    """When the file was deleted by retention; the row stays, so the case's trail still lists it."""
    removed_by: Mapped[str | None] = mapped_column(String(16))


class OutboxRow(Base):
    """Messages written in the same transaction as the change they announce, published after commit."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]


Index("ix_outbox_pending", OutboxRow.published_at, OutboxRow.id)

# Typed handles for the Core statements of the hot paths.
ALERTS = cast(Table, AlertRow.__table__)
CASES = cast(Table, CaseRow.__table__)
CASE_AUDIT = cast(Table, CaseAuditRow.__table__)
OUTBOX = cast(Table, OutboxRow.__table__)


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL (one stream, no per-row
    statement work), a multi-row INSERT elsewhere. Rows carry their ids already when ids matter."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    names = [c.name for c in table.columns if c.name in rows[0]]
    json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
    raw: Any = session.connection().connection.dbapi_connection
    statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    try:
        with raw.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row([Json(row[n]) if n in json_cols else row[n] for n in names])
    except psycopg.IntegrityError as exc:  # as SQLAlchemy would raise it, so callers handle one kind
        raise sa_exc.IntegrityError(statement, None, exc) from exc
    except psycopg.Error as exc:
        raise sa_exc.DBAPIError(statement, None, exc) from exc
