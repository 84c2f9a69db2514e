"""Synthetic cameras for tests and benchmarks: ``synthetic:<seed>?fps=1&size=64x36`` makes a small still picture
(the seed decides it) at the asked rate, with no network and no decoding, so that a site of thousands of cameras
exercises the control plane (placement, shards, heartbeats, observations) on a small machine.

Accepted only with ``GRIDWATCH_SYNTHETIC_SOURCES=1`` (`camera_config.urls.synthetic_sources_on`); a real site
never has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import numpy as np
from av.video.frame import VideoFrame

from core.redact import redact

DEFAULT_FPS = 1.0
"""One frame a second: under the reader's 2 s stall bound, so a synthetic camera shows online, not degraded."""
DEFAULT_SIZE = (64, 36)
MAX_FPS = 60.0
MAX_SIDE = 1920


@dataclass(frozen=True, slots=True)
class SyntheticSpec:
    seed: int
    fps: float = DEFAULT_FPS
    width: int = DEFAULT_SIZE[0]
    height: int = DEFAULT_SIZE[1]


def parse_synthetic(url: str) -> SyntheticSpec:
    """``synthetic:<seed>?fps=F&size=WxH`` → its spec; ValueError naming the URL and the field at fault."""
    parts = urlsplit(url.strip())
    where = redact(url)
    if parts.scheme.lower() != "synthetic":
        raise ValueError(f"not a synthetic source (got {where!r})")
    seed_text = parts.path or parts.netloc
    if not seed_text.isdigit():
        raise ValueError(f"synthetic source: the seed must be a whole number, as in synthetic:7 (got {where!r})")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"fps", "size"})
    if unknown:
        raise ValueError(f"synthetic source: unknown parameter {', '.join(unknown)} (fps and size only; got {where!r})")
    fps = DEFAULT_FPS
    if "fps" in query:
        try:
            fps = float(query["fps"][-1])
        except ValueError:
            fps = float("nan")
        if not 0 < fps <= MAX_FPS:
            raise ValueError(f"synthetic source: fps must be above 0 and at most {MAX_FPS:g} (got {where!r})")
    width, height = DEFAULT_SIZE
    if "size" in query:
        w, _, h = query["size"][-1].lower().partition("x")
        if not (w.isdigit() and h.isdigit() and 16 <= int(w) <= MAX_SIDE and 16 <= int(h) <= MAX_SIDE):
            raise ValueError(f"synthetic source: size must be WxH, each 16 to {MAX_SIDE} (got {where!r})")
        width, height = int(w), int(h)
    return SyntheticSpec(int(seed_text), fps, width, height)


def synthetic_picture(spec: SyntheticSpec) -> VideoFrame:
    """The camera's picture: a grey pattern of blocks the seed decides (one picture, made once: still cameras are
    what most of a site's cameras are, and what costs least)."""
    rng = np.random.default_rng(spec.seed)
    blocks = rng.integers(16, 240, size=((spec.height + 7) // 8, (spec.width + 7) // 8), dtype=np.uint8)
    luma = np.ascontiguousarray(np.kron(blocks, np.ones((8, 8), dtype=np.uint8))[: spec.height, : spec.width])
    return VideoFrame.from_ndarray(luma, format="gray")
