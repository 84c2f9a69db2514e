"""The notifications API: channels (admins only), a test-send to a local receiver, the delivery log and
dead letters, suspends in the caller's scope (audited), held-back counts and the alert's mark."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from api.app import create_app
from api.context import ApiContext
from api.users import UserStore
from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from core.clock import FakeClock
from core.db import session_factory
from events.notify.signing import webhook_secret
from events.notify.store import Notifications
from events.service import EventsService
from tests.api.conftest import Api, fast_auth
from tests.support.factories import observation
from tests.support.receiver import receiver
from tests.support.wait import wait_for


@pytest.fixture
def notify_api(
    engine: Engine, site: SiteStore, users: UserStore, clock: FakeClock, events: EventsService
) -> Iterator[tuple[Api, Notifications]]:
    del users  # they exist: the clients log in as them
    store = Notifications(
        session_factory(engine),
        CredentialCipher(Fernet.generate_key()),
        clock,
        events.fatigue,
        allow_hosts=("127.0.0.1",),
    )
    events.outbox.sinks.append(store)
    context = ApiContext(
        engine=engine,
        site=site,
        clock=clock,
        auth=fast_auth(),
        events=events,
        notifications=store,
        public_url="http://gw/",
    )
    holder = Api(create_app(context), [])
    yield holder, store
    for client in holder.clients:
        client.__exit__(None, None, None)


def test_only_admins_configure_channels(notify_api: tuple[Api, Notifications]) -> None:
    api, _ = notify_api
    body = {"kind": "webhook", "url": "https://city.example/hooks"}
    for name in ("operator", "integrator", "gw1"):
        assert api.as_(name).put("/api/notifications/channels/city", json=body).status_code == 403
    admin = api.as_("admin")
    res = admin.put("/api/notifications/channels/city", json=body)
    assert res.status_code == 200, res.text
    saved = res.json()
    assert saved["secret"].startswith("whsec_")
    webhook_secret(saved["secret"])  # a valid key
    assert saved["has_secret"] is True
    listed = admin.get("/api/notifications/channels").json()
    assert [c["id"] for c in listed] == ["city"]
    assert "secret" not in listed[0]
    again = admin.put("/api/notifications/channels/city", json={**body, "name": "City platform"}).json()
    assert again["secret"] is None  # shown once; the stored one stays
    entries = admin.get("/api/audit", params={"action": "channel_changed"}).json()["items"]
    assert [e["detail"] for e in entries] == ["changed (webhook)", "created (webhook)"]


def test_a_robot_url_token_is_not_shown_and_bad_channels_name_their_fields(
    notify_api: tuple[Api, Notifications],
) -> None:
    api, _ = notify_api
    admin = api.as_("admin")
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET-KEY"
    res = admin.put("/api/notifications/channels/wecom", json={"kind": "wecom", "url": url})
    assert res.status_code == 200
    assert "SECRET-KEY" not in res.text
    bad = admin.put(
        "/api/notifications/channels/x",
        json={"kind": "wecom", "url": "https://evil.example/send", "rules": [{"roles": ["boss"]}]},
    )
    assert bad.status_code == 422
    assert {e["where"] for e in bad.json()["errors"]} == {"url", "rules[0].roles"}
    assert admin.put("/api/notifications/channels/x", json=["not", "a", "mapping"]).status_code == 422


def test_send_test_reports_the_receivers_answer(notify_api: tuple[Api, Notifications]) -> None:
    api, _ = notify_api
    admin = api.as_("admin")
    with (
        receiver([200], answer=b'{"errcode":0}') as ok,
        receiver([200], answer=b'{"errcode":93000,"errmsg":"invalid"}') as bad,
    ):
        admin.put("/api/notifications/channels/good", json={"kind": "wecom", "url": ok.url})
        admin.put("/api/notifications/channels/bad", json={"kind": "wecom", "url": bad.url})
        assert admin.post("/api/notifications/channels/good/test").json() == {"ok": True, "status": 200, "error": None}
        res = admin.post("/api/notifications/channels/bad/test").json()
        assert res["ok"] is False
        assert res["error"] == "errcode 93000: invalid"
        [req] = ok.wait_for(1)
        assert "测试消息" in req.json()["markdown"]["content"]


def test_deliveries_are_logged_and_dead_letters_retried(
    notify_api: tuple[Api, Notifications], events: EventsService
) -> None:
    api, store = notify_api
    admin = api.as_("admin")
    with receiver([500]) as got:
        spec = {"kind": "webhook", "url": got.url, "retry_s": [], "rules": [{"topics": ["alert.opened"]}]}
        assert admin.put("/api/notifications/channels/hook", json=spec).status_code == 200
        events.apply_observation(observation("ep-1", camera_id="CAM-01"))  # the app's dispatcher sends it
        got.wait_for(1)
        dead = wait_for(lambda: admin.get("/api/notifications/dead-letters").json(), timeout_s=10)
        [letter] = dead
        assert (letter["channel_id"], letter["topic"], letter["last_status"]) == ("hook", "alert.opened", 500)
        log = admin.get("/api/notifications/channels/hook/deliveries").json()
        assert [d["state"] for d in log] == ["dead"]
        assert admin.post("/api/notifications/deliveries/discard", json={"ids": [letter["id"]]}).json() == {
            "discarded": 1
        }
        got.statuses[:] = [200]
        assert admin.post("/api/notifications/deliveries/retry", json={"ids": [letter["id"]]}).json() == {"retried": 1}
        wait_for(lambda: store.log("hook")[0].state == "sent", timeout_s=10)
        assert len(got.requests) == 2
        assert admin.post("/api/notifications/deliveries/retry", json={"ids": []}).status_code == 422


def test_suspends_are_scoped_audited_and_mark_the_alerts(
    notify_api: tuple[Api, Notifications], events: EventsService
) -> None:
    api, _ = notify_api
    gw1, operator = api.as_("gw1"), api.as_("operator")
    body = {"kind": "camera", "target_id": "CAM-01", "minutes": 90, "reason": "gate repairs"}
    assert gw1.post("/api/suspends", json=body).status_code == 403  # grid workers do not handle alerts
    assert operator.post("/api/suspends", json={**body, "target_id": "NOPE"}).status_code == 404
    assert operator.post("/api/suspends", json={**body, "reason": ""}).status_code == 422
    res = operator.post("/api/suspends", json=body)
    assert res.status_code == 201, res.text
    suspend = res.json()
    assert (suspend["created_by"], suspend["lifted_at"]) == ("operator", None)
    held = events.apply_observation(observation("ep-1", camera_id="CAM-01"))
    assert held.case is None
    [alert] = operator.get("/api/alerts").json()["items"]
    assert alert["held_back"] == "suspend:camera"
    counts = operator.get("/api/notifications/held-back").json()["counts"]
    assert counts == {"cooldown": 0, "suspend:camera": 1, "suspend:grid": 0, "cap": 0}
    assert [s["target_id"] for s in gw1.get("/api/suspends").json()] == ["CAM-01"]
    lifted = operator.post(f"/api/suspends/{suspend['id']}/lift").json()
    assert lifted["lifted_by"] == "operator"
    assert operator.get("/api/suspends").json() == []
    passed = events.apply_observation(observation("ep-2", camera_id="CAM-01"))
    assert passed.alert.held_back is None
    actions = [e["action"] for e in api.as_("admin").get("/api/audit").json()["items"]]
    assert actions[:2] == ["suspend_lifted", "suspended"]
