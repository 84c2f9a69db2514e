"""People who log in, their console sessions and API tokens, and login throttling.

Only hashes are stored: argon2id (pwdlib) for passwords; SHA-256 for session ids and API tokens,
which are long random strings, so a fast hash is enough and lookups stay one indexed query.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.access import Role, Scope, ScopeKind, check_scope
from api.context import AuthSettings
from api.errors import Throttled, Unauthenticated
from api.orm import ApiTokenRow, LoginFailureRow, SessionRow, UserRow
from camera_config.store import SiteStore
from core.clock import Clock
from core.db import transaction
from core.errors import Conflict, InvalidInput, Issue, NotFound

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256
TOKEN_PREFIX = "gw_"
_TOUCH_EVERY = timedelta(seconds=60)
TOKEN_CACHE_S = 5.0
"""How long a checked bearer token is trusted without asking the database again. Workers post many
times a second; this process forgets at once a token it revokes and a user it changes, and another
process's revocation or change takes effect within this time."""
"""Sliding expiry and last-used times are written at most this often per session or token."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    scope: Scope
    person_id: str | None
    disabled: bool
    has_password: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    username: str
    name: str
    prefix: str
    """The token's first characters, to recognise it in a list; never enough to use it."""
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewToken:
    token: ApiToken
    secret: str = field(repr=False)
    """Shown once to its owner, never stored."""


@dataclass(frozen=True, slots=True)
class NewSession:
    user: User
    secret: str = field(repr=False)
    csrf: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Authenticated:
    user: User
    via: Literal["session", "token"]
    session_secret: str | None = field(default=None, repr=False)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def csrf_for(session_secret: str) -> str:
    """The CSRF token bound to a session: the console sends it back in a header on every change."""
    return _sha256("csrf:" + session_secret)[:32]


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        scope=Scope(ScopeKind(row.scope_kind), tuple(str(i) for i in row.scope_ids)),
        person_id=row.person_id,
        disabled=row.disabled,
        has_password=row.password_hash is not None,
        created_at=row.created_at,
    )


