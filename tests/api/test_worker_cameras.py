"""A remote worker's cameras from the API: what it asked for, with the stream credentials only it may have,
polled cheaply (304 while nothing changed), split into shards that move no camera needlessly."""

from __future__ import annotations

from dataclasses import replace

import pytest

from api.access import Role, Scope
from api.users import UserStore
from camera_config.store import SiteStore
from camera_config.types import StreamCredentials
from camera_config.wire import Shard, camera_from_doc, shard_of
from core.errors import InvalidInput
from tests.api.conftest import Api

ALL = ["CAM-01", "CAM-02", "CAM-03", "CAM-04"]


def test_the_worker_gets_the_cameras_it_asked_for_as_the_store_holds_them(
    api: Api, worker: dict[str, str], site: SiteStore
) -> None:
    res = api.anonymous().get("/api/worker/cameras", params={"cameras": "CAM-01, CAM-02,NOPE"}, headers=worker)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["unknown"] == ["NOPE"]
    got = {d["id"]: camera_from_doc(d) for d in body["cameras"]}
    assert sorted(got) == ["CAM-01", "CAM-02"]
    for camera_id, (camera, _) in got.items():
        assert camera == replace(site.camera(camera_id), updated_at=camera.updated_at)  # zones and settings too
    assert got["CAM-01"][1] == StreamCredentials("demo", "demo-pass")  # only a worker token gets these
    assert got["CAM-02"][1] is None

    entries = api.as_("admin").get("/api/audit", params={"action": "credentials_sent"}).json()["items"]
    assert [(e["actor"], e["target"]) for e in entries] == [("detector-1", "2 camera(s)")]
    assert "demo-pass" not in str(entries)


def test_only_worker_tokens_get_credentials(api: Api) -> None:
    for user in ("admin", "operator", "integrator"):
        res = api.as_(user).get("/api/worker/cameras")
        assert res.status_code == 403, (user, res.text)
        assert "demo-pass" not in res.text
    assert api.anonymous().get("/api/worker/cameras").status_code == 401


def test_polling_is_304_until_a_camera_changes(api: Api, worker: dict[str, str]) -> None:
    client = api.anonymous()
    first = client.get("/api/worker/cameras", headers=worker)
    assert sorted(c["id"] for c in first.json()["cameras"]) == ALL
    etag = first.headers["ETag"]
    again = client.get("/api/worker/cameras", headers=worker | {"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""

    res = api.as_("admin").patch("/api/cameras/CAM-02", json={"enabled": False})
    assert res.status_code == 200, res.text
    changed = client.get("/api/worker/cameras", headers=worker | {"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    cam = next(c for c in changed.json()["cameras"] if c["id"] == "CAM-02")
    assert cam["enabled"] is False  # still sent: the worker stops it


def test_shards_split_the_cameras_without_overlap(api: Api, worker: dict[str, str]) -> None:
    client = api.anonymous()
    parts = []
    for k in (1, 2, 3):
        res = client.get("/api/worker/cameras", params={"shard": f"{k}/3"}, headers=worker)
        assert res.status_code == 200, res.text
        assert res.json()["shard"] == f"{k}/3"
        parts.append([c["id"] for c in res.json()["cameras"]])
    assert sorted(c for part in parts for c in part) == ALL
    assert all(shard_of(c, 3) == k for k, part in enumerate(parts, 1) for c in part)


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"shard": "0/3"}, "shard"),
        ({"shard": "4/3"}, "shard"),
        ({"shard": "three"}, "shard"),
        ({"cameras": " , "}, "cameras"),
        ({"cameras": "CAM-01", "shard": "1/2"}, "shard"),
    ],
)
def test_a_bad_question_names_what_is_wrong(
    api: Api, worker: dict[str, str], params: dict[str, str], where: str
) -> None:
    res = api.anonymous().get("/api/worker/cameras", params=params, headers=worker)
    assert res.status_code == 422, res.text
    assert [e["where"] for e in res.json()["errors"]] == [where]


def test_a_worker_scoped_to_a_grid_sees_only_its_cameras(api: Api, users: UserStore, site: SiteStore) -> None:
    users.create("detector-g1", Role.WORKER, scope=Scope.parse("grids:G-01"))
    res = api.anonymous().get(
        "/api/worker/cameras", params={"cameras": ",".join(ALL)}, headers=api.token("detector-g1")
    )
    assert res.status_code == 200, res.text
    mine = sorted(c.id for c in site.cameras() if c.grid_id == "G-01")
    assert [c["id"] for c in res.json()["cameras"]] == mine
    assert res.json()["unknown"] == sorted(set(ALL) - set(mine))  # others do not exist for it


def test_a_camera_added_moves_no_other_camera_between_shards() -> None:
    ids = [f"CAM-{i:04d}" for i in range(2000)]
    before = {c: shard_of(c, 8) for c in ids}
    assert {c: shard_of(c, 8) for c in [*ids, "CAM-NEW"]} | {"CAM-NEW": 0} == before | {"CAM-NEW": 0}
    sizes = [sum(1 for s in before.values() if s == k) for k in range(1, 9)]
    assert min(sizes) > 2000 / 8 * 0.8  # spread evenly
    moved = sum(shard_of(c, 9) != before[c] for c in ids)
    assert moved < 2000 / 9 * 1.3  # one more shard takes about its share, from every other
    assert all(shard_of(c, 9) in (before[c], 9) for c in ids)


def test_shard_text() -> None:
    assert Shard.parse(" 2 / 4 ") == Shard(2, 4)
    assert str(Shard(2, 4)) == "2/4"
    with pytest.raises(InvalidInput, match="--shard"):
        Shard.parse("5/4", "--shard")
