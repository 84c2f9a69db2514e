"""A deterministic full-size site shaped like the real sub-district, for scale tests and benchmarks.

1 street, 8 communities, 24 property companies, 58 compounds, 118 grids (116 covering compounds,
2 drawn as outlines along the main road), 118 grid workers, 661 building leaders, 43 party groups, 65 partner units
and 1,751 cameras. Same output for the same arguments, every time.

On the ground: each community is a block of compounds three across, the blocks four across and two deep,
the main road along the south with its two grids, and the street's outline around it all. A compound
with one grid is drawn by its own outline; one with two or three is cut into strips, one polygon per
grid, and each camera stands in its grid's strip.
"""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

from camera_config.camera_csv import CSV_COLUMNS

COMMUNITIES = 8
COMPANIES_PER_COMMUNITY = 3
COMPOUNDS = 58
GRIDS = 118
BUILDING_LEADERS = 661
PARTY_GROUPS = 43
PARTNER_UNITS = 65
CAMERAS = 1751
ROAD_CAMERAS = 40  # street/community-level cameras placed by location in the two outline grids

# 20 compounds with one grid, 18 with two, 20 with three: 116 compound grids.
_GRIDS_PER_COMPOUND = [1] * 20 + [2] * 18 + [3] * 20
_BASE_LAT, _BASE_LON = 31.20, 121.40
_COMPOUND_W, _COMPOUND_H, _GAP = 0.003, 0.0025, 0.001  # degrees: a compound is about 300 m × 280 m
_ACROSS, _BLOCKS_ACROSS = 3, 4  # compounds across a community's block; blocks across the street
_BLOCK_W = _ACROSS * (_COMPOUND_W + _GAP) + _GAP
_BLOCK_H = 3 * (_COMPOUND_H + _GAP) + _GAP
_ROAD_H = 0.002

Box = tuple[float, float, float, float]
"""(west, south, east, north) in degrees."""


def _password(camera_id: str) -> str:
    return "pw-" + hashlib.sha256(camera_id.encode()).hexdigest()[:12]


def _rect(box: Box) -> list[list[float]]:
    lon0, lat0, lon1, lat1 = (round(v, 6) for v in box)
    return [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1]]


