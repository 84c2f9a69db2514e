"""Every field of every JSON body, one by one: a NUL, a lone surrogate and 1 MB in each text, 2**63 and
-2**63 in each integer. The answer is never a 5xx and always the JSON error shape; a NUL or a surrogate is
refused with 422 naming the field, 1 MB with 413 or 422, 2**63 with 422. On SQLite and PostgreSQL.

The bodies below are valid as they stand (a test checks that first), and a test checks that every JSON
body the API documents has one here, so a new route joins the sweep or fails it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from api.access import Role
from api.app import create_app
from api.context import ApiContext
from api.users import UserStore
from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from core.clock import FakeClock
from core.db import session_factory
from events.notify.store import Notifications
from events.service import EventsService
from tests.api.conftest import Api, fast_auth
from tests.support.factories import remote_observation
from tests.support.onvif_sim import OnvifSimulator, running_device

ONVIF_PORT = 1
"""Stands for the simulated ONVIF device's port, which `send` fills in."""

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/auth/login"): {"username": "viewer", "password": "correct-horse-42"},
    ("POST", "/api/tokens"): {"name": "ci"},
    ("POST", "/api/users"): {
        "username": "li.na",
        "display_name": "Li Na",
        "role": "grid_worker",
        "scope": {"kind": "grids", "ids": ["G-01"]},
        "password": "a-long-password-1",
    },
    ("PATCH", "/api/users/{username}"): {"display_name": "Viewer Two", "disabled": False},
    ("POST", "/api/users/{username}/tokens"): {"name": "ci", "expires_in_days": 30},
    ("POST", "/api/cameras"): {
        "id": "CAM-10",
        "name": "Maple Gardens bike shed",
        "compound": "K-02",
        "streams": {"main": "rtsp://10.2.0.10:554/main"},
    },
    ("PUT", "/api/cameras/{camera_id}"): {
        "id": "CAM-02",
        "name": "Willow Court east gate",
        "compound": "K-01",
        "streams": {"main": "rtsp://10.1.0.12:554/main"},
    },
    ("PATCH", "/api/cameras/{camera_id}"): {"name": "Willow Court east gate", "enabled": True},
    ("PUT", "/api/cameras/{camera_id}/zones"): [
        {"id": "z1", "name": "Gate", "purpose": "restricted", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}
    ],
    ("PUT", "/api/cameras/{camera_id}/zones/{zone_id}"): {
        "id": "z1",
        "name": "Gate",
        "purpose": "restricted",
        "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]],
    },
    ("POST", "/api/alerts/{alert_id}/dismiss"): {"reason": "a shadow"},
    ("POST", "/api/alerts/{alert_id}/escalate"): {"note": "needs the community"},
    ("POST", "/api/alerts/{alert_id}/case"): {"note": "sending someone"},
    ("POST", "/api/cases"): {"grid_id": "G-01", "title": "Bins on fire", "severity": "high", "description": "east"},
    ("POST", "/api/cases/{case_id}/transitions"): {"action": "register", "note": "seen it"},
    ("POST", "/api/cases/{case_id}/comments"): {"text": "still there"},
    ("POST", "/api/worker/observations"): {"observations": [remote_observation("sweep-1")]},
    ("POST", "/api/worker/heartbeat"): {
        "name": "box-1 1/2",
        "cameras": ["CAM-01"],
        "spool_depth": 3,
        "spool_bytes": 4096,
        "spool_dropped": 0,
        "delivered": 10,
        "refused": 0,
        "delivery_state": "ok",
    },
    ("PUT", "/api/notifications/channels/{channel_id}"): {
        "kind": "webhook",
        "name": "City platform",
        "url": "https://city.example/hooks/gridwatch",
        "rules": [{"topics": ["case.*"], "places": ["G-01"], "hazards": ["crowd"], "min_severity": "high"}],
        "cap": {"count": 20, "per_minutes": 60},
    },
    ("POST", "/api/notifications/deliveries/retry"): {"ids": [1]},
    ("POST", "/api/notifications/deliveries/discard"): {"ids": [1]},
    ("POST", "/api/suspends"): {"kind": "camera", "target_id": "CAM-02", "minutes": 60, "reason": "gate repairs"},
    ("POST", "/api/push/subscriptions"): {
        "endpoint": "https://push.example.com/send/abc",
        "keys": {
            "p256dh": "BAyKyZdWYoNloMXDOTsQEKQGoiVejBy4mnGMctOf2q-mwLQsaJ68NsjQCGwnF4-1_3qvPN0aZBVUcp-9eZvCfso",
            "auth": "MDEyMzQ1Njc4OWFiY2RlZg",
        },
    },
    ("DELETE", "/api/push/subscriptions"): {"endpoint": "https://push.example.com/send/abc"},
    ("POST", "/api/cameras/onvif/probe"): {
        "address": "127.0.0.1",
        "port": ONVIF_PORT,
        "username": "admin",
        "password": "onvif-pass-1",
        "timeout_s": 5,
    },
    ("POST", "/api/cameras/onvif"): {
        "address": "127.0.0.1",
        "port": ONVIF_PORT,
        "username": "admin",
        "password": "onvif-pass-1",
        "timeout_s": 5,
        "id": "CAM-20",
        "name": "Maple Gardens bike shed",
        "compound": "K-02",
        "main_profile": "profile_main",
    },
    ("POST", "/api/gateways"): {
        "id": "gw-2",
        "name": "东区视频网关",
        "url": "http://10.1.2.3:18080",
        "username": "gridwatch",
        "password": "gateway-pass-1",
        "compound": "K-02",
    },
    ("PUT", "/api/gateways/{gateway_id}"): {
        "id": "gw-1",
        "name": "西区视频网关",
        "url": "http://10.1.2.4:18080",
        "username": "gridwatch",
        "compound": "K-01",
    },
}
"""One valid body per documented JSON body (the live-view offer is left out: its one text is an SDP
offer that starts WebRTC; tests/api/test_edge.py and the fuzz run cover its refusals)."""

