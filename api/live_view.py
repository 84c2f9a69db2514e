"""WebRTC live view: one pull per camera stream, fanned out to every viewer, H.264 passed through.

The camera's H.264 is never decoded or re-encoded: `MediaPlayer(..., decode=False)` demuxes it and
aiortc packetises it for each browser (about 2 % of a core per stream instead of 14-28 % for a
re-encode). `MediaRelay` fans one source out; the source opens with the first viewer and closes
with the last. A stream that ends is reopened: files loop (demo cameras), RTSP reconnects with
backoff. Timestamps continue across reopenings so browsers never see time run backwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import functools
import hashlib
import logging
import secrets
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.packet import Packet
from av.stream import Stream

from api.context import LiveViewSettings
from camera_config.types import Camera, StreamCredentials
from camera_config.urls import is_file_source, is_gateway_source, with_credentials
from core.clock import Clock, SystemClock
from core.errors import InvalidInput, Issue, NotFound, Unavailable
from core.redact import redact, redact_error
from core.retry import Backoff
from ingest.sources import StreamError

log = logging.getLogger(__name__)

MAX_SDP_CHARS = 64_000
GATEWAY_TIMEOUT_S = 30.0
"""Longest wait for a gateway's answer to play/start (its login 10 s, play/start 15 s)."""

Gateway = Callable[[str], str]
"""A ``gb28181://`` URL → the URL its gateway serves it on now, credentials in it; StreamError naming the gateway."""


@dataclass(frozen=True, slots=True)
class StreamTarget:
    """What to open for one camera stream. The URL carries credentials: never log it (use ``label``)."""

    camera_id: str
    stream: str
    url: str = field(repr=False)
    label: str
    password: str | None = field(default=None, repr=False)
    reopen: Callable[[], str] | None = field(default=None, repr=False, compare=False)
    """A camera behind a GB/T 28181 gateway (``url`` is its ``gb28181://`` one): asks the gateway for the URL to
    open, at every open, since after a drop the media server may serve it elsewhere or not yet."""

    @property
    def is_file(self) -> bool:
        return is_file_source(self.url)

    @classmethod
    def of(
        cls, camera: Camera, stream: str, credentials: StreamCredentials, gateway: Gateway | None = None
    ) -> StreamTarget:
        """The sub stream when asked for and the camera has one, else the main stream."""
        use_sub = stream == "sub" and camera.sub_url is not None
        bare = camera.sub_url if use_sub and camera.sub_url else camera.main_url
        url = with_credentials(bare, credentials.username, credentials.password)
        reopen = functools.partial(gateway, bare) if gateway is not None and is_gateway_source(bare) else None
        return cls(camera.id, "sub" if use_sub else "main", url, redact(bare), credentials.password, reopen)

    @property
    def key(self) -> tuple[str, str, str]:
        """One feed per camera stream and source: a changed URL or password opens a new feed."""
        return (self.camera_id, self.stream, hashlib.sha256(self.url.encode()).hexdigest()[:16])


def open_player(target: StreamTarget, timeout_s: float, url: str | None = None) -> MediaPlayer:
    """A demuxing (not decoding) player; RTSP over TCP with socket timeouts so a frozen camera cannot hang us.
    ``url``: what the gateway answered for a camera behind one."""
    if target.is_file:
        return MediaPlayer(target.url.removeprefix("file:"), decode=False, timeout=int(timeout_s) or 1)
    options = {"rtsp_transport": "tcp", "timeout": str(int(timeout_s * 1_000_000))}
    return MediaPlayer(url or target.url, options=options, decode=False, timeout=int(timeout_s) or 1)


