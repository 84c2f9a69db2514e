"""Scope: a grid worker sees only their grid. Another grid's camera is absent from every list and is
404 on direct access, exactly like a camera that does not exist."""

from __future__ import annotations

from typing import Any

import pytest

from api.access import Role, Scope, ScopeKind
from api.users import UserStore
from camera_config.store import SiteStore
from camera_config.validate import validate_site
from tests.api.conftest import PASSWORD, Api


def _ids(node: dict[str, Any], kind: str) -> list[str]:
    found = [node["id"]] if node["kind"] == kind else []
    for child in node["children"]:
        found += _ids(child, kind)
    return found


def test_grid_worker_sees_only_their_grid(api: Api) -> None:
    gw1 = api.as_("gw1")
    assert [c["id"] for c in gw1.get("/api/cameras").json()["items"]] == ["CAM-01", "CAM-04"]
    assert gw1.get("/api/cameras", params={"grid": "G-02"}).json() == {
        "items": [],
        "total": 0,
        "limit": 100,
        "offset": 0,
    }
    tree = gw1.get("/api/site/tree", params={"cameras": True}).json()
    assert len(tree) == 1
    assert _ids(tree[0], "camera") == ["CAM-01", "CAM-04"]
    assert _ids(tree[0], "compound") == ["K-01"]
    assert _ids(tree[0], "property_company") == ["PC-01"]
    assert tree[0]["cameras"] == 2
    community = tree[0]["children"][0]
    assert [g["id"] for g in community["grids"]] == ["G-01"]
    assert [g["id"] for g in gw1.get("/api/site/grids").json()] == ["G-01"]
    assert "Maple" not in gw1.get("/api/site/tree", params={"cameras": True}).text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/cameras/CAM-02"),
        ("GET", "/api/cameras/CAM-02/zones"),
        ("POST", "/api/cameras/CAM-02/live"),
    ],
)
def test_other_grids_are_404_like_nothing(api: Api, method: str, path: str) -> None:
    gw1 = api.as_("gw1")
    body = {"sdp": "v=0", "type": "offer"} if method == "POST" else None
    other = gw1.request(method, path, json=body)
    missing = gw1.request(method, path.replace("CAM-02", "CAM-99"), json=body)
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"] == 'camera "CAM-02" does not exist'
    assert missing.json()["detail"] == 'camera "CAM-99" does not exist'


def test_operator_of_the_community_sees_all_its_grids(api: Api) -> None:
    operator = api.as_("operator")
    assert operator.get("/api/cameras").json()["total"] == 4
    assert operator.get("/api/cameras/CAM-02").status_code == 200


def _second_community(site: SiteStore) -> None:
    site.apply_site(
        validate_site(
            {
                "street": {"id": "ST-DEMO", "name": "Riverside Sub-district"},
                "communities": [{"id": "CM-02", "name": "Birch Road Community"}],
                "property_companies": [{"id": "PC-09", "name": "Birch Estates", "community": "CM-02"}],
                "compounds": [{"id": "K-09", "name": "Birch Court", "property_company": "PC-09"}],
                "grids": [{"id": "G-09", "name": "Birch grid", "community": "CM-02", "compounds": ["K-09"]}],
                "cameras": [
                    {"id": "CAM-90", "name": "Birch gate", "compound": "K-09", "streams": {"main": "rtsp://h/b"}}
                ],
            },
            existing=site.index(),
        )
    )


