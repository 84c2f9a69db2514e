"""The API's foundation routes: health and the site tree."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.context import ApiContext
from camera_config.store import SiteStore
from camera_config.validate import load_site_file
from tests.conftest import EXAMPLES


def test_health_and_tree(engine: Engine, store: SiteStore) -> None:
    store.apply_site(load_site_file(EXAMPLES / "demo-site.yaml"))
    with TestClient(create_app(ApiContext(engine=engine, site=store))) as client:
        health = client.get("/api/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "database": "ok"}
        tree = client.get("/api/site/tree", params={"cameras": True}).json()
        street = tree[0]
        assert (street["id"], street["cameras"]) == ("ST-DEMO", 4)
        community = street["children"][0]
        assert [g["id"] for g in community["grids"]] == ["G-01", "G-02", "G-03"]
        compound = community["children"][0]["children"][0]
        assert [c["id"] for c in compound["children"]] == ["CAM-01", "CAM-04"]
        assert "demo-pass" not in client.get("/api/site/tree", params={"cameras": True}).text
        assert client.get("/").status_code == 200
