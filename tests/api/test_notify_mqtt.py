"""The MQTT channel against the machine's Mosquitto (127.0.0.1:1883): what subscribers receive, what
stays retained (availability, camera states, Home Assistant discovery), and a broker that is away.

Every test has its own topic prefix and clears what it left retained. Nothing waits on a fixed sleep:
a subscriber knows it has every retained message once a marker it published to itself comes back
(the broker sends a connection's messages in order, retained ones right after the SUBACK).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from api.notify.mqtt import HEARTBEAT_S, MqttBridge, MqttSender, camera_states, message
from api.notify.render import Context
from api.notify.senders import sender_factories
from detectors.types import CameraFigures, EpisodeState, HazardType, Severity
from events.messages import AlertClosed, AlertOpened, CaseChanged, CaseCreated, DiskLow, encode
from events.notify.config import Channel, ChannelKind, ChannelSpec
from events.notify.store import Job
from events.types import Alert, AlertStatus, Case, CaseAction, CaseSource, CaseState, Level, TriageClass
from ingest.demo_server import free_port
from ingest.types import CameraHealth, CameraStats, HealthState
from tests.support.paths import REPO

HOST, PORT = "127.0.0.1", 1883
WAIT_S = 10.0
T0 = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
NAMES = {"cam-1": "North gate", "cam-2": "Block 7 stairs"}


def camera_name(camera_id: str | None) -> str | None:
    return NAMES.get(camera_id) if camera_id else None


CTX = Context("http://gridwatch.test/", camera_name)


@pytest.fixture(scope="module", autouse=True)
def broker() -> None:
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError as exc:
        pytest.fail(
            f"no MQTT broker at {HOST}:{PORT} ({exc}): these tests need Mosquitto "
            "(`mosquitto -d -c /etc/mosquitto/mosquitto.conf`, or `make services` to check)"
        )


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """A real paho client subscribed to ``filters``; every wait is bounded."""

    def __init__(self, *filters: str) -> None:
        self.messages: list[Received] = []
        self._marker = f"gw-test-marker/{uuid.uuid4().hex}"
        self._cond = threading.Condition()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gw-test-{uuid.uuid4().hex[:12]}")
        self._client.on_message = self._on_message
        self._client.connect(HOST, PORT, keepalive=30)
        self._client.loop_start()
        self._client.subscribe([(f, 1) for f in (*filters, self._marker)])
        self.sync()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def sync(self) -> None:
        """Returns once everything the broker sent before now (retained messages included) is here."""
        token = uuid.uuid4().hex.encode()
        self._client.publish(self._marker, token, qos=1)
        self.wait(lambda ms: any(m.topic == self._marker and m.payload == token for m in ms), "the marker")

    def wait(self, done: Callable[[list[Received]], bool], what: str, timeout_s: float = WAIT_S) -> list[Received]:
        with self._cond:
            if not self._cond.wait_for(lambda: done(self.messages), timeout_s):
                seen = [(m.topic, m.payload[:80]) for m in self.messages if m.topic != self._marker]
                raise AssertionError(f"not received within {timeout_s:g} s: {what}; got {seen}")
            return list(self.messages)

    def on(self, topic: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def retained(self) -> dict[str, bytes]:
        with self._cond:
            return {m.topic: m.payload for m in self.messages if m.retain and m.topic != self._marker}

    def publish(self, topic: str, payload: bytes, *, retain: bool) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT_S)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def retained_now(*filters: str) -> dict[str, bytes]:
    """What a client connecting now is given (retained topics matching ``filters``)."""
    sub = Subscriber(*filters)
    try:
        return sub.retained()
    finally:
        sub.close()


@pytest.fixture
def prefix() -> Iterator[str]:
    """A topic prefix of the test's own; whatever it left retained is cleared afterwards."""
    value = f"gw-test-{uuid.uuid4().hex[:12]}"
    yield value
    sub = Subscriber(f"{value}/#", "homeassistant/device/+/config")
    try:
        for topic in sub.retained():
            if topic.startswith(f"{value}/") or topic.startswith(f"homeassistant/device/{value}_"):
                sub.publish(topic, b"", retain=True)
    finally:
        sub.close()


def channel(prefix: str, url: str = f"mqtt://{HOST}:{PORT}", **spec: Any) -> Channel:
    return Channel.of(ChannelSpec(id="broker", kind=ChannelKind.MQTT, url=url, topic_prefix=prefix, **spec), None)


def wait_connected(sender: MqttSender) -> None:
    deadline = time.monotonic() + WAIT_S
    while not sender.connected:
        assert time.monotonic() < deadline, f"the sender did not connect to {sender.broker} within {WAIT_S:g} s"
        time.sleep(0.02)