def _token(row: ApiTokenRow, username: str) -> ApiToken:
    return ApiToken(
        id=row.id,
        username=username,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise InvalidInput(
            Issue("username", "use 2-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
        )
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(Issue("password", f"use {MIN_PASSWORD} to {MAX_PASSWORD} characters"))
    return password


class UserStore:
    def __init__(
        self, factory: sessionmaker[Session], site: SiteStore, clock: Clock, settings: AuthSettings | None = None
    ) -> None:
        self._factory = factory
        self._site = site
        self._clock = clock
        self.settings = settings or AuthSettings()
        self._hasher = self.settings.password_hash
        self._dummy_hash: str | None = None
        self._tokens: dict[str, tuple[float, Authenticated, datetime | None]] = {}
        self._tokens_lock = threading.Lock()

    # ------------------------------------------------------------------ users

    def create(
        self,
        username: str,
        role: Role,
        *,
        scope: Scope | None = None,
        display_name: str | None = None,
        password: str | None = None,
        person_id: str | None = None,
    ) -> User:
        """A new user; ``password`` None makes a token-only account (workers, scripts)."""
        name = check_username(username)
        scope = check_scope(role, scope, self._site)
        self._check_person(person_id)
        pw_hash = self._hasher.hash(check_password(password)) if password is not None else None
        now = self._clock.now()
        try:
            with transaction(self._factory) as s:
                if s.scalar(select(UserRow.id).where(UserRow.username == name)) is not None:
                    raise Conflict(f'user "{name}" already exists')
                row = UserRow(
                    username=name,
                    display_name=(display_name or name).strip() or name,
                    role=role.value,
                    scope_kind=scope.kind.value,
                    scope_ids=list(scope.ids),
                    person_id=person_id,
                    password_hash=pw_hash,
                    disabled=False,
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
                s.flush()
                return _user(row)
        except IntegrityError:
            raise Conflict(f'user "{name}" already exists') from None

    def update(
        self,
        username: str,
        *,
        role: Role | None = None,
        scope: Scope | None = None,
        display_name: str | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        person_id: str | None = None,
    ) -> User:
        """Change what is given; a new role without a scope keeps the old scope if the role allows it."""
        pw_hash = self._hasher.hash(check_password(password)) if password is not None else None
        self._check_person(person_id)
        with transaction(self._factory) as s:
            row = self._row(s, username)
            new_role = role or Role(row.role)
            if role is not None or scope is not None:
                old = Scope(ScopeKind(row.scope_kind), tuple(row.scope_ids))
                checked = check_scope(new_role, scope or old, self._site)
                row.role, row.scope_kind, row.scope_ids = new_role.value, checked.kind.value, list(checked.ids)
            if display_name is not None:
                row.display_name = display_name.strip() or row.username
            if person_id is not None:
                row.person_id = person_id or None
            if pw_hash is not None:
                row.password_hash = pw_hash
            if disabled is not None:
                row.disabled = disabled
            if pw_hash is not None or disabled:
                # A new password or a disabled account ends every console session.
                s.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
            row.updated_at = self._clock.now()
            s.flush()
            self._forget_tokens()
            return _user(row)

    def get(self, username: str) -> User:
        with self._factory() as s:
            return _user(self._row(s, username))

    def all(self) -> list[User]:
        with self._factory() as s:
            return [_user(r) for r in s.scalars(select(UserRow).order_by(UserRow.username))]

    def _row(self, s: Session, username: str) -> UserRow:
        row = s.scalar(select(UserRow).where(UserRow.username == username.strip().lower()))
        if row is None:
            raise NotFound.of("user", username)
        return row

    def _check_person(self, person_id: str | None) -> None:
        if person_id and person_id not in {p.id for p in self._site.people()}:
            raise InvalidInput(Issue("person_id", f'person "{person_id}" does not exist'))

    # ------------------------------------------------------------------ login and sessions

    def login(self, username: str, password: str, *, address: str | None = None) -> NewSession:
        """Check a password and open a console session; failures are counted per user and per address."""
        name = username.strip().lower()
        keys = [f"user:{name[:64]}"] + ([f"ip:{address}"] if address else [])
        now = self._clock.now()
        self._refuse_if_locked(keys, now)
        with self._factory() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == name))
            stored = row.password_hash if row is not None else None
        if stored is None:
            self._hasher.verify(password, self._dummy())  # same work as a real check: no timing oracle
            ok, new_hash = False, None
        else:
            ok, new_hash = self._hasher.verify_and_update(password, stored)
        if not ok or row is None or row.disabled:
            self._record_failure(keys, now)
            raise Unauthenticated("wrong user name or password")
        secret = secrets.token_urlsafe(32)
        expires = now + timedelta(seconds=min(self.settings.session_idle_s, self.settings.session_max_s))
        with transaction(self._factory) as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.key == keys[0]))
            s.execute(delete(SessionRow).where(SessionRow.expires_at < now))  # everyone's ended sessions
            if new_hash is not None:
                fresh = s.get(UserRow, row.id)
                if fresh is not None:
                    fresh.password_hash = new_hash
            s.add(
                SessionRow(
                    id_hash=_sha256(secret), user_id=row.id, created_at=now, last_seen_at=now, expires_at=expires
                )
            )
        return NewSession(user=_user(row), secret=secret, csrf=csrf_for(secret), expires_at=expires)

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        return self._dummy_hash

    def session_user(self, secret: str) -> Authenticated | None:
        """The user behind a session cookie, sliding its expiry; None when unknown, expired or disabled."""
        now = self._clock.now()
        with self._factory() as s:
            found = s.execute(
                select(SessionRow, UserRow)
                .join(UserRow, UserRow.id == SessionRow.user_id)
                .where(SessionRow.id_hash == _sha256(secret))
            ).one_or_none()
        if found is None:
            return None
        sess, user = found
        if sess.expires_at <= now or user.disabled:
            self.logout(secret)
            return None
        if now - sess.last_seen_at >= _TOUCH_EVERY:
            hard_end = sess.created_at + timedelta(seconds=self.settings.session_max_s)
            with transaction(self._factory) as s:
                row = s.get(SessionRow, sess.id_hash)
                if row is not None:
                    row.last_seen_at = now
                    row.expires_at = min(now + timedelta(seconds=self.settings.session_idle_s), hard_end)
        return Authenticated(_user(user), "session", secret)

    def logout(self, secret: str) -> None:
        with transaction(self._factory) as s:
            s.execute(delete(SessionRow).where(SessionRow.id_hash == _sha256(secret)))

    # ------------------------------------------------------------------ throttling

    def _refuse_if_locked(self, keys: list[str], now: datetime) -> None:
        with self._factory() as s:
            rows = s.scalars(select(LoginFailureRow).where(LoginFailureRow.key.in_(keys))).all()
        until = max((r.locked_until for r in rows if r.locked_until and r.locked_until > now), default=None)
        if until is not None:
            wait_s = int((until - now).total_seconds() + 0.999)
            raise Throttled(f"too many failed logins; try again in {wait_s} s", wait_s)

    def _record_failure(self, keys: list[str], now: datetime) -> None:
        cfg = self.settings
        window = timedelta(seconds=cfg.login_window_s)
        for attempt in range(2):
            try:
                with transaction(self._factory) as s:
                    # Forget counts whose window has passed and whose lockout is over (keeps the table small).
                    s.execute(
                        delete(LoginFailureRow).where(
                            LoginFailureRow.first_at < now - window,
                            or_(LoginFailureRow.locked_until.is_(None), LoginFailureRow.locked_until < now),
                            LoginFailureRow.key.not_in(keys),
                        )
                    )
                    for key in keys:
                        row = s.get(LoginFailureRow, key)
                        if row is None:
                            row = LoginFailureRow(key=key, failures=0, first_at=now, locked_until=None)
                            s.add(row)
                        elif now - row.first_at > window:
                            row.failures, row.first_at, row.locked_until = 0, now, None
                        row.failures += 1
                        limit = cfg.max_failures_per_user if key.startswith("user:") else cfg.max_failures_per_address
                        if row.failures >= limit:
                            lock_s = min(cfg.lockout_s * 2 ** (row.failures - limit), cfg.max_lockout_s)
                            row.locked_until = now + timedelta(seconds=lock_s)
                return
            except IntegrityError:
                if attempt:  # two first failures for one key at the same instant: count again on the row
                    raise

    # ------------------------------------------------------------------ API tokens

    def create_token(self, username: str, name: str, *, expires_in_s: float | None = None) -> NewToken:
        label = name.strip()
        if not 1 <= len(label) <= 100:
            raise InvalidInput(Issue("name", "use 1 to 100 characters"))
        if expires_in_s is not None and expires_in_s <= 0:
            raise InvalidInput(Issue("expires_in_days", "must be positive"))
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._clock.now()
        with transaction(self._factory) as s:
            user = self._row(s, username)
            row = ApiTokenRow(
                user_id=user.id,
                name=label,
                token_hash=_sha256(secret),
                prefix=secret[:10],
                created_at=now,
                expires_at=now + timedelta(seconds=expires_in_s) if expires_in_s is not None else None,
            )
            s.add(row)
            s.flush()
            return NewToken(_token(row, user.username), secret)

    def tokens(self, username: str | None = None) -> list[ApiToken]:
        """Tokens of one user, or of everyone when ``username`` is None."""
        stmt = select(ApiTokenRow, UserRow.username).join(UserRow, UserRow.id == ApiTokenRow.user_id)
        with self._factory() as s:
            if username is not None:
                stmt = stmt.where(ApiTokenRow.user_id == self._row(s, username).id)
            return [_token(t, u) for t, u in s.execute(stmt.order_by(ApiTokenRow.id))]

    def revoke_token(self, token_id: int, *, owner: str | None = None) -> ApiToken:
        """Revoke a token (of ``owner`` only, when given: others' tokens do not exist for them)."""
        with transaction(self._factory) as s:
            found = s.execute(
                select(ApiTokenRow, UserRow.username)
                .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                .where(ApiTokenRow.id == token_id)
            ).one_or_none()
            if found is None or (owner is not None and found[1] != owner):
                raise NotFound.of("token", token_id)
            row, username = found
            if row.revoked_at is None:
                row.revoked_at = self._clock.now()
            self._forget_tokens()
            return _token(row, username)

    def _forget_tokens(self) -> None:
        with self._tokens_lock:
            self._tokens.clear()

    def cached_token_user(self, secret: str) -> Authenticated | None:
        """The token's user when checked in the last `TOKEN_CACHE_S` seconds; None means "ask `token_user`".

        Never touches the database, so the event loop can call it for every request."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        with self._tokens_lock:
            cached = self._tokens.get(_sha256(secret))
        if cached is None:
            return None
        checked_at, found_user, expires_at = cached
        if time.monotonic() - checked_at < TOKEN_CACHE_S and (expires_at is None or self._clock.now() < expires_at):
            return found_user
        return None

    def token_user(self, secret: str) -> Authenticated | None:
        if not secret.startswith(TOKEN_PREFIX):
            return None
        cached = self.cached_token_user(secret)
        if cached is not None:
            return cached
        now = self._clock.now()
        key = _sha256(secret)
        answer = self._token_user_from_db(key, now)
        if answer is not None:
            found_user, expires_at = answer
            with self._tokens_lock:
                if len(self._tokens) > 10_000:  # bounded: many distinct tokens only cost lookups
                    self._tokens.clear()
                self._tokens[key] = (time.monotonic(), found_user, expires_at)
            return found_user
        return None

    def _token_user_from_db(self, key: str, now: datetime) -> tuple[Authenticated, datetime | None] | None:
        with self._factory() as s:
            found = s.execute(
                select(ApiTokenRow, UserRow)
                .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                .where(ApiTokenRow.token_hash == key)
            ).one_or_none()
        if found is None:
            return None
        token, user = found
        if token.revoked_at is not None or user.disabled or (token.expires_at is not None and token.expires_at <= now):
            return None
        if token.last_used_at is None or now - token.last_used_at >= _TOUCH_EVERY:
            with transaction(self._factory) as s:
                row = s.get(ApiTokenRow, token.id)
                if row is not None:
                    row.last_used_at = now
        return Authenticated(_user(user), "token"), token.expires_at
