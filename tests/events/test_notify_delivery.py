"""Notification deliveries end to end: the events service writes alerts and cases, the relay queues
deliveries, the dispatcher sends them with the real HTTP senders to local receivers (real sockets,
the spec's signatures), on both databases. The clock is fake: retry waits are moved past, never slept."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api.notify.http import HttpSender
from api.notify.render import Context
from camera_config.secrets import CredentialCipher
from core.clock import FakeClock
from core.errors import InvalidInput
from detectors.types import HazardType, Severity
from events.notify.config import Channel, ChannelKind, parse_channel
from events.notify.dispatcher import Dispatcher, Sender
from events.notify.fatigue import SuspendKind
from events.notify.orm import DeliveryRow
from events.notify.signing import verify, webhook_secret
from events.notify.store import Notifications
from events.orm import OutboxRow
from events.policy import parse_policy
from events.service import EventsService
from events.types import SYSTEM, AlertStatus
from tests.events.conftest import MakeService
from tests.support.factories import observation
from tests.support.receiver import receiver
from tests.support.wait import wait_for

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CONTEXT = Context("http://gw.example/", lambda camera_id: {"C1": "East gate"}.get(camera_id or ""))


class Rig:
    """The service, its notification store and a running dispatcher over the test's database."""

    def __init__(
        self, service: EventsService, sessions: sessionmaker[Session], cipher: CredentialCipher, clock: FakeClock
    ):
        self.service, self.sessions, self.cipher, self.clock = service, sessions, cipher, clock
        self.store = self._store()
        self.dispatcher: Dispatcher | None = None

    def _store(self) -> Notifications:
        store = Notifications(self.sessions, self.cipher, self.clock, self.service.fatigue, allow_hosts=("127.0.0.1",))
        self.service.outbox.sinks[:] = [store]
        return store

    def channel(self, url: str, kind: str = "webhook", **spec: Any) -> Channel:
        doc = {"id": spec.pop("id", "hook"), "kind": kind, "url": url, "retry_s": [0, 0, 0], **spec}
        if kind == "webhook":
            doc.setdefault("secret", SECRET)
        return self.store.put_channels([parse_channel(doc, allow_hosts=("127.0.0.1",))])[0]

    def start(self) -> None:
        def http(channel: Channel) -> Sender:
            return HttpSender(channel, CONTEXT, clock=lambda: self.clock.now().timestamp())

        kinds = {ChannelKind.WEBHOOK: http, ChannelKind.WECOM: http, ChannelKind.DINGTALK: http}
        self.dispatcher = Dispatcher(self.store, kinds, idle_s=0.05)
        self.dispatcher.start()

    def restart(self) -> None:
        """A new process: a fresh store and dispatcher over the same database."""
        self.stop()
        self.store = self._store()
        self.start()

    def stop(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.close()
            self.dispatcher = None

    def rows(self) -> list[DeliveryRow]:
        with self.sessions() as s:
            return list(s.query(DeliveryRow).order_by(DeliveryRow.id))

    def settle(self, done: Callable[[list[DeliveryRow]], bool], timeout_s: float = 10.0) -> list[DeliveryRow]:
        deadline = time.monotonic() + timeout_s
        while True:
            rows = self.rows()
            if done(rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(f"deliveries did not settle: {[(r.id, r.state, r.attempts) for r in rows]}")
            time.sleep(0.02)


@pytest.fixture
def rig(
    make_service: MakeService, sessions: sessionmaker[Session], cipher: CredentialCipher, clock: FakeClock
) -> Iterator[Rig]:
    r = Rig(make_service(), sessions, cipher, clock)
    yield r
    r.stop()


def _all(state: str) -> Callable[[list[DeliveryRow]], bool]:
    return lambda rows: bool(rows) and all(r.state == state for r in rows)


@pytest.mark.parametrize("statuses", [[500, 200], [500, 500, 200]])
def test_a_failing_webhook_gets_the_same_signed_message_again_until_it_answers_2xx_and_no_more(
    rig: Rig, statuses: list[int]
) -> None:
    with receiver(statuses) as got:
        rig.channel(got.url, rules=[{"topics": ["alert.opened"]}])
        rig.start()
        rig.service.apply_observation(observation("ep-1"))
        [row] = rig.settle(_all("sent"))
        assert (row.topic, row.attempts, row.last_status) == ("alert.opened", len(statuses), 200)
        requests = got.wait_for(len(statuses))
        assert len(got.requests) == len(statuses)  # settled: nothing more comes for a sent delivery
    key = webhook_secret(SECRET)
    for req in requests:
        verify(key, req.headers, req.body, int(rig.clock.now().timestamp()))
    assert {req.headers["webhook-id"] for req in requests} == {f"msg_{row.outbox_id}"}
    assert len({req.body for req in requests}) == 1
    first = requests[0].json()
    assert first["type"] == "alert.opened"
    assert first["data"]["camera_id"] == "C1"
    assert first["data"]["camera_name"] == "East gate"
    assert first["data"]["link"].startswith("http://gw.example/")
    # The spec's receiver refuses a tampered body and an old timestamp.
    req = requests[0]
    with pytest.raises(InvalidInput):
        verify(key, req.headers, req.body.replace(b"C1", b"C2"), int(rig.clock.now().timestamp()))
    with pytest.raises(InvalidInput):
        verify(key, req.headers, req.body, int(rig.clock.now().timestamp()) + 301)


def test_410_disables_the_endpoint_until_an_admin_enables_it(rig: Rig) -> None:
    with receiver([410]) as got:
        rig.channel(got.url, rules=[{"topics": ["alert.opened"]}])
        rig.start()
        rig.service.apply_observation(observation("ep-1"))
        rig.settle(_all("dead"))
        channel = wait_for(lambda: next((c for c in [rig.store.channel("hook")] if not c.active), None), timeout_s=5)
        assert "410" in (channel.disabled_reason or "")
        rig.service.apply_observation(observation("ep-2", camera_id="C2"))
        assert len(rig.rows()) == 1
        assert len(got.requests) == 1
        got.statuses[:] = [200]
        assert rig.store.set_enabled("hook", True).active
        rig.service.apply_observation(observation("ep-3", camera_id="C2", hazard=HazardType.CROWD))
        rows = rig.settle(lambda rows: len(rows) == 2 and rows[1].state == "sent")
        assert rows[0].state == "dead"
        assert len(got.requests) == 2


def test_retry_state_survives_a_restart(rig: Rig) -> None:
    with receiver([503, 200]) as got:
        rig.channel(got.url, retry_s=[3600], rules=[{"topics": ["alert.opened"]}])
        rig.start()
        rig.service.apply_observation(observation("ep-1"))
        [row] = rig.settle(lambda rows: bool(rows) and rows[0].attempts == 1)
        assert row.state == "pending"
        assert row.last_status == 503
        assert row.next_attempt_at is not None
        assert 3240 <= (row.next_attempt_at - rig.clock.now()).total_seconds() <= 3960
        rig.restart()
        time.sleep(0.2)
        assert len(got.requests) == 1  # not due yet
        rig.clock.advance(4000)
        rig.store.committed()  # wake the new dispatcher (the clock moved, not the database)
        [row] = rig.settle(_all("sent"))
        assert row.attempts == 2
        assert len(got.requests) == 2
        assert got.requests[0].headers["webhook-id"] == got.requests[1].headers["webhook-id"]


def test_retries_run_out_into_a_dead_letter_that_an_admin_retries(rig: Rig) -> None:
    with receiver([500]) as got:
        rig.channel(got.url, retry_s=[0], rules=[{"topics": ["alert.opened"]}])
        rig.start()
        rig.service.apply_observation(observation("ep-1"))
        [row] = rig.settle(_all("dead"))
        assert row.attempts == 2
        assert row.last_status == 500
        assert "HTTP 500" in (row.last_error or "")
        assert [d.id for d in rig.store.log(state="dead")] == [row.id]
        got.statuses[:] = [200]
        assert rig.store.retry([row.id]) == 1
        [row] = rig.settle(_all("sent"))
        assert len(got.requests) == 3


def test_an_unreachable_endpoint_is_a_failed_attempt_not_a_crash(rig: Rig) -> None:
    with receiver() as got:
        url = got.url
    rig.channel(url, retry_s=[3600], rules=[{"topics": ["alert.opened"]}])
    rig.start()
    rig.service.apply_observation(observation("ep-1"))
    [row] = rig.settle(lambda rows: bool(rows) and rows[0].attempts == 1)
    assert row.state == "pending"
    assert "ConnectionRefusedError" in (row.last_error or "")


def test_a_closed_dispatcher_leaves_no_thread_behind(rig: Rig) -> None:
    """close() ends the channel follower and the channels' workers before it returns: none of them may read
    the database after its owner has closed it (a pool connection opened then is never closed)."""
    rig.channel("http://127.0.0.1:9/hook")
    before = set(threading.enumerate())
    dispatcher = Dispatcher(rig.store, {ChannelKind.WEBHOOK: lambda c: HttpSender(c, CONTEXT)}, idle_s=1.0)
    dispatcher.start()
    started = set(threading.enumerate()) - before
    assert {t.name for t in started} >= {"notify-channels", "notify-hook"}
    dispatcher.close()
    assert [t.name for t in started if t.is_alive()] == []


def test_a_message_relayed_twice_is_queued_once(make_service: MakeService, rig: Rig) -> None:
    rig.service = make_service(publish="off")
    rig.store = rig._store()
    rig.channel("http://127.0.0.1:9/hook")
    rig.service.apply_observation(observation("ep-1"))
    assert rig.service.relay() == 2
    with rig.sessions() as s, s.begin():
        s.execute(update(OutboxRow).values(published_at=None))  # as if the mark was lost in a crash
    assert rig.service.relay() == 2
    assert sorted(r.topic for r in rig.rows()) == ["alert.opened", "case.created"]


def test_robots_get_their_vendors_markdown_and_dingtalk_signs_its_url(rig: Rig) -> None:
    with (
        receiver([200], answer=b'{"errcode":0,"errmsg":"ok"}') as wecom,
        receiver([200], answer=b'{"errcode":0,"errmsg":"ok"}') as ding,
    ):
        rig.channel(wecom.url + "?key=k1", kind="wecom", id="wecom", rules=[{"topics": ["case.created"]}])
        rig.channel(
            ding.url + "?access_token=t1",
            kind="dingtalk",
            id="ding",
            secret="SECtest",
            rules=[{"topics": ["case.created"]}],
        )
        rig.start()
        rig.service.apply_observation(observation("ep-1"))
        [w] = wecom.wait_for(1)
        [d] = ding.wait_for(1)
    card = w.json()
    assert set(card) == {"msgtype", "markdown"}
    assert card["msgtype"] == "markdown"
    assert set(card["markdown"]) == {"content"}
    content = card["markdown"]["content"]
    assert "人员倒地" in content
    assert "East gate" in content
    assert "期限" in content
    assert "#/case/" in content
    doc = d.json()
    assert doc["msgtype"] == "markdown"
    assert set(doc["markdown"]) == {"title", "text"}
    assert doc["markdown"]["title"].startswith("新案件")
    query = parse_qs(urlsplit(d.path).query)
    assert query["access_token"] == ["t1"]
    ts = query["timestamp"][0]
    assert abs(int(ts) - rig.clock.now().timestamp() * 1000) < 1000
    expected = base64.b64encode(hmac.new(b"SECtest", f"{ts}\nSECtest".encode(), hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected]


def test_a_robot_error_code_is_a_failure_with_its_reason(rig: Rig) -> None:
    with receiver([200], answer=b'{"errcode":310000,"errmsg":"keywords not in content"}') as got:
        rig.channel(got.url, kind="wecom", id="wecom", retry_s=[3600], rules=[{"topics": ["alert.opened"]}])
        rig.start()
        rig.service.apply_observation(observation("ep-1"))
        [row] = rig.settle(lambda rows: bool(rows) and rows[0].attempts == 1)
    assert row.state == "pending"
    assert row.last_error == "errcode 310000: keywords not in content"


def test_a_suspended_camera_is_counted_not_sent_and_its_escalation_goes_out(rig: Rig) -> None:
    with receiver([200]) as got:
        rig.channel(got.url)
        rig.start()
        until = rig.clock.now() + timedelta(hours=2)
        rig.store.suspend(SuspendKind.CAMERA, "C1", until, "roadworks at the gate", "op1")
        result = rig.service.apply_observation(observation("ep-1"))
        assert result.alert.held_back == "suspend:camera"
        assert result.case is None
        assert rig.service.relay() == 0
        assert rig.rows() == []
        assert rig.store.held_counts()["suspend:camera"] == 1
        rig.service.escalate_alert(result.alert.id, SYSTEM, "a resident called")
        rows = rig.settle(lambda rows: len(rows) >= 2 and all(r.state == "sent" for r in rows))
        assert {r.topic for r in rows} >= {"alert.escalated", "case.escalated"}
        # C2 is not suspended: its alert goes out as usual.
        other = rig.service.apply_observation(observation("ep-2", camera_id="C2"))
        assert other.alert.held_back is None
        assert other.case is not None


def test_the_cap_holds_back_past_its_count_but_not_critical_alerts(rig: Rig) -> None:
    with receiver([200]) as got:
        rig.channel(got.url, rules=[{"topics": ["alert.opened"]}], cap={"count": 1, "per_minutes": 60})
        rig.start()
        rig.service.apply_observation(observation("ep-1"))
        rig.service.apply_observation(observation("ep-2", camera_id="C2"))
        rig.service.apply_observation(
            observation("ep-3", camera_id="C2", hazard=HazardType.CROWD, severity=Severity.CRITICAL)
        )
        rows = rig.settle(lambda rows: len(rows) == 3 and rows[0].state == rows[2].state == "sent")
        assert [(r.state, r.held_reason) for r in rows] == [("sent", None), ("held", "cap"), ("sent", None)]
        assert rig.store.held_counts()["cap"] == 1
        rig.clock.advance(3601)
        rig.service.apply_observation(observation("ep-4", camera_id="C2", hazard=HazardType.CROWD))
        rows = rig.settle(lambda rows: len(rows) == 4 and rows[3].state == "sent")


def test_cooldown_holds_back_the_next_alert_of_a_camera_and_hazard(make_service: MakeService, rig: Rig) -> None:
    rig.service = make_service(policy=parse_policy({"notify": {"cooldown_s": 600}}))
    rig.store = rig._store()
    first = rig.service.apply_observation(observation("ep-1"))
    rig.clock.advance(60)
    second = rig.service.apply_observation(observation("ep-2"))
    rig.clock.advance(600)
    third = rig.service.apply_observation(observation("ep-3"))
    assert (first.alert.held_back, second.alert.held_back, third.alert.held_back) == (None, "cooldown", None)
    assert second.case is None
    assert second.alert.status is AlertStatus.NEW
    assert rig.store.held_counts() == {"cooldown": 1, "suspend:camera": 0, "suspend:grid": 0, "cap": 0}


def test_robot_urls_go_only_to_their_vendor_over_https() -> None:
    cases = [
        ({"kind": "wecom", "url": "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}, "must be https"),
        ({"kind": "wecom", "url": "https://example.com/cgi-bin/webhook/send?key=k"}, "must be on qyapi.weixin.qq.com"),
        ({"kind": "dingtalk", "url": "https://127.0.0.1:9/robot/send"}, "must be on oapi.dingtalk.com"),
        ({"kind": "webhook", "url": "ftp://x/"}, "http:// or https://"),
        ({"kind": "mqtt", "url": "tcp://127.0.0.1:1883"}, "mqtt://host"),
        ({"kind": "webpush", "url": "https://x/"}, "no URL"),
    ]
    for doc, message in cases:
        with pytest.raises(InvalidInput) as err:
            parse_channel({"id": "c", **doc}, "notifications[0]")
        [issue] = err.value.issues
        assert (issue.where, message in issue.message) == ("notifications[0].url", True), (doc, issue)
    ok = parse_channel({"id": "c", "kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"})
    assert ok.kind is ChannelKind.WECOM
    local = parse_channel({"id": "c", "kind": "dingtalk", "url": "http://127.0.0.1:9/"}, allow_hosts=("127.0.0.1",))
    assert local.url == "http://127.0.0.1:9/"


def test_a_malformed_channel_names_every_field_at_fault() -> None:
    doc = {
        "id": "bad id!",
        "kind": "webhook",
        "url": "https://hooks.example/x",
        "secret": "not base64 !!",
        "rules": [{"topics": ["alerts.*"], "hazards": ["fire"], "min_severity": "huge", "roles": ["boss"]}],
        "cap": {"count": 0},
        "colour": "red",
    }
    with pytest.raises(InvalidInput) as err:
        parse_channel(doc, "notifications[3]", roles=("admin", "operator", "grid_worker"))
    where = {i.where for i in err.value.issues}
    assert where >= {
        "notifications[3].id",
        "notifications[3].secret",
        "notifications[3].rules[0].topics",
        "notifications[3].rules[0].hazards[0]",
        "notifications[3].rules[0].min_severity",
        "notifications[3].rules[0].roles",
        "notifications[3].cap.count",
        "notifications[3].colour",
    }, err.value.issues
