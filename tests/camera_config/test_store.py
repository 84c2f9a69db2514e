"""The site store on SQLite and on the real PostgreSQL: writes are all-or-nothing, reads never leak secrets."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from camera_config.camera_csv import FORMULA_START
from camera_config.generate import cameras_csv, generate_site
from camera_config.orm import CameraRow
from camera_config.schema import CameraSpec
from camera_config.store import SiteStore
from camera_config.validate import validate_site
from core.errors import InvalidInput, NotFound
from tests.camera_config.sites import camera, site


def snapshot(store: SiteStore) -> tuple[Any, ...]:
    return (store.counts(), store.export_cameras_csv(), store.revisions(), [c.zones for c in store.cameras()])


def test_apply_site_and_read_back(store: SiteStore) -> None:
    report = store.apply_site(validate_site(site()))
    assert (report.created, report.updated) == (2, 0)
    cam = store.camera("C1")
    assert (cam.grid_id, cam.compound_id, cam.revision) == ("G1", "K1", 1)
    assert cam.updated_at is not None
    assert cam.updated_at.tzinfo is not None
    assert store.grid("G2a").compound_ids == ("K2",)
    assert [p.id for p in store.people(grid_id="G1")] == ["B1", "W1"]
    tree = store.tree()
    assert [(n.kind, n.id, n.cameras) for n in tree] == [("street", "S1", 2)]
    community = tree[0].children[0]
    assert (community.id, community.cameras, [g.id for g in community.grids]) == (
        "CM1",
        2,
        ["G1", "G2a", "G2b"],
    )
    assert community.grids[0].grid_worker == "Worker 1"


def test_outlines_are_stored_and_replaced_by_the_next_load(store: SiteStore) -> None:
    doc = site()
    doc["street"]["outline"] = [[120.9, 30.9], [121.3, 30.9], [121.3, 31.3], [120.9, 31.3]]
    doc["compounds"][0]["outline"] = [[121.0, 31.2], [121.05, 31.2], [121.05, 31.25]]
    store.apply_site(validate_site(doc))
    [street] = store.streets()
    assert street.outline == ((120.9, 30.9), (121.3, 30.9), (121.3, 31.3), (120.9, 31.3))
    assert [(k.id, k.outline) for k in store.compounds(["K1", "K2"])] == [
        ("K1", ((121.0, 31.2), (121.05, 31.2), (121.05, 31.25))),
        ("K2", ()),
    ]
    assert [k.community_id for k in store.compounds()] == ["CM1", "CM1", "CM2"]
    del doc["compounds"][0]["outline"]
    store.apply_site(validate_site(doc))
    assert store.compounds(["K1"])[0].outline == ()
    places = {p.id: p for p in store.camera_places(["G1"])}
    assert list(places) == ["C1"]
    assert (places["C1"].grid_id, places["C1"].compound_id, places["C1"].lat, places["C1"].enabled) == (
        "G1",
        "K1",
        None,
        True,
    )


def test_reapply_is_a_no_op_and_an_edit_bumps_the_revision(store: SiteStore) -> None:
    store.apply_site(validate_site(site()))
    again = store.apply_site(validate_site(site()))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert store.camera("C1").revision == 1

    doc = site()
    doc["cameras"][0]["zones"] = [{"id": "z", "purpose": "crowd", "points": [[0, 0], [1, 0], [1, 1]]}]
    edited = store.apply_site(validate_site(doc))
    assert (edited.updated, edited.unchanged) == (1, 1)
    assert store.camera("C1").revision == 2
    assert store.camera("C1").zones[0].id == "z"


def test_passwords_are_encrypted_and_never_on_read_paths(store: SiteStore, sessions: sessionmaker[Session]) -> None:
    doc = site(cameras=[camera("C1", credentials={"username": "admin", "password": "hunter2-secret"})])
    store.apply_site(validate_site(doc))
    with sessions() as s:
        raw = s.scalars(select(CameraRow.password_enc)).one()
    assert raw is not None
    assert "hunter2" not in raw
    cam = store.camera("C1")
    assert cam.has_password
    assert cam.username == "admin"
    for text in (
        repr(cam),
        repr(store.cameras()),
        store.export_cameras_csv(),
        repr(store.tree(with_cameras=True)),
    ):
        assert "hunter2" not in text
    creds = store.credentials("C1")
    assert (creds.username, creds.password) == ("admin", "hunter2-secret")
    assert "hunter2" not in repr(creds)


def test_failed_all_or_nothing_import_leaves_the_database_unchanged(store: SiteStore) -> None:
    store.apply_site(validate_site(site()))
    before = snapshot(store)
    header = "id,name,compound,grid,rtsp_url,username,password\n"
    rows = "C1,Renamed,K1,,rtsp://10.0.0.1/new,u,p\nC9,New,K1,,rtsp://10.0.0.1/9,,\nC10,Bad,K1,G-119,rtsp://10.0.0.1/10,,\n"
    with pytest.raises(InvalidInput) as info:
        store.import_cameras(header + rows)
    assert [str(i) for i in info.value.issues] == ['cameras.csv line 4: grid "G-119" does not exist']
    assert snapshot(store) == before

    report = store.import_cameras(header + rows, skip_invalid=True)
    assert (report.created, report.updated, [str(i) for i in report.skipped]) == (
        1,
        1,
        ['cameras.csv line 4: grid "G-119" does not exist'],
    )
    assert store.camera("C1").name == "Renamed"
    assert store.credentials("C1").password == "p"


def test_failed_site_load_leaves_the_database_unchanged(store: SiteStore, tmp_path: Any) -> None:
    store.apply_site(validate_site(site()))
    before = snapshot(store)
    doc = site()
    doc["cameras"][0]["name"] = "changed"
    doc["cameras"].append(camera("C3", grid="nope"))
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(InvalidInput, match=r'cameras\[2\]\.grid: grid "nope" does not exist'):
        store.load_site(path)
    assert snapshot(store) == before


def test_csv_import_keeps_zones_and_blank_password(store: SiteStore) -> None:
    doc = site(
        cameras=[
            camera(
                "C1",
                credentials={"username": "u", "password": "keep-me"},
                zones=[{"id": "z", "purpose": "mask", "points": [[0, 0], [1, 0], [1, 1]]}],
            )
        ]
    )
    store.apply_site(validate_site(doc))
    exported = store.export_cameras_csv()
    report = store.import_cameras(exported.replace("Camera C1", "Gate"))
    assert report.updated == 1
    cam = store.camera("C1")
    assert (cam.name, [z.id for z in cam.zones], store.credentials("C1").password) == (
        "Gate",
        ["z"],
        "keep-me",
    )


def test_full_size_site_csv_imports_and_round_trips(store: SiteStore) -> None:
    doc = generate_site(with_cameras=True)
    cameras = doc.pop("cameras")
    store.apply_site(validate_site(doc))
    text = cameras_csv(cameras)
    progress: list[tuple[int, int]] = []
    report = store.import_cameras(text, progress=lambda d, t: progress.append((d, t)))
    assert (report.created, report.rows) == (1751, 1751)
    assert progress[-1] == (1751, 1751)
    counts = store.counts()
    assert (counts["cameras"], counts["grids"], counts["compounds"]) == (1751, 118, 58)
    assert (counts["people.building_leader"], counts["party_groups"]) == (661, 43)

    exported = store.export_cameras_csv()
    # Same rows as imported, except that the password is never exported and a derived grid is filled in.
    grids = {c.id: c.grid_id for c in store.cameras()}
    expected = [line.split(",") for line in text.splitlines()]
    for row in expected[1:]:
        assert row[3] in ("", grids[row[0]])
        row[3], row[8] = grids[row[0]], ""
    assert exported.splitlines() == [",".join(r) for r in expected]
    again = store.import_cameras(exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1751)
    assert (
        store.credentials("CAM-0100").password
        == next(c for c in cameras if c["id"] == "CAM-0100")["credentials"]["password"]
    )


def test_put_camera_set_enabled_delete(store: SiteStore) -> None:
    store.apply_site(validate_site(site()))
    spec = CameraSpec.model_validate(camera("C7", compound="K3"))
    cam = store.put_camera(spec)
    assert cam.grid_id == "G3"
    with pytest.raises(InvalidInput, match='grid: grid "G9" does not exist'):
        store.put_camera(CameraSpec.model_validate(camera("C8", grid="G9")))
    assert store.set_enabled("C7", False).revision == 2
    assert [c.id for c in store.cameras(enabled_only=True)] == ["C1", "C2"]
    store.delete_camera("C7")
    with pytest.raises(NotFound, match='camera "C7" does not exist'):
        store.camera("C7")
    with pytest.raises(NotFound):
        store.credentials("C7")


def test_formula_cells_are_imported_with_a_warning_and_exported_as_text(store: SiteStore) -> None:
    """CSV injection (OWASP): what a spreadsheet would run is imported as the name it is, said so, and
    written back with a leading apostrophe that the next import strips again."""
    store.apply_site(validate_site(site()))
    names = {"C1": "=cmd|' /C calc'!A0", "C2": "+SUM(1+1)", "C9": "@foo"}
    rows = "".join(f'{cid},"{name}",K1,,rtsp://10.0.0.1/{cid},,\n' for cid, name in names.items())
    report = store.import_cameras("id,name,compound,grid,rtsp_url,username,password\n" + rows)
    assert (report.created, report.updated) == (1, 2)
    assert [(i.where, i.message.split(",")[0]) for i in report.warnings] == [
        ("cameras.csv line 2", "name: starts with '='"),
        ("cameras.csv line 3", "name: starts with '+'"),
        ("cameras.csv line 4", "name: starts with '@'"),
    ]
    assert {cid: store.camera(cid).name for cid in names} == names

    exported = list(csv.DictReader(io.StringIO(store.export_cameras_csv())))
    cells = {r["id"]: r["name"] for r in exported}
    assert {cid: cells[cid] for cid in names} == {cid: "'" + name for cid, name in names.items()}
    assert not any(v.startswith(FORMULA_START) for r in exported for v in r.values() if v)

    again = store.import_cameras(store.export_cameras_csv())
    assert again.unchanged == len(exported)
    assert {cid: store.camera(cid).name for cid in names} == names
