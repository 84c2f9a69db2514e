"""The access audit over HTTP: each recorded action shows up with its actor and target, only admins read
it, and the CSV export keeps formula-leading text inert."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.audit import AuditAction, AuditActor
from core.clock import FakeClock
from events.service import EventsService
from tests.api.conftest import PASSWORD, Api
from tests.support.factories import jpeg, remote_observation


def rows(admin: TestClient, **params: Any) -> list[tuple[str, str, str, str]]:
    """(actor, action, target, detail) of every row matching ``params``, oldest first."""
    res = admin.get("/api/audit", params={"limit": 200, **params})
    assert res.status_code == 200, res.text
    return [(e["actor"], e["action"], e["target"], e["detail"]) for e in reversed(res.json()["items"])]


def test_only_admins_read_the_audit(api: Api) -> None:
    assert api.anonymous().get("/api/audit").status_code == 401
    for name in ("operator", "integrator", "viewer", "gw1"):
        client = api.as_(name)
        for path in ("/api/audit", "/api/audit.csv"):
            res = client.get(path)
            assert res.status_code == 403, (name, path)
            assert "audit:read" in res.json()["detail"]
    assert api.as_("admin").get("/api/audit").status_code == 200


def test_user_and_token_changes_are_recorded(api: Api) -> None:
    admin = api.as_("admin")
    created = admin.post("/api/users", json={"username": "li.na", "role": "viewer", "display_name": "Li Na"})
    assert created.status_code == 201, created.text
    assert (
        admin.patch(
            "/api/users/li.na", json={"role": "grid_worker", "scope": {"kind": "grids", "ids": ["G-01"]}}
        ).status_code
        == 200
    )
    assert admin.patch("/api/users/li.na", json={"disabled": True}).status_code == 200
    assert admin.patch("/api/users/li.na", json={"disabled": False, "password": "a-new-password-1"}).status_code == 200
    token = admin.post("/api/users/integrator/tokens", json={"name": "ci"}).json()["token"]
    integrator = api.as_("integrator")
    own = integrator.post("/api/tokens", json={"name": "laptop"}).json()["token"]
    assert integrator.delete(f"/api/tokens/{own['id']}").status_code == 204
    assert admin.delete(f"/api/tokens/{token['id']}").status_code == 204

    assert rows(admin) == [
        ("admin", "user_created", "li.na", "viewer, scope site"),
        ("admin", "user_changed", "li.na", "role viewer → grid_worker; scope site → grids:G-01"),
        ("admin", "user_disabled", "li.na", ""),
        ("admin", "user_enabled", "li.na", ""),
        ("admin", "password_reset", "li.na", ""),
        ("admin", "token_created", "integrator", f'token {token["id"]} "ci"'),
        ("integrator", "token_created", "integrator", f'token {own["id"]} "laptop"'),
        ("integrator", "token_revoked", "integrator", f'token {own["id"]} "laptop"'),
        ("admin", "token_revoked", "integrator", f'token {token["id"]} "ci"'),
    ]
    entry = admin.get("/api/audit", params={"limit": 1}).json()["items"][0]
    assert (entry["actor_role"], entry["address"]) == ("admin", "testclient")
    assert "a-new-password-1" not in admin.get("/api/audit.csv").text
    # a refused change records nothing
    assert admin.patch("/api/users/li.na", json={"role": "operator"}).status_code == 422
    assert len(rows(admin)) == 9


def test_evidence_and_attachment_opens_are_recorded(api: Api, events: EventsService) -> None:
    alert = events.apply_remote_observation(remote_observation("ev", camera_id="CAM-01", evidence=jpeg()))
    bare = events.apply_remote_observation(remote_observation("bare", camera_id="CAM-01"))
    case = events.apply_remote_observation(remote_observation("fall", camera_id="CAM-01", hazard="fallen_person"))
    assert case.case is not None
    gw1, viewer, admin = api.as_("gw1"), api.as_("viewer"), api.as_("admin")
    assert viewer.get(f"/api/alerts/{alert.alert.id}/evidence").status_code == 200
    assert viewer.get(f"/api/alerts/{bare.alert.id}/evidence").status_code == 404  # nothing shown, nothing recorded
    case_id = case.case.id
    for action in ("accept", "start"):
        assert gw1.post(f"/api/cases/{case_id}/transitions", json={"action": action}).status_code == 200
    resolved = gw1.post(
        f"/api/cases/{case_id}/transitions",
        data={"action": "resolve", "note": "helped up"},
        files=[("photos", ("after.jpg", jpeg(), "image/jpeg"))],
    )
    assert resolved.status_code == 200, resolved.text
    [attachment] = gw1.get(f"/api/cases/{case_id}").json()["audit"][-1]["attachments"]
    assert gw1.get(attachment["url"]).status_code == 200

    assert rows(admin) == [
        ("viewer", "evidence_opened", f"alert {alert.alert.id}", "camera CAM-01"),
        ("gw1", "attachment_opened", f"attachment {attachment['id']}", f"case {case_id}: after.jpg"),
    ]
    assert rows(admin, action="evidence_opened", actor="viewer")[0][2] == f"alert {alert.alert.id}"


def test_camera_import_is_recorded(api: Api) -> None:
    integrator, admin = api.as_("integrator"), api.as_("admin")
    text = "id,name,compound,grid,rtsp_url\nAU-1,Audit gate,K-01,,rtsp://10.7.0.1/main\n"
    res = integrator.post("/api/cameras/import", files={"file": ("north.csv", text.encode(), "text/csv")})
    assert res.status_code == 200, res.text
    refused = integrator.post("/api/cameras/import", files={"file": ("bad.csv", b"id,name\nX,\n", "text/csv")})
    assert refused.status_code == 422
    assert rows(admin) == [
        ("integrator", "cameras_imported", "north.csv", "1 rows: 1 created, 0 updated, 0 unchanged, 0 skipped")
    ]


def test_filters_pages_and_bad_queries(api: Api, clock: FakeClock) -> None:
    audit = api.app.state.runtime.audit
    operator = AuditActor("operator", "operator")
    for n in range(5):
        audit.record(operator, AuditAction.LIVE_VIEW, f"CAM-0{n}")
        clock.advance(60)
    admin = api.as_("admin")
    first = admin.get("/api/audit", params={"limit": 2}).json()
    assert [e["target"] for e in first["items"]] == ["CAM-04", "CAM-03"]
    second = admin.get("/api/audit", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [e["target"] for e in second["items"]] == ["CAM-02", "CAM-01"]
    assert rows(admin, since=clock.now().isoformat()) == []
    window = {"since": "2026-01-01T08:01:00+00:00", "until": "2026-01-01T08:03:00Z"}
    assert [r[2] for r in rows(admin, **window)] == ["CAM-01", "CAM-02"]
    assert [r[2] for r in rows(admin, target="CAM-03", actor="operator", action="live_view")] == ["CAM-03"]
    for params, where in (
        ({"action": "peeked"}, "query.action"),
        ({"since": "2026-01-01T08:00:00"}, "query.since"),
        ({"limit": 0}, "query.limit"),
        ({"cursor": "nope"}, "cursor"),
    ):
        res = admin.get("/api/audit", params=params)
        assert res.status_code == 422, params
        assert res.json()["errors"][0]["where"] == where


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)"])
def test_csv_export_keeps_formula_leading_text_inert(api: Api, cell: str) -> None:
    api.app.state.runtime.audit.record(AuditActor(cell, "admin"), AuditAction.CAMERAS_IMPORTED, cell, cell)
    admin = api.as_("admin")
    res = admin.get("/api/audit.csv", params={"action": "cameras_imported"})
    assert res.status_code == 200
    assert res.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in res.headers["content-disposition"]
    header, row = list(csv.reader(io.StringIO(res.text)))
    assert header == ["at", "actor", "actor_role", "action", "target", "detail", "address"]
    assert row[1:] == ["'" + cell, "admin", "cameras_imported", "'" + cell, "'" + cell, ""]
    assert row[0].startswith("2026-01-01T08:00:00")


def test_csv_export_has_every_row_past_one_page(api: Api) -> None:
    audit = api.app.state.runtime.audit
    for n in range(1203):
        audit.record(AuditActor("operator", "operator"), AuditAction.EVIDENCE_OPENED, f"alert {n}")
    lines = api.as_("admin").get("/api/audit.csv", params={"actor": "operator"}).text.splitlines()
    assert len(lines) == 1204
    assert lines[1].split(",")[3:5] == ["evidence_opened", "alert 1202"]


def test_a_password_never_reaches_the_audit(api: Api) -> None:
    admin = api.as_("admin")
    admin.post("/api/users", json={"username": "sam", "role": "viewer", "password": PASSWORD})
    assert PASSWORD not in admin.get("/api/audit.csv").text
