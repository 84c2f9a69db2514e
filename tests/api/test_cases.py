"""Case routes: board, counts, detail, the loop over HTTP (JSON and multipart with photos), comments,
attachments, patrol reports; scope and role rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.access import Role, Scope, ScopeKind
from api.users import UserStore
from core.clock import FakeClock
from events.service import EventsService
from events.types import CaseAction
from tests.api.conftest import PASSWORD, Api
from tests.support.factories import jpeg, remote_observation


def _case(events: EventsService, episode: str, camera_id: str = "CAM-01") -> int:
    """A camera case: a fallen person becomes a case at once (dispatched to the grid's worker)."""
    result = events.apply_remote_observation(remote_observation(episode, camera_id=camera_id, hazard="fallen_person"))
    assert result.case is not None
    return result.case.id


def _move(client: TestClient, case_id: int, action: str, **body: Any) -> Any:
    return client.post(f"/api/cases/{case_id}/transitions", json={"action": action, **body})


def test_the_whole_loop_over_http(api: Api, events: EventsService) -> None:
    case_id = _case(events, "loop")
    gw1, op = api.as_("gw1"), api.as_("operator")
    assert _move(gw1, case_id, "accept").json()["state"] == "accepted"
    assert _move(gw1, case_id, "start").json()["state"] == "in_progress"
    no_note = _move(gw1, case_id, "resolve")
    assert no_note.status_code == 422
    assert no_note.json()["errors"] == [{"where": "note", "message": "resolve needs a note saying why"}]
    photo = jpeg()
    res = gw1.post(
        f"/api/cases/{case_id}/transitions",
        data={"action": "resolve", "note": "helped up; ambulance not needed"},
        files=[("photos", ("after.jpg", photo, "image/jpeg"))],
    )
    assert res.status_code == 200, res.text
    assert res.json()["state"] == "resolved"
    assert _move(gw1, case_id, "verify").status_code == 403
    assert _move(op, case_id, "verify").json()["state"] == "verified"
    assert _move(op, case_id, "close").json()["state"] == "closed"

    detail = gw1.get(f"/api/cases/{case_id}").json()
    assert detail["case"]["closed_at"] is not None
    steps = [(e["action"], e["actor_id"]) for e in detail["audit"]]
    assert steps[-5:] == [
        ("accept", "gw1"),
        ("start", "gw1"),
        ("resolve", "gw1"),
        ("verify", "operator"),
        ("close", "operator"),
    ]
    resolve = detail["audit"][-3]
    assert resolve["note"] == "helped up; ambulance not needed"
    [attachment] = resolve["attachments"]
    assert (attachment["name"], attachment["content_type"], attachment["size_bytes"]) == (
        "after.jpg",
        "image/jpeg",
        len(photo),
    )
    assert "path" not in attachment
    file = gw1.get(attachment["url"])
    assert file.status_code == 200
    assert file.headers["content-type"] == "image/jpeg"
    assert file.content == photo
    assert len(detail["alert_ids"]) == 1
    assert api.as_("gw2").get(attachment["url"]).status_code == 404


def test_an_illegal_transition_is_409_naming_action_and_state(api: Api, events: EventsService) -> None:
    case_id = _case(events, "illegal")
    res = _move(api.as_("operator"), case_id, "close")
    assert res.status_code == 409
    assert res.json()["detail"].startswith("cannot close a case that is dispatched")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"action": "fly"}, "action"),
        ({}, "action"),
        ({"action": "accept", "colour": "red"}, "colour"),
        ({"action": "accept", "assignee_id": "P-GW-02"}, "assignee_id"),
    ],
)
def test_bad_transition_bodies_name_the_field(
    api: Api, events: EventsService, body: dict[str, Any], where: str
) -> None:
    case_id = _case(events, "bad-body")
    res = api.as_("operator").post(f"/api/cases/{case_id}/transitions", json=body)
    assert res.status_code == 422, res.text
    assert where in [e["where"] for e in res.json()["errors"]]


