from __future__ import annotations

import numpy as np

from detectors.regions import MotionFinder, plan_regions
from detectors.types import Box


def test_one_region_holds_nearby_boxes_and_stays_inside_the_frame() -> None:
    boxes = [Box(700, 500, 760, 570), Box(650, 480, 690, 560)]
    regions = plan_regions(boxes, 768, 576, 320)
    assert len(regions) == 1
    r = regions[0]
    assert r.size == 320
    assert r.x + r.size <= 768
    assert r.y + r.size <= 576
    for b in boxes:
        assert r.x <= b.x1
        assert r.y <= b.y1
        assert b.x2 <= r.x + r.size
        assert b.y2 <= r.y + r.size


def test_far_apart_boxes_get_their_own_regions_and_a_big_box_a_bigger_one() -> None:
    regions = plan_regions([Box(10, 10, 40, 80), Box(700, 400, 740, 480), Box(200, 100, 600, 500)], 768, 576, 320)
    assert len(regions) == 3
    assert max(r.size for r in regions) >= 400 * 1.3 - 1


def test_motion_finds_what_changed(vtest_head: dict[int, np.ndarray]) -> None:
    finder = MotionFinder()
    assert finder.boxes(vtest_head[0]) is None  # first frame: nothing to compare with
    moved = finder.boxes(vtest_head[5])
    assert moved  # people walk in vtest
    still = MotionFinder()
    still.boxes(vtest_head[0])
    assert still.boxes(vtest_head[0].copy()) == []
