"""The app as a whole: login and sessions over HTTP, every route guarded, one error shape, OpenAPI, metrics."""

from __future__ import annotations

import re

import pytest

from api.errors import ErrorBody
from core.clock import FakeClock
from tests.api.conftest import PASSWORD, Api

PUBLIC = {"/api/health", "/api/auth/login"}


def test_health_needs_no_login(api: Api) -> None:
    res = api.anonymous().get("/api/health")
    assert res.status_code == 200
    assert res.json() == {"status": "ok", "database": "ok"}


def test_every_route_but_health_needs_auth(api: Api) -> None:
    client = api.anonymous()
    checked = 0
    for template, operations in client.get("/openapi.json").json()["paths"].items():
        if template in PUBLIC:
            continue
        path = re.sub(r"\{[^}]+\}", "1", template)
        for method in operations:
            res = client.request(method.upper(), path)
            assert res.status_code == 401, (method, template, res.status_code)
            assert res.headers["www-authenticate"] == "Bearer"
            ErrorBody.model_validate(res.json())
            checked += 1
    assert checked >= 20


def test_console_redirects_to_login_without_a_session(api: Api) -> None:
    res = api.anonymous().get("/", follow_redirects=False)
    assert res.status_code == 303
    assert res.headers["location"] == "/login?next=%2F"
    assert api.anonymous().get("/login").status_code == 200
    page = api.as_("viewer").get("/")
    assert page.status_code == 200
    assert '<script type="module" src="/static/js/app.js">' in page.text
    assert api.anonymous().get("/static/js/app.js").status_code == 200


def test_login_sets_a_strict_httponly_cookie_and_logout_ends_it(api: Api) -> None:
    client = api.anonymous()
    res = client.post("/api/auth/login", json={"username": "Operator", "password": PASSWORD})
    assert res.status_code == 200
    body = res.json()
    assert body["user"]["username"] == "operator"
    assert body["user"]["grid_ids"] == ["G-01", "G-02", "G-03"]
    assert body["user"]["permissions"] == [
        "alerts:handle",
        "alerts:read",
        "cameras:test",
        "cases:manage",
        "cases:read",
        "cases:work",
        "live:view",
        "site:read",
    ]
    cookies = res.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("gridwatch_session="))
    assert "HttpOnly" in session
    assert "SameSite=strict" in session
    assert "Path=/" in session
    csrf = next(c for c in cookies if c.startswith("gridwatch_csrf="))
    assert "HttpOnly" not in csrf
    assert client.get("/api/auth/me").json()["via"] == "session"
    assert client.post("/api/auth/logout").status_code == 403  # no CSRF header
    out = client.post("/api/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert out.status_code == 204
    assert client.get("/api/auth/me").status_code == 401


def test_wrong_password_401_then_throttled_429(api: Api) -> None:
    client = api.anonymous()
    for _ in range(5):
        res = client.post("/api/auth/login", json={"username": "viewer", "password": "nope-nope"})
        assert res.status_code == 401
        assert res.json()["detail"] == "wrong user name or password"
    res = client.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD})
    assert res.status_code == 429
    assert res.headers["retry-after"] == "30"
    assert "try again in 30 s" in res.json()["detail"]
    assert (res.json()["code"], res.json()["params"]) == ("too_many_logins", {"retry_after_s": 30})
    metrics = api.as_("admin").get("/metrics").text
    assert 'gridwatch_logins_total{outcome="refused"} 5.0' in metrics
    assert 'gridwatch_logins_total{outcome="throttled"} 1.0' in metrics


def test_session_expires_with_the_clock(api: Api, clock: FakeClock) -> None:
    client = api.as_("viewer")
    assert client.get("/api/auth/me").status_code == 200
    clock.advance(12 * 3600 + 1)
    res = client.get("/api/auth/me")
    assert res.status_code == 401
    assert res.json()["detail"] == "the session has ended; log in again"


def test_cookie_changes_need_the_csrf_token(api: Api) -> None:
    client = api.as_("integrator")
    good = client.headers.pop("X-CSRF-Token")
    body = {"name": "Renamed"}
    assert client.patch("/api/cameras/CAM-01", json=body).status_code == 403
    assert client.patch("/api/cameras/CAM-01", json=body, headers={"X-CSRF-Token": "0" * 32}).status_code == 403
    assert client.patch("/api/cameras/CAM-01", json=body, headers={"X-CSRF-Token": good}).status_code == 200


