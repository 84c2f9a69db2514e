"""schemathesis against /openapi.json, authenticated as an admin: for every documented operation and
generated input, no 5xx, and status, headers, content type and body match the schema.

The app has the events service with a few alerts (one with evidence) and cases (one with a photo),
so the alert, case, attachment and figure routes answer with data as well as with 404s.

The event stream is left out: it never ends by design (tests/api/test_events.py covers it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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

from api.access import Role
from api.app import create_app
from api.context import ApiContext
from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from camera_config.validate import load_site_file
from core.db import make_engine, session_factory
from events.service import EventsService
from events.types import Actor, ActorRole, CaseAction, NewAttachment
from gridwatch.db import upgrade
from tests.api.conftest import PASSWORD, USERS, fast_auth
from tests.support.factories import jpeg, remote_observation
from tests.support.paths import EXAMPLES

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
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "gridwatch.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    site = SiteStore(session_factory(engine), CredentialCipher(Fernet.generate_key()))
    site.apply_site(load_site_file(EXAMPLES / "demo-site.yaml"))
    events = EventsService(session_factory(engine), site, path.parent / "data", site_ttl_s=0.0)
    _seed(events)
    app = create_app(ApiContext(engine=engine, site=site, auth=fast_auth(), events=events))
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
    engine.dispose()


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


# Loaded when the module is collected (schemathesis parametrises by operation); requests go to the
# app of the `fuzzed_app` fixture, which has data and users.
schema = schemathesis.openapi.from_dict(_published_schema()).exclude(path="/api/events")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=10,
    derandomize=True,  # the same inputs on every run: the gate never flakes; raise max_examples to explore
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
def test_api_matches_its_schema(case: schemathesis.Case[Any], fuzzed_app: tuple[FastAPI, dict[str, str]]) -> None:
    app, headers = fuzzed_app
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)
