"""One camera's reader: a thread that keeps its stream open, decodes only what the mode needs, gates
on motion and leaves the newest frame for the detector.

Every blocking call is bounded (open and each read have timeouts), so a frozen or vanished
server costs a reconnect with backoff, never a stuck thread.
"""

from __future__ import annotations

import itertools
import random
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import av
import av.container
import av.error
import numpy as np
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

from camera_config.stream_settings import DecodeMode, DetectSettings
from camera_config.types import Camera, ZonePurpose
from core.clock import Clock
from core.redact import redact
from core.retry import Backoff
from ingest.gate import GateReason, Gray, MotionGate, polygon_mask, shrink, small_size
from ingest.health import HealthTracker
from ingest.meter import CountRate, RecentMean, WindowRate
from ingest.sources import PERMANENT, Source, SourceKind, StreamError, classify, open_container
from ingest.synthetic import parse_synthetic, synthetic_picture
from ingest.types import CameraHealth, CameraStats, Frame, Image, Offer, OfflineReason


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """Worker-wide limits; per-camera choices (mode, fps, sensitivity) are in the camera's DetectSettings."""

    open_timeout_s: float = 5.0
    """Bound on connecting and the RTSP handshake."""
    read_timeout_s: float = 5.0
    """Bound on every read; a read that runs into it ends the session (offline: stalled)."""
    stall_s: float = 2.0
    """A read that succeeds only after blocking this long counts as a stall (health: degraded)."""
    reconnect_base_s: float = 0.5
    reconnect_cap_s: float = 2.5
    """Cap of the reconnect backoff for transient faults (refused, timeout, stalled, ended)."""
    permanent_cap_s: float = 30.0
    """Cap for faults that retrying will not fix soon (bad credentials, no such stream, codec)."""
    no_frame_timeout_s: float = 15.0
    """A session that yields no decodable frame for this long is restarted."""
    degraded_window_s: float = 30.0
    low_fps_ratio: float = 0.5
    rate_window_s: float = 5.0
    interrupt_reads: bool = False
    """Bound reads with PyAV's interrupt callback as well as FFmpeg's socket timeout (5 s either way). The
    callback takes Python's GIL on every poll of the socket: 32 still cameras cost 1.77 % of a core each with it
    and 0.59 % without (`bench/capacity.py --interrupt-reads`), so only the open uses it by default."""
    packet_motion: bool = True
    """Keyframe-only decoding: a still camera's keyframes are decoded only when its check is due (`check_every_s`,
    just under ``detect.keepalive_s``), or as soon as its P-frames grow (motion seen in the compressed stream,
    `PacketActivity`)."""


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    """What may change on a running camera without reconnecting."""

    detect: DetectSettings
    ignore: tuple[tuple[tuple[float, float], ...], ...] = ()
    """Mask zones (normalised polygons) that motion gating ignores."""

    @classmethod
    def of(cls, camera: Camera) -> ReaderConfig:
        return cls(camera.detect, tuple(z.points for z in camera.zones if z.purpose is ZonePurpose.MASK))


class PendingFrame:
    """A decoded frame waiting for the detector; converted to a BGR image only if someone takes it."""

    __slots__ = (
        "_av", "_convert", "_frame", "camera_id", "captured_s", "is_keyframe", "monotonic_s", "motion", "seq", "wall_at"
    )  # fmt: skip

    def __init__(
        self,
        camera_id: str,
        seq: int,
        monotonic_s: float,
        wall_at: datetime,
        picture: VideoFrame,
        is_keyframe: bool,
        motion: float | None,
        convert: Callable[[VideoFrame], Image],
        captured_s: float | None = None,
    ) -> None:
        self._convert = convert
        self.captured_s = captured_s
        self.camera_id = camera_id
        self.seq = seq
        self.monotonic_s = monotonic_s
        self.wall_at = wall_at
        self.is_keyframe = is_keyframe
        self.motion = motion
        self._av: VideoFrame | None = picture
        self._frame: Frame | None = None

    def frame(self) -> Frame:
        if self._frame is None:
            picture = self._av
            assert picture is not None
            image = self._convert(picture)
            self._frame = Frame(
                camera_id=self.camera_id,
                seq=self.seq,
                monotonic_s=self.monotonic_s,
                wall_at=self.wall_at,
                image=image,
                is_keyframe=self.is_keyframe,
                motion=self.motion,
                captured_s=self.captured_s,
            )
            self._av = None
        return self._frame