# ---------------------------------------------------------------------------- real bus messages


def alert(**changes: Any) -> Alert:
    fields: dict[str, Any] = {
        "id": 41,
        "episode_id": "ep-41",
        "camera_id": "cam-1",
        "zone_id": "gate",
        "hazard": HazardType.FALLEN_PERSON,
        "severity": Severity.HIGH,
        "episode_state": EpisodeState.OPENED,
        "status": AlertStatus.NEW,
        "seq": 1,
        "grid_id": "G-01",
        "community_id": "CM-01",
        "street_id": "ST-01",
        "started_at": T0,
        "last_seen_at": T0,
        "received_at": T0,
        "summary": "a person on the ground",
        "measurements": {"confidence": 0.91},
    }
    return Alert(**(fields | changes))


def case(**changes: Any) -> Case:
    fields: dict[str, Any] = {
        "id": 7,
        "source": CaseSource.CAMERA,
        "state": CaseState.REPORTED,
        "title": "Person down at the north gate",
        "triage": TriageClass.PUBLIC,
        "severity": Severity.HIGH,
        "level": Level.GRID,
        "grid_id": "G-01",
        "community_id": "CM-01",
        "street_id": "ST-01",
        "created_at": T0,
        "updated_at": T0,
        "due_at": T0 + timedelta(hours=2),
        "deadline_at": T0 + timedelta(hours=2),
        "hazard": HazardType.FALLEN_PERSON,
        "camera_id": "cam-1",
        "alert_count": 1,
    }
    return Case(**(fields | changes))


def job(outbox_id: int, message: Any) -> Job:
    return Job(
        id=outbox_id,
        channel_id="broker",
        outbox_id=outbox_id,
        target="",
        topic=message.topic.value,
        payload=encode(message),
        message_at=T0 + timedelta(seconds=outbox_id),
        attempts=0,
    )


def test_subscribers_receive_alerts_cases_and_system_messages_as_documented(prefix: str) -> None:
    opened = AlertOpened.of(alert())
    closed = AlertClosed.of(alert(episode_state=EpisodeState.CLOSED, closed_at=T0 + timedelta(minutes=3)))
    created = CaseCreated.of(case())
    dispatched = CaseChanged(case(state=CaseState.DISPATCHED, assignee_id="p-1"), CaseAction.DISPATCH)
    disk = DiskLow(T0, 10, 100, 1000, None, 3, 300, 2, False)
    jobs = [job(1, opened), job(2, closed), job(3, created), job(4, dispatched), job(5, disk)]

    sub = Subscriber(f"{prefix}/alerts", f"{prefix}/cases", f"{prefix}/system")
    sender = MqttSender(channel(prefix), CTX)
    try:
        outcomes = sender.send(jobs)
        assert [o.ok for o in outcomes] == [True] * 5, outcomes
        sub.wait(lambda ms: len([m for m in ms if m.topic.startswith(prefix)]) == 5, "five messages")
    finally:
        sender.close()
        sub.close()

    alerts = {m.json()["id"]: m.json() for m in sub.on(f"{prefix}/alerts")}
    assert alerts["msg_1"] == {
        "id": "msg_1",
        "type": "new",
        "topic": "alert.opened",
        "timestamp": "2025-03-01T08:30:01+00:00",
        "alert": {**encode(opened), "camera_name": "North gate"},
    }
    assert alerts["msg_2"]["type"] == "end"
    assert alerts["msg_2"]["alert"]["closed_at"] == "2025-03-01T08:33:00+00:00"
    cases = {m.json()["id"]: m.json() for m in sub.on(f"{prefix}/cases")}
    assert cases["msg_3"] == {
        "id": "msg_3",
        "topic": "case.created",
        "timestamp": "2025-03-01T08:30:03+00:00",
        "case": encode(created),
    }
    assert cases["msg_4"]["topic"] == "case.dispatched"
    assert cases["msg_4"]["case"] == encode(dispatched)["case"]
    assert cases["msg_4"]["case"]["assignee_id"] == "p-1"
    [system] = [m.json() for m in sub.on(f"{prefix}/system")]
    assert system["topic"] == "system.disk_low"
    assert system["data"]["files_removed"] == 3
    assert not any(m.retain for m in sub.messages if m.topic.startswith(prefix)), "news is never retained"
    # A clean close says offline itself (a DISCONNECT does not fire the will).
    assert retained_now(f"{prefix}/available") == {f"{prefix}/available": b"offline"}


