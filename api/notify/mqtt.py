"""The MQTT channel: alerts, cases and system messages published to a broker, Frigate-style, with each
camera's state retained and Home Assistant device discovery.

Messages from the outbox go to ``{prefix}/alerts``, ``{prefix}/cases`` and ``{prefix}/system`` with QoS 1;
a delivery counts as sent only once the broker acknowledged it (PUBACK), so a broker that is down
loses nothing: the dispatcher retries on the channel's schedule. Receivers dedupe on ``id``, which is
the same on every attempt.

What is *state* rather than news (is the service up, how is each camera doing) is not in the outbox:
it is retained on the broker, so a subscriber that connects later still reads it. ``{prefix}/available``
is ``online`` while the connection lives and ``offline`` as soon as it dies (the broker publishes the
will when the socket closes without a DISCONNECT, so even a killed process is seen as offline).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from api.notify.render import Context
from detectors.types import CameraFigures
from events.notify.config import Channel
from events.notify.store import Job, Outcome
from ingest.types import HealthState

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5.0
"""Wait for the broker's PUBACK of a batch this long; later, the jobs count as failed and are retried."""
CONNECT_WAIT_S = 3.0
"""``send`` waits this long for a connection still being made (the first jobs come right after start)."""
KEEPALIVE_S = 30
DISCOVERY_PREFIX = "homeassistant"
HEARTBEAT_S = 60.0
"""A camera's status is republished on a change of state, people or open alerts; its rates and last
frame time, which change all the time, at most this often."""
CHANGES = ("state", "people", "open_alerts")

CameraStates = Callable[[], Mapping[str, Mapping[str, Any]]]
"""camera id → its state now (``state``, ``people``, ``analysed_fps``, ``last_frame_at``, ``open_alerts``)."""

ALERT_TYPES = {
    "alert.opened": "new",
    "alert.updated": "update",
    "alert.clip": "update",
    "alert.closed": "end",
}
"""Frigate's event types; every other alert topic (acknowledged, dismissed, …) is a ``status``."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

_live: Counter[tuple[str, str]] = Counter()
"""Senders of this process per (broker, prefix): the dispatcher starts a changed channel's new sender
before it closes the old one, and the old one must not then say ``offline`` over the new one's ``online``."""
_live_lock = threading.Lock()