class CameraTrack(MediaStreamTrack):
    """The camera's H.264 packets with continuous timestamps; reopens the source when it ends."""

    kind = "video"

    def __init__(self, target: StreamTarget, settings: LiveViewSettings) -> None:
        super().__init__()
        self.target = target
        self._settings = settings
        self._player: MediaPlayer | None = None
        self._stopped = asyncio.Event()
        self._offset_s = fractions.Fraction(0)
        self._end_s = fractions.Fraction(0)
        self._frame_s = fractions.Fraction(1, 25)
        self._last_pts: int | None = None
        self._base: int | None = None
        self._since_open = 0
        self._backoff = Backoff(base_s=0.5, cap_s=settings.retry_max_s)
        self.opens = 0
        self.packets = 0

    @property
    def is_open(self) -> bool:
        return self._player is not None

    async def start(self) -> None:
        """Open the source now, so a viewer hears at once (503) when the camera cannot be reached."""
        try:
            await self._open()
        except StreamError as exc:  # the gateway did not give the stream: its detail names it and the cause
            raise Unavailable(f'camera "{self.target.camera_id}": {exc.detail}') from None
        except Exception as exc:
            reason = _reason(exc, self.target.password)
            raise Unavailable(f'camera "{self.target.camera_id}" stream cannot be opened: {reason}') from None

    async def _open(self) -> None:
        timeout_s = self._settings.open_timeout_s
        url = None
        if self.target.reopen is not None:  # every open asks the gateway again (play/start), not only the first
            url = await asyncio.wait_for(asyncio.to_thread(self.target.reopen), GATEWAY_TIMEOUT_S)
        player = await asyncio.wait_for(asyncio.to_thread(open_player, self.target, timeout_s, url), timeout_s + 1)
        if player.video is None:
            _stop_player(player)
            raise Unavailable("no H.264 video in the stream")
        self._player = player
        self._offset_s = self._end_s
        self._base = None
        self._last_pts = None
        self._since_open = 0
        self.opens += 1

    def _close_player(self) -> None:
        """Stop the player off the event loop: its demux thread may sit in a read until the timeout."""
        player, self._player = self._player, None
        if player is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            _stop_player(player)
            return
        loop.run_in_executor(None, _stop_player, player)

    async def recv(self) -> Packet[Stream]:
        while not self._stopped.is_set():
            if self._player is None:
                try:
                    await self._open()
                except Exception as exc:
                    reason = _reason(exc, self.target.password)
                    log.warning(
                        "camera %s (%s): reopening failed: %s", self.target.camera_id, self.target.label, reason
                    )
                    await self._back_off()
                    continue
            assert self._player is not None
            assert self._player.video is not None
            packet = await self._until_stopped(self._player.video.recv())
            if packet is None:
                fruitless = self._since_open == 0
                self._close_player()
                # A file loops at once; a stream that ended, or a source that gave nothing, waits first.
                if fruitless or not self.target.is_file:
                    log.info("camera %s (%s): stream ended, reopening", self.target.camera_id, self.target.label)
                    await self._back_off()
                continue
            if not isinstance(packet, Packet) or packet.pts is None or packet.time_base is None:
                continue
            self._retime(packet)
            self._since_open += 1
            self._backoff.reset()
            self.packets += 1
            return packet
        raise MediaStreamError

    async def _back_off(self) -> None:
        await self._pause(self._backoff.next_delay_s())

    def _retime(self, packet: Packet[Stream]) -> None:
        tb = fractions.Fraction(packet.time_base)
        assert packet.pts is not None
        if self._base is None:
            self._base = packet.pts
        rel = packet.pts - self._base
        if self._last_pts is not None and packet.pts > self._last_pts:
            self._frame_s = min((packet.pts - self._last_pts) * tb, fractions.Fraction(1))
        self._last_pts = packet.pts
        pts = round(self._offset_s / tb) + rel
        packet.pts = pts
        packet.dts = pts
        self._end_s = max(self._end_s, pts * tb + self._frame_s)

    async def _until_stopped(self, recv: Any) -> Packet[Stream] | None:
        """The next packet, or None when the source ended or this track was stopped meanwhile."""
        task = asyncio.ensure_future(recv)
        stop = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                await task
            return None
        try:
            result: Packet[Stream] = task.result()
        except MediaStreamError:
            return None
        return result

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)

    def stop(self) -> None:
        self._stopped.set()
        self._close_player()
        super().stop()


def _stop_player(player: MediaPlayer) -> None:
    """Stop the player's demux thread and close its container (aiortc does both when its track stops)."""
    if player.video is not None:
        player.video.stop()
    if player.audio is not None:
        player.audio.stop()


