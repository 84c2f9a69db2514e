"""API fixtures: the demo site in a migrated database, an app on it, users of every role, logged-in clients.

Passwords are hashed with real argon2id at a low cost (the production cost is ~0.4 s per hash on
this kind of machine; one test checks that stored hashes move to the configured cost at login).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine

from api.access import Role, Scope, ScopeKind
from api.app import create_app
from api.context import ApiContext, AuthSettings
from api.users import UserStore
from camera_config.clock import FakeClock
from camera_config.db import session_factory
from camera_config.store import SiteStore
from camera_config.validate import load_site_file
from tests.conftest import EXAMPLES

FAST_HASH = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
PASSWORD = "correct-horse-42"

USERS: dict[str, tuple[Role, Scope | None]] = {
    "admin": (Role.ADMIN, None),
    "operator": (Role.OPERATOR, Scope(ScopeKind.COMMUNITY, ("CM-01",))),
    "gw1": (Role.GRID_WORKER, Scope(ScopeKind.GRIDS, ("G-01",))),
    "gw2": (Role.GRID_WORKER, Scope(ScopeKind.GRIDS, ("G-02",))),
    "integrator": (Role.INTEGRATOR, None),
    "viewer": (Role.VIEWER, None),
}


def fast_auth(**overrides: Any) -> AuthSettings:
    return AuthSettings(**{"password_hash": FAST_HASH, **overrides})


@pytest.fixture
def site(store: SiteStore) -> SiteStore:
    """The demo site (1 community, 3 compounds, grids G-01..G-03, cameras CAM-01..CAM-04)."""
    store.apply_site(load_site_file(EXAMPLES / "demo-site.yaml"))
    return store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def users(engine: Engine, site: SiteStore, clock: FakeClock) -> UserStore:
    store = UserStore(session_factory(engine), site, clock, fast_auth())
    for name, (role, scope) in USERS.items():
        store.create(name, role, scope=scope, password=PASSWORD)
    return store


@dataclass
class Api:
    """An app on the demo site with its users; `as_(name)` gives a client logged in as that user."""

    app: FastAPI
    clients: list[TestClient]

    def anonymous(self) -> TestClient:
        client = TestClient(self.app)
        client.__enter__()
        self.clients.append(client)
        return client

    def as_(self, username: str, password: str = PASSWORD) -> TestClient:
        client = self.anonymous()
        res = client.post("/api/auth/login", json={"username": username, "password": password})
        assert res.status_code == 200, res.text
        client.headers["X-CSRF-Token"] = res.json()["csrf_token"]
        return client

    def token(self, username: str) -> dict[str, str]:
        """Bearer headers for a fresh API token of ``username``."""
        runtime = self.app.state.runtime
        return {"Authorization": f"Bearer {runtime.users.create_token(username, 'test').secret}"}


@pytest.fixture
def api(engine: Engine, site: SiteStore, users: UserStore, clock: FakeClock) -> Iterator[Api]:
    app = create_app(ApiContext(engine=engine, site=site, clock=clock, auth=fast_auth()))
    holder = Api(app, [])
    yield holder
    for client in holder.clients:
        client.__exit__(None, None, None)
