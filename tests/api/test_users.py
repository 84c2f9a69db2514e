"""Accounts, argon2 passwords, console sessions, API tokens and login throttling, on both databases."""

from __future__ import annotations

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine, select

from api.access import Role, Scope, ScopeKind
from api.errors import Throttled, Unauthenticated
from api.orm import ApiTokenRow, LoginFailureRow, SessionRow, UserRow
from api.users import UserStore
from camera_config.store import SiteStore
from core.clock import FakeClock
from core.db import session_factory
from core.errors import Conflict, InvalidInput, NotFound
from tests.api.conftest import PASSWORD, fast_auth


def test_passwords_are_stored_as_argon2id_only(engine: Engine, users: UserStore) -> None:
    with session_factory(engine)() as s:
        hashes = list(s.scalars(select(UserRow.password_hash)))
    assert hashes
    assert all(h is not None and h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    assert users.login("admin", PASSWORD).user.role is Role.ADMIN


def test_create_refuses_duplicates_and_bad_names(users: UserStore) -> None:
    with pytest.raises(Conflict, match='user "admin" already exists'):
        users.create("Admin", Role.VIEWER, password=PASSWORD)
    with pytest.raises(InvalidInput, match="username: use 2-64 lower-case"):
        users.create("no spaces", Role.VIEWER, password=PASSWORD)
    with pytest.raises(InvalidInput, match="password: use 8 to 256 characters"):
        users.create("shorty", Role.VIEWER, password="short")
    with pytest.raises(InvalidInput, match='person_id: person "P-NOPE" does not exist'):
        users.create("linked", Role.VIEWER, password=PASSWORD, person_id="P-NOPE")


def test_login_refuses_wrong_password_unknown_user_and_disabled_alike(users: UserStore) -> None:
    for name, password in (("admin", "wrong-password"), ("nobody", PASSWORD)):
        with pytest.raises(Unauthenticated, match="wrong user name or password"):
            users.login(name, password)
    users.update("viewer", disabled=True)
    with pytest.raises(Unauthenticated, match="wrong user name or password"):
        users.login("viewer", PASSWORD)


def test_throttling_locks_a_user_and_doubles(users: UserStore, clock: FakeClock) -> None:
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            users.login("operator", "guess", address="10.0.0.9")
    with pytest.raises(Unauthenticated):
        users.login("operator", "guess", address="10.0.0.9")  # the fifth failure locks for 30 s
    with pytest.raises(Throttled) as locked:
        users.login("operator", PASSWORD, address="10.0.0.9")  # even the right password is refused
    assert locked.value.retry_after_s == 30
    users.login("admin", PASSWORD, address="10.0.0.9")  # other users are not locked out
    clock.advance(31)
    with pytest.raises(Unauthenticated):
        users.login("operator", "guess again", address="10.0.0.9")  # sixth failure: 60 s
    with pytest.raises(Throttled) as again:
        users.login("operator", PASSWORD)
    assert again.value.retry_after_s == 60
    clock.advance(61)
    assert users.login("operator", PASSWORD).user.username == "operator"
    # Success clears the user's count: four more failures do not lock.
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            users.login("operator", "guess")
    users.login("operator", PASSWORD)


def test_throttling_per_address(engine: Engine, site: SiteStore, clock: FakeClock) -> None:
    store = UserStore(session_factory(engine), site, clock, fast_auth(max_failures_per_address=3))
    store.create("a1", Role.VIEWER, password=PASSWORD)
    for name in ("x1", "x2", "x3"):
        with pytest.raises(Unauthenticated):
            store.login(name, "guess", address="10.9.9.9")
    with pytest.raises(Throttled):
        store.login("a1", PASSWORD, address="10.9.9.9")
    assert store.login("a1", PASSWORD, address="10.1.1.1").user.username == "a1"


def test_failures_outside_the_window_are_forgotten(users: UserStore, clock: FakeClock) -> None:
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            users.login("viewer", "guess")
    clock.advance(16 * 60)
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            users.login("viewer", "guess")
    users.login("viewer", PASSWORD)


def test_sessions_slide_and_end(users: UserStore, clock: FakeClock) -> None:
    session = users.login("operator", PASSWORD)
    assert users.session_user(session.secret) is not None
    clock.advance(11 * 3600)
    assert users.session_user(session.secret) is not None  # used: extended by the idle time
    clock.advance(11 * 3600)
    assert users.session_user(session.secret) is not None
    clock.advance(12 * 3600 + 1)
    assert users.session_user(session.secret) is None  # idle too long
    assert users.session_user("made-up") is None


def test_sessions_end_after_the_maximum(users: UserStore, clock: FakeClock) -> None:
    session = users.login("operator", PASSWORD)
    for _ in range(15):
        clock.advance(11 * 3600)
        assert users.session_user(session.secret) is not None
    clock.advance(4 * 3600)  # 169 h after login: within the idle time, past the 7-day maximum
    assert users.session_user(session.secret) is None


def test_new_password_and_disabling_end_sessions(engine: Engine, users: UserStore) -> None:
    first = users.login("gw1", PASSWORD)
    users.update("gw1", password="another-password")
    assert users.session_user(first.secret) is None
    second = users.login("gw1", "another-password")
    users.update("gw1", disabled=True)
    assert users.session_user(second.secret) is None
    with session_factory(engine)() as s:
        assert not list(s.scalars(select(SessionRow).where(SessionRow.user_id == users.get("gw1").id)))


def test_role_change_keeps_a_compatible_scope(users: UserStore) -> None:
    user = users.update("operator", role=Role.VIEWER)
    assert (user.role, user.scope) == (Role.VIEWER, Scope(ScopeKind.COMMUNITY, ("CM-01",)))
    with pytest.raises(InvalidInput, match='a grid worker may have scope grids, not "community"'):
        users.update("operator", role=Role.GRID_WORKER)
    with pytest.raises(NotFound):
        users.update("ghost", display_name="x")


def test_tokens_are_hashed_revocable_and_expire(engine: Engine, users: UserStore, clock: FakeClock) -> None:
    new = users.create_token("integrator", "csv sync", expires_in_s=3600)
    assert new.secret.startswith("gw_")
    assert len(new.secret) > 40
    assert new.secret not in repr(new)
    with session_factory(engine)() as s:
        stored = s.scalar(select(ApiTokenRow).where(ApiTokenRow.id == new.token.id))
    assert stored is not None
    assert new.secret not in (stored.token_hash, stored.prefix)
    found = users.token_user(new.secret)
    assert found is not None
    assert found.user.username == "integrator"
    assert found.via == "token"
    assert users.tokens("integrator")[0].last_used_at == clock.now()
    clock.advance(3601)
    assert users.token_user(new.secret) is None
    other = users.create_token("integrator", "second")
    with pytest.raises(NotFound):
        users.revoke_token(other.token.id, owner="viewer")  # someone else's token does not exist for them
    assert users.token_user(other.secret) is not None  # checked once: now trusted for a few seconds
    users.revoke_token(other.token.id, owner="integrator")
    assert users.token_user(other.secret) is None  # this store forgets what it trusted at once
    third = users.create_token("integrator", "third")
    assert users.token_user(third.secret) is not None
    users.update("integrator", disabled=True)
    assert users.token_user(third.secret) is None
    assert users.token_user("gw_not-a-token") is None
    assert users.token_user("no prefix") is None


def test_login_upgrades_a_weaker_hash(engine: Engine, site: SiteStore, clock: FakeClock) -> None:
    weak = UserStore(session_factory(engine), site, clock, fast_auth())
    weak.create("old", Role.VIEWER, password=PASSWORD)
    stronger = PasswordHash((Argon2Hasher(time_cost=2, memory_cost=16384, parallelism=1),))
    upgraded = UserStore(session_factory(engine), site, clock, fast_auth(password_hash=stronger))
    upgraded.login("old", PASSWORD)
    with session_factory(engine)() as s:
        stored = s.scalar(select(UserRow.password_hash).where(UserRow.username == "old"))
    assert stored is not None
    assert "m=16384,t=2,p=1" in stored
    upgraded.login("old", PASSWORD)


def test_recommended_cost_is_the_default(engine: Engine, site: SiteStore, clock: FakeClock) -> None:
    store = UserStore(session_factory(engine), site, clock)
    user = store.create("real", Role.VIEWER, password=PASSWORD)
    with session_factory(engine)() as s:
        stored = s.scalar(select(UserRow.password_hash).where(UserRow.id == user.id))
    assert stored is not None
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_old_failures_and_ended_sessions_are_cleaned_up(engine: Engine, users: UserStore, clock: FakeClock) -> None:
    ended = users.login("viewer", PASSWORD)
    for name in ("ghost-1", "ghost-2"):
        with pytest.raises(Unauthenticated):
            users.login(name, "guess")
    clock.advance(13 * 3600)
    with pytest.raises(Unauthenticated):
        users.login("ghost-3", "guess")
    users.login("admin", PASSWORD)
    with session_factory(engine)() as s:
        keys = set(s.scalars(select(LoginFailureRow.key)))
        sessions = list(s.scalars(select(SessionRow.id_hash)))
    assert keys == {"user:ghost-3"}
    assert len(sessions) == 1
    assert users.session_user(ended.secret) is None