def _reason(exc: BaseException, secret: str | None = None) -> str:
    """Why opening failed, safe to show and log: FFmpeg quotes the URL it failed on, credentials included."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    return redact_error(exc, [secret]).split("\n")[0][:200]


class ViewerTrack(MediaStreamTrack):
    """One viewer's copy of the feed, starting at a keyframe so the browser can decode at once."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self._source = source
        self._started = False

    async def recv(self) -> Packet[Stream]:
        while True:
            packet = await self._source.recv()
            if self._started or getattr(packet, "is_keyframe", False):
                self._started = True
                assert isinstance(packet, Packet)
                return packet

    def stop(self) -> None:
        self._source.stop()
        super().stop()


@dataclass(frozen=True, slots=True)
class LiveSession:
    viewer_id: str
    answer_sdp: str
    stream: Literal["main", "sub"]


@dataclass(slots=True)
class Feed:
    track: CameraTrack
    relay: MediaRelay
    viewers: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class LiveViewEnded:
    """A live view that ended, however it ended (closed by its page, its connection lost, the server stopping)."""

    viewer_id: str
    owner: str
    camera_id: str
    duration_s: float
    """From the answer to the end."""


@dataclass(slots=True)
class Viewer:
    id: str
    owner: str
    camera_id: str
    key: tuple[str, str, str] | None
    pc: RTCPeerConnection
    opened_s: float
    track: ViewerTrack | None = None
    on_end: Callable[[LiveViewEnded], None] | None = None


def viewer_limit(limit: int) -> Unavailable:
    """The refusal of a view past the server's limit: it names the limit, so that a video wall whose tiles
    stay dark says why (every tile is a viewer) instead of looking like cameras that went offline."""
    message = f"the server already serves {limit} live views, its limit at once; close some or try again later"
    return Unavailable(message).with_code("live_view_limit", limit=limit)


def loopback_offer(sdp: str, hosts: tuple[str, ...]) -> str:
    """The offer without ICE candidates on other addresses (and mDNS names), for a server that listens only there."""
    lines = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            if len(fields) < 8 or fields[4] not in hosts:
                continue
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


@contextlib.contextmanager
def host_candidates(hosts: tuple[str, ...] | None) -> Iterator[None]:
    """Gather ICE host candidates on ``hosts`` only (aioice skips 127.0.0.1 otherwise); process-wide."""
    if hosts is None:
        yield
        return
    original = aioice.ice.get_host_addresses

    def only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [h for h in hosts if (":" in h and use_ipv6) or (":" not in h and use_ipv4)]

    aioice.ice.get_host_addresses = only
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