def test_the_alert_types_follow_frigates(prefix: str) -> None:
    def kind(topic: str) -> str:
        j = Job(1, "broker", 1, "", topic, encode(AlertOpened.of(alert())), T0, 0)
        topic_out, payload = message(j, CTX, prefix)
        assert topic_out == f"{prefix}/alerts"
        return str(json.loads(payload)["type"])

    assert [kind(t) for t in ("alert.opened", "alert.updated", "alert.clip", "alert.closed", "alert.dismissed")] == [
        "new",
        "update",
        "update",
        "end",
        "status",
    ]


# ---------------------------------------------------------------------------- availability and the will

CHILD = """
import sys, time
from api.notify.mqtt import MqttSender
from api.notify.render import Context
from events.notify.config import Channel, ChannelKind, ChannelSpec
spec = ChannelSpec(id="child", kind=ChannelKind.MQTT, url=sys.argv[1], topic_prefix=sys.argv[2])
MqttSender(Channel.of(spec, None), Context("http://gridwatch.test/", lambda _id: None))
time.sleep(300)
"""


def test_availability_turns_offline_when_the_process_is_killed(prefix: str) -> None:
    available = f"{prefix}/available"
    sub = Subscriber(available)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, f"mqtt://{HOST}:{PORT}", prefix], env=env, stdout=subprocess.DEVNULL
    )
    try:
        sub.wait(lambda ms: any(m.topic == available and m.payload == b"online" for m in ms), "online")
        assert retained_now(available) == {available: b"online"}
        os.kill(child.pid, signal.SIGKILL)
        child.wait(WAIT_S)
        # The socket closed without a DISCONNECT: the broker publishes the will (retained) at once.
        sub.wait(lambda ms: any(m.topic == available and m.payload == b"offline" for m in ms), "the will, offline")
        assert retained_now(available) == {available: b"offline"}
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(WAIT_S)
        sub.close()


def test_a_changed_channels_new_sender_stays_online_when_the_old_one_closes(prefix: str) -> None:
    available = f"{prefix}/available"
    old = MqttSender(channel(prefix), CTX)
    new = None
    try:
        wait_connected(old)
        new = MqttSender(channel(prefix, name="renamed"), CTX)  # the dispatcher starts it first
        wait_connected(new)
        old.close()
        assert retained_now(available) == {available: b"online"}
    finally:
        old.close()
        if new is not None:
            new.close()
    assert retained_now(available) == {available: b"offline"}


# ---------------------------------------------------------------------------- camera states and discovery


def state(status: str, people: int, **more: Any) -> dict[str, Any]:
    return {"state": status, "people": people, "analysed_fps": 4.0, "last_frame_at": T0.isoformat(), **more}


def test_camera_states_and_discovery_are_retained_and_removed_with_the_camera(prefix: str) -> None:
    status = {c: f"{prefix}/{c}/status" for c in NAMES}
    config = {c: f"homeassistant/device/{prefix}_{c}/config" for c in NAMES}
    sender = MqttSender(channel(prefix), CTX)
    try:
        wait_connected(sender)
        sender.update_cameras({"cam-1": state("online", 2), "cam-2": state("offline", 0, open_alerts=1)})
        watch = Subscriber(*status.values(), *config.values())
        watch.wait(lambda ms: {m.topic for m in ms} >= {*status.values(), *config.values()}, "states and configs")

        # A client connecting afterwards (Home Assistant starting) is given all of it.
        kept = retained_now(f"{prefix}/#", "homeassistant/device/+/config")
        assert json.loads(kept[status["cam-1"]]) == state("online", 2)
        assert json.loads(kept[status["cam-2"]]) == state("offline", 0, open_alerts=1)
        doc = json.loads(kept[config["cam-1"]])
        assert doc["dev"] == {"ids": [f"{prefix}_cam-1"], "name": "North gate", "mf": "gridwatch", "mdl": "camera"}
        assert doc["o"] == {"name": "gridwatch"}
        assert doc["availability_topic"] == f"{prefix}/available"
        assert doc["state_topic"] == status["cam-1"]
        assert doc["cmps"]["connectivity"] == {
            "p": "binary_sensor",
            "name": "Connectivity",
            "device_class": "connectivity",
            "value_template": "{{ value_json.state }}",
            "payload_on": "online",
            "payload_off": "offline",
            "unique_id": f"{prefix}_cam-1_connectivity",
        }
        assert doc["cmps"]["people"]["p"] == "sensor"
        assert doc["cmps"]["people"]["unit_of_measurement"] == "people"
        assert doc["cmps"]["people"]["state_class"] == "measurement"
        assert doc["cmps"]["people"]["value_template"] == "{{ value_json.people }}"
        assert kept[f"{prefix}/available"] == b"online"

        # cam-2 is dropped and cam-1 sees more people: cam-2's config and status are cleared.
        sender.update_cameras({"cam-1": state("online", 5)})
        watch.wait(
            lambda ms: (
                {(m.topic, m.payload) for m in ms} >= {(config["cam-2"], b""), (status["cam-2"], b"")}
                and any(m.topic == status["cam-1"] and m.json()["people"] == 5 for m in ms if m.payload)
            ),
            "cam-2 cleared, cam-1 at 5 people",
        )
        watch.close()
        kept = retained_now(f"{prefix}/#", "homeassistant/device/+/config")
        assert config["cam-2"] not in kept
        assert status["cam-2"] not in kept
        assert json.loads(kept[status["cam-1"]])["people"] == 5
        assert config["cam-1"] in kept
    finally:
        sender.close()


