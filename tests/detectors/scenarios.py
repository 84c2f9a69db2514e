"""Scenario clips made from real frames, generated at test time (never committed).

Each edit starts at ``start_s`` into the clip and lasts to its end: a wall replaced by rubble-like texture,
a lens covered, a camera shifted, a blur, a frozen picture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np

from core.clock import FakeClock
from ingest.types import Frame, Image

Edit = Callable[[Image, int], Image]


def rubble(image: Image, box: tuple[int, int, int, int], seed: int = 7) -> Image:
    """Replace a region by rubble: grey-brown blotches of many sizes, broken edges, no straight lines."""
    x1, y1, x2, y2 = box
    out = image.copy()
    rng = np.random.default_rng(seed)
    h, w = y2 - y1, x2 - x1
    patch = np.zeros((h, w, 3), np.float32)
    for scale in (4, 9, 23):
        noise = rng.random((max(2, h // scale), max(2, w // scale))).astype(np.float32)
        patch += cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)[:, :, None]
    patch = patch / 3.0
    tint = np.array([95, 110, 125], np.float32)  # dusty brick-grey (BGR)
    patch = np.clip(tint * (0.5 + patch), 0, 255)
    for _ in range(int(w * h / 150)):  # broken bricks and stones: irregular, lit from above
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(2, max(3, min(h, w) // 8)))
        angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(4, 8))))
        radii = r * rng.uniform(0.5, 1.0, len(angles))
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1).astype(np.int32)
        brick = rng.random() < 0.5
        base = np.array([60, 80, 150] if brick else [120, 125, 130], np.float32) * float(rng.uniform(0.5, 1.2))
        cv2.fillConvexPoly(patch, pts, base.tolist())
        cv2.polylines(patch, [pts], True, (base * 0.4).tolist(), 1)
    out[y1:y2, x1:x2] = patch.astype(np.uint8)
    return out


def covered(image: Image, _i: int) -> Image:
    """A hand or a cloth over the lens: nearly one dark colour with a little sensor noise."""
    rng = np.random.default_rng(_i)
    base = np.full_like(image, (22, 24, 28))
    noisy = base.astype(np.int16) + rng.integers(-2, 3, image.shape).astype(np.int16)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def blurred(image: Image, _i: int) -> Image:
    return np.asarray(cv2.GaussianBlur(image, (0, 0), 6), dtype=np.uint8)


def shifted(image: Image, _i: int, dx: float = 0.12, dy: float = 0.06) -> Image:
    h, w = image.shape[:2]
    m = np.array([[1, 0, dx * w], [0, 1, dy * h]], dtype=np.float32)
    return np.asarray(cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT), dtype=np.uint8)


def edited_frames(
    images: Sequence[Image],
    camera_id: str,
    *,
    fps: float,
    edit: Edit | None = None,
    start_s: float = 0.0,
    frozen_from_s: float | None = None,
    loops: int = 1,
) -> Iterator[Frame]:
    """Frames on a fake timeline; from ``start_s`` on each picture is edited (or repeated, for frozen)."""
    clock = FakeClock()
    t0, w0 = clock.monotonic(), clock.now()
    n = 0
    held: Image | None = None
    for _ in range(loops):
        for image in images:
            t = n / fps
            picture = image
            if edit is not None and t >= start_s:
                picture = edit(image, n)
            if frozen_from_s is not None and t >= frozen_from_s:
                held = picture if held is None else held
                picture = held
            yield Frame(camera_id, n, t0 + t, w0 + timedelta(seconds=t), picture)
            n += 1


def write_clip(frames: Sequence[Image], path: Path, fps: float) -> Path:
    """Write an MJPG AVI (lossy but simple, readable by OpenCV everywhere)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
    try:
        for f in frames:
            writer.write(f)
    finally:
        writer.release()
    return path


def person_crop(image: Image, box: tuple[int, int, int, int]) -> Image:
    x1, y1, x2, y2 = box
    return image[y1:y2, x1:x2].copy()


def paste(image: Image, patch: Image, feet: tuple[int, int]) -> Image:
    """Paste ``patch`` so that its bottom-centre lands on ``feet``."""
    out = image.copy()
    h, w = patch.shape[:2]
    x, y = feet[0] - w // 2, feet[1] - h
    out[y : y + h, x : x + w] = patch
    return out


def falling(person: Image, feet: tuple[int, int], fall_at: int) -> Edit:
    """A real person standing at ``feet``, lying on the ground there from picture ``fall_at`` on."""
    lying = np.asarray(cv2.rotate(person, cv2.ROTATE_90_COUNTERCLOCKWISE), dtype=np.uint8)

    def edit(image: Image, i: int) -> Image:
        return paste(image, person if i < fall_at else lying, feet)

    return edit