def test_bearer_tokens(api: Api) -> None:
    integrator = api.as_("integrator")
    res = integrator.post("/api/tokens", json={"name": "csv sync", "expires_in_days": 30})
    assert res.status_code == 201
    created = res.json()
    secret = created["secret"]
    listed = integrator.get("/api/tokens").json()
    assert [t["name"] for t in listed] == ["csv sync"]
    assert secret not in integrator.get("/api/tokens").text
    bearer = api.anonymous()
    me = bearer.get("/api/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["via"] == "token"
    # No CSRF token needed with a bearer token: a browser never sends one by itself.
    patched = bearer.patch(
        "/api/cameras/CAM-01", json={"enabled": False}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert patched.status_code == 200
    assert integrator.delete(f"/api/tokens/{created['token']['id']}").status_code == 204
    gone = bearer.get("/api/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401
    assert gone.json()["detail"] == "the bearer token is unknown, expired or revoked"
    # Operators have no tokens of their own.
    assert api.as_("operator").post("/api/tokens", json={"name": "x"}).status_code == 403


def test_admin_manages_users_and_worker_tokens(api: Api) -> None:
    admin = api.as_("admin")
    res = admin.post(
        "/api/users",
        json={
            "username": "li.na",
            "role": "grid_worker",
            "scope": {"kind": "grids", "ids": ["G-01"]},
            "person_id": "P-GW-01",
        },
    )
    assert res.status_code == 201
    generated = res.json()["password"]
    assert len(generated) >= 12
    assert api.as_("li.na", generated).get("/api/auth/me").json()["grid_ids"] == ["G-01"]
    worker = admin.post("/api/users", json={"username": "shard-1", "role": "worker"}).json()
    assert (worker["password"], worker["user"]["has_password"]) == (None, False)
    token = admin.post("/api/users/shard-1/tokens", json={"name": "shard 1"}).json()["secret"]
    metrics = api.anonymous().get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert metrics.status_code == 200
    dup = admin.post("/api/users", json={"username": "li.na", "role": "viewer"})
    assert dup.status_code == 409
    bad = admin.post(
        "/api/users", json={"username": "x1", "role": "operator", "scope": {"kind": "grids", "ids": ["G-9"]}}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"where": "scope.kind", "message": 'an operator may have scope street, community, not "grids"'}
    ]
    off = admin.patch("/api/users/li.na", json={"disabled": True})
    assert off.json()["disabled"] is True
    assert api.anonymous().post("/api/auth/login", json={"username": "li.na", "password": generated}).status_code == 401
    assert admin.get("/api/users/nobody").status_code == 404
    assert {u["username"] for u in admin.get("/api/users").json()} >= {"admin", "li.na", "shard-1"}
    assert api.as_("operator").get("/api/users").status_code == 403


@pytest.mark.parametrize(
    ("user", "method", "path", "status"),
    [
        ("viewer", "POST", "/api/cameras", 403),
        ("operator", "DELETE", "/api/cameras/CAM-01", 403),
        ("gw1", "GET", "/metrics", 403),
        ("viewer", "POST", "/api/cameras/CAM-01/live", 403),
        ("integrator", "GET", "/api/users", 403),
    ],
)
def test_roles_are_enforced(api: Api, user: str, method: str, path: str, status: int) -> None:
    res = api.as_(user).request(method, path, json={})
    assert res.status_code == status
    assert res.json()["detail"].startswith("your role (")


def test_errors_have_one_shape_with_the_field(api: Api) -> None:
    client = api.as_("admin")
    missing = client.get("/api/cameras/NOPE")
    assert (missing.status_code, missing.json()) == (
        404,
        {
            "detail": 'camera "NOPE" does not exist',
            "errors": [],
            "code": "not_found",
            "params": {"kind": "camera", "id": "NOPE"},
        },
    )
    bad_query = client.get("/api/cameras", params={"limit": 0})
    assert bad_query.status_code == 422
    assert bad_query.json()["errors"] == [
        {
            "where": "query.limit",
            "message": "Input should be greater than or equal to 1",
            "code": "greater_than_equal",  # pydantic's kind and its context, for a client to word it
            "params": {"ge": 1},
        }
    ]
    bad_body = client.post(
        "/api/cameras", json={"id": "N1", "name": "n", "streams": {"main": "rtsp://h/x"}, "colour": 1}
    )
    assert bad_body.status_code == 422
    assert {"where": "colour", "message": "unknown key", "code": "extra_forbidden"} in bad_body.json()["errors"]
    assert client.get("/api/nothing-here").json() == {"detail": "Not Found", "errors": []}


def test_openapi_is_complete(api: Api) -> None:
    schema = api.anonymous().get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "gridwatch_session",
        "description": schemes["session"]["description"],
    }
    assert schemes["token"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            assert op.get("summary"), (method, path)
            codes = set(op["responses"])
            if path not in PUBLIC:
                assert {"401", "403"} <= codes, (method, path)
                assert op.get("security"), (method, path)
            for code, resp in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert resp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
                    assert "example" in resp["content"]["application/json"], (method, path, code)
    camera = schema["components"]["schemas"]["CameraPublic"]["properties"]
    assert camera["id"]["examples"] == ["CAM-01"]
    assert "password" not in camera
    assert "username" not in camera


def test_metrics_count_requests_by_route_template(api: Api) -> None:
    admin = api.as_("admin")
    admin.get("/api/cameras/CAM-01")
    admin.get("/api/cameras/CAM-02")
    text = admin.get("/metrics").text
    assert 'gridwatch_http_requests_total{method="GET",route="/api/cameras/{camera_id}",status="200"} 2.0' in text
    assert "gridwatch_live_pulls" in text
    assert "gridwatch_event_subscribers 0.0" in text