_Y_PLANE_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"})


def small_gray(picture: VideoFrame) -> Gray:
    """The gate's small grey picture, read straight from the luma plane when there is one (no conversion)."""
    if picture.format.name in _Y_PLANE_FORMATS:
        plane = picture.planes[0]
        rows = np.frombuffer(memoryview(plane), dtype=np.uint8, count=plane.line_size * picture.height)
        luma = rows.reshape(picture.height, plane.line_size)[:, : picture.width]
    else:
        luma = np.asarray(picture.to_ndarray(format="gray"), dtype=np.uint8)
    return shrink(luma)


def video_stream(container: av.container.InputContainer, source: Source) -> VideoStream:
    """The container's first video stream set up for cheap decoding; CODEC when there is none to decode."""
    if not container.streams.video:
        found = ", ".join(f"{s.type} {s.codec_context.name}" for s in container.streams if s.codec_context)
        raise StreamError(
            OfflineReason.CODEC, f"{redact(source.url)}: no video stream ({found or 'no streams at all'})"
        )
    video = container.streams.video[0]
    if video.codec_context is None:
        raise StreamError(OfflineReason.CODEC, f"{redact(source.url)}: no decoder for its video codec")
    video.codec_context.thread_count = 1  # many cameras per core: threads inside one decoder only add overhead
    video.codec_context.thread_type = "SLICE"
    return video


def decode_packet(codec: VideoCodecContext, packet: av.Packet[Any], source: Source) -> list[VideoFrame] | None:
    """The packet's pictures, or None for a damaged packet (the next keyframe may decode); CODEC when there is
    no decoder at all, which no retry fixes."""
    try:
        return codec.decode(packet)
    except av.error.DecoderNotFoundError:
        raise StreamError(OfflineReason.CODEC, f"{redact(source.url)}: no decoder for {codec.name}") from None
    except (av.error.InvalidDataError, av.error.UndefinedError, av.error.PatchWelcomeError):
        return None


def check_every_s(detect: DetectSettings) -> float:
    """How often a still camera's frame goes to the detector: a little more than one analysed frame's interval
    before ``keepalive_s``, so that with frames arriving once per interval (and some jitter) the gap never
    exceeds ``keepalive_s``."""
    return max(detect.keepalive_s / 2, detect.keepalive_s - 1.25 / detect.fps)


class KeyframeClock:
    """Measures a stream's keyframe interval from the timestamps of its last few keyframes."""

    def __init__(self) -> None:
        self._times: deque[float] = deque(maxlen=6)

    def add(self, t: float) -> None:
        if self._times and t <= self._times[-1]:
            self._times.clear()  # timestamps restarted: measure afresh
        self._times.append(t)

    @property
    def last(self) -> float | None:
        return self._times[-1] if self._times else None

    def interval_s(self, min_keyframes: int = 3) -> float | None:
        """The median gap; None until ``min_keyframes`` (at least 2) have been seen."""
        if len(self._times) < max(2, min_keyframes):
            return None
        times = list(self._times)
        return round(float(statistics.median(b - a for a, b in itertools.pairwise(times))), 3)


class PacketActivity:
    """Motion read from the compressed stream, without decoding: a still picture encodes into tiny P-frames,
    a changing one into large ones. Learns the stream's quiet level (the mean P-frame size of the groups of
    pictures the motion gate found still) and calls a group active when its mean rises well above it."""

    def __init__(self, ratio: float = 1.5, floor_bytes: float = 150.0, learn: float = 0.2) -> None:
        self.ratio = ratio
        self.floor_bytes = floor_bytes
        self.learn_rate = learn
        self.quiet_bytes: float | None = None
        self._sum = 0
        self._count = 0

    def add(self, size: int) -> None:
        self._sum += size
        self._count += 1

    def close_group(self) -> float | None:
        """Mean P-frame size since the last keyframe (None without P-frames); starts the next group."""
        mean = self._sum / self._count if self._count else None
        self._sum = self._count = 0
        return mean

    def active(self, mean: float | None) -> bool:
        """True unless the group is known to be as small as the quiet level (unknown counts as active)."""
        if mean is None or self.quiet_bytes is None:
            return True
        return mean > self.quiet_bytes * self.ratio + self.floor_bytes

    def learn(self, mean: float | None) -> None:
        if mean is None:
            return
        q = self.quiet_bytes
        self.quiet_bytes = mean if q is None else q + self.learn_rate * (mean - q)