def test_photo_type_and_size_limits(api: Api, events: EventsService) -> None:
    case_id = _case(events, "photos")
    gw1 = api.as_("gw1")
    _move(gw1, case_id, "accept")

    def resolve(files: list[tuple[str, tuple[str, bytes, str]]]) -> Any:
        return gw1.post(f"/api/cases/{case_id}/transitions", data={"action": "resolve", "note": "done"}, files=files)

    text = resolve([("photos", ("note.jpg", b"just text, whatever the name says", "image/jpeg"))])
    assert text.status_code == 422
    assert text.json()["errors"][0]["where"] == "photos[0]"
    assert "unknown type" in text.json()["errors"][0]["message"]
    limit = events.policy.attachments.max_bytes
    big = resolve([("photos", ("big.jpg", jpeg() + b"\0" * limit, "image/jpeg"))])
    assert big.status_code == 413
    assert "big.jpg" in big.json()["detail"]
    assert [e["where"] for e in big.json()["errors"]] == ["photos[0]"]
    many = resolve(
        [("photos", (f"p{i}.jpg", jpeg(), "image/jpeg")) for i in range(events.policy.attachments.max_files + 1)]
    )
    assert many.status_code == 422
    assert many.json()["errors"][0]["where"] == "photos"
    assert gw1.get(f"/api/cases/{case_id}").json()["case"]["state"] == "accepted"  # nothing was applied


def test_grid_worker_sees_only_their_grid(api: Api, events: EventsService) -> None:
    mine = _case(events, "g1", "CAM-01")
    theirs = _case(events, "g2", "CAM-02")
    gw1 = api.as_("gw1")
    assert [c["id"] for c in gw1.get("/api/cases").json()["items"]] == [mine]
    assert gw1.get("/api/cases/counts").json()["dispatched"] == 1
    assert api.as_("admin").get("/api/cases/counts").json()["dispatched"] == 2
    assert gw1.get("/api/cases", params={"grid_id": "G-02"}).json()["items"] == []
    for res in (
        gw1.get(f"/api/cases/{theirs}"),
        _move(gw1, theirs, "accept"),
        gw1.post(f"/api/cases/{theirs}/comments", json={"text": "hello"}),
    ):
        assert res.status_code == 404
        assert res.json()["detail"] == f"case {theirs} does not exist"
    assert api.as_("gw2").get(f"/api/cases/{theirs}").status_code == 200


def test_board_filters(api: Api, events: EventsService, users: UserStore, clock: FakeClock) -> None:
    first = _case(events, "f1", "CAM-01")
    second = _case(events, "f2", "CAM-02")
    admin = api.as_("admin")
    patrol = admin.post("/api/cases", json={"grid_id": "G-03", "title": "Broken fence"}).json()["id"]

    def ids(**params: Any) -> list[int]:
        return [c["id"] for c in admin.get("/api/cases", params=params).json()["items"]]

    assert set(ids()) == {first, second, patrol}
    assert ids(state=["reported"]) == [patrol]
    assert set(ids(state=["reported", "dispatched"])) == {first, second, patrol}
    assert ids(source="patrol") == [patrol]
    assert ids(grid_id="G-02") == [second]
    assert ids(assignee_id="P-GW-01") == [first]
    assert ids(level="community") == []
    users.create(
        "li.na", Role.GRID_WORKER, scope=Scope(ScopeKind.GRIDS, ("G-01",)), password=PASSWORD, person_id="P-GW-01"
    )
    assert [c["id"] for c in api.as_("li.na").get("/api/cases", params={"mine": True}).json()["items"]] == [first]
    assert api.as_("gw1").get("/api/cases", params={"mine": True}).json()["items"] == []  # no person linked

    assert ids(overdue=True) == []
    assert set(ids(overdue=False)) == {first, second, patrol}
    clock.advance(timedelta(days=30).total_seconds())
    admin = api.as_("admin")  # the earlier session has ended meanwhile
    late = admin.get("/api/cases", params={"overdue": True}).json()["items"]
    assert {c["id"] for c in late} == {first, second, patrol}
    assert all(c["overdue"] for c in late)
    assert ids(overdue=False) == []