def test_no_discovery_when_the_channel_says_so(prefix: str) -> None:
    sender = MqttSender(channel(prefix, discovery=False), CTX)
    try:
        wait_connected(sender)
        sender.update_cameras({"cam-1": state("online", 1)})
        sub = Subscriber(f"{prefix}/cam-1/status")
        sub.wait(lambda ms: any(m.topic == f"{prefix}/cam-1/status" for m in ms), "cam-1's status")
        sub.close()
        assert f"homeassistant/device/{prefix}_cam-1/config" not in retained_now("homeassistant/device/+/config")
    finally:
        sender.close()


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_bridge_publishes_changes_heartbeats_and_everything_on_reconnect() -> None:
    sent: list[tuple[str, bytes]] = []
    clock = FakeTime()
    bridge = MqttBridge(lambda t, p: sent.append((t, p)), "gw", camera_name=camera_name, clock=clock)
    bridge.update_cameras({"cam-1": state("online", 1)})
    assert sent == [], "nothing is published while disconnected"
    bridge.connected()
    assert [t for t, _ in sent] == ["homeassistant/device/gw_cam-1/config", "gw/cam-1/status"]

    sent.clear()
    bridge.update_cameras({"cam-1": state("online", 1, analysed_fps=3.5)})
    assert sent == [], "a rate alone waits for the heartbeat"
    clock.now = HEARTBEAT_S
    bridge.update_cameras({"cam-1": state("online", 1, analysed_fps=3.5)})
    assert [t for t, _ in sent] == ["gw/cam-1/status"]
    sent.clear()
    bridge.update_cameras({"cam-1": state("offline", 1, analysed_fps=3.5)})
    assert [json.loads(p)["state"] for _, p in sent] == ["offline"]

    sent.clear()
    bridge.disconnected()
    bridge.update_cameras({})
    assert sent == []
    bridge.connected()
    assert sent == [("gw/cam-1/status", b""), ("homeassistant/device/gw_cam-1/config", b"")]


def test_camera_states_come_from_the_pipelines_figures() -> None:
    health = CameraHealth("cam-1", HealthState.DEGRADED, T0)
    stats = CameraStats("cam-1", 12.0, 6.04, 0, 0.5, 8.0, 2.0)
    got = camera_states([CameraFigures("cam-1", health, stats, True, 10, 3)], NAMES, T0)
    assert got == {
        "cam-1": {"state": "online", "people": 3, "analysed_fps": 6.0, "last_frame_at": T0 - timedelta(seconds=2)},
        "cam-2": {"state": "offline", "people": 0, "analysed_fps": 0.0, "last_frame_at": None},
    }


# ---------------------------------------------------------------------------- a broker that is away


def test_an_unreachable_broker_fails_the_jobs_without_raising_or_hanging(prefix: str) -> None:
    port = free_port()
    sender = MqttSender(channel(prefix, url=f"mqtt://{HOST}:{port}"), CTX)
    try:
        started = time.monotonic()
        outcomes = sender.send([job(1, AlertOpened.of(alert())), job(2, CaseCreated.of(case()))])
        took = time.monotonic() - started
    finally:
        sender.close()
    assert [o.ok for o in outcomes] == [False, False]
    for o in outcomes:
        assert o.error is not None
        assert o.error.startswith(f"broker not connected: mqtt://{HOST}:{port}"), o.error
        assert not o.permanent, "the dispatcher retries it on the channel's schedule"
    assert took < 5.0


def test_the_api_makes_mqtt_senders(prefix: str) -> None:
    factories = sender_factories(CTX, None, None, camera_states=lambda: {"cam-1": state("online", 4)})  # type: ignore[arg-type]
    sender = factories[ChannelKind.MQTT](channel(prefix))
    assert isinstance(sender, MqttSender)
    try:
        sub = Subscriber(f"{prefix}/cam-1/status")
        sub.wait(lambda ms: any(m.topic == f"{prefix}/cam-1/status" for m in ms), "the polled state")
        sub.close()
        assert sub.on(f"{prefix}/cam-1/status")[-1].json()["people"] == 4
    finally:
        sender.close()
