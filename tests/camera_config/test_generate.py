"""The full-size example site is a valid site whose map is drawn from its own outlines: every grid has a shape
(its polygon, or its compound's outline), every camera stands in its grid's shape, all within the street."""

from __future__ import annotations

from camera_config.generate import CAMERAS, GRIDS, generate_site
from camera_config.geo import leaves, point_in_polygon
from camera_config.validate import load_site_file, validate_site
from tests.support.paths import EXAMPLES


def test_every_camera_stands_in_its_grids_shape_within_the_street() -> None:
    site = validate_site(generate_site())
    assert (len(site.grids), len(site.cameras)) == (GRIDS, CAMERAS)
    outlines = {k.id: k.outline for k in site.compounds}
    shapes = {g.id: [g.polygon] if g.polygon else [outlines[k] for k in g.compound_ids] for g in site.grids}
    assert all(shape for drawn in shapes.values() for shape in drawn)
    assert sum(1 for g in site.grids if not g.polygon) == 20  # the compounds with one grid: drawn by the compound
    for record in site.cameras:
        cam = record.camera
        assert cam.lat is not None
        assert cam.lon is not None
        assert any(point_in_polygon((cam.lon, cam.lat), shape) for shape in shapes[cam.grid_id]), cam.id
    assert site.street.outline
    assert [k.id for k in site.compounds if leaves(k.outline, site.street.outline)] == []


def test_the_demo_site_has_outlines_and_places_for_its_map() -> None:
    site = load_site_file(EXAMPLES / "demo-site.yaml", allow_files=True)
    assert len(site.street.outline) == 5
    assert all(len(k.outline) >= 4 for k in site.compounds)
    outlines = {k.id: k.outline for k in site.compounds}
    for record in site.cameras:
        cam = record.camera
        assert cam.compound_id is not None
        assert cam.lon is not None
        assert cam.lat is not None
        assert point_in_polygon((cam.lon, cam.lat), outlines[cam.compound_id]), cam.id