def test_patrol_report_and_comments(api: Api) -> None:
    gw1 = api.as_("gw1")
    res = gw1.post(
        "/api/cases",
        json={
            "grid_id": "G-01",
            "title": "Broken fence by Block 2",
            "description": "a panel is down",
            "severity": "low",
        },
    )
    assert res.status_code == 201, res.text
    case = res.json()
    assert (case["source"], case["state"], case["reporter_id"], case["camera_name"]) == (
        "patrol",
        "reported",
        "gw1",
        None,
    )
    outside = gw1.post("/api/cases", json={"grid_id": "G-02", "title": "not mine"})
    assert outside.status_code == 422
    assert outside.json()["errors"] == [{"where": "grid_id", "message": 'grid "G-02" does not exist'}]
    assert (
        api.as_("admin").post("/api/cases", json={"grid_id": "G-99", "title": "x"}).json()["errors"][0]["where"]
        == "grid_id"
    )
    assert api.as_("viewer").post("/api/cases", json={"grid_id": "G-01", "title": "x"}).status_code == 403

    comment = gw1.post(f"/api/cases/{case['id']}/comments", json={"text": "photos to follow"})
    assert comment.status_code == 201
    assert comment.json()["actor_id"] == "gw1"
    blank = gw1.post(f"/api/cases/{case['id']}/comments", json={"text": ""})
    assert blank.status_code == 422
    assert blank.json()["errors"][0]["where"] == "text"
    detail = api.as_("operator").get(f"/api/cases/{case['id']}").json()
    assert [c["text"] for c in detail["comments"]] == ["photos to follow"]


@pytest.mark.parametrize("user", ["viewer", "integrator"])
def test_readers_cannot_move_cases(api: Api, events: EventsService, user: str) -> None:
    case_id = _case(events, "readers")
    client = api.as_(user)
    assert client.get(f"/api/cases/{case_id}").status_code == 200
    assert _move(client, case_id, "accept").status_code == 403
    assert client.post(f"/api/cases/{case_id}/comments", json={"text": "x"}).status_code == 403


# ---------------------------------------------------------------------------- allowed actions

PATHS: dict[str, list[str]] = {
    "reported": [],
    "registered": ["register"],
    "dispatched": ["register", "dispatch"],
    "accepted": ["register", "dispatch", "accept"],
    "in_progress": ["register", "dispatch", "accept", "start"],
    "resolved": ["register", "dispatch", "accept", "start", "resolve"],
    "verified": ["register", "dispatch", "accept", "start", "resolve", "verify"],
    "closed": ["register", "dispatch", "accept", "start", "resolve", "verify", "close"],
    "reopened": ["register", "dispatch", "accept", "start", "resolve", "reopen"],
    "escalated": ["register", "escalate"],
    "dismissed": ["dismiss"],
}
"""From a patrol report (reported) to each state, by the operator."""

ALLOWED: dict[str, tuple[list[str], list[str]]] = {
    # state: (operator, grid worker)
    "reported": (["register", "dismiss"], []),
    "registered": (["dispatch", "dismiss", "escalate"], []),
    "dispatched": (["dispatch", "accept", "dismiss", "escalate"], ["accept"]),
    "accepted": (["start", "resolve", "escalate"], ["start", "resolve"]),
    "in_progress": (["resolve", "escalate"], ["resolve"]),
    "resolved": (["verify", "reopen"], []),
    "verified": (["close", "reopen"], []),
    "closed": ([], []),
    "reopened": (["dispatch", "escalate"], []),
    "escalated": (["dispatch", "dismiss", "escalate"], []),
    "dismissed": ([], []),
}
NOTE = {"resolve": "done", "reopen": "not fixed", "dismiss": "not a matter"}


def _case_in(api: Api, state: str) -> int:
    op = api.as_("operator")
    case_id = int(op.post("/api/cases", json={"grid_id": "G-01", "title": f"to {state}"}).json()["id"])
    for action in PATHS[state]:
        res = _move(op, case_id, action, note=NOTE.get(action, ""))
        assert res.status_code == 200, (action, res.text)
    assert op.get(f"/api/cases/{case_id}").json()["case"]["state"] == state
    return case_id


def test_allowed_actions_are_the_callers_for_the_state_they_see(api: Api) -> None:
    op, gw1, viewer = api.as_("operator"), api.as_("gw1"), api.as_("viewer")
    case_id = _case_in(api, "reported")
    seen: list[tuple[list[str], list[str]]] = []
    for action in PATHS["closed"]:
        detail_op = op.get(f"/api/cases/{case_id}").json()["case"]
        detail_gw = gw1.get(f"/api/cases/{case_id}").json()["case"]
        expected = ALLOWED[detail_op["state"]]
        assert (detail_op["allowed_actions"], detail_gw["allowed_actions"]) == expected
        assert viewer.get(f"/api/cases/{case_id}").json()["case"]["allowed_actions"] == []
        [listed] = [c for c in gw1.get("/api/cases").json()["items"] if c["id"] == case_id]
        assert listed["allowed_actions"] == expected[1]  # the board carries them too
        seen.append(expected)
        res = _move(op, case_id, action, note=NOTE.get(action, ""))
        assert res.json()["allowed_actions"] == ALLOWED[res.json()["state"]][0]  # the answer: as the caller sees it
    assert len(set(map(str, seen))) == len(seen)  # every step changed what may be done
    closed = op.get(f"/api/cases/{case_id}").json()["case"]
    assert (closed["allowed_actions"], closed["note_required"]) == ([], [])


