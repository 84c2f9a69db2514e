"""Files removed by retention over HTTP: 410 Gone in the usual error shape, and the case still lists them."""

from __future__ import annotations

from datetime import timedelta

from core.clock import FakeClock
from events.retention import Retention
from events.service import EventsService
from tests.api.conftest import Api
from tests.support.factories import jpeg, remote_observation

DAY = timedelta(days=1).total_seconds()


def test_a_removed_snapshot_is_410_and_the_alert_says_so(api: Api, events: EventsService, clock: FakeClock) -> None:
    alert = events.apply_remote_observation(remote_observation("ev", camera_id="CAM-01", evidence=jpeg())).alert
    assert alert.case_id is None
    viewer = api.as_("viewer")
    assert viewer.get(f"/api/alerts/{alert.id}/evidence").status_code == 200
    clock.advance(31 * DAY)
    assert Retention(events).run().alerts == 1

    viewer = api.as_("viewer")  # a month on: a new session
    res = viewer.get(f"/api/alerts/{alert.id}/evidence")
    on = f"{clock.now():%Y-%m-%d}"
    assert res.status_code == 410
    assert res.headers["content-type"] == "application/json"
    assert res.json() == {
        "detail": f"the evidence snapshot of alert {alert.id} was removed by retention on {on}",
        "errors": [],
    }
    body = viewer.get(f"/api/alerts/{alert.id}").json()
    assert (body["has_evidence"], body["evidence_removed"]) == (False, f"removed by retention on {on}")
    assert body["evidence_url"] == f"/api/alerts/{alert.id}/evidence", "it still says where it was (410 there)"


def test_a_removed_photo_stays_in_the_case_and_answers_410(api: Api, events: EventsService, clock: FakeClock) -> None:
    gw1 = api.as_("gw1")
    case = gw1.post("/api/cases", json={"grid_id": "G-01", "title": "Broken fence"}).json()
    note = gw1.post(
        f"/api/cases/{case['id']}/comments",
        data={"text": "before"},
        files=[("photos", ("a.jpg", jpeg(), "image/jpeg"))],
    )
    assert note.status_code == 201, note.text
    [photo] = note.json()["attachments"]
    operator = api.as_("operator")
    for action, body in (("register", {}), ("dismiss", {"note": "not a matter"})):
        res = operator.post(f"/api/cases/{case['id']}/transitions", json={"action": action, **body})
        assert res.status_code == 200, res.text
    clock.advance(366 * DAY)
    assert Retention(events).run().attachments == 1

    gw1 = api.as_("gw1")  # a year on: a new session
    on = f"{clock.now():%Y-%m-%d}"
    res = gw1.get(photo["url"])
    assert res.status_code == 410
    assert res.json()["detail"] == f'attachment {photo["id"]} ("a.jpg") was removed by retention on {on}'
    detail = gw1.get(f"/api/cases/{case['id']}").json()
    [listed] = detail["comments"][0]["attachments"]
    assert (listed["id"], listed["name"], listed["removed"]) == (photo["id"], "a.jpg", f"removed by retention on {on}")
    assert detail["audit"][-1]["action"] == "retention"
    assert detail["audit"][-1]["note"] == f"1 attached file(s) removed by retention on {on}"
    assert api.as_("gw2").get(photo["url"]).status_code == 404, "out of scope: 404 as ever, never 410"