def test_scoped_integrator_writes_only_in_scope(api: Api, site: SiteStore, users: UserStore) -> None:
    _second_community(site)
    users.create("int-cm", Role.INTEGRATOR, scope=Scope(ScopeKind.COMMUNITY, ("CM-01",)), password=PASSWORD)
    scoped = api.as_("int-cm")
    assert scoped.get("/api/cameras").json()["total"] == 4
    assert scoped.get("/api/cameras/CAM-90").status_code == 404
    assert scoped.patch("/api/cameras/CAM-90", json={"enabled": False}).status_code == 404
    ok = scoped.post(
        "/api/cameras", json={"id": "S1", "name": "s", "compound": "K-03", "streams": {"main": "rtsp://h/s"}}
    )
    assert ok.status_code == 201
    out = scoped.post(
        "/api/cameras", json={"id": "S2", "name": "s", "compound": "K-09", "streams": {"main": "rtsp://h/s"}}
    )
    assert out.status_code == 422
    assert out.json()["errors"] == [{"where": "grid", "message": 'grid "G-09" is outside your scope'}]
    moved = scoped.put(
        "/api/cameras/S1", json={"id": "S1", "name": "s", "compound": "K-09", "streams": {"main": "rtsp://h/s"}}
    )
    assert moved.status_code == 422
    # Bulk import needs the whole site (rows are not checked one by one against a scope).
    csv = {"file": ("c.csv", b"id,name,compound,rtsp_url\nS3,s,K-01,rtsp://h/s3\n", "text/csv")}
    assert scoped.post("/api/cameras/import", files=csv).status_code == 403
    operator = api.as_("operator")
    assert "CAM-90" not in operator.get("/api/site/tree", params={"cameras": True}).text
    assert "CAM-90" in api.as_("admin").get("/api/site/tree", params={"cameras": True}).text


def test_street_scope_covers_every_community(api: Api, site: SiteStore, users: UserStore) -> None:
    _second_community(site)
    users.create("op-street", Role.OPERATOR, scope=Scope(ScopeKind.STREET, ("ST-DEMO",)), password=PASSWORD)
    assert api.as_("op-street").get("/api/cameras").json()["total"] == 5
    assert api.as_("operator").get("/api/cameras").json()["total"] == 4


WALLS = {
    "op-street": ["CAM-01", "CAM-02", "CAM-03", "CAM-04", "CAM-90"],
    "op-cm2": ["CAM-90"],
    "operator": ["CAM-01", "CAM-02", "CAM-03", "CAM-04"],
    "gw1": ["CAM-01", "CAM-04"],
    "gw2": ["CAM-02"],
}
"""What each level's video wall may show: a street centre, two community centres, two grids' workers."""


@pytest.mark.parametrize("user", WALLS)
def test_each_level_fills_its_wall_with_its_own_cameras_only(
    api: Api, site: SiteStore, users: UserStore, user: str
) -> None:
    """The wall's tiles come from the camera list and open live views: both are the caller's scope exactly.
    A camera of the scope gets as far as reading the offer (this one is no offer: 422); any other is 404,
    as if it did not exist."""
    _second_community(site)
    users.create("op-street", Role.OPERATOR, scope=Scope(ScopeKind.STREET, ("ST-DEMO",)), password=PASSWORD)
    users.create("op-cm2", Role.OPERATOR, scope=Scope(ScopeKind.COMMUNITY, ("CM-02",)), password=PASSWORD)
    client = api.as_(user)
    listed = client.get("/api/cameras", params={"enabled": True, "limit": 1000}).json()["items"]
    assert [c["id"] for c in listed] == WALLS[user]
    for camera in WALLS["op-street"]:
        res = client.post(f"/api/cameras/{camera}/live", json={"sdp": "v=0", "type": "offer"})
        if camera in WALLS[user]:
            assert res.status_code == 422, res.text
        else:
            assert res.status_code == 404, res.text
            assert res.json()["detail"] == f'camera "{camera}" does not exist'


def test_worker_tokens_are_scoped_too(api: Api, users: UserStore) -> None:
    users.create("shard-g1", Role.WORKER, scope=Scope(ScopeKind.GRIDS, ("G-01",)))
    token = api.token("shard-g1")
    worker = api.anonymous()
    listed = worker.get("/api/cameras", headers=token).json()
    assert [c["id"] for c in listed["items"]] == ["CAM-01", "CAM-04"]
    assert worker.get("/api/cameras/CAM-03", headers=token).status_code == 404