def test_note_required_lists_the_allowed_actions_that_need_a_note(api: Api) -> None:
    case_id = _case_in(api, "in_progress")
    assert api.as_("gw1").get(f"/api/cases/{case_id}").json()["case"]["note_required"] == ["resolve"]
    case_id = _case_in(api, "resolved")
    assert api.as_("operator").get(f"/api/cases/{case_id}").json()["case"]["note_required"] == ["reopen"]
    assert api.as_("gw1").get(f"/api/cases/{case_id}").json()["case"]["note_required"] == []


@pytest.mark.parametrize("state", sorted(PATHS))
def test_every_listed_action_is_accepted_and_every_other_refused(api: Api, state: str) -> None:
    for user in ("operator", "gw1"):
        client = api.as_(user)
        case_id = _case_in(api, state)
        listed = client.get(f"/api/cases/{case_id}").json()["case"]["allowed_actions"]
        for action in CaseAction:
            if action.value in listed:
                continue
            res = _move(client, case_id, action.value, note=NOTE.get(action.value, "a note"))
            assert res.status_code in (403, 409), (user, state, action, res.text)
        assert client.get(f"/api/cases/{case_id}").json()["case"]["state"] == state
        for action_name in listed:
            fresh = case_id if action_name == listed[0] else _case_in(api, state)
            res = _move(client, fresh, action_name, note=NOTE.get(action_name, ""))
            assert res.status_code == 200, (user, state, action_name, res.text)


# ---------------------------------------------------------------------------- progress notes with photos


def test_a_progress_note_with_photos_leaves_the_state_alone(api: Api, events: EventsService) -> None:
    case_id = _case(events, "note-photos")
    gw1 = api.as_("gw1")
    _move(gw1, case_id, "accept")
    photo = jpeg()
    res = gw1.post(
        f"/api/cases/{case_id}/comments",
        data={"text": "barrier up at the gate"},
        files=[("photos", ("gate.jpg", photo, "image/jpeg")), ("photos", ("plaza.jpg", jpeg(32, 24), "image/jpeg"))],
    )
    assert res.status_code == 201, res.text
    note = res.json()
    assert (note["text"], [a["name"] for a in note["attachments"]]) == (
        "barrier up at the gate",
        ["gate.jpg", "plaza.jpg"],
    )
    only_photo = gw1.post(f"/api/cases/{case_id}/comments", files=[("photos", ("more.jpg", photo, "image/jpeg"))])
    assert only_photo.status_code == 201, only_photo.text
    assert only_photo.json()["text"] == ""
    plain = gw1.post(f"/api/cases/{case_id}/comments", json={"text": "called the property office"})
    assert plain.status_code == 201
    assert plain.json()["attachments"] == []

    detail = api.as_("operator").get(f"/api/cases/{case_id}").json()
    assert detail["case"]["state"] == "accepted"
    assert [len(c["attachments"]) for c in detail["comments"]] == [2, 1, 0]
    assert not any(e["attachments"] for e in detail["audit"])
    file = gw1.get(detail["comments"][0]["attachments"][0]["url"])
    assert (file.status_code, file.content) == (200, photo)
    assert api.as_("gw2").get(detail["comments"][0]["attachments"][0]["url"]).status_code == 404


