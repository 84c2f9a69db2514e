"""Cameras and zones over HTTP: written through the site store's validation, never returning credentials."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine

from api.app import create_app
from api.context import ApiContext, FrameSource, HealthSource, StatsSource
from api.routes.cameras import spec_of
from api.users import UserStore
from camera_config.store import SiteStore
from core.clock import FakeClock
from core.errors import NotFound
from detectors.types import CameraFigures
from ingest.demo_server import free_port
from ingest.types import CameraHealth, Frame
from ingest.worker import IngestWorker
from tests.api.conftest import Api, fast_auth
from tests.support.rtsp import RtspCamera
from tests.support.wait import wait_for

NEW: dict[str, Any] = {
    "id": "CAM-10",
    "name": "Maple Gardens bike shed",
    "compound": "K-02",
    "streams": {"main": "rtsp://cam10:s3cret-pw@10.2.0.10:554/main", "sub": "rtsp://10.2.0.10:554/sub"},
    "zones": [{"id": "shed", "purpose": "restricted", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6]]}],
}


def test_create_moves_credentials_out_and_never_returns_them(api: Api, site: SiteStore) -> None:
    client = api.as_("integrator")
    res = client.post("/api/cameras", json=NEW)
    assert res.status_code == 201, res.text
    cam = res.json()
    assert cam["grid_id"] == "G-02"  # derived from the compound
    assert cam["streams"] == {"main": "rtsp://10.2.0.10:554/main", "sub": "rtsp://10.2.0.10:554/sub"}
    assert (cam["has_username"], cam["has_password"]) == (True, True)
    assert cam["health"] == {"state": "unknown", "since": None, "reason": None, "detail": None}
    for text in (res.text, client.get("/api/cameras/CAM-10").text, client.get("/api/cameras?limit=1000").text):
        assert "s3cret-pw" not in text
        assert "cam10" not in text
    creds = site.credentials("CAM-10")
    assert (creds.username, creds.password) == ("cam10", "s3cret-pw")
    assert client.post("/api/cameras", json=NEW).status_code == 409


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"streams": {"main": "http://10.0.0.1/x"}}, [("streams.main", "only rtsp:// or rtsps:// URLs are accepted")]),
        ({"streams": {"main": "/etc/passwd"}}, [("streams.main", "file sources are only accepted in demo mode")]),
        ({"compound": "K-99"}, [("compound", 'compound "K-99" does not exist')]),
        ({"grid": "G-03"}, [("grid", 'grid "G-03" does not cover compound "K-02"')]),
        (
            {"zones": [{"id": "z", "purpose": "crowd", "points": [[0, 0], [2, 0], [1, 1]]}]},
            [("zones[0].points", "point 1 (2, 0) is outside 0..1")],
        ),
        ({"location": {"lat": 91, "lon": 0}}, [("location.lat", "Input should be less than or equal to 90")]),
    ],
)
def test_create_names_each_refused_field(api: Api, change: dict[str, Any], errors: list[tuple[str, str]]) -> None:
    res = api.as_("integrator").post("/api/cameras", json={**NEW, **change})
    assert res.status_code == 422
    got = [(e["where"], e["message"]) for e in res.json()["errors"]]
    assert len(got) == len(errors)
    for (where, message), (want_where, want_message) in zip(got, errors, strict=True):
        assert where == want_where
        assert message.startswith(want_message), message


def test_replace_patch_delete(api: Api, site: SiteStore) -> None:
    client = api.as_("integrator")
    client.post("/api/cameras", json=NEW)
    mismatch = client.put("/api/cameras/CAM-10", json={**NEW, "id": "CAM-11"})
    assert mismatch.json()["errors"][0]["where"] == "id"
    body = {**NEW, "name": "Bike shed (moved)", "streams": {"main": "rtsp://10.2.0.11:554/main"}}
    replaced = client.put("/api/cameras/CAM-10", json=body).json()
    assert (replaced["name"], replaced["revision"], replaced["streams"]["sub"]) == ("Bike shed (moved)", 2, None)
    assert site.credentials("CAM-10").password == "s3cret-pw"  # no password given: the stored one stays
    off = client.patch("/api/cameras/CAM-10", json={"enabled": False}).json()
    assert (off["enabled"], off["revision"], off["has_password"]) == (False, 3, True)
    same = client.patch("/api/cameras/CAM-10", json={}).json()
    assert same["revision"] == 3
    assert [c["id"] for c in client.get("/api/cameras", params={"enabled": False}).json()["items"]] == ["CAM-10"]
    assert client.delete("/api/cameras/CAM-10").status_code == 204
    assert client.get("/api/cameras/CAM-10").status_code == 404
    assert client.delete("/api/cameras/CAM-10").status_code == 404
    assert client.put("/api/cameras/CAM-10", json=NEW).status_code == 404


def test_list_filters_and_pages(api: Api) -> None:
    client = api.as_("viewer")
    page = client.get("/api/cameras", params={"limit": 2}).json()
    assert (page["total"], [c["id"] for c in page["items"]]) == (4, ["CAM-01", "CAM-02"])
    page2 = client.get("/api/cameras", params={"limit": 2, "offset": 2}).json()
    assert [c["id"] for c in page2["items"]] == ["CAM-03", "CAM-04"]
    assert [c["id"] for c in client.get("/api/cameras", params={"q": "willow"}).json()["items"]] == ["CAM-01", "CAM-04"]
    assert [c["id"] for c in client.get("/api/cameras", params={"grid": "G-03"}).json()["items"]] == ["CAM-03"]
    assert [c["id"] for c in client.get("/api/cameras", params={"compound": "K-02"}).json()["items"]] == ["CAM-02"]


def test_zones(api: Api) -> None:
    client = api.as_("integrator")
    zones = client.get("/api/cameras/CAM-01/zones").json()
    assert [(z["id"], z["purpose"]) for z in zones] == [("plaza", "crowd")]
    assert zones[0]["settings"]["min_people"] == 4
    gate = {"id": "gate", "name": "Gate", "purpose": "restricted", "points": [[0.4, 0.1], [0.6, 0.1], [0.6, 0.3]]}
    added = client.put("/api/cameras/CAM-01/zones/gate", json=gate)
    assert added.status_code == 200
    assert [z["id"] for z in client.get("/api/cameras/CAM-01/zones").json()] == ["plaza", "gate"]
    moved = client.put("/api/cameras/CAM-01/zones/plaza", json={**zones[0], "points": [[0, 0.5], [1, 0.5], [1, 1]]})
    assert moved.json()["points"] == [[0, 0.5], [1, 0.5], [1, 1]]
    cam = client.get("/api/cameras/CAM-01").json()
    assert [z["id"] for z in cam["zones"]] == ["plaza", "gate"]
    assert cam["zones"][0]["settings"]["min_people"] == 4
    flat = client.put("/api/cameras/CAM-01/zones/gate", json={**gate, "points": [[0, 0], [0.5, 0.5], [1, 1]]})
    assert flat.status_code == 422
    assert flat.json()["errors"] == [{"where": "points", "message": "polygon has zero area"}]
    dup = client.put("/api/cameras/CAM-01/zones", json=[gate, gate])
    assert dup.json()["errors"] == [{"where": "zones[1].id", "message": 'duplicate zone id "gate" (first at zones[0])'}]
    assert client.delete("/api/cameras/CAM-01/zones/gate").status_code == 204
    assert client.delete("/api/cameras/CAM-01/zones/gate").status_code == 404
    assert client.put("/api/cameras/CAM-01/zones", json=[]).json() == []
    assert client.get("/api/cameras/CAM-01/zones").json() == []


CSV_OK = "id,name,compound,grid,rtsp_url,password\nN1,North gate,K-01,,rtsp://u:p@10.3.0.1/a,\nN2,South gate,K-03,,rtsp://10.3.0.2/a,pw2\n"
CSV_BAD = (
    "id,name,compound,grid,rtsp_url\n"
    "N1,North gate,K-01,,rtsp://10.3.0.1/a\n"
    "N2,Bad grid,K-01,G-119,rtsp://10.3.0.2/a\n"
    "N3,Bad url,K-02,,ftp://10.3.0.3/a\n"
)


def _upload(api: Api, text: str | bytes, skip: bool = False, user: str = "integrator") -> Any:
    data = text.encode() if isinstance(text, str) else text
    return api.as_(user).post(
        "/api/cameras/import",
        files={"file": ("cams.csv", data, "text/csv")},
        data={"skip_invalid": "true" if skip else "false"},
    )


def test_csv_import(api: Api, site: SiteStore) -> None:
    res = _upload(api, CSV_OK)
    assert res.status_code == 200, res.text
    assert res.json() == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "skipped": [], "warnings": []}
    assert site.credentials("N1").username == "u"
    again = _upload(api, CSV_OK).json()
    assert (again["created"], again["unchanged"]) == (0, 2)


def test_csv_import_all_or_nothing_with_the_report(api: Api, site: SiteStore) -> None:
    res = _upload(api, CSV_BAD)
    assert res.status_code == 422
    assert res.json()["errors"] == [
        {"where": "cams.csv line 3", "message": 'grid "G-119" does not exist'},
        {
            "where": "cams.csv line 4",
            "message": "rtsp_url: only rtsp:// or rtsps:// URLs are accepted (got 'ftp://10.3.0.3/a')",
        },
    ]
    assert "N1" not in site.index().cameras
    skipped = _upload(api, CSV_BAD, skip=True).json()
    assert (skipped["rows"], skipped["created"]) == (3, 1)
    assert [i["where"] for i in skipped["skipped"]] == ["cams.csv line 3", "cams.csv line 4"]
    assert "N1" in site.index().cameras


def test_csv_import_refuses_what_is_not_a_csv(api: Api) -> None:
    latin = _upload(api, "id,name,rtsp_url\nX,Caf\xe9,rtsp://h/x\n".encode("latin-1"))
    assert latin.status_code == 422
    assert latin.json()["errors"] == [{"where": "cams.csv", "message": "not UTF-8 text (byte offset 22)"}]
    header = _upload(api, "id,name,url\n")
    assert header.json()["errors"][0]["message"].startswith('unknown column "url"')
    big = _upload(api, b"id,name,rtsp_url\n" + b"x" * (10 * 1024 * 1024))
    assert big.status_code == 413
    assert _upload(api, CSV_OK, user="operator").status_code == 403


def test_the_documented_examples_are_accepted(api: Api) -> None:
    client = api.as_("integrator")
    schema = client.get("/openapi.json").json()
    examples = schema["paths"]["/api/cameras"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert len(examples) >= 2
    for example in examples.values():
        res = client.post("/api/cameras", json=example["value"])
        assert res.status_code == 201, res.text
        assert "secret" not in res.text
        assert "from-the-installer" not in res.text
    zone_put = schema["paths"]["/api/cameras/{camera_id}/zones/{zone_id}"]["put"]
    for example in zone_put["requestBody"]["content"]["application/json"]["examples"].values():
        zone = example["value"]
        assert client.put(f"/api/cameras/CAM-10/zones/{zone['id']}", json=zone).status_code == 200


# ---------------------------------------------------------------------------- snapshot, stats, connection test


def _watched(worker: IngestWorker) -> tuple[FrameSource, StatsSource, HealthSource]:
    """The API's live sources over a real ingest worker (a camera it does not run is not known)."""

    def latest(camera_id: str) -> Frame | None:
        try:
            return worker.latest(camera_id)
        except NotFound:
            return None

    def stats(camera_id: str) -> CameraFigures | None:
        try:
            return CameraFigures(camera_id, worker.health(camera_id)[0], worker.stats(camera_id)[0])
        except NotFound:
            return None

    def health(camera_id: str) -> CameraHealth | None:
        try:
            return worker.health(camera_id)[0]
        except NotFound:
            return None

    return latest, stats, health


