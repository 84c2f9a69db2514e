"""A camera's ONVIF settings: checked at the edge, stored, kept by a CSV import (which has no column for them),
and handed to remote workers with the camera."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from camera_config.schema import CameraSpec
from camera_config.store import SiteStore
from camera_config.validate import load_site_file
from camera_config.wire import camera_from_doc, camera_wire
from core.errors import InvalidInput
from tests.support.paths import EXAMPLES


def spec(**onvif: object) -> CameraSpec:
    return CameraSpec.model_validate(
        {
            "id": "CAM-30",
            "name": "Maple Gardens gate",
            "compound": "K-02",
            "streams": {"main": "rtsp://10.2.0.30/main", "sub": "rtsp://10.2.0.30/sub"},
            "credentials": {"username": "admin", "password": "cam-30-pw"},
            "onvif": onvif,
        }
    )


@pytest.fixture
def site(store: SiteStore) -> SiteStore:
    store.apply_site(load_site_file(EXAMPLES / "demo-site.yaml"))
    return store


def test_onvif_settings_are_stored_kept_by_a_csv_import_and_sent_to_workers(site: SiteStore) -> None:
    site.put_camera(spec(host="10.2.0.30", port=8000, events=False))
    cam = site.camera("CAM-30")
    assert cam.onvif is not None
    assert (cam.onvif.host, cam.onvif.port, cam.onvif.events) == ("10.2.0.30", 8000, False)
    assert site.cameras()[0].onvif is None, "cameras added by URL have none"
    site.import_cameras(
        "id,name,compound,grid,level,rtsp_url,sub_url,username,password,lat,lon,enabled\n"
        "CAM-30,Maple Gardens gate (renamed),K-02,,compound,rtsp://10.2.0.30/main,rtsp://10.2.0.30/sub,admin,,,,true\n"
    )
    renamed = site.camera("CAM-30")
    assert renamed.name == "Maple Gardens gate (renamed)"
    assert renamed.onvif == cam.onvif
    again, creds = camera_from_doc(camera_wire(renamed, site.credentials("CAM-30")).model_dump(mode="json"))
    assert again.onvif == cam.onvif
    assert creds is not None
    assert creds.password == "cam-30-pw"


@pytest.mark.parametrize(
    ("onvif", "where"), [({"host": "http://10.2.0.30/"}, "host"), ({"host": "10.2.0.30", "port": 0}, "port")]
)
def test_bad_onvif_settings_are_refused_naming_the_field(site: SiteStore, onvif: dict[str, object], where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        spec(**onvif)
    assert f"onvif.{where}" in str(caught.value).replace("\n", ".")


def test_a_site_file_may_give_a_cameras_onvif_settings(site: SiteStore, tmp_path: Path) -> None:
    text = (EXAMPLES / "demo-site.yaml").read_text(encoding="utf-8")
    text = text.replace("  - id: CAM-01\n", "  - id: CAM-01\n    onvif: {host: 10.1.0.1, port: 80}\n", 1)
    doc = tmp_path / "site.yaml"
    doc.write_text(text, encoding="utf-8")
    site.load_site(doc)
    onvif = site.camera("CAM-01").onvif
    assert onvif is not None
    assert onvif.events is True
    bad = text.replace("host: 10.1.0.1", "host: 'rtsp://x'")
    doc.write_text(bad, encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        site.load_site(doc)
    assert any(i.where.endswith("onvif.host") for i in caught.value.issues)