class CameraRunner:
    """Owns one camera's reader thread, its health, its stats and its one-frame slot."""

    def __init__(
        self,
        camera: Camera,
        source: Source | None,
        *,
        options: IngestOptions,
        clock: Clock,
        on_offer: Callable[[], None],
        error: StreamError | None = None,
        resolve: Callable[[Source], Source] | None = None,
    ) -> None:
        """``resolve``: turns a gateway source into the stream to open, at every (re)open (`ingest.gateways`)."""
        self.camera = camera
        self.source = source
        self._resolve = resolve
        self.options = options
        self.clock = clock
        self._on_offer = on_offer
        self._error = error
        self._config = ReaderConfig.of(camera)
        self.health_tracker = HealthTracker(
            camera.id,
            clock,
            degraded_window_s=options.degraded_window_s,
            low_fps_ratio=options.low_fps_ratio,
        )
        self._stop = threading.Event()
        self._lock = threading.Lock()
        now = clock.monotonic()
        w = options.rate_window_s
        self._input = CountRate(w, now)
        self._decoded = WindowRate(w, now)
        self._analysed = WindowRate(w, now)
        self._decode_ms = RecentMean(50)
        self._motion = RecentMean(50)
        self._slot: PendingFrame | None = None
        self._slot_taken = True
        self.dropped = 0
        self.offered = 0
        self.stalls = 0
        self.decode_errors = 0
        self.skipped_quiet = 0
        """Keyframes not decoded because the camera was still and its packets said nothing changed."""
        self.decode_cpu_s = 0.0
        """CPU time this camera's thread spent decoding (and gating, `gate_cpu_s`), for per-stage figures."""
        self.gate_cpu_s = 0.0
        self._still = False
        """The motion gate found the last decoded picture still."""
        self._check_due = False
        """The next decoded picture is a still camera's due check: the gate offers it."""
        self._seq = 0
        self._mode: DecodeMode | None = None
        self._keyframes = KeyframeClock()
        self._nominal_fps: float | None = None
        self._last_frame_at: float | None = None
        self._last_packet_at: float | None = None
        self._streaming = False
        self._gate: MotionGate | None = None
        self._gate_key: tuple[object, ...] | None = None
        self._reformatter = VideoReformatter()  # keeps its conversion context: building one per frame costs 5×
        self._convert_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"ingest-{camera.id}", daemon=True)

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        if self._error is not None:
            self.health_tracker.offline(self._error.reason, self._error.detail)
            return
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end; it does within the read timeout at worst (a read cannot be cut short)."""
        self._stop.set()

    def join(self, timeout_s: float | None = None) -> bool:
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def reconfigure(self, camera: Camera) -> None:
        """New settings or zones for the same stream: applied from the next frame on, no reconnect."""
        self.camera = camera
        self._config = ReaderConfig.of(camera)

    # ------------------------------------------------------------------ the detector's side

    def take(self) -> PendingFrame | None:
        with self._lock:
            if self._slot is None or self._slot_taken:
                return None
            self._slot_taken = True
            return self._slot

    def offer(self) -> Offer | None:
        """The untaken frame as the scheduler sees it (not taken, not converted)."""
        with self._lock:
            slot = self._slot
            if slot is None or self._slot_taken:
                return None
            return Offer(self.camera.id, slot.monotonic_s, slot.motion)

    def peek(self) -> PendingFrame | None:
        with self._lock:
            return self._slot

    def health(self) -> CameraHealth:
        with self._lock:
            last = self._last_packet_at if self._streaming else None
        if last is not None:
            self.health_tracker.waiting(self.clock.monotonic() - last, self.options.stall_s)
        return self.health_tracker.snapshot()

    def stats(self) -> CameraStats:
        with self._lock:
            now = self.clock.monotonic()
            return CameraStats(
                camera_id=self.camera.id,
                input_fps=round(self._input.rate(now), 2),
                analysed_fps=round(self._analysed.rate(now), 2),
                dropped=self.dropped,
                motion_ratio=round(self._motion.mean(), 3),
                decode_ms=round(self._decode_ms.mean(), 2),
                last_frame_age_s=None if self._last_frame_at is None else round(now - self._last_frame_at, 2),
                decoded_fps=round(self._decoded.rate(now), 2),
                decode_mode=self._mode.value if self._mode else None,
                keyframe_interval_s=self._keyframes.interval_s(),
                stalls=self.stalls,
                offered=self.offered,
                skipped_quiet=self.skipped_quiet,
                decode_cpu_s=round(self.decode_cpu_s, 4),
                gate_cpu_s=round(self.gate_cpu_s, 4),
            )

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        source = self.source
        assert source is not None
        backoff = Backoff(self.options.reconnect_base_s, self.options.reconnect_cap_s, rng=random.Random())
        while not self._stop.is_set():
            frames_before = self._seq
            try:
                self._session(source)
            except StreamError as exc:
                reason, detail = exc.reason, exc.detail
            except Exception as exc:  # a bug or an unforeseen library error must not end the camera
                reason, detail = classify(exc, opening=False, source=source)
            else:
                break  # the session returns only when asked to stop
            with self._lock:
                self._streaming = False
            if self._stop.is_set():
                break
            self.health_tracker.offline(reason, detail)
            if self._seq > frames_before:
                backoff.reset()
            cap = self.options.permanent_cap_s if reason in PERMANENT else None
            self._stop.wait(backoff.next_delay_s(cap))

    def _session(self, source: Source) -> None:
        if source.kind is SourceKind.SYNTHETIC:
            self._synthetic(source)
            return
        if source.kind is SourceKind.GATEWAY and self._resolve is not None:
            # Ask the gateway again at every open: after a failure the media server may serve it elsewhere.
            source = self._resolve(source)
        opts = self.options
        container = open_container(
            source,
            open_timeout_s=opts.open_timeout_s,
            read_timeout_s=opts.read_timeout_s,
            interrupt_reads=opts.interrupt_reads,
        )
        try:
            loop_offset_s = 0.0
            while True:
                video = video_stream(container, source)
                end_s = self._read(container, video, source, loop_offset_s)
                if end_s is None:
                    return  # stopped
                if source.kind is not SourceKind.FILE:
                    raise StreamError(OfflineReason.ENDED, f"{redact(source.url)}: the source ended the stream")
                # A file: play it again from the start, on the same timeline.
                loop_offset_s = end_s
                container.close()
                container = open_container(
                    source,
                    open_timeout_s=opts.open_timeout_s,
                    read_timeout_s=opts.read_timeout_s,
                    interrupt_reads=opts.interrupt_reads,
                )
        except StreamError:
            raise
        except Exception as exc:
            reason, detail = classify(exc, opening=False, source=source)
            raise StreamError(reason, detail) from None
        finally:
            container.close()

    def _read(
        self, container: av.container.InputContainer, video: VideoStream, source: Source, offset_s: float
    ) -> float | None:
        """Read until the stream ends (returns the end time on the source's timeline) or stop (None)."""
        opts = self.options
        codec = video.codec_context
        rate = video.average_rate or video.guessed_rate
        nominal = float(rate) if rate else None
        frame_s = 1.0 / nominal if nominal else 0.04
        time_base = float(video.time_base) if video.time_base else None
        paced = source.kind is SourceKind.FILE
        started = self.clock.monotonic()
        first_t: float | None = None
        t = 0.0
        seen_key = False
        synced = False
        last_analysed: float | None = None
        last_progress = started
        last_eval = started
        activity = PacketActivity()
        last_decoded_t: float | None = None
        with self._lock:
            self._nominal_fps = nominal
        self._keyframes = KeyframeClock()
        # The decode mode and what it depends on: chosen again at keyframes, once a second and on a new config.
        mode: DecodeMode | None = None
        mode_config: ReaderConfig | None = None
        config = self._config
        detect = config.detect
        interval = tolerance = 0.0
        input_counter = self._input

        # The hot loop: every packet of every camera passes here (25 a second each), most of them only to be
        # counted. Keep the per-packet work small; what is not needed per packet is done once a second.
        for packet in container.demux(video):
            if self._stop.is_set():
                return None
            size = packet.size
            if size == 0:
                continue  # the end-of-stream flush
            # Position on the source's timeline: timestamps when it has them, else arrival.
            arrival = self.clock.monotonic()
            pts = packet.pts
            if pts is not None and time_base:
                pts_s = pts * time_base
                if first_t is None:
                    first_t = pts_s
                t = offset_s + pts_s - first_t
            else:
                t = arrival - started + offset_s
            now = arrival
            if paced:  # files play at their own rate
                wait = started + (t - offset_s) - arrival
                if wait > 0 and self._stop.wait(wait):
                    return None
                now = self.clock.monotonic()
            last_packet = self._last_packet_at
            gap = now - last_packet if last_packet is not None and self._streaming else 0.0
            self._last_packet_at = now  # read by `health` from other threads: one atomic store
            input_counter.count += 1
            if gap >= opts.stall_s:
                with self._lock:
                    self.stalls += 1
                self.health_tracker.stall()
                if gap >= 0.9 * opts.read_timeout_s and not paced:
                    # FFmpeg answers the first timed-out read with what it had buffered; the next read would
                    # block for another full timeout. A read that took the whole timeout ends the session now.
                    raise StreamError(OfflineReason.STALLED, f"{redact(source.url)}: no data for {gap:.1f} s")
            if now - last_progress > opts.no_frame_timeout_s:
                what = "keyframe" if not seen_key else "decodable frame"
                raise StreamError(
                    OfflineReason.ERROR, f"{redact(source.url)}: no {what} for {opts.no_frame_timeout_s:g} s"
                )
            if now - last_eval >= 1.0:
                last_eval = now
                with self._lock:
                    input_counter.sample(now)
                    input_fps = input_counter.rate(now)
                # A file plays at its own pace (and AVI files count repeated frames they do not hold).
                self.health_tracker.evaluate(input_fps, None if paced else nominal)
                mode = None  # keyframes may have stopped coming: choose again

            key = packet.is_keyframe
            group_mean: float | None = None
            if key:
                self._keyframes.add(t)
                group_mean = activity.close_group()
            else:
                activity.add(size)
            if not seen_key:
                if not key:
                    continue  # nothing decodes cleanly before the first keyframe
                seen_key = True

            if mode is None or key or self._config is not mode_config:
                config = mode_config = self._config
                detect = config.detect
                interval = 1.0 / detect.fps
                tolerance = min(frame_s / 2, interval / 4)
                mode = self._choose_mode(detect, interval, tolerance, t)
                if mode is not self._mode:
                    with self._lock:
                        self._mode = mode

            if mode is DecodeMode.KEYFRAME:
                synced = False
                if not key:
                    continue
                if last_analysed is not None and last_analysed <= t < last_analysed + interval - tolerance:
                    last_progress = now  # a keyframe we chose not to need
                    continue
                if self._quiet_skip(detect, activity, group_mean, t, last_decoded_t):
                    last_progress = now
                    continue
            elif not synced and not key:
                continue
            t0, c0 = time.perf_counter(), time.thread_time()
            decoded = decode_packet(codec, packet, source)
            self.decode_cpu_s += time.thread_time() - c0
            if decoded is None:
                self.decode_errors += 1
                synced = False
                continue
            pictures = decoded
            decode_ms = (time.perf_counter() - t0) * 1000.0
            synced = True
            if mode is DecodeMode.KEYFRAME and pictures:
                last_decoded_t = t
                if self._still:
                    activity.learn(group_mean)  # the group before this keyframe: still, as far as we know
            for picture in pictures:
                self._seq += 1
                now = self.clock.monotonic()
                last_progress = now
                with self._lock:
                    self._decoded.add(now)
                    self._decode_ms.add(decode_ms / len(pictures))
                    self._last_frame_at = now
                    first_frame = not self._streaming
                    self._streaming = True
                if first_frame:
                    self.health_tracker.streaming()
                pt = picture.time
                ft = offset_s + pt - first_t if pt is not None and first_t is not None else t
                if mode is DecodeMode.SAMPLED and not (
                    last_analysed is None or ft < last_analysed or ft >= last_analysed + interval - tolerance
                ):
                    continue
                last_analysed = ft
                self._analyse(picture, config, now, bool(picture.key_frame), arrival)

        return t + frame_s

    def _synthetic(self, source: Source) -> None:
        """A synthetic camera (tests and benchmarks): its still picture at the asked rate, through the same
        health, stats and motion gate as a stream, with nothing to open or decode. Returns when stopped."""
        try:
            spec = parse_synthetic(source.url)
        except ValueError as exc:
            raise StreamError(OfflineReason.UNSUPPORTED_SOURCE, str(exc)) from None
        picture = synthetic_picture(spec)
        frame_s = 1.0 / spec.fps
        started = last_eval = due = self.clock.monotonic()
        last_analysed: float | None = None
        with self._lock:
            self._nominal_fps = spec.fps
            self._mode = DecodeMode.SAMPLED
        while not self._stop.wait(max(0.0, due - self.clock.monotonic())):
            now = self.clock.monotonic()
            due = max(due + frame_s, now)  # a late frame is not made up for with a burst
            self._last_packet_at = now
            self._input.count += 1
            self._seq += 1
            with self._lock:
                self._decoded.add(now)
                self._last_frame_at = now
                first_frame = not self._streaming
                self._streaming = True
            if first_frame:
                self.health_tracker.streaming()
            if now - last_eval >= 1.0:
                last_eval = now
                with self._lock:
                    self._input.sample(now)
                    input_fps = self._input.rate(now)
                self.health_tracker.evaluate(input_fps, spec.fps)
            config = self._config
            interval = 1.0 / config.detect.fps
            t = now - started
            if last_analysed is None or t >= last_analysed + interval - min(frame_s / 2, interval / 4):
                last_analysed = t
                self._analyse(picture, config, now, True, now)

    def _quiet_skip(
        self,
        detect: DetectSettings,
        activity: PacketActivity,
        group_mean: float | None,
        t: float,
        last_decoded_t: float | None,
    ) -> bool:
        """Keyframe-only decoding of a still camera: skip this keyframe when the last picture was still, its
        P-frames since then are as small as the camera's quiet level, and it was checked less than
        `check_every_s` ago. Motion in the packets, or the keep-alive, decodes it."""
        if not (self.options.packet_motion and detect.motion_gating and self._still):
            return False
        if last_decoded_t is None or t - last_decoded_t >= check_every_s(detect) or t < last_decoded_t:
            self._check_due = last_decoded_t is not None
            return False
        if activity.active(group_mean):
            return False
        activity.learn(group_mean)
        with self._lock:
            self.skipped_quiet += 1
        return True

    def _choose_mode(self, detect: DetectSettings, interval: float, tolerance: float, t: float) -> DecodeMode:
        if detect.mode is not DecodeMode.AUTO:
            return detect.mode
        ki = self._keyframes.interval_s()
        last = self._keyframes.last
        if ki is None or last is None:
            return DecodeMode.SAMPLED  # measure first
        if ki <= interval + tolerance and t - last <= max(3 * ki, 5.0):
            return DecodeMode.KEYFRAME
        return DecodeMode.SAMPLED

    def _analyse(
        self, picture: VideoFrame, config: ReaderConfig, now: float, is_keyframe: bool, captured_s: float
    ) -> None:
        motion: float | None = None
        if config.detect.motion_gating:
            c0 = time.thread_time()
            gate = self._gate_for(config, picture.width, picture.height)
            decision = gate.update(small_gray(picture), now, check=self._check_due)
            self._check_due = False
            self.gate_cpu_s += time.thread_time() - c0
            motion = round(decision.motion, 4)
            self._still = decision.reason in (GateReason.STILL, GateReason.KEEPALIVE)
            with self._lock:
                self._analysed.add(now)
                self._motion.add(1.0 if decision.reason in (GateReason.MOTION, GateReason.RECALIBRATED) else 0.0)
            if not decision.offer:
                return
        else:  # every analysed frame goes to the detector: no gate to run
            with self._lock:
                self._analysed.add(now)
        pending = PendingFrame(
            self.camera.id, self._seq, now, self.clock.now(), picture, is_keyframe, motion, self._to_bgr, captured_s
        )
        with self._lock:
            keeping_up = self._slot is None or self._slot_taken
        if keeping_up:
            # The detector took the last frame, so it will likely take this one: convert it here, on this
            # camera's thread, rather than serially on the detector's. A lagging detector converts only
            # what it takes.
            pending.frame()
        with self._lock:
            if self._slot is not None and not self._slot_taken:
                self.dropped += 1
            self._slot = pending
            self._slot_taken = False
            self.offered += 1
        self._on_offer()

    def _to_bgr(self, picture: VideoFrame) -> Image:
        """Runs on the detector's thread, only for frames it takes."""
        with self._convert_lock:
            converted = self._reformatter.reformat(picture, format="bgr24")
        return np.ascontiguousarray(converted.to_ndarray(), dtype=np.uint8)

    def _gate_for(self, config: ReaderConfig, width: int, height: int) -> MotionGate:
        detect = config.detect
        keepalive = check_every_s(detect)
        key = (config.ignore, width, height, detect.motion_sensitivity, keepalive)
        if self._gate is None or key != self._gate_key:
            mask = polygon_mask(config.ignore, small_size(width, height))
            if self._gate is None:
                self._gate = MotionGate(detect.motion_sensitivity, keepalive, ignore=mask)
            else:  # keep the learnt background
                self._gate.configure(detect.motion_sensitivity, keepalive, mask)
            self._gate_key = key
        return self._gate