@pytest.fixture
def live_api(
    engine: Engine, site: SiteStore, users: UserStore, clock: FakeClock, footage: Path
) -> Iterator[tuple[Api, IngestWorker]]:
    """The API wired to a real ingest worker: CAM-01 plays vtest.avi (768×576), CAM-03 points at a closed port."""
    worker = IngestWorker(allow_files=True)
    latest, stats, health = _watched(worker)
    app = create_app(
        ApiContext(
            engine=engine, site=site, clock=clock, auth=fast_auth(), health=health, latest_frame=latest, stats=stats
        )
    )
    holder = Api(app, [])
    try:
        yield holder, worker
    finally:
        for client in holder.clients:
            client.__exit__(None, None, None)
        worker.close()


def _jpeg_shape(data: bytes) -> tuple[int, ...]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return tuple(image.shape)


def test_snapshot_and_stats_of_a_watched_camera(
    live_api: tuple[Api, IngestWorker], site: SiteStore, footage: Path
) -> None:
    api, worker = live_api
    client = api.as_("operator")
    res = client.get("/api/cameras/CAM-01/snapshot")
    assert res.status_code == 503
    assert res.json()["detail"] == "no frame yet: the camera is not being watched (live pipeline off)"
    assert client.get("/api/cameras/CAM-01/stats").status_code == 503

    worker.apply(
        [
            replace(site.camera("CAM-01"), main_url=str(footage / "vtest.avi"), sub_url=None),
            replace(site.camera("CAM-03"), main_url=f"rtsp://127.0.0.1:{free_port()}/nobody", sub_url=None),
        ]
    )
    wait_for(lambda: worker.latest("CAM-01") is not None)
    res = client.get("/api/cameras/CAM-01/snapshot")
    assert res.status_code == 200
    assert res.headers["content-type"] == "image/jpeg"
    assert res.headers["cache-control"] == "no-store"
    image = _jpeg_shape(res.content)
    assert image == (576, 768, 3)
    small = client.get("/api/cameras/CAM-01/snapshot?width=320")
    assert _jpeg_shape(small.content) == (240, 320, 3)
    larger = client.get("/api/cameras/CAM-01/snapshot?width=1920")  # never scaled up
    assert _jpeg_shape(larger.content) == (576, 768, 3)
    bad = client.get("/api/cameras/CAM-01/snapshot?width=10")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["where"] == "query.width"

    wait_for(lambda: client.get("/api/cameras/CAM-01/stats").json().get("input_fps", 0) > 0)
    stats = client.get("/api/cameras/CAM-01/stats").json()
    assert stats["health"]["state"] in ("online", "degraded")
    assert stats["decode_mode"] in ("full", "sampled", "keyframe")
    assert stats["decoded_fps"] > 0
    assert stats["dropped"] >= 0
    assert stats["last_frame_age_s"] is not None
    assert (stats["inference_ms"], stats["people"]) == (None, None)  # no detector in this pipeline

    wait_for(lambda: worker.health("CAM-03")[0].reason is not None)
    offline = client.get("/api/cameras/CAM-03/snapshot")
    assert offline.status_code == 503
    assert offline.json()["detail"] == "no frame yet: camera offline (refused)"
    assert client.get("/api/cameras/CAM-03/stats").json()["health"]["reason"] == "refused"

    outsider = api.as_("gw2")  # grid G-02; CAM-01 is in G-01
    for path in ("/api/cameras/CAM-01/snapshot", "/api/cameras/CAM-01/stats"):
        res = outsider.get(path)
        assert res.status_code == 404
        assert res.json()["detail"] == 'camera "CAM-01" does not exist'
    assert api.as_("gw1").get("/api/cameras/CAM-01/snapshot").status_code == 200
    assert client.get("/api/cameras/CAM-99/snapshot").status_code == 404


