"""The access audit: who watched which camera live, opened which evidence or attachment, exported or
imported cameras, and changed which account or token.

Append-only: `AuditLog` writes rows and reads them back; the only way a row goes is `prune`, which
removes everything older than a cutoff (the retention period is the operator's to choose). Lists are
keyset-paginated newest first, like the alert and case lists.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, literal, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from api.orm import AccessAuditRow
from core.clock import Clock
from core.db import UtcDateTime, transaction
from events.queries import check_limit, decode_cursor, encode_cursor
from events.types import Page


class AuditAction(enum.StrEnum):
    LIVE_VIEW = "live_view"
    """A live view of a camera started (target: camera id; detail: the stream)."""
    LIVE_VIEW_ENDED = "live_view_ended"
    """... and ended (detail: how long it lasted)."""
    EVIDENCE_OPENED = "evidence_opened"
    """An alert's evidence snapshot was served (target: alert id; detail: its camera)."""
    ATTACHMENT_OPENED = "attachment_opened"
    """A file attached to a case was served (target: attachment id; detail: case and file name)."""
    REPORTER_VIEWED = "reporter_viewed"
    """A resident case's reporter contact (name, phone, email) was served (target: case id; detail: the app)."""
    CAMERAS_EXPORTED = "cameras_exported"
    CREDENTIALS_SENT = "credentials_sent"
    """A remote worker was sent its cameras' stream credentials (target: how many cameras)."""
    CAMERAS_IMPORTED = "cameras_imported"
    USER_CREATED = "user_created"
    USER_CHANGED = "user_changed"
    """Role, scope, display name or linked person (detail: old → new)."""
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    PASSWORD_RESET = "password_reset"
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"
    SUSPENDED = "suspended"
    """A camera's or grid's alerts held back until a time (target: camera or grid; detail: until, why)."""
    SUSPEND_LIFTED = "suspend_lifted"
    CHANNEL_CHANGED = "channel_changed"
    """A notification channel created, changed, enabled or disabled (target: channel id)."""
    CHANNEL_DELETED = "channel_deleted"
    DELIVERIES_CHANGED = "deliveries_changed"
    """Dead letters retried or discarded (target: channel; detail: how many)."""


ACTOR_CHARS = 100
TARGET_CHARS = 200
DETAIL_CHARS = 500
ADDRESS_CHARS = 64
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _clean(text: str, limit: int) -> str:
    """One line of storable text (control characters shown as U+FFFD), cut to the column's length."""
    return _CONTROL.sub("\ufffd", text)[:limit]


@dataclass(frozen=True, slots=True)
class AuditActor:
    """Who did it: a login name (or ``cli:<os user>`` for the command line), their role, where from."""

    name: str
    role: str
    address: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    actor_role: str
    action: AuditAction
    target: str
    detail: str
    address: str | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Filters combine with AND; None is not filtered."""

    actor: str | None = None
    action: AuditAction | None = None
    target: str | None = None
    since: datetime | None = None
    """At or after."""
    until: datetime | None = None
    """Before."""


def _entry(r: AccessAuditRow) -> AuditEntry:
    return AuditEntry(
        id=r.id,
        at=r.at,
        actor=r.actor,
        actor_role=r.actor_role,
        action=AuditAction(r.action),
        target=r.target,
        detail=r.detail,
        address=r.address,
    )


def _conditions(f: AuditFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f.actor is not None:
        conds.append(AccessAuditRow.actor == f.actor)
    if f.action is not None:
        conds.append(AccessAuditRow.action == f.action.value)
    if f.target is not None:
        conds.append(AccessAuditRow.target == f.target)
    if f.since is not None:
        conds.append(AccessAuditRow.at >= f.since)
    if f.until is not None:
        conds.append(AccessAuditRow.at < f.until)
    return conds


class AuditLog:
    """The access audit table: `record`, `query`, `entries` (every match, for exports) and `prune`."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock) -> None:
        self._factory = factory
        self._clock = clock

    def record(self, actor: AuditActor, action: AuditAction, target: str, detail: str = "") -> AuditEntry:
        """Write one row, stamped now."""
        row = AccessAuditRow(
            at=self._clock.now(),
            actor=_clean(actor.name, ACTOR_CHARS),
            actor_role=_clean(actor.role, 16),
            action=action.value,
            target=_clean(target, TARGET_CHARS),
            detail=_clean(detail, DETAIL_CHARS),
            address=_clean(actor.address, ADDRESS_CHARS) if actor.address else None,
        )
        with transaction(self._factory) as s:
            s.add(row)
            s.flush()
            return _entry(row)

    def query(self, f: AuditFilter | None = None, *, cursor: str | None = None, limit: int = 50) -> Page[AuditEntry]:
        """Newest first; pass the page's ``next_cursor`` back for the next one."""
        conds = _conditions(f or AuditFilter())
        if cursor is not None:
            key, id_ = decode_cursor(cursor)
            conds.append(tuple_(AccessAuditRow.at, AccessAuditRow.id) < tuple_(literal(key, UtcDateTime()), id_))
        stmt = (
            select(AccessAuditRow)
            .where(and_(True, *conds))
            .order_by(AccessAuditRow.at.desc(), AccessAuditRow.id.desc())
            .limit(check_limit(limit) + 1)
        )
        with self._factory() as s:
            rows = [_entry(r) for r in s.scalars(stmt)]
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(tuple(rows), encode_cursor(rows[-1].at, rows[-1].id) if more else None)

    def entries(self, f: AuditFilter | None = None, *, batch: int = 500) -> Iterator[AuditEntry]:
        """Every matching row, newest first, read a page at a time (for CSV exports of any size)."""
        cursor: str | None = None
        while True:
            page = self.query(f, cursor=cursor, limit=batch)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def prune(self, before: datetime) -> int:
        """Delete the rows older than ``before`` (aware); how many went."""
        if before.tzinfo is None:
            raise ValueError("prune needs an aware datetime")
        with transaction(self._factory) as s:
            result = s.execute(delete(AccessAuditRow).where(AccessAuditRow.at < before))
            return int(getattr(result, "rowcount", 0) or 0)
