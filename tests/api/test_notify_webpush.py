"""Web Push: real VAPID signatures and aes128gcm encryption, end to end through the API and the dispatcher.

The push service is a local HTTP server (allowed through the store's ``allow_hosts``); each test makes
its browsers' keys itself (a P-256 key pair and 16 random auth bytes, as a browser does) and decrypts
what arrives with them, so nothing of the unit under test is replaced.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import http_ece
import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from playwright.sync_api import Page
from py_vapid import jwt as vapid_jwt
from sqlalchemy import Engine

from api.access import Role, Scope, ScopeKind
from api.app import create_app
from api.context import ApiContext
from api.notify.render import Context
from api.notify.webpush import KEY_FILE, WebPushSender, load_vapid, vapid_subject
from api.users import UserStore
from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from core.clock import FakeClock
from core.db import session_factory
from events.notify.config import ChannelKind, ChannelSpec
from events.notify.store import DEAD, PENDING, SENT, Job, Notifications
from events.service import EventsService
from tests.api.conftest import PASSWORD, Api, fast_auth, serve_app
from tests.support.browser import login
from tests.support.factories import remote_observation
from tests.support.wait import wait_for

CONSOLE = "https://gw.example.cn/"
CHANNEL = ChannelSpec(id="phones", kind=ChannelKind.WEBPUSH, name="Phones")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------------------- a browser and a push service


@dataclass
class Browser:
    """What a browser keeps of its subscription: its own P-256 key pair and auth secret."""

    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def new(cls) -> Browser:
        return cls(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def subscription(self, endpoint: str) -> dict[str, Any]:
        """As ``PushSubscription.toJSON()`` gives it."""
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm")
        doc: dict[str, Any] = json.loads(plain)
        return doc


@dataclass
class Pushed:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    """A push service on a loopback port: records each POST; answers 201 unless told otherwise per path."""

    url: str
    received: list[Pushed] = field(default_factory=list)
    answers: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)

    def to(self, path: str) -> list[Pushed]:
        return [p for p in list(self.received) if p.path == path]


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            service.received.append(Pushed(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, headers = service.answers.get(self.path, (201, {}))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield service
    server.shutdown()
    server.server_close()
    thread.join(5)


# ---------------------------------------------------------------------------- the app with notifications


@dataclass
class PushApp:
    api: Api
    store: Notifications
    events: EventsService
    data_dir: Path

    def deliveries(self) -> list[Any]:
        return self.store.log(CHANNEL.id)

    def settled(self, count: int) -> bool:
        """``count`` deliveries queued and none of them still waiting to be sent."""
        log = self.deliveries()
        return len(log) == count and all(d.state != PENDING for d in log)

    def observe(self, episode: str, camera: str) -> None:
        """A loitering alert (no case) on ``camera``; queued for the channels as the relay publishes it."""
        self.events.apply_remote_observation(remote_observation(episode, camera_id=camera))


def make_app(
    engine: Engine, site: SiteStore, clock: FakeClock, events: EventsService, store: Notifications, data_dir: Path
) -> Api:
    context = ApiContext(
        engine=engine,
        site=site,
        clock=clock,
        auth=fast_auth(),
        events=events,
        notifications=store,
        public_url=CONSOLE,
        data_dir=data_dir,
    )
    return Api(create_app(context), [])


@pytest.fixture
def push_app(
    engine: Engine,
    site: SiteStore,
    users: UserStore,
    clock: FakeClock,
    events: EventsService,
    cipher: CredentialCipher,
    tmp_path: Path,
) -> Iterator[PushApp]:
    store = Notifications(session_factory(engine), cipher, clock, events.fatigue, allow_hosts=("127.0.0.1",))
    events.outbox.sinks.append(store)
    data_dir = tmp_path / "push-data"
    api = make_app(engine, site, clock, events, store, data_dir)
    yield PushApp(api, store, events, data_dir)
    for client in api.clients:
        client.__exit__(None, None, None)


def subscribe(client: TestClient, browser: Browser, endpoint: str) -> dict[str, Any]:
    res = client.post("/api/push/subscriptions", json=browser.subscription(endpoint))
    assert res.status_code == 201, res.text
    doc: dict[str, Any] = res.json()
    return doc


# ---------------------------------------------------------------------------- a: what arrives


def test_a_push_arrives_encrypted_for_the_browser_and_signed_with_the_served_key(
    push_app: PushApp, push_service: PushService
) -> None:
    gw1 = push_app.api.as_("gw1")
    browser = Browser.new()
    endpoint = push_service.url + "/push/gw1"
    subscribe(gw1, browser, endpoint)
    push_app.store.put_channels([CHANNEL])

    push_app.observe("ep-a", "CAM-01")  # grid G-01, gw1's

    wait_for(lambda: push_app.settled(1), what=lambda: push_app.deliveries())
    [delivery] = push_app.deliveries()
    assert delivery.state == SENT, delivery
    [pushed] = push_service.to("/push/gw1")
    assert pushed.headers["content-encoding"] == "aes128gcm"
    assert pushed.headers["ttl"] == "3600"
    assert pushed.headers["urgency"] == "normal"

    msg = browser.decrypt(pushed.body)
    assert msg["title"] == "新告警：人员徘徊（中）"
    assert "网格 G-01" in msg["body"]
    assert not set("#>[]()") & set(msg["body"]), msg["body"]  # plain text, no markdown
    assert msg["url"] == CONSOLE + "#/alerts"
    assert msg["tag"] == delivery.message_id
    assert msg["topic"] == "alert.opened"

    # RFC 8292: "vapid t=<JWT>, k=<the key the browser subscribed with>"; the JWT verifies with k.
    scheme, _, params = pushed.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    assert parts["k"] == gw1.get("/api/push/key").json()["public_key"]
    claims = vapid_jwt.decode(parts["t"], parts["k"])
    origin = urlsplit(endpoint)
    assert claims["aud"] == f"{origin.scheme}://{origin.netloc}"
    assert claims["sub"] == "https://gw.example.cn"
    assert claims["exp"] > datetime.now(UTC).timestamp()
    with pytest.raises(InvalidSignature):  # and with no other key
        vapid_jwt.decode(parts["t"], Browser.new().p256dh)


# ---------------------------------------------------------------------------- b: a subscription that is gone


def test_a_410_marks_the_subscription_gone_and_the_delivery_dead_without_retry(
    push_app: PushApp, push_service: PushService
) -> None:
    gw1 = push_app.api.as_("gw1")
    sub = subscribe(gw1, Browser.new(), push_service.url + "/push/gone")
    push_service.answers["/push/gone"] = (410, {})
    push_app.store.put_channels([CHANNEL])

    push_app.observe("ep-b1", "CAM-01")

    wait_for(lambda: push_app.settled(1), what=lambda: push_app.deliveries())
    [delivery] = push_app.deliveries()
    assert (delivery.state, delivery.attempts, delivery.last_status) == (DEAD, 1, 410)
    assert delivery.next_attempt_at is None
    assert push_app.store.subscription(sub["id"]) is None
    assert gw1.get("/api/push/subscriptions").json() == []
    assert len(push_service.to("/push/gone")) == 1

    push_app.observe("ep-b2", "CAM-04")  # G-01 again: nothing is queued for a gone subscription
    assert len(push_app.deliveries()) == 1
    assert len(push_service.received) == 1


@pytest.mark.parametrize(
    ("status", "headers", "want"),
    [
        (201, {}, {"ok": True}),
        (202, {}, {"ok": True}),
        (404, {}, {"ok": False, "gone": True}),
        (503, {"Retry-After": "120"}, {"ok": False, "gone": False, "permanent": False, "retry_after_s": 120.0}),
        (429, {}, {"ok": False, "gone": False, "permanent": False, "retry_after_s": None}),
        (400, {}, {"ok": False, "gone": False, "permanent": True}),
        (413, {}, {"ok": False, "gone": False, "permanent": True}),
    ],
)
def test_what_each_push_service_answer_comes_to(
    push_app: PushApp, push_service: PushService, status: int, headers: dict[str, str], want: dict[str, Any]
) -> None:
    sub = push_app.store.subscribe(
        push_service.url + "/push/x", Browser.new().p256dh, b64url(os.urandom(16)),
        user_id="gw1", role="grid_worker", grid_ids=["G-01"], person_id=None,
    )  # fmt: skip
    push_service.answers["/push/x"] = (status, headers)
    [channel] = push_app.store.put_channels([CHANNEL])
    sender = WebPushSender(channel, Context(CONSOLE, lambda _c: None), push_app.store, load_vapid(push_app.data_dir))
    job = Job(1, channel.id, 7, str(sub.id), "alert.opened", {"camera_id": "CAM-01"}, datetime.now(UTC), 0)
    try:
        [outcome] = sender.send([job])
        [removed] = sender.send([Job(2, channel.id, 8, "999999", "alert.opened", {}, datetime.now(UTC), 0)])
    finally:
        sender.close()
    assert {k: getattr(outcome, k) for k in want} == want, outcome
    assert outcome.status == status
    assert (removed.ok, removed.permanent, removed.error) == (False, True, "subscription removed")


# ---------------------------------------------------------------------------- c: the routes and the key


def test_subscribe_list_and_unsubscribe_for_the_caller(push_app: PushApp) -> None:
    gw1, gw2 = push_app.api.as_("gw1"), push_app.api.as_("gw2")
    endpoint = "https://fcm.googleapis.com/fcm/send/abc123"
    sub = subscribe(gw1, Browser.new(), endpoint)
    assert sub == {
        "id": sub["id"],
        "endpoint": endpoint,
        "role": "grid_worker",
        "grid_ids": ["G-01"],
        "person_id": None,
    }
    assert [s["endpoint"] for s in gw1.get("/api/push/subscriptions").json()] == [endpoint]
    assert gw2.get("/api/push/subscriptions").json() == []

    # another user cannot remove it; its owner can, twice (done when there is none)
    assert gw2.request("DELETE", "/api/push/subscriptions", json={"endpoint": endpoint}).status_code == 204
    assert len(gw1.get("/api/push/subscriptions").json()) == 1
    for _ in range(2):
        assert gw1.request("DELETE", "/api/push/subscriptions", json={"endpoint": endpoint}).status_code == 204
    assert gw1.get("/api/push/subscriptions").json() == []

    operator = push_app.api.as_("operator")  # community CM-01: its three grids
    assert subscribe(operator, Browser.new(), endpoint + "-op")["grid_ids"] == ["G-01", "G-02", "G-03"]
    viewer = push_app.api.as_("viewer")  # the whole site
    assert subscribe(viewer, Browser.new(), endpoint + "-v")["grid_ids"] is None
    users = push_app.api.app.state.runtime.users
    users.create("pc1", Role.PROPERTY_STAFF, scope=Scope(ScopeKind.COMPANY, ("PC-01",)), password=PASSWORD)
    company = push_app.api.as_("pc1")  # reached by the cases its company holds, not by its grids
    assert subscribe(company, Browser.new(), endpoint + "-pc")["grid_ids"] == ["company:PC-01"]


def test_bad_subscriptions_are_refused_naming_the_field(push_app: PushApp) -> None:
    gw1 = push_app.api.as_("gw1")
    good = Browser.new().subscription("https://updates.push.services.mozilla.com/wpush/v2/x")

    def refused(doc: dict[str, Any]) -> list[str]:
        res = gw1.post("/api/push/subscriptions", json=doc)
        assert res.status_code == 422, res.text
        return [e["where"] for e in res.json()["errors"]]

    keys = good["keys"]
    assert refused({**good, "keys": {**keys, "p256dh": b64url(os.urandom(64))}}) == ["keys.p256dh"]
    assert refused({**good, "keys": {**keys, "p256dh": "not base64!"}}) == ["keys.p256dh"]
    assert refused({**good, "keys": {**keys, "auth": b64url(os.urandom(15))}}) == ["keys.auth"]
    assert refused({**good, "keys": {"p256dh": keys["p256dh"]}}) == ["keys.auth"]
    assert refused({**good, "endpoint": "not a url"}) == ["endpoint"]
    assert refused({**good, "endpoint": "http://push.example.com/x"}) == ["endpoint"]  # not https
    assert refused({**good, "endpoint": "https://10.0.0.5/x"}) == ["endpoint"]  # an address, not a push service
    assert gw1.get("/api/push/subscriptions").json() == []


def test_who_may_subscribe(push_app: PushApp, users: UserStore) -> None:
    from api.access import Role

    users.create("detector-1", Role.WORKER)
    res = push_app.api.anonymous().get("/api/push/key", headers=push_app.api.token("detector-1"))
    assert res.status_code == 403, res.text
    assert push_app.api.anonymous().get("/api/push/key").status_code == 401


def test_without_a_notification_store_the_routes_answer_503(api: Api) -> None:
    viewer = api.as_("viewer")
    assert viewer.get("/api/push/key").status_code == 503
    res = viewer.post("/api/push/subscriptions", json=Browser.new().subscription("https://push.example.com/x"))
    assert res.status_code == 503, res.text


def test_the_vapid_key_is_made_once_private_and_kept_across_restarts(
    push_app: PushApp, engine: Engine, site: SiteStore, clock: FakeClock, events: EventsService
) -> None:
    key_file = push_app.data_dir / KEY_FILE
    assert not key_file.exists()
    first = push_app.api.as_("gw1").get("/api/push/key").json()["public_key"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    point = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))
    assert (len(point), point[0]) == (65, 4)  # an uncompressed P-256 point, as applicationServerKey wants
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)

    restarted = make_app(engine, site, clock, events, push_app.store, push_app.data_dir)
    try:
        assert restarted.as_("gw2").get("/api/push/key").json()["public_key"] == first
    finally:
        for client in restarted.clients:
            client.__exit__(None, None, None)
    assert load_vapid(push_app.data_dir).public_key == first


def test_the_vapid_subject() -> None:
    assert vapid_subject("https://gw.example.cn/") == "https://gw.example.cn"
    assert vapid_subject("http://127.0.0.1:8000/") == "mailto:gridwatch@127.0.0.1"
    assert vapid_subject("https://gw.example.cn/", "ops@example.cn") == "mailto:ops@example.cn"


# ---------------------------------------------------------------------------- d: who receives what


def test_a_grid_worker_is_pushed_their_grid_only_and_an_operator_their_community(
    push_app: PushApp, push_service: PushService
) -> None:
    phones = {name: Browser.new() for name in ("gw1", "gw2", "operator")}
    for name, browser in phones.items():
        subscribe(push_app.api.as_(name), browser, f"{push_service.url}/push/{name}")
    push_app.store.put_channels([CHANNEL])

    push_app.observe("ep-d1", "CAM-01")  # G-01
    wait_for(lambda: push_app.settled(2), what=lambda: push_app.deliveries())
    push_app.observe("ep-d2", "CAM-02")  # G-02
    wait_for(lambda: push_app.settled(4), what=lambda: push_app.deliveries())

    assert all(d.state == SENT for d in push_app.deliveries())

    def grids(name: str) -> list[str]:
        got = [phones[name].decrypt(p.body)["body"] for p in push_service.to(f"/push/{name}")]
        return sorted(g for body in got for g in ("G-01", "G-02", "G-03") if f"网格 {g}" in body)

    assert grids("gw1") == ["G-01"]
    assert grids("gw2") == ["G-02"]
    assert grids("operator") == ["G-01", "G-02"]
    assert len(push_service.received) == 4


def test_a_rule_for_some_roles_pushes_only_those(push_app: PushApp, push_service: PushService) -> None:
    for name in ("gw1", "operator"):
        subscribe(push_app.api.as_(name), Browser.new(), f"{push_service.url}/push/{name}")
    push_app.store.put_channels(
        [ChannelSpec.model_validate({"id": CHANNEL.id, "kind": "webpush", "rules": [{"roles": ["operator"]}]})]
    )

    push_app.observe("ep-r", "CAM-01")

    wait_for(lambda: push_app.settled(1), what=lambda: push_app.deliveries())
    assert [p.path for p in push_service.received] == ["/push/operator"]


# ---------------------------------------------------------------------------- e: the service worker in Chromium


@dataclass
class Console:
    url: str
    passwords: dict[str, str]


SW_CHECK = """async () => {
  const bounded = (p, what) => Promise.race([
    p, new Promise((_, reject) => setTimeout(() => reject(new Error(what + ' took over 10 s')), 10000)),
  ]);
  const reg = await bounded(navigator.serviceWorker.register('/sw.js'), 'register');
  const ready = await bounded(navigator.serviceWorker.ready, 'ready');
  const push = await bounded(import('/static/js/push.js'), 'import');
  return {
    scope: ready.scope, same: reg.scope === ready.scope, script: ready.active && ready.active.scriptURL,
    supported: push.pushSupported(), exports: Object.keys(push).sort(),
  };
}"""


def test_the_console_registers_the_service_worker_for_the_whole_console(page: Page, push_app: PushApp) -> None:
    with serve_app(push_app.api.app) as url:
        res = httpx.get(url + "/sw.js", timeout=10)
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("application/javascript")
        assert res.headers["cache-control"] == "no-cache"
        login(page, Console(url, {"gw1": PASSWORD}), "gw1")
        got = page.evaluate(SW_CHECK)
        page.goto("about:blank")  # the console's event stream ends before the server stops
    assert got["scope"] == url + "/"
    assert got["same"] is True
    assert got["script"] == url + "/sw.js"
    assert got["supported"] is True
    assert {"pushSupported", "subscribe", "subscribed", "unsubscribe"} <= set(got["exports"])