def _point_at(site: SiteStore, camera_id: str, url: str, **credentials: str) -> None:
    camera = site.camera(camera_id)
    changes: dict[str, Any] = {"streams": {"main": url}}
    if credentials:
        changes["credentials"] = credentials
    site.put_camera(spec_of(camera, False, **changes))


def test_connection_test_opens_the_saved_stream(api: Api, site: SiteStore, rtsp_camera: RtspCamera) -> None:
    _point_at(site, "CAM-01", rtsp_camera.url, username=rtsp_camera.username, password=rtsp_camera.password)
    _point_at(site, "CAM-02", rtsp_camera.url, username=rtsp_camera.username, password="wrong-pw-123")
    _point_at(site, "CAM-03", f"rtsp://127.0.0.1:{free_port()}/nobody")
    client = api.as_("integrator")

    res = client.post("/api/cameras/CAM-01/test")
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["ok"] is True, body
    assert (body["reason"], body["stream"], body["codec"]) == (None, "main", "h264")
    assert (body["width"], body["height"]) == (768, 576)
    assert body["fps"] == pytest.approx(10, rel=0.1)
    assert 0 < body["first_frame_ms"] <= body["took_ms"] < 10_000
    assert rtsp_camera.password not in res.text

    wrong = client.post("/api/cameras/CAM-02/test", params={"timeout_s": 5}).json()
    assert (wrong["ok"], wrong["reason"]) == (False, "unauthorized")
    assert "wrong-pw-123" not in str(wrong)
    assert rtsp_camera.username not in (wrong["detail"] or "")

    refused = api.as_("operator").post("/api/cameras/CAM-03/test", params={"timeout_s": 2}).json()
    assert (refused["ok"], refused["reason"]) == (False, "refused")
    assert refused["took_ms"] < 2000

    for user in ("viewer", "gw1"):
        res = api.as_(user).post("/api/cameras/CAM-01/test")
        assert res.status_code == 403, user
    for timeout in (0.5, 31):
        res = client.post("/api/cameras/CAM-01/test", params={"timeout_s": timeout})
        assert res.status_code == 422
        assert res.json()["errors"][0]["where"] == "query.timeout_s"
    assert client.post("/api/cameras/CAM-99/test").status_code == 404
