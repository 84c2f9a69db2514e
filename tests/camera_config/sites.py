"""Small site documents for tests, built fresh per call so tests can edit them freely."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from camera_config.validate import validate_site
from core.db import make_engine, session_factory
from gridwatch.db import upgrade


def camera(cid: str = "C1", **over: Any) -> dict[str, Any]:
    cam: dict[str, Any] = {
        "id": cid,
        "name": f"Camera {cid}",
        "compound": "K1",
        "streams": {"main": f"rtsp://10.0.0.1/{cid}/main", "sub": f"rtsp://10.0.0.1/{cid}/sub"},
    }
    cam.update(over)
    return cam


def site(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "street": {"id": "S1", "name": "Street"},
        "communities": [{"id": "CM1", "name": "Community 1"}, {"id": "CM2", "name": "Community 2"}],
        "property_companies": [
            {"id": "PC1", "name": "Company 1", "community": "CM1"},
            {"id": "PC2", "name": "Company 2", "community": "CM2"},
        ],
        "compounds": [
            {"id": "K1", "name": "Compound 1", "property_company": "PC1"},
            {"id": "K2", "name": "Compound 2", "property_company": "PC1"},
            {"id": "K3", "name": "Compound 3", "property_company": "PC2"},
        ],
        "party_groups": [{"id": "PG1", "name": "Group 1", "community": "CM1"}],
        "grids": [
            {"id": "G1", "name": "Grid 1", "community": "CM1", "compounds": ["K1"], "party_group": "PG1"},
            {"id": "G2a", "name": "Grid 2a", "community": "CM1", "compounds": ["K2"]},
            {"id": "G2b", "name": "Grid 2b", "community": "CM1", "compounds": ["K2"]},
            {"id": "G3", "name": "Grid 3", "community": "CM2", "compounds": ["K3"]},
            {
                "id": "GR",
                "name": "Road",
                "community": "CM2",
                "polygon": [[121.0, 31.0], [121.1, 31.0], [121.1, 31.1], [121.0, 31.1]],
            },
        ],
        "people": [
            {"id": "W1", "name": "Worker 1", "role": "grid_worker", "grid": "G1"},
            {"id": "B1", "name": "Leader 1", "role": "building_leader", "grid": "G1", "building": "Block 1"},
            {"id": "M1", "name": "Member 1", "role": "party_member", "party_group": "PG1"},
        ],
        "cameras": [camera("C1"), camera("C2", compound="K2", grid="G2b")],
    }
    doc.update(over)
    return doc


@contextlib.contextmanager
def store_without_cameras(db_file: Path) -> Iterator[SiteStore]:
    """`site` with no cameras in a migrated SQLite file: for a test whose cameras come from elsewhere (a gateway)."""
    engine = make_engine(f"sqlite:///{db_file}")
    upgrade(engine)
    store = SiteStore(session_factory(engine), CredentialCipher(Fernet.generate_key()))
    store.apply_site(validate_site(site(cameras=[])))
    try:
        yield store
    finally:
        engine.dispose()
