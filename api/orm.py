"""The API's own tables: people who log in, their sessions and API tokens, login throttling, and the
access audit (who looked at what).

Rows never leave the api package: `api.users` turns them into frozen values. Secrets are stored
only as hashes (argon2 for passwords, SHA-256 for random session ids and tokens).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow
from events.orm import BigId


class UserRow(Base):
    __tablename__ = "api_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope_ids: Mapped[list[Any]] = mapped_column(default=list)
    person_id: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionRow(Base):
    __tablename__ = "api_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("api_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("api_users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Open311ClientRow(Base):
    """An app that may post resident reports to the Open311 façade (`api.open311`): its key only as a hash."""

    __tablename__ = "open311_clients"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    """The key's first characters, to tell keys apart in a list."""
    rate_per_min: Mapped[int]
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class LoginFailureRow(Base):
    """Failed logins per key (``user:<name>`` or ``ip:<address>``), for throttling."""

    __tablename__ = "api_login_failures"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    first_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class AccessAuditRow(Base):
    """One thing a person did or looked at through the API (append-only: rows are written and pruned, never
    changed). Plain names, no foreign keys: the trail outlives renamed cameras and changed accounts."""

    __tablename__ = "access_audit"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200), index=True)
    detail: Mapped[str] = mapped_column(String(500))
    address: Mapped[str | None] = mapped_column(String(64))