class LiveViewHub:
    """Every live view of this server: camera feeds (one per camera stream) and their viewers."""

    def __init__(self, settings: LiveViewSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self._clock = clock or SystemClock()
        self._feeds: dict[tuple[str, str, str], Feed] = {}
        self._viewers: dict[str, Viewer] = {}
        self._closed: OrderedDict[str, str] = OrderedDict()
        """Recently closed viewers → owner: closing twice (browser and page script racing) is not an error."""
        self._locks: defaultdict[tuple[str, str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        """One per feed: opening a slow camera holds up only the viewers of that camera."""
        self._tasks: set[asyncio.Task[None]] = set()

    async def connect(
        self,
        camera: Camera,
        stream: str,
        offer_sdp: str,
        owner: str,
        credentials: Callable[[], StreamCredentials],
        *,
        on_end: Callable[[LiveViewEnded], None] | None = None,
        gateway: Gateway | None = None,
    ) -> LiveSession:
        """Answer a browser's offer with the camera's video; ``on_end`` is called (in a worker thread) once
        when the view that was answered ends; ``gateway`` opens a camera behind a GB/T 28181 gateway (asked at
        every open of its feed)."""
        if len(offer_sdp) > MAX_SDP_CHARS:
            raise InvalidInput(Issue("sdp", f"longer than {MAX_SDP_CHARS} characters"))
        if len(self._viewers) >= self.settings.max_viewers:
            raise viewer_limit(self.settings.max_viewers)
        sdp = offer_sdp if self.settings.ice_hosts is None else loopback_offer(offer_sdp, self.settings.ice_hosts)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        viewer = Viewer(secrets.token_urlsafe(12), owner, camera.id, None, pc, self._clock.monotonic())
        self._viewers[viewer.id] = viewer
        try:
            # Codec preferences must be in place before the offer is applied: that is when aiortc negotiates.
            transceiver = pc.addTransceiver("video", direction="sendonly")
            transceiver.setCodecPreferences(
                [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == "video/h264"]
            )
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            except Exception as exc:
                problem = f"not a usable WebRTC offer with H.264 video: {_reason(exc)}"
                raise InvalidInput(Issue("sdp", problem)) from None
            if transceiver.mid is None:
                raise InvalidInput(Issue("sdp", "the offer has no video section"))
            target = StreamTarget.of(camera, stream, await asyncio.to_thread(credentials), gateway)
            async with self._locks[target.key]:
                feed = self._feeds.get(target.key)
                if feed is None:
                    track = CameraTrack(target, self.settings)
                    await track.start()
                    feed = self._feeds[target.key] = Feed(track, MediaRelay())
                viewer.key = target.key
                viewer.track = ViewerTrack(feed.relay.subscribe(feed.track, buffered=True))
                feed.viewers.add(viewer.id)
            transceiver.sender.replaceTrack(viewer.track)

            @pc.on("connectionstatechange")
            async def _state() -> None:
                if pc.connectionState in ("failed", "closed"):
                    with contextlib.suppress(NotFound):
                        await self.disconnect(viewer.id)

            await pc.setLocalDescription(await pc.createAnswer())
            asyncio.get_running_loop().call_later(self.settings.connect_timeout_s, self._watch, viewer.id)
            viewer.on_end = on_end
        except Exception as exc:
            await self.disconnect(viewer.id)
            if isinstance(exc, InvalidInput | Unavailable | NotFound):
                raise
            raise InvalidInput(Issue("sdp", f"cannot answer this offer: {_reason(exc)}")) from None
        assert viewer.key is not None
        return LiveSession(viewer.id, pc.localDescription.sdp, "sub" if viewer.key[1] == "sub" else "main")

    def _watch(self, viewer_id: str) -> None:
        task = asyncio.ensure_future(self._drop_unconnected(viewer_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drop_unconnected(self, viewer_id: str) -> None:
        """A browser that took the answer but never connected (closed tab, blocked UDP) frees its place."""
        viewer = self._viewers.get(viewer_id)
        if viewer is not None and viewer.pc.connectionState != "connected":
            log.info("live view %s on camera %s never connected; closing it", viewer_id, viewer.camera_id)
            with contextlib.suppress(NotFound):
                await self.disconnect(viewer_id)

    async def disconnect(self, viewer_id: str, *, owner: str | None = None) -> None:
        """Close one viewer; the camera's pull stops with its last viewer."""
        viewer = self._viewers.get(viewer_id)
        known_owner = viewer.owner if viewer is not None else self._closed.get(viewer_id)
        if known_owner is None or (owner is not None and known_owner != owner):
            raise NotFound(f'live view "{viewer_id}" does not exist')
        if viewer is None:
            return
        del self._viewers[viewer_id]
        self._closed[viewer_id] = viewer.owner
        while len(self._closed) > 1000:
            self._closed.popitem(last=False)
        if viewer.track is not None:
            viewer.track.stop()
        if viewer.key is not None:
            async with self._locks[viewer.key]:
                feed = self._feeds.get(viewer.key)
                if feed is not None:
                    feed.viewers.discard(viewer_id)
                    if not feed.viewers:
                        feed.track.stop()
                        del self._feeds[viewer.key]
        await viewer.pc.close()
        if viewer.on_end is not None:
            ended = LiveViewEnded(viewer.id, viewer.owner, viewer.camera_id, self._clock.monotonic() - viewer.opened_s)
            try:
                await asyncio.to_thread(viewer.on_end, ended)
            except Exception:
                log.exception("live view %s on camera %s: recording its end failed", viewer.id, viewer.camera_id)

    async def close(self) -> None:
        for viewer_id in list(self._viewers):
            with contextlib.suppress(NotFound):
                await self.disconnect(viewer_id)
        for feed in self._feeds.values():
            feed.track.stop()
        self._feeds.clear()

    def pulls(self) -> dict[str, float]:
        """Open camera streams by camera id: one per camera stream however many watch it."""
        out: dict[str, float] = {}
        for (camera_id, _stream, _source), feed in self._feeds.items():
            out[camera_id] = out.get(camera_id, 0) + (1 if feed.track.is_open else 0)
        return out

    def viewers(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for viewer in self._viewers.values():
            out[viewer.camera_id] = out.get(viewer.camera_id, 0) + 1
        return out