def _json(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def message(job: Job, ctx: Context, prefix: str) -> tuple[str, bytes]:
    """(topic, payload) of one outbox message."""
    base = {"id": job.message_id, "topic": job.topic, "timestamp": job.message_at.isoformat()}
    if job.topic.startswith("alert."):
        alert = dict(job.payload)
        camera_id = alert.get("camera_id")
        alert["camera_name"] = ctx.camera_name(camera_id) if camera_id else None
        doc = {**base, "type": ALERT_TYPES.get(job.topic, "status"), "alert": alert}
        return f"{prefix}/alerts", _json(doc)
    if job.topic.startswith("case."):
        case = job.payload.get("case")
        return f"{prefix}/cases", _json({**base, "case": case if isinstance(case, Mapping) else dict(job.payload)})
    return f"{prefix}/system", _json({**base, "data": dict(job.payload)})


def camera_states(
    figures: Sequence[CameraFigures], cameras: Mapping[str, str], now: datetime
) -> dict[str, dict[str, Any]]:
    """Each camera's state from the pipeline's figures; ``cameras`` (id → name, the site's) are all the
    cameras, so one the pipeline does not pull is ``offline`` rather than gone from Home Assistant."""
    by_id = {f.camera_id: f for f in figures}
    out: dict[str, dict[str, Any]] = {}
    for camera_id in cameras.keys() | by_id.keys():
        f = by_id.get(camera_id)
        if f is None:
            out[camera_id] = {"state": "offline", "people": 0, "analysed_fps": 0.0, "last_frame_at": None}
            continue
        age = f.ingest.last_frame_age_s
        online = f.health.state in (HealthState.ONLINE, HealthState.DEGRADED)
        out[camera_id] = {
            "state": "online" if online else "offline",
            "people": f.people,
            "analysed_fps": round(f.ingest.analysed_fps, 1),
            "last_frame_at": None if age is None else datetime.fromtimestamp(now.timestamp() - age, now.tzinfo),
        }
    return out


class MqttBridge:
    """Retained per-camera status and Home Assistant discovery, published on change and on every
    (re)connect (a broker restarted without persistence has forgotten them).

    ``publish(topic, payload, retain)`` sends without waiting; it is called only while connected.
    """

    def __init__(
        self,
        publish: Callable[[str, bytes], None],
        prefix: str,
        *,
        discovery: bool = True,
        camera_name: Callable[[str | None], str | None] = lambda _id: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publish = publish
        self.prefix = prefix
        self.discovery = discovery
        self._camera_name = camera_name
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, dict[str, Any]] = {}
        self._sent: dict[str, tuple[dict[str, Any], float]] = {}
        """What each camera's status topic holds on the broker, and when it was published."""
        self._dropped: set[str] = set()
        """Cameras gone while disconnected: their retained topics are cleared on the next connect."""
        self._connected = False

    def status_topic(self, camera_id: str) -> str:
        return f"{self.prefix}/{camera_id}/status"

    def config_topic(self, camera_id: str) -> str:
        return f"{DISCOVERY_PREFIX}/device/{self.device_id(camera_id)}/config"

    def device_id(self, camera_id: str) -> str:
        """Home Assistant allows only ``[A-Za-z0-9_-]`` in a discovery topic's object id."""
        return _UNSAFE.sub("_", f"{self.prefix}_{camera_id}")

    def config(self, camera_id: str) -> dict[str, Any]:
        """The device discovery payload: one device per camera with a connectivity and a people entity."""
        uid = self.device_id(camera_id)
        return {
            "dev": {
                "ids": [uid],
                "name": self._camera_name(camera_id) or camera_id,
                "mf": "gridwatch",
                "mdl": "camera",
            },
            "o": {"name": "gridwatch"},
            "availability_topic": f"{self.prefix}/available",
            "state_topic": self.status_topic(camera_id),
            "qos": 1,
            "cmps": {
                "connectivity": {
                    "p": "binary_sensor",
                    "name": "Connectivity",
                    "device_class": "connectivity",
                    "value_template": "{{ value_json.state }}",
                    "payload_on": "online",
                    "payload_off": "offline",
                    "unique_id": f"{uid}_connectivity",
                },
                "people": {
                    "p": "sensor",
                    "name": "People",
                    "unit_of_measurement": "people",
                    "state_class": "measurement",
                    "value_template": "{{ value_json.people }}",
                    "unique_id": f"{uid}_people",
                },
            },
        }

    def update_cameras(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        """The cameras as they are now: publishes what changed, clears cameras no longer listed."""
        with self._lock:
            new = {cid: dict(s) for cid, s in states.items()}
            gone = self._states.keys() - new.keys()
            self._states = new
            self._dropped = (self._dropped | gone) - new.keys()
            if self._connected:
                self._flush(force=False)

    def connected(self) -> None:
        """Called on every (re)connect: publish everything again."""
        with self._lock:
            self._connected = True
            self._sent.clear()
            self._flush(force=True)

    def disconnected(self) -> None:
        with self._lock:
            self._connected = False

    def _flush(self, *, force: bool) -> None:
        now = self._clock()
        for camera_id in sorted(self._dropped):
            self._publish(self.status_topic(camera_id), b"")
            if self.discovery:
                self._publish(self.config_topic(camera_id), b"")
            self._sent.pop(camera_id, None)
        self._dropped.clear()
        for camera_id, state in sorted(self._states.items()):
            before = self._sent.get(camera_id)
            if before is not None and not force:
                changed = any(before[0].get(k) != state.get(k) for k in CHANGES)
                if not changed and now - before[1] < HEARTBEAT_S:
                    continue
            if before is None and self.discovery:
                self._publish(self.config_topic(camera_id), _json(self.config(camera_id)))
            self._publish(self.status_topic(camera_id), _json(state))
            self._sent[camera_id] = (state, now)


class MqttSender:
    """The channel's connection to its broker (paho's network thread reconnects on its own, 1 s to 60 s
    apart), and the bridge of camera states on it. ``camera_states``, when given, is read every
    ``refresh_s`` to keep the retained states current."""

    def __init__(
        self,
        channel: Channel,
        ctx: Context,
        *,
        camera_states: CameraStates | None = None,
        refresh_s: float = 5.0,
        connect_wait_s: float = CONNECT_WAIT_S,
    ) -> None:
        self.channel = channel
        self.ctx = ctx
        self.prefix = channel.spec.topic_prefix
        self._connect_wait_s = connect_wait_s
        parts = urlsplit(channel.url)
        tls = parts.scheme == "mqtts"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (8883 if tls else 1883)
        self.broker = f"{parts.scheme}://{self.host}:{self.port}"
        self._key = (self.broker, self.prefix)
        with _live_lock:
            _live[self._key] += 1
        self._connected = threading.Event()
        self._why = "not connected yet"
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"gridwatch-{channel.id}-{uuid.uuid4().hex[:8]}"
        )
        if tls:
            self._client.tls_set_context(ssl.create_default_context())
        if channel.spec.username is not None:
            self._client.username_pw_set(channel.spec.username, channel.secret)
        self._client.will_set(f"{self.prefix}/available", "offline", qos=1, retain=True)
        self._client.reconnect_delay_set(1, 60)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self.bridge = MqttBridge(
            self._publish_retained, self.prefix, discovery=channel.spec.discovery, camera_name=ctx.camera_name
        )
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        if camera_states is not None:
            self._poller = threading.Thread(
                target=self._poll, args=(camera_states, refresh_s), name=f"mqtt-{channel.id}", daemon=True
            )
            self._poller.start()

    # ------------------------------------------------------------------ paho's callbacks (its network thread)

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any) -> None:
        if reason.is_failure:
            self._why = f"refused: {reason}"
            return
        client.publish(f"{self.prefix}/available", "online", qos=1, retain=True)
        self._connected.set()
        self.bridge.connected()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if self._connected.is_set():  # after a refused CONNACK, keep the refusal as the reason
            self._why = f"disconnected: {reason}"
        self._connected.clear()
        self.bridge.disconnected()

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        self._why = "cannot connect"

    def _publish_retained(self, topic: str, payload: bytes) -> None:
        self._client.publish(topic, payload, qos=1, retain=True)

    def _poll(self, camera_states: CameraStates, refresh_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.bridge.update_cameras(camera_states())
            except Exception:
                log.exception("mqtt channel %s: reading the cameras' states failed", self.channel.id)
            self._stop.wait(refresh_s)

    # ------------------------------------------------------------------ the Sender protocol

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def update_cameras(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        self.bridge.update_cameras(states)

    def send(self, jobs: Sequence[Job]) -> list[Outcome]:
        if not self._connected.wait(self._connect_wait_s):
            return [Outcome(False, error=f"broker not connected: {self.broker} ({self._why})")] * len(jobs)
        infos: list[mqtt.MQTTMessageInfo | None] = []
        for job in jobs:
            topic, payload = message(job, self.ctx, self.prefix)
            try:
                infos.append(self._client.publish(topic, payload, qos=1))
            except ValueError as exc:  # e.g. the payload is over the protocol's limit
                log.warning("mqtt channel %s: cannot publish %s: %s", self.channel.id, job.message_id, exc)
                infos.append(None)
        deadline = time.monotonic() + PUBLISH_TIMEOUT_S
        return [self._outcome(info, deadline) for info in infos]

    def _outcome(self, info: mqtt.MQTTMessageInfo | None, deadline: float) -> Outcome:
        if info is None:
            return Outcome(False, error="the message cannot be published", permanent=True)
        try:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        except (RuntimeError, ValueError) as exc:
            return Outcome(False, error=f"{self.broker}: {exc}")
        if info.rc != mqtt.MQTT_ERR_SUCCESS or not info.is_published():
            why = mqtt.error_string(info.rc) if info.rc != mqtt.MQTT_ERR_SUCCESS else "no PUBACK in time"
            return Outcome(False, error=f"{self.broker}: {why}")
        return Outcome(True)

    def close(self) -> None:
        """Says ``offline`` itself (a clean DISCONNECT does not fire the will), unless another sender of
        this process is online on the same broker and prefix, and stops the network thread."""
        if self._stop.is_set():
            return
        self._stop.set()
        with _live_lock:
            _live[self._key] -= 1
            last = _live[self._key] <= 0
            if last:
                del _live[self._key]
        if last and self._connected.is_set():
            info = self._client.publish(f"{self.prefix}/available", "offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(2.0)
        self._client.disconnect()
        self._client.loop_stop()
        if self._poller is not None:
            self._poller.join(2.0)