def test_progress_note_limits_and_scope(api: Api, events: EventsService) -> None:
    case_id = _case(events, "note-limits")
    other = _case(events, "note-other", "CAM-02")
    gw1 = api.as_("gw1")

    def note(files: list[tuple[str, tuple[str, bytes, str]]], text: str = "progress", case: int = case_id) -> Any:
        return gw1.post(f"/api/cases/{case}/comments", data={"text": text}, files=files)

    text = note([("photos", ("note.jpg", b"just text, whatever the name says", "image/jpeg"))])
    assert text.status_code == 422
    assert text.json()["errors"][0]["where"] == "photos[0]"
    assert "unknown type" in text.json()["errors"][0]["message"]
    limit = events.policy.attachments.max_bytes
    big = note([("photos", ("big.jpg", jpeg() + b"\0" * limit, "image/jpeg"))])
    assert big.status_code == 413
    assert "big.jpg" in big.json()["detail"]
    many = note(
        [("photos", (f"p{i}.jpg", jpeg(), "image/jpeg")) for i in range(events.policy.attachments.max_files + 1)]
    )
    assert many.status_code == 422
    assert many.json()["errors"][0]["where"] == "photos"
    wrong_field = note([("picture", ("p.jpg", jpeg(), "image/jpeg"))])
    assert (wrong_field.status_code, wrong_field.json()["errors"][0]["where"]) == (422, "picture")
    empty = gw1.post(f"/api/cases/{case_id}/comments", files={"text": (None, " ")})  # a form: no words, no photos
    assert (empty.status_code, empty.json()["errors"][0]["where"]) == (422, "text")
    unknown = gw1.post(f"/api/cases/{case_id}/comments", files={"text": (None, "x"), "colour": (None, "red")})
    assert (unknown.status_code, unknown.json()["errors"][0]["where"]) == (422, "colour")
    assert api.as_("operator").get(f"/api/cases/{case_id}").json()["comments"] == []  # nothing was stored

    outside = note([("photos", ("p.jpg", jpeg(), "image/jpeg"))], case=other)
    assert outside.status_code == 404
    assert outside.json()["detail"] == f"case {other} does not exist"
    viewer = api.as_("viewer").post(
        f"/api/cases/{case_id}/comments", data={"text": "x"}, files=[("photos", ("p.jpg", jpeg(), "image/jpeg"))]
    )
    assert viewer.status_code == 403
    assert api.as_("gw2").get(f"/api/cases/{other}").json()["comments"] == []


def test_cases_name_their_assignee(api: Api, events: EventsService) -> None:
    case_id = _case(events, "names")
    op = api.as_("operator")
    [listed] = [c for c in op.get("/api/cases").json()["items"] if c["id"] == case_id]
    assert (listed["assignee_id"], listed["assignee_name"]) == ("P-GW-01", "Li Na")
    assert op.get(f"/api/cases/{case_id}").json()["case"]["assignee_name"] == "Li Na"
    _move(op, case_id, "escalate")
    handed = _move(op, case_id, "dispatch", assignee_id="P-BL-01")  # a building leader of the grid
    assert (handed.json()["assignee_id"], handed.json()["assignee_name"]) == ("P-BL-01", "Chen Hua")
    unknown = _move(op, _case(events, "names-2", "CAM-04"), "escalate")
    assert unknown.status_code == 200, unknown.text
    elsewhere = _move(op, unknown.json()["id"], "dispatch", assignee_id="someone-outside-the-model")
    assert (elsewhere.json()["assignee_id"], elsewhere.json()["assignee_name"]) == ("someone-outside-the-model", None)


def test_uploads_are_served_so_that_a_browser_never_runs_them(api: Api, events: EventsService) -> None:
    """A "PDF" that is really a page with script is stored (its magic bytes say PDF) but only ever
    downloaded, never sniffed or rendered as HTML; pictures show inline, still under nosniff and a CSP."""
    case_id = _case(events, "uploads")
    gw1 = api.as_("gw1")
    _move(gw1, case_id, "accept")
    hostile = b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>"
    res = gw1.post(
        f"/api/cases/{case_id}/transitions",
        data={"action": "resolve", "note": "done"},
        files=[("photos", ("report.pdf", hostile, "application/pdf")), ("photos", ("after.jpg", jpeg(), "image/jpeg"))],
    )
    assert res.status_code == 200, res.text
    trail = gw1.get(f"/api/cases/{case_id}").json()["audit"]
    files = {a["name"]: a["url"] for step in trail for a in step["attachments"]}
    pdf = gw1.get(files["report.pdf"])
    assert pdf.content == hostile
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    picture = gw1.get(files["after.jpg"])
    assert picture.headers["content-disposition"].startswith("inline;")
    for served in (pdf, picture):
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in served.headers["content-security-policy"]
        assert "sandbox" in served.headers["content-security-policy"]
