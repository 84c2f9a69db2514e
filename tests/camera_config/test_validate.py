"""Validation refuses bad site input with every problem at once, each at its exact place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from camera_config.camera_csv import read_camera_csv
from camera_config.geo import point_in_polygon
from camera_config.site_index import SiteIndex
from camera_config.types import CameraLevel, ZonePurpose
from camera_config.validate import load_site_file, validate_site
from core.errors import InvalidInput
from tests.camera_config.sites import camera, site


def issues_of(doc: dict[str, Any], **kw: Any) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        validate_site(doc, **kw)
    return [str(i) for i in info.value.issues]


def test_valid_site_gives_typed_values() -> None:
    result = validate_site(site())
    assert [g.id for g in result.grids] == ["G1", "G2a", "G2b", "G3", "GR"]
    c1, c2 = (r.camera for r in result.cameras)
    assert c1.grid_id == "G1"  # derived: K1 is covered by G1 only
    assert c2.grid_id == "G2b"
    assert c1.level is CameraLevel.COMPOUND
    assert c1.detect_url == "rtsp://10.0.0.1/C1/sub"
    assert result.compounds[0].community_id == "CM1"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["cameras"][0]["streams"].update(mian="x"), "cameras[0].streams.mian: unknown key"),
        (lambda d: d["cameras"][0].update(colour="red"), "cameras[0].colour: unknown key"),
        (lambda d: d.update(cameraz=[]), "cameraz: unknown key"),
        (
            lambda d: d["cameras"].append(camera("C1")),
            'cameras[2].id: duplicate id "C1" (first at cameras[0])',
        ),
        (
            lambda d: d["grids"].append(dict(d["grids"][0])),
            'grids[5].id: duplicate id "G1" (first at grids[0])',
        ),
        (
            lambda d: d["cameras"][0].update(compound="K9"),
            'cameras[0].compound: compound "K9" does not exist',
        ),
        (lambda d: d["cameras"][0].update(grid="G-119"), 'cameras[0].grid: grid "G-119" does not exist'),
        (
            lambda d: d["cameras"][0].update(grid="G3"),
            'cameras[0].grid: grid "G3" does not cover compound "K1"',
        ),
        (
            lambda d: d["cameras"][1].pop("grid"),
            'cameras[1].grid: compound "K2" is in grids G2a, G2b; give grid',
        ),
        (
            lambda d: d["cameras"][0].update(zones=[{"id": "z", "purpose": "crowd", "points": [[0, 0], [1, 1]]}]),
            "cameras[0].zones[0].points: polygon needs ≥3 points",
        ),
        (
            lambda d: d["cameras"][0].update(
                zones=[
                    {"id": "a", "purpose": "mask", "points": [[0, 0], [1, 0], [1, 1]]},
                    {"id": "b", "purpose": "crowd", "points": [[0, 0], [1.5, 0.2], [0, 1]]},
                ]
            ),
            "cameras[0].zones[1].points: point 1 (1.5, 0.2) is outside 0..1",
        ),
        (
            lambda d: d["cameras"][0].update(
                zones=[{"id": "z", "purpose": "crowd", "points": [[0, 0], [0.5, 0.5], [1, 1]]}]
            ),
            "cameras[0].zones[0].points: polygon has zero area",
        ),
        (
            lambda d: d["cameras"][0].update(zones=[{"id": "z", "purpose": "fog", "points": [[0, 0], [1, 0], [1, 1]]}]),
            "cameras[0].zones[0].purpose: Input should be "
            "'crowd', 'structure', 'restricted', 'mask', 'fire_lane' or 'entrance'",
        ),
        (
            lambda d: d["cameras"][0].update(
                zones=[{"id": "z", "purpose": "mask", "points": [[0, 0], [1, 0], [1, 1]]}] * 2
            ),
            'cameras[0].zones[1].id: duplicate zone id "z" (first at zones[0])',
        ),
        (
            lambda d: d["cameras"][0]["streams"].update(main="http://169.254.169.254/latest"),
            "cameras[0].streams.main: only rtsp:// or rtsps:// URLs are accepted (got 'http://169.254.169.254/latest')",
        ),
        (
            lambda d: d["cameras"][0]["streams"].update(sub="/srv/video/a.mp4"),
            "cameras[0].streams.sub: file sources are only accepted in demo mode (got '/srv/video/a.mp4')",
        ),
        (
            lambda d: d["cameras"][0]["streams"].update(main="rtsp:///x"),
            "cameras[0].streams.main: URL has no host (got 'rtsp:///x')",
        ),
        (
            lambda d: d["cameras"][0].update(level="compound", compound=None),
            "cameras[0].compound: compound is required for a compound-level camera",
        ),
        (
            lambda d: d["cameras"][0].update(id="bad id"),
            'cameras[0].id: id "bad id": use letters, digits, ".", "_" or "-", at most 64, starting alphanumeric',
        ),
        (lambda d: d["cameras"][0].pop("streams"), "cameras[0].streams: required"),
        (
            lambda d: d["compounds"][0].update(property_company="PCX"),
            'compounds[0].property_company: property company "PCX" does not exist',
        ),
        (
            lambda d: d["grids"][0].update(compounds=["K3"]),
            'grids[0].compounds[0]: compound "K3" belongs to community "CM2"',
        ),
        (lambda d: d["grids"][1].update(compounds=[]), "grids[1]: a grid needs compounds or a polygon"),
        (
            lambda d: d["grids"][4].update(polygon=[[1, 1], [2, 2]]),
            "grids[4].polygon: polygon needs ≥3 points",
        ),
        (lambda d: d["people"][0].pop("grid"), "people[0].grid: required for a grid_worker"),
        (
            lambda d: d["people"].append({"id": "W2", "name": "W", "role": "grid_worker", "grid": "G1"}),
            'people[3].grid: grid "G1" already has grid worker "W1"',
        ),
        (lambda d: d["people"][2].pop("party_group"), "people[2].party_group: required for a party_member"),
        (lambda d: d.update(cameras={"id": "C1"}), "cameras: expected a list, got dict"),
        (lambda d: d["cameras"].append("C9"), "cameras[2]: expected a mapping, got str"),
        (lambda d: d.pop("street"), "street: required"),
    ],
)
def test_each_refusal_names_the_place(edit: Any, expected: str) -> None:
    doc = site()
    edit(doc)
    found = issues_of(doc)
    assert any(i.startswith(expected) for i in found), found


def test_every_error_is_reported_at_once() -> None:
    doc = site()
    doc["cameras"][0]["grid"] = "G-119"
    doc["cameras"][1]["zones"] = [{"id": "z", "purpose": "crowd", "points": [[0, 0]]}]
    doc["compounds"][2]["property_company"] = "nope"
    doc["people"][1]["colour"] = "blue"
    assert sorted(issues_of(doc)) == sorted(
        [
            'compounds[2].property_company: property company "nope" does not exist',
            "people[1].colour: unknown key",
            "cameras[1].zones[0].points: polygon needs ≥3 points",
            'cameras[0].grid: grid "G-119" does not exist',
        ]
    )


def test_file_sources_only_in_demo_mode(tmp_path: Path) -> None:
    doc = site(cameras=[camera("C1", streams={"main": str(tmp_path / "a.avi")})])
    assert issues_of(doc)[0].startswith("cameras[0].streams.main: file sources are only accepted in demo mode")
    result = validate_site(doc, allow_files=True)
    assert result.cameras[0].camera.main_url == str(tmp_path / "a.avi")


def test_credentials_move_out_of_the_url_and_never_into_messages() -> None:
    doc = site(cameras=[camera("C1", streams={"main": "rtsp://admin:s3cret@10.0.0.9:554/ch1"})])
    rec = validate_site(doc).cameras[0]
    assert rec.camera.main_url == "rtsp://10.0.0.9:554/ch1"
    assert rec.camera.username == "admin"
    assert rec.password == "s3cret"
    assert rec.camera.has_password
    assert "s3cret" not in repr(rec)
    assert "s3cret" not in repr(rec.camera)

    bad = site(cameras=[camera("C1", streams={"main": "http://admin:s3cret@10.0.0.9/x"})])
    messages = issues_of(bad)
    assert messages == [
        "cameras[0].streams.main: only rtsp:// or rtsps:// URLs are accepted (got 'http://***@10.0.0.9/x')"
    ]


def test_conflicting_credentials_are_refused() -> None:
    doc = site(cameras=[camera("C1", streams={"main": "rtsp://bob:x@10.0.0.9/ch1"}, credentials={"username": "alice"})])
    assert issues_of(doc) == [
        "cameras[0].streams.main: user name in the URL differs from the camera's other credentials"
    ]


def test_grid_derived_from_location_in_an_outline() -> None:
    cam = camera("R1", level="street", location={"lat": 31.05, "lon": 121.05})
    del cam["compound"]
    result = validate_site(site(cameras=[cam]))
    assert result.cameras[0].camera.grid_id == "GR"

    outside = camera("R2", level="street", location={"lat": 30.0, "lon": 120.0})
    del outside["compound"]
    assert issues_of(site(cameras=[outside])) == [
        "cameras[0].grid: location (30.0, 120.0) lies in no grid outline; give grid"
    ]


def test_zone_values() -> None:
    cam = camera(
        "C1",
        zones=[{"id": "p", "purpose": "crowd", "points": [[0, 0], [1, 0], [1, 1]], "settings": {"min_people": 3}}],
    )
    zone = validate_site(site(cameras=[cam])).cameras[0].camera.zones[0]
    assert zone.purpose is ZonePurpose.CROWD
    assert zone.name == "p"
    assert zone.settings.min_people == 3
    assert zone.points == ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0))


def test_existing_index_satisfies_references() -> None:
    known = SiteIndex(communities={"CM1"}, property_companies={"PC1": "CM1"}, compounds={"K1": "CM1"})
    doc = {
        "street": {"id": "S1", "name": "S"},
        "grids": [{"id": "G9", "name": "G", "community": "CM1", "compounds": ["K1"]}],
    }
    assert validate_site(doc, existing=known).grids[0].compound_ids == ("K1",)


def test_yaml_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InvalidInput, match=r"nope\.yaml: no such file"):
        load_site_file(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("street: {id: S1\ncameras: [\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"broken.yaml line \d+: not valid YAML"):
        load_site_file(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="a site file must be a mapping, got str"):
        load_site_file(scalar)


STREET = [[120.9, 30.9], [121.3, 30.9], [121.3, 31.3], [120.9, 31.3]]
BOWTIE = [[121.0, 31.0], [121.1, 31.1], [121.1, 31.0], [121.0, 31.1]]
CROSSED = "edge 0 (point 0 → 1) crosses edge 2 (point 2 → 3): an outline must not cross itself"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["grids"][4].update(polygon=BOWTIE), f"grids[4].polygon: {CROSSED}"),
        (lambda d: d["compounds"][1].update(outline=BOWTIE), f"compounds[1].outline: {CROSSED}"),
        (lambda d: d["street"].update(outline=BOWTIE), f"street.outline: {CROSSED}"),
        (
            lambda d: d["grids"][4].update(polygon=[[121.0, 31.0], [121.1, 31.0], [121.1, 31.1], [121.1, 31.0]]),
            "grids[4].polygon: point 3 repeats point 1",
        ),
        (
            lambda d: d["compounds"][0].update(outline=[[121.0, 31.0], [121.1, 31.0], [121.2, 31.0]]),
            "compounds[0].outline: polygon has zero area: its points lie on one line",
        ),
        (
            lambda d: d["street"].update(outline=[[121.0, 31.0], [181.0, 31.0], [121.0, 31.1]]),
            "street.outline: point 1 (181.0, 31.0) is not a (lon, lat) pair",
        ),
        (
            lambda d: d["grids"][4].update(polygon=[[121.0, 31.0], [121.5, 31.0], [121.5, 31.1], [121.0, 31.1]]),
            'grids[4].polygon: grid "GR" leaves street "S1": point 1 (121.5, 31) lies outside',
        ),
        (
            lambda d: d["compounds"][2].update(outline=[[121.2, 31.2], [121.4, 31.25], [121.2, 31.25]]),
            'compounds[2].outline: compound "K3" leaves street "S1": point 1 (121.4, 31.25) lies outside',
        ),
    ],
)
def test_outlines_that_cross_themselves_or_leave_the_street_are_refused(edit: Any, expected: str) -> None:
    doc = site()
    doc["street"]["outline"] = STREET
    edit(doc)
    assert expected in issues_of(doc)


def test_an_edge_that_cuts_through_a_bay_of_the_street_is_refused() -> None:
    """Every point of the grid lies within the street, but one edge crosses the bay cut into its outline."""
    bay = [[120.9, 30.9], [121.3, 30.9], [121.3, 31.3], [121.15, 31.3], [121.15, 31.1], [121.05, 31.1]]
    bay += [[121.05, 31.3], [120.9, 31.3]]
    doc = site(street={"id": "S1", "name": "Street", "outline": bay})
    doc["grids"][4]["polygon"] = [[121.0, 31.2], [121.2, 31.2], [121.2, 31.25], [121.0, 31.25]]
    assert issues_of(doc) == [
        'grids[4].polygon: grid "GR" leaves street "S1": its edge 0 (point 0 → 1) crosses the border'
    ]


def test_outlines_are_kept_and_may_share_the_street_border() -> None:
    """A closed ring (its first point again at the end, as GIS tools write it) is the same outline; a compound
    drawn along the street's own border lies within it."""
    doc = site(street={"id": "S1", "name": "Street", "outline": [*STREET, STREET[0]]})
    doc["compounds"][0]["outline"] = [[120.9, 30.9], [121.0, 30.9], [121.0, 31.0], [120.9, 31.0]]
    result = validate_site(doc)
    assert result.street.outline == tuple((lon, lat) for lon, lat in STREET)
    assert result.compounds[0].outline == ((120.9, 30.9), (121.0, 30.9), (121.0, 31.0), (120.9, 31.0))
    assert result.compounds[1].outline == ()
    assert result.grids[4].polygon[0] == (121.0, 31.0)