def _compound_box(community: int, place: int) -> Box:
    """The ``place``-th compound of ``community`` (both from 0), in its community's block."""
    west = _BASE_LON + (community % _BLOCKS_ACROSS) * _BLOCK_W + _GAP + (place % _ACROSS) * (_COMPOUND_W + _GAP)
    south = _BASE_LAT + (community // _BLOCKS_ACROSS) * _BLOCK_H + _GAP + (place // _ACROSS) * (_COMPOUND_H + _GAP)
    return west, south, west + _COMPOUND_W, south + _COMPOUND_H


def _strip(box: Box, index: int, count: int) -> Box:
    """The ``index``-th of ``count`` strips a box is cut into, west to east."""
    west, south, east, north = box
    width = (east - west) / count
    return west + index * width, south, west + (index + 1) * width, north


def _road_box(index: int, count: int) -> Box:
    """The ``index``-th of ``count`` sections of the main road along the south of the blocks."""
    whole = (_BASE_LON, _BASE_LAT - _ROAD_H, _BASE_LON + _BLOCKS_ACROSS * _BLOCK_W, _BASE_LAT)
    return _strip(whole, index, count)


def _street_outline(communities: int) -> list[list[float]]:
    """Around the blocks and the road, with the north-east corner cut off where the river bends."""
    west, south = _BASE_LON - _GAP, _BASE_LAT - _ROAD_H - _GAP
    east = _BASE_LON + _BLOCKS_ACROSS * _BLOCK_W + _GAP
    north = _BASE_LAT + -(-communities // _BLOCKS_ACROSS) * _BLOCK_H + _GAP
    cut = _GAP * 3
    points = [(west, south), (east, south), (east, north - cut), (east - cut, north), (west, north)]
    return [[round(lon, 6), round(lat, 6)] for lon, lat in points]


def _spot(box: Box, n: int) -> dict[str, float]:
    """The ``n``-th camera's place in a box: scattered, never on its border."""
    west, south, east, north = box
    across, up = 0.15 + 0.7 * ((n * 13) % 17) / 16, 0.15 + 0.7 * ((n * 7) % 29) / 28
    return {"lat": round(south + up * (north - south), 6), "lon": round(west + across * (east - west), 6)}


def generate_site(*, rtsp_base: str = "rtsp://127.0.0.1:8554", with_cameras: bool = True) -> dict[str, Any]:
    """The site as a YAML-ready document."""
    communities = [{"id": f"CM-{c + 1:02d}", "name": f"Community {c + 1}"} for c in range(COMMUNITIES)]
    companies = [
        {
            "id": f"PC-{i + 1:02d}",
            "name": f"Property Company {i + 1}",
            "community": communities[i // COMPANIES_PER_COMMUNITY]["id"],
        }
        for i in range(COMMUNITIES * COMPANIES_PER_COMMUNITY)
    ]
    compounds: list[dict[str, Any]] = [
        {
            "id": f"K-{i + 1:03d}",
            "name": f"Compound {i + 1}",
            "property_company": companies[i % len(companies)]["id"],
        }
        for i in range(COMPOUNDS)
    ]
    community_of_company = {pc["id"]: pc["community"] for pc in companies}
    compound_community = {k["id"]: community_of_company[k["property_company"]] for k in compounds}
    boxes: dict[str, Box] = {}
    placed: dict[str, int] = {}
    for k in compounds:
        community = compound_community[k["id"]]
        boxes[k["id"]] = _compound_box(int(community[3:]) - 1, placed.get(community, 0))
        placed[community] = placed.get(community, 0) + 1
        k["outline"] = _rect(boxes[k["id"]])

    party_groups = [
        {
            "id": f"PG-{i + 1:02d}",
            "name": f"Party Group {i + 1}",
            "community": communities[i % COMMUNITIES]["id"],
        }
        for i in range(PARTY_GROUPS)
    ]
    groups_by_community: dict[str, list[str]] = {}
    for pg in party_groups:
        groups_by_community.setdefault(pg["community"], []).append(pg["id"])

    grids: list[dict[str, Any]] = []
    compound_grids: dict[str, list[str]] = {}
    strips: dict[str, Box] = {}
    for k, count in zip(compounds, _GRIDS_PER_COMPOUND, strict=True):
        for index in range(count):
            gid = f"G-{len(grids) + 1:03d}"
            community = compound_community[k["id"]]
            groups = groups_by_community[community]
            grid: dict[str, Any] = {
                "id": gid,
                "name": f"{k['name']} grid {index + 1}",
                "community": community,
                "compounds": [k["id"]],
                "party_group": groups[len(grids) % len(groups)],
            }
            strips[gid] = _strip(boxes[k["id"]], index, count)
            if count > 1:
                grid["polygon"] = _rect(strips[gid])
            grids.append(grid)
            compound_grids.setdefault(k["id"], []).append(gid)
    road_boxes: list[Box] = []
    roads = GRIDS - len(grids)
    for r in range(roads):
        community = communities[r]["id"]
        road_boxes.append(_road_box(r, roads))
        grids.append(
            {
                "id": f"G-{len(grids) + 1:03d}",
                "name": f"Main road section {r + 1}",
                "community": community,
                "polygon": _rect(road_boxes[-1]),
                "party_group": groups_by_community[community][0],
            }
        )

    people: list[dict[str, Any]] = []
    for g in grids:
        people.append(
            {
                "id": f"P-GW-{g['id'][2:]}",
                "name": f"Grid worker {g['id']}",
                "role": "grid_worker",
                "grid": g["id"],
                "phone": f"+86 139 {int(g['id'][2:]):04d} 0000",
            }
        )
    per_grid, extra = divmod(BUILDING_LEADERS, len(grids))
    n = 0
    for gi, g in enumerate(grids):
        for b in range(per_grid + (1 if gi < extra else 0)):
            n += 1
            people.append(
                {
                    "id": f"P-BL-{n:03d}",
                    "name": f"Building leader {n}",
                    "role": "building_leader",
                    "grid": g["id"],
                    "building": f"Block {b + 1}",
                }
            )
    for pg in party_groups:
        for m in range(3):
            people.append(
                {
                    "id": f"P-PM-{pg['id'][3:]}-{m + 1}",
                    "name": f"Party member {pg['id']}-{m + 1}",
                    "role": "party_member",
                    "party_group": pg["id"],
                }
            )
    for c in communities:
        people.append(
            {
                "id": f"P-OP-{c['id'][3:]}",
                "name": f"Operator {c['id']}",
                "role": "operator",
                "community": c["id"],
            }
        )

    doc: dict[str, Any] = {
        "street": {"id": "ST-01", "name": "Riverside Sub-district", "outline": _street_outline(COMMUNITIES)},
        "communities": communities,
        "property_companies": companies,
        "compounds": compounds,
        "party_groups": party_groups,
        "partner_units": [
            {
                "id": f"PU-{i + 1:02d}",
                "name": f"Partner Unit {i + 1}",
                "contact": {"name": f"Contact {i + 1}", "phone": f"+86 21 5555 {i + 1:04d}"},
                # most serve one community; every fifth serves its neighbour too
                "communities": [communities[i % COMMUNITIES]["id"]]
                + ([communities[(i + 1) % COMMUNITIES]["id"]] if i % 5 == 4 else []),
            }
            for i in range(PARTNER_UNITS)
        ],
        "grids": grids,
        "people": people,
    }
    if with_cameras:
        doc["cameras"] = generate_cameras(compound_grids, strips, road_boxes, rtsp_base)
    return doc


def generate_cameras(
    compound_grids: dict[str, list[str]], strips: dict[str, Box], road_boxes: list[Box], rtsp_base: str
) -> list[dict[str, Any]]:
    """Cameras in the compounds, each in its grid's strip, then along the road, each in its section."""
    cameras: list[dict[str, Any]] = []
    compound_ids = sorted(compound_grids)
    in_compounds = CAMERAS - ROAD_CAMERAS
    base, extra = divmod(in_compounds, len(compound_ids))
    for ki, k in enumerate(compound_ids):
        grids = compound_grids[k]
        for j in range(base + (1 if ki < extra else 0)):
            cid = f"CAM-{len(cameras) + 1:04d}"
            cam: dict[str, Any] = {
                "id": cid,
                "name": f"{k} camera {j + 1}",
                "level": "property" if j % 10 == 9 else "compound",
                "compound": k,
                "location": _spot(strips[grids[j % len(grids)]], j),
                "streams": {"main": f"{rtsp_base}/cam/{cid}/main", "sub": f"{rtsp_base}/cam/{cid}/sub"},
                "credentials": {"username": "admin", "password": _password(cid)},
            }
            if len(grids) > 1:
                cam["grid"] = grids[j % len(grids)]
            cam["zones"] = _zones(len(cameras))
            cameras.append(cam)
    for r in range(ROAD_CAMERAS):
        cid = f"CAM-{len(cameras) + 1:04d}"
        cameras.append(
            {
                "id": cid,
                "name": f"Main road camera {r + 1}",
                "level": "street" if r % 4 else "community",
                "location": _spot(road_boxes[r % len(road_boxes)], r),
                "streams": {"main": f"{rtsp_base}/cam/{cid}/main", "sub": f"{rtsp_base}/cam/{cid}/sub"},
                "credentials": {"username": "admin", "password": _password(cid)},
                "zones": _zones(len(cameras)),
            }
        )
    return cameras


def _zones(n: int) -> list[dict[str, Any]]:
    zones: list[dict[str, Any]] = []
    if n % 3 == 0:
        zones.append({"id": "crowd", "purpose": "crowd", "points": [[0.0, 0.4], [1.0, 0.4], [1.0, 1.0], [0.0, 1.0]]})
    if n % 7 == 0:
        zones.append({"id": "wall", "purpose": "structure", "points": [[0.0, 0.0], [0.5, 0.0], [0.5, 0.3], [0.0, 0.3]]})
    if n % 11 == 0:
        zones.append(
            {
                "id": "restricted",
                "purpose": "restricted",
                "points": [[0.6, 0.5], [0.95, 0.5], [0.95, 0.9], [0.6, 0.9]],
            }
        )
    if n % 13 == 0:
        zones.append({"id": "sky", "purpose": "mask", "points": [[0.0, 0.0], [1.0, 0.0], [1.0, 0.1], [0.0, 0.1]]})
    return zones


def cameras_csv(cameras: list[dict[str, Any]]) -> str:
    """The generated cameras as an integrator's CSV (zones and settings are not CSV columns)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for cam in cameras:
        loc = cam.get("location") or {}
        writer.writerow(
            [
                cam["id"],
                cam["name"],
                cam.get("compound", ""),
                cam.get("grid", ""),
                cam.get("level", "compound"),
                cam["streams"]["main"],
                cam["streams"].get("sub", ""),
                cam["credentials"]["username"],
                cam["credentials"]["password"],
                loc.get("lat", ""),
                loc.get("lon", ""),
                "true",
            ]
        )
    return out.getvalue()
