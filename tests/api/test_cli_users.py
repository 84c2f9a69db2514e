"""`gridwatch user ...` against a real SQLite file, and the demo accounts."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.context import ApiContext
from api.demo import ensure_demo_users
from camera_config.store import SiteStore
from tests.api.conftest import fast_auth
from tests.support.cli import Gridwatch
from tests.support.paths import EXAMPLES


def test_user_commands(gridwatch: Gridwatch) -> None:
    assert gridwatch("site", "load", str(EXAMPLES / "demo-site.yaml")).returncode == 0
    added = gridwatch("user", "add", "li.na", "--role", "grid_worker", "--scope", "grids:G-01", "--name", "Li Na")
    assert added.returncode == 0, added.stderr
    assert 'created user "li.na" (grid_worker, scope grids:G-01)' in added.stdout
    password = re.search(r"password: (\S+)", added.stdout)
    assert password is not None
    refused = gridwatch("user", "add", "op", "--role", "operator")
    assert refused.returncode == 1
    assert "scope: an operator needs a scope: street or community" in refused.stderr
    worker = gridwatch("user", "add", "w1", "--role", "worker")
    assert "password" not in worker.stdout
    token = gridwatch("user", "token", "w1", "--name", "shard 1", "--days", "30")
    assert token.returncode == 0
    secret = token.stdout.strip().splitlines()[-1]
    assert secret.startswith("gw_")
    changed = gridwatch("user", "passwd", "li.na", "--password-stdin", stdin="a-new-password-1\n")
    assert changed.returncode == 0, changed.stderr
    assert "password:" not in changed.stdout
    for name, role, scope in (
        ("pc", "property_staff", "company:PC-01"),
        ("k3", "compound_staff", "compounds:K-03"),
        ("pu", "partner_member", "partner:PU-01"),
    ):
        made = gridwatch("user", "add", name, "--role", role, "--scope", scope)
        assert f'created user "{name}" ({role}, scope {scope})' in made.stdout, made.stderr
    wrong = gridwatch("user", "add", "pu2", "--role", "partner_member", "--scope", "partner:PU-99")
    assert wrong.returncode == 1
    assert 'scope.ids[0]: partner unit "PU-99" does not exist' in wrong.stderr
    listed = gridwatch("user", "list")
    assert re.search(r"li\.na\s+grid_worker\s+grids:G-01\s+Li Na", listed.stdout)
    assert re.search(r"w1\s+worker\s+site", listed.stdout)
    assert secret not in listed.stdout


def test_demo_users_get_fresh_passwords(engine: Engine, site: SiteStore) -> None:
    first = ensure_demo_users(engine, site, fast_auth())
    assert [(u.username, u.role.value, str(u.scope)) for u in first] == [
        ("admin", "admin", "site"),
        ("operator", "operator", "community:CM-01"),
        ("gridworker", "grid_worker", "grids:G-01"),
        ("integrator", "integrator", "site"),
        ("viewer", "viewer", "site"),
        ("property", "property_staff", "company:PC-01"),
        ("partner", "partner_member", "partner:PU-01"),
    ]
    second = ensure_demo_users(engine, site, fast_auth())
    assert all(a.password != b.password for a, b in zip(first, second, strict=True))
    with TestClient(create_app(ApiContext(engine=engine, site=site, auth=fast_auth()))) as client:
        old = client.post("/api/auth/login", json={"username": "operator", "password": first[1].password})
        assert old.status_code == 401
        new = client.post("/api/auth/login", json={"username": "operator", "password": second[1].password})
        assert new.json()["user"]["display_name"] == "He Ping"
        assert new.json()["user"]["person_id"] == "P-OP-01"