def test_without_a_street_outline_nothing_is_bounded() -> None:
    doc = site()
    doc["grids"][4]["polygon"] = [[10.0, 10.0], [11.0, 10.0], [11.0, 11.0]]
    assert validate_site(doc).grids[4].polygon == ((10.0, 10.0), (11.0, 10.0), (11.0, 11.0))


def test_point_in_polygon() -> None:
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    assert point_in_polygon((0.5, 0.5), square)
    assert not point_in_polygon((1.5, 0.5), square)


# ------------------------------------------------------------------------------------------- CSV

HEADER = "id,name,compound,grid,level,rtsp_url,sub_url,username,password,lat,lon,enabled\n"


def index() -> SiteIndex:
    result = validate_site(site(cameras=[]))
    return SiteIndex(
        communities={c.id for c in result.communities},
        compounds={k.id: k.community_id for k in result.compounds},
        grids={g.id: g for g in result.grids},
    )


def csv_issues(text: str, **kw: Any) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        read_camera_csv(text, existing=index(), **kw)
    return [str(i) for i in info.value.issues]


def test_csv_valid_rows() -> None:
    text = (
        HEADER
        + "C1,Gate,K1,,compound,rtsp://u:p@10.0.0.1/m,,,,31.1,121.1,true\nC2,Yard,K2,G2a,,rtsp://10.0.0.2/m,,cam,pw,,,no\n"
    )
    batch = read_camera_csv(text, existing=index())
    a, b = batch.records
    assert (a.camera.grid_id, a.camera.username, a.password, a.camera.main_url) == (
        "G1",
        "u",
        "p",
        "rtsp://10.0.0.1/m",
    )
    assert (a.camera.lat, a.camera.lon) == (31.1, 121.1)
    assert (b.camera.grid_id, b.camera.enabled, b.password, b.source_line) == ("G2a", False, "pw", 3)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("C1,Gate,K1,G-119,,rtsp://10.0.0.1/m,,,,,,\n", 'cameras.csv line 2: grid "G-119" does not exist'),
        ("C1,Gate,K9,,,rtsp://10.0.0.1/m,,,,,,\n", 'cameras.csv line 2: compound "K9" does not exist'),
        (
            "C1,Gate,K1,,,ftp://10.0.0.1/m,,,,,,\n",
            "cameras.csv line 2: rtsp_url: only rtsp:// or rtsps:// URLs are accepted (got 'ftp://10.0.0.1/m')",
        ),
        ("C1,Gate,K1,,,rtsp://10.0.0.1/m,,,,abc,1,\n", 'cameras.csv line 2: lat: "abc" is not a number'),
        ("C1,Gate,K1,,,rtsp://10.0.0.1/m,,,,31,,\n", "cameras.csv line 2: lon: lat and lon go together"),
        (
            "C1,Gate,K1,,,rtsp://10.0.0.1/m,,,,,,maybe\n",
            'cameras.csv line 2: enabled: "maybe" is not true/false',
        ),
        (
            "C1,,K1,,,rtsp://10.0.0.1/m,,,,,,\n",
            "cameras.csv line 2: name: String should have at least 1 character",
        ),
        ("C1,Gate,K1,,,rtsp://10.0.0.1/m,,,,\n", "cameras.csv line 2: has 10 fields, the header has 12"),
        (
            "C1,A,K1,,,rtsp://10.0.0.1/m,,,,,,\nC1,B,K1,,,rtsp://10.0.0.1/n,,,,,,\n",
            'cameras.csv line 3: duplicate id "C1" (first on line 2)',
        ),
        (
            "C1,A,,,,rtsp://10.0.0.1/m,,,,,,\n",
            "cameras.csv line 2: compound is required for a compound-level camera",
        ),
    ],
)
def test_csv_refusals(rows: str, expected: str) -> None:
    assert expected in csv_issues(HEADER + rows)


def test_csv_header_problems() -> None:
    assert csv_issues("id,name,url\nC1,A,rtsp://x/y\n") == [
        'cameras.csv line 1: unknown column "url" (expected: id, name, compound, grid, level, rtsp_url, sub_url, '
        "username, password, lat, lon, enabled)",
        'cameras.csv line 1: missing column "rtsp_url"',
    ]
    assert csv_issues("", source="empty.csv") == ["empty.csv: the file is empty"]


def test_csv_skip_invalid_reports_what_was_skipped() -> None:
    text = (
        HEADER
        + "C1,A,K1,,,rtsp://10.0.0.1/m,,,,,,\nC2,B,K1,G-119,,rtsp://10.0.0.1/n,,,,,,\n\nC3,C,K3,,,rtsp://10.0.0.1/o,,,,,,\n"
    )
    batch = read_camera_csv(text, existing=index(), skip_invalid=True, source="x.csv")
    assert [r.camera.id for r in batch.records] == ["C1", "C3"]
    assert [str(i) for i in batch.skipped] == ['x.csv line 3: grid "G-119" does not exist']
    assert batch.rows == 3
