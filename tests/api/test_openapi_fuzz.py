"""schemathesis against /openapi.json, authenticated as an admin: for every documented operation and
generated input, no 5xx, and status, headers, content type and body match the schema.

Two depths: on SQLite, the schema's own examples and 10 generated inputs per operation (a quick gate in
the pure suite); on PostgreSQL, which is what a deployment runs, also schemathesis' coverage phase (every
boundary of every field: empty, too long, out of range, wrong type) and 100 generated inputs per operation.
Both are derandomised, so a run is the same on every machine.

The app has the events service with a few alerts (one with evidence) and cases (one with a photo),
so the alert, case, attachment and figure routes answer with data as well as with 404s.

The event stream is left out: it never ends by design (tests/api/test_events.py covers it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import schemathesis
from cryptography.fernet import Fernet
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, text

from api.access import Role
from api.app import create_app
from api.context import ApiContext
from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from camera_config.validate import load_site_file
from core.db import make_engine, session_factory
from events.notify.store import Notifications
from events.service import EventsService
from events.types import Actor, ActorRole, CaseAction, NewAttachment
from gridwatch.db import upgrade
from ingest.types import Frame, HealthState
from tests.api.conftest import PASSWORD, USERS, fast_auth
from tests.conftest import pg_engine
from tests.support.factories import jpeg, remote_observation
from tests.support.live_figures import BOX, FIGURES, figures_of
from tests.support.paths import EXAMPLES, PG_URL

SNAPSHOT = np.full((72, 128, 3), 128, dtype=np.uint8)
"""The fake pipeline's frame of every camera."""

# Not `ignored_auth`: schemathesis also generates a (made-up) session cookie next to the bearer token
# it is given and then counts the answer to the valid token as accepting bad auth. That every route
# refuses requests without valid credentials is tested directly in tests/api/test_app.py.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "gridwatch.db"
    engine = make_engine(f"sqlite:///{path}")
    yield from _fuzzed_app(engine, path.parent / "data")
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    """A schema of its own, so that no other test's TRUNCATE can reach the fuzzed data."""
    name = f"gwfuzz_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    engine = pg_engine(name)
    try:
        yield from _fuzzed_app(engine, tmp_path_factory.mktemp("fuzz") / "data")
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


def _fuzzed_app(engine: Engine, data: Path) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    upgrade(engine)
    site = SiteStore(session_factory(engine), CredentialCipher(Fernet.generate_key()))
    site.apply_site(load_site_file(EXAMPLES / "demo-site.yaml"))
    events = EventsService(session_factory(engine), site, data, site_ttl_s=0.0)
    _seed(events)
    # A fake live pipeline for GET /api/stats and GET /api/cameras/{id}/stats, which answer 503 (a server error
    # to schemathesis) without one; every camera, whichever a fuzzed request created, has figures.
    app = create_app(
        ApiContext(
            engine=engine,
            site=site,
            auth=fast_auth(),
            events=events,
            box=lambda: BOX,
            camera_figures=lambda: list(FIGURES),
            stats=lambda camera_id: figures_of(camera_id, HealthState.ONLINE, detecting=True),
            # and its newest frame, for GET /api/cameras/{id}/snapshot (503 without a pipeline)
            latest_frame=lambda camera_id: Frame(camera_id, 1, 0.0, datetime.now(UTC), SNAPSHOT),
            notifications=Notifications(session_factory(engine), CredentialCipher(Fernet.generate_key()), events.clock),
            data_dir=data,
        )
    )
    users = app.state.runtime.users
    for name, (role, scope) in USERS.items():
        users.create(name, role, scope=scope, password=PASSWORD)
    # Tokens that fuzzed DELETE /api/tokens/{id} may hit first, so the admin's own is not id 1.
    for i in range(5):
        users.create_token("integrator", f"spare {i}")
    assert users.get("admin").role is Role.ADMIN
    token = users.create_token("admin", "fuzzing").secret
    yield app, {"Authorization": f"Bearer {token}"}
    events.close()


def _seed(events: EventsService) -> None:
    """Alerts 1-4 (1 with evidence), cases from two of them, one case resolved with a photo (attachment 1)."""
    now = datetime.now(UTC)
    for i, (camera, hazard) in enumerate(
        (("CAM-01", "fallen_person"), ("CAM-02", "loitering"), ("CAM-03", "crowd"), ("CAM-04", "intrusion"))
    ):
        events.apply_remote_observation(
            remote_observation(
                f"fuzz-{i}", camera_id=camera, hazard=hazard, at=now, evidence=jpeg() if i == 0 else None
            )
        )
    actor = Actor("admin", ActorRole.OPERATOR)
    case = events.alert_to_case(1, actor)
    events.transition(case.id, CaseAction.ACCEPT, actor)
    events.transition(case.id, CaseAction.RESOLVE, actor, "done", [NewAttachment("after.jpg", jpeg())])
    events.alert_to_case(2, actor)


def _published_schema() -> dict[str, Any]:
    """/openapi.json as the app serves it; building it touches no database, so any engine will do."""
    engine = make_engine("sqlite://")
    app = create_app(
        ApiContext(engine=engine, site=SiteStore(session_factory(engine), CredentialCipher(Fernet.generate_key())))
    )
    return app.openapi()


PUBLISHED = _published_schema()


def _loaded(*, coverage: bool) -> schemathesis.BaseSchema:
    """Loaded when the module is collected (schemathesis parametrises by operation); requests go to the
    app of a fixture, which has data and users."""
    loaded = schemathesis.openapi.from_dict(PUBLISHED).exclude(path="/api/events")
    loaded.config.phases.coverage.enabled = coverage
    return loaded


quick = _loaded(coverage=False)
thorough = _loaded(coverage=True)
FUZZ_SETTINGS: dict[str, Any] = {
    "derandomize": True,  # the same inputs on every run: the gate never flakes
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
}


@quick.parametrize()
@settings(max_examples=10, **FUZZ_SETTINGS)
def test_api_matches_its_schema_on_sqlite(
    case: schemathesis.Case[Any], sqlite_app: tuple[FastAPI, dict[str, str]]
) -> None:
    app, headers = sqlite_app
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)


@pytest.mark.postgres
@pytest.mark.slow
@thorough.parametrize()
@settings(max_examples=100, **FUZZ_SETTINGS)
def test_api_matches_its_schema_on_postgresql(
    case: schemathesis.Case[Any], postgres_app: tuple[FastAPI, dict[str, str]]
) -> None:
    app, headers = postgres_app
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)