SKIPPED = {("POST", "/api/cameras/{camera_id}/live")}
ONVIF_ADD = ("POST", "/api/cameras/onvif")
"""Valid as far as gridwatch can check without a picture: the simulated device answers, and its streams point
where nothing answers, so the add stops at the connection test (tests/api/test_onvif.py adds over real RTSP)."""
PATH = {
    "username": "viewer",
    "camera_id": "CAM-02",
    "zone_id": "z1",
    "case_id": "1",
    "channel_id": "city",
    "gateway_id": "gw-1",
}
ALERT = {"dismiss": 1, "escalate": 2, "case": 3}
"""An alert of its own for each action, as each changes what the next may do."""
TEXTS = {"NUL": "a\u0000b", "lone surrogate": "a\ud800b", "1 MB": "x" * 2**20}
INTEGERS = {"2**63": 2**63, "-2**63": -(2**63)}


def leaves(value: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """(place, value) for every text and integer inside ``value``, places written as the API names them."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{where}[{i}]")
    elif isinstance(value, str | int) and not isinstance(value, bool):
        yield where, value


def names(place: str, where: str) -> bool:
    """Whether an error's place names the field at ``where``: the field itself, or the list holding it
    (a text in a list of ids is refused as the list's)."""
    return place == where or (where.startswith(place) and where[len(place)] == "[")


def with_leaf(body: Any, target: str, new: Any) -> Any:
    """``body`` with the leaf at ``target`` replaced by ``new``."""

    def walk(value: Any, where: str) -> Any:
        if where == target:
            return new
        if isinstance(value, dict):
            return {k: walk(v, f"{where}.{k}" if where else k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    return walk(body, "")


@pytest.fixture
def api(
    engine: Engine, site: SiteStore, users: UserStore, clock: FakeClock, events: EventsService, tmp_path: Path
) -> Iterator[Api]:
    """The app of every API test, with notification channels, suspends and Web Push too."""
    del users  # they exist: the sweep acts as them
    store = Notifications(session_factory(engine), CredentialCipher(Fernet.generate_key()), clock, events.fatigue)
    context = ApiContext(
        engine=engine, site=site, clock=clock, auth=fast_auth(), events=events, notifications=store, data_dir=tmp_path
    )
    holder = Api(create_app(context), [])
    yield holder
    for client in holder.clients:
        client.__exit__(None, None, None)


@pytest.fixture
def onvif_device() -> Iterator[OnvifSimulator]:
    """The simulated ONVIF device the ONVIF bodies name; its streams point where nothing answers."""
    with running_device(
        "rtsp://127.0.0.1:9/main", "rtsp://127.0.0.1:9/sub", username="admin", password="onvif-pass-1"
    ) as sim:
        yield sim


@pytest.fixture
def seeded(api: Api, users: UserStore, onvif_device: OnvifSimulator) -> dict[str, dict[str, str]]:
    """Alert 1, case 1 and gateway gw-1 exist; bearer headers for the admin and for a detection worker, and
    the simulated ONVIF device's port."""
    users.create("detector-1", Role.WORKER)
    worker = api.token("detector-1")
    client = api.anonymous()
    for i, camera in enumerate(("CAM-01", "CAM-02", "CAM-03")):
        res = client.post(
            "/api/worker/observations", json=remote_observation(f"seed-{i}", camera_id=camera), headers=worker
        )
        assert res.status_code == 200, res.text
    res = client.post("/api/cases", json=BODIES[("POST", "/api/cases")], headers=api.token("admin"))
    assert res.status_code in (200, 201), res.text
    gateway = {**BODIES[("PUT", "/api/gateways/{gateway_id}")], "password": "gateway-pass-0"}
    res = client.post("/api/gateways", json=gateway, headers=api.token("admin"))
    assert res.status_code == 201, res.text
    return {"admin": api.token("admin"), "worker": worker, "onvif": {"port": str(onvif_device.port)}}


def send(api: Api, headers: dict[str, dict[str, str]], method: str, path: str, body: Any) -> Any:
    url = path.format(**PATH, alert_id=ALERT.get(path.rsplit("/", 1)[-1], 1))
    who = headers["worker"] if path.startswith("/api/worker") else headers["admin"]
    if isinstance(body, dict) and body.get("port") == ONVIF_PORT:
        body = {**body, "port": int(headers["onvif"]["port"])}
    raw = json.dumps(body)  # ensure_ascii: a lone surrogate travels as the JSON escape \ud800
    return api.anonymous().request(method, url, content=raw, headers={**who, "Content-Type": "application/json"})


def test_every_documented_json_body_is_in_the_sweep(api: Api) -> None:
    documented = {
        (method.upper(), path)
        for path, ops in api.app.openapi()["paths"].items()
        for method, op in ops.items()
        if "application/json" in op.get("requestBody", {}).get("content", {})
    }
    assert documented - SKIPPED == set(BODIES)


def test_the_sweep_bodies_are_valid(api: Api, seeded: dict[str, dict[str, str]]) -> None:
    for (method, path), body in BODIES.items():
        res = send(api, seeded, method, path, body)
        if (method, path) == ONVIF_ADD:
            assert res.status_code == 422, res.text
            assert [e["where"] for e in res.json()["errors"]] == ["streams.sub"], res.text
            continue
        assert res.status_code < 300, f"{method} {path}: {res.status_code} {res.text}"


@pytest.mark.parametrize(("method", "path"), sorted(BODIES))
def test_hostile_values_in_every_field_are_refused_by_name(
    api: Api, seeded: dict[str, dict[str, str]], method: str, path: str
) -> None:
    body = BODIES[(method, path)]
    problems: list[str] = []
    for where, value in leaves(body):
        hostile = TEXTS if isinstance(value, str) else INTEGERS
        for label, new in hostile.items():
            res = send(api, seeded, method, path, with_leaf(body, where, new))
            shown = f"{method} {path} {where}={label}: {res.status_code} {res.text[:200]}"
            if res.status_code >= 500 or res.headers.get("content-type") != "application/json":
                problems.append(shown)
                continue
            if label == "-2**63" or (res.status_code == 413 and label == "1 MB"):
                continue
            places = [e["where"] for e in res.json().get("errors", [])] if res.status_code == 422 else []
            if not any(names(p, where) for p in places):
                problems.append(shown)
    assert not problems, "\n".join(problems)
