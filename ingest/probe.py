"""A one-off connection test of a stream: open it the way the reader does, decode the first picture,
measure what can be measured in the time allowed, close it.

Integrators run it on a camera they just added; it answers with the reader's own reasons
(`OfflineReason`) and redacted messages, because it opens and classifies with the same code.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from itertools import pairwise

import av
import av.error

from core.redact import redact
from ingest.reader import KeyframeClock, decode_packet, video_stream
from ingest.sources import Source, StreamError, classify, open_container
from ingest.types import OfflineReason

MAX_READ_TIMEOUT_S = 5.0
"""A single read blocks at most this long (or the whole timeout, if shorter)."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a connection test found; ``reason`` and ``detail`` say why when ``ok`` is False."""

    ok: bool
    reason: OfflineReason | None = None
    detail: str | None = None
    """A sentence about the outcome; never contains the stream's password."""
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    """The stream's declared frame rate, else measured from packet timestamps."""
    keyframe_interval_s: float | None = None
    """Measured over the first keyframes, when enough of them arrived within the time allowed."""
    first_frame_ms: float | None = None
    """From starting to connect to the first decoded picture."""


def probe_stream(source: Source, timeout_s: float = 10.0, *, measure_s: float = 3.0) -> ProbeResult:
    """Connect, decode the first picture and measure the keyframe interval for up to ``measure_s`` more.

    Bounded: it answers within ``timeout_s``, plus at most one read timeout
    (``min(timeout_s, 5 s)``) when the stream stalls in the middle of a read. Never raises for a
    stream fault: those are the result.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    read_timeout_s = min(timeout_s, MAX_READ_TIMEOUT_S)
    try:
        # One connection, bounded as tightly as it can be: the interrupt callback also ends a read that a
        # server keeps alive with a trickle of bytes (the reader notices those by its lack of frames).
        container = open_container(
            source, open_timeout_s=timeout_s, read_timeout_s=read_timeout_s, interrupt_reads=True
        )
    except StreamError as exc:
        return ProbeResult(ok=False, reason=exc.reason, detail=exc.detail)
    try:
        return _measure(container, source, started, deadline, measure_s)
    except StreamError as exc:
        return ProbeResult(ok=False, reason=exc.reason, detail=exc.detail)
    except Exception as exc:  # an unforeseen library error is a result too, not a crash of the caller
        reason, detail = classify(exc, opening=False, source=source)
        return ProbeResult(ok=False, reason=reason, detail=detail)
    finally:
        container.close()


def _measure(
    container: av.container.InputContainer, source: Source, started: float, deadline: float, measure_s: float
) -> ProbeResult:
    video = video_stream(container, source)
    codec = video.codec_context
    rate = video.average_rate or video.guessed_rate
    declared_fps = float(rate) if rate else None
    time_base = float(video.time_base) if video.time_base else None
    keyframes = KeyframeClock()
    pts: list[float] = []
    first_ms: float | None = None
    width = height = None
    seen_key = False
    stop_at = deadline
    for packet in container.demux(video):
        now = time.monotonic()
        if packet.size == 0:
            break  # the end-of-stream flush: the source ended
        t = packet.pts * time_base if packet.pts is not None and time_base else None
        if t is not None and len(pts) < 250:
            pts.append(t)
        key = bool(packet.is_keyframe)
        if key and t is not None:
            keyframes.add(t)
        seen_key = seen_key or key
        if first_ms is None and seen_key:
            pictures = decode_packet(codec, packet, source)
            if pictures is None:
                seen_key = False  # a damaged packet: wait for the next keyframe
            if pictures:
                first_ms = (time.monotonic() - started) * 1000.0
                width, height = pictures[0].width, pictures[0].height
                stop_at = min(deadline, time.monotonic() + measure_s)
        if first_ms is not None and (keyframes.interval_s() is not None or now >= stop_at):
            break
        if now >= deadline:
            break
    if first_ms is None:
        what = "picture could be decoded" if seen_key else "keyframe arrived"
        took = time.monotonic() - started
        return ProbeResult(
            ok=False,
            reason=OfflineReason.TIMEOUT if time.monotonic() >= deadline else OfflineReason.ERROR,
            detail=f"{redact(source.url)}: connected, but no {what} within {took:.1f} s",
            codec=codec.name,
        )
    fps = round(declared_fps, 2) if declared_fps else _measured_fps(pts)
    key_s = keyframes.interval_s(min_keyframes=2)
    size = f"{width}×{height}"
    rate_text = f" at {fps:g} fps" if fps else ""
    key_text = f", a keyframe every {key_s:g} s" if key_s else ""
    return ProbeResult(
        ok=True,
        detail=f"{redact(source.url)}: {codec.name} {size}{rate_text}{key_text}; first picture after {first_ms:.0f} ms",
        codec=codec.name,
        width=width,
        height=height,
        fps=fps,
        keyframe_interval_s=key_s,
        first_frame_ms=round(first_ms, 1),
    )


def _measured_fps(pts: list[float]) -> float | None:
    """Frame rate from packet timestamps (streams that do not declare one)."""
    steps = [b - a for a, b in pairwise(sorted(set(pts))) if b > a]
    if len(steps) < 3:
        return None
    return round(1.0 / statistics.median(steps), 2)
