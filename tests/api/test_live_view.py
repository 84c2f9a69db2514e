"""Live view: WebRTC from the server process to real aiortc viewers, H.264 passed through.

One pull per camera however many watch (one open source); the last viewer leaving closes it;
the 2 s demo clip loops with timestamps that keep rising; a real RTSP server with basic auth
streams through with the stored credentials, and refuses a wrong password with a 503 that shows
the password nowhere.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from api.context import LiveViewSettings
from api.live_view import LiveViewEnded, LiveViewHub, StreamTarget, _reason, host_candidates, loopback_offer
from camera_config.types import Camera, CameraLevel, StreamCredentials
from core.clock import FakeClock
from core.errors import Unavailable
from tests.api.conftest import Server, http_login, live_metrics
from tests.support.wait import wait_for

LOOPBACK = ("127.0.0.1",)
OFFER = """v=0\r
o=- 1 2 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
m=video 9 UDP/TLS/RTP/SAVPF 96\r
a=candidate:1 1 udp 2122260223 192.168.1.20 50000 typ host\r
a=candidate:2 1 udp 2122260223 127.0.0.1 50001 typ host\r
a=candidate:3 1 udp 2122260223 4f2c-11.local 50002 typ host\r
a=rtpmap:96 H264/90000\r
"""


def test_loopback_offer_keeps_only_loopback_candidates() -> None:
    lines = loopback_offer(OFFER, ("127.0.0.1",)).splitlines()
    assert [line for line in lines if line.startswith("a=candidate")] == [
        "a=candidate:2 1 udp 2122260223 127.0.0.1 50001 typ host"
    ]
    assert "a=rtpmap:96 H264/90000" in lines


def test_stream_target_carries_credentials_only_in_its_url() -> None:
    cam = Camera("C1", "c", CameraLevel.STREET, "G-1", main_url="rtsp://10.0.0.5/main", sub_url="rtsp://10.0.0.5/sub")
    target = StreamTarget.of(cam, "sub", StreamCredentials("admin", "pa:ss@1"))
    assert target.url == "rtsp://admin:pa%3Ass%401@10.0.0.5/sub"
    assert (target.stream, target.label) == ("sub", "rtsp://10.0.0.5/sub")
    assert "pa" not in repr(target)
    main_only = Camera("C2", "c", CameraLevel.STREET, "G-1", main_url="rtsp://10.0.0.5/main", sub_url=None)
    assert StreamTarget.of(main_only, "sub", StreamCredentials(None)).stream == "main"
    assert StreamTarget.of(cam, "main", StreamCredentials(None)).key != target.key
    failure = OSError("Connection refused: 'rtsp://admin:pa:ss@10.0.0.5/sub'")
    assert _reason(failure) == "Connection refused: 'rtsp://***@10.0.0.5/sub'"


def test_a_viewer_that_never_connects_is_dropped(demo_clip: Path) -> None:
    async def main() -> None:
        hub = LiveViewHub(LiveViewSettings(ice_hosts=LOOPBACK, connect_timeout_s=0.5))
        camera = Camera("C1", "c", CameraLevel.STREET, "G-1", main_url=str(demo_clip), sub_url=None)
        with host_candidates(LOOPBACK):
            browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            browser.addTransceiver("video", direction="recvonly")
            await browser.setLocalDescription(await browser.createOffer())
            await hub.connect(camera, "main", browser.localDescription.sdp, "u", lambda: StreamCredentials(None))
            assert (hub.pulls(), hub.viewers()) == ({"C1": 1.0}, {"C1": 1.0})
            await asyncio.sleep(1.5)  # the answer is never applied: the page went away meanwhile
            assert (hub.pulls(), hub.viewers()) == ({}, {})
            await browser.close()
            await hub.close()

    asyncio.run(main())


def test_the_end_of_a_view_is_reported_once_with_its_duration(demo_clip: Path) -> None:
    ended: list[LiveViewEnded] = []

    async def main() -> None:
        clock = FakeClock()
        hub = LiveViewHub(LiveViewSettings(ice_hosts=LOOPBACK, connect_timeout_s=30), clock)
        camera = Camera("C1", "c", CameraLevel.STREET, "G-1", main_url=str(demo_clip), sub_url=None)
        with host_candidates(LOOPBACK):
            browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            browser.addTransceiver("video", direction="recvonly")
            await browser.setLocalDescription(await browser.createOffer())
            session = await hub.connect(
                camera, "main", browser.localDescription.sdp, "u", lambda: StreamCredentials(None), on_end=ended.append
            )
            clock.advance(12.5)
            await hub.disconnect(session.viewer_id)
            await hub.disconnect(session.viewer_id)  # closing twice ends it once
            await hub.close()
            await browser.close()

    asyncio.run(main())
    assert [(e.owner, e.camera_id, e.duration_s) for e in ended] == [("u", "C1", 12.5)]


def test_views_past_the_limit_are_refused_naming_it(demo_clip: Path) -> None:
    """Every tile of a video wall is a viewer: the one past the server's limit hears the limit, in words and as a
    code the console says in the user's language, and a freed place is taken again."""

    def no_credentials() -> StreamCredentials:
        return StreamCredentials(None)

    async def main() -> None:
        hub = LiveViewHub(LiveViewSettings(ice_hosts=LOOPBACK, max_viewers=2))
        camera = Camera("C1", "c", CameraLevel.STREET, "G-1", main_url=str(demo_clip), sub_url=None)
        browsers = []
        with host_candidates(LOOPBACK):
            for _ in range(3):
                browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                browser.addTransceiver("video", direction="recvonly")
                await browser.setLocalDescription(await browser.createOffer())
                browsers.append(browser)
            offers = [b.localDescription.sdp for b in browsers]
            first = await hub.connect(camera, "main", offers[0], "wall", no_credentials)
            await hub.connect(camera, "main", offers[1], "wall", no_credentials)
            with pytest.raises(Unavailable) as refused:
                await hub.connect(camera, "main", offers[2], "wall", no_credentials)
            assert str(refused.value) == (
                "the server already serves 2 live views, its limit at once; close some or try again later"
            )
            assert (refused.value.code, refused.value.params) == ("live_view_limit", {"limit": 2})
            assert hub.viewers() == {"C1": 2.0}
            await hub.disconnect(first.viewer_id)
            await hub.connect(camera, "main", offers[2], "wall", no_credentials)
            assert hub.viewers() == {"C1": 2.0}
            await hub.close()
            for browser in browsers:
                await browser.close()

    asyncio.run(main())


def test_one_user_may_open_sixteen_views_at_once(server: Server) -> None:
    """A 16-tile wall is 16 views of one user: the server answers every one (its limit is for all users
    together) and forgets each when its page closes it."""

    async def body(http: httpx.AsyncClient) -> None:
        viewers = [Viewer() for _ in range(16)]
        for viewer, camera in zip(viewers, itertools.cycle(["CAM-01", "CAM-05"]), strict=False):
            await viewer.connect(http, camera)
        for viewer in viewers:
            assert (await http.delete(f"/api/live/{viewer.viewer_id}")).status_code == 204
            await viewer.pc.close()

    run(server, "operator", body)
    with http_login(server, "admin") as admin:
        wait_for(lambda: not live_metrics(admin, "gridwatch_live_viewers"), what="every view closed")


class Viewer:
    """An aiortc browser stand-in: offers to receive video and counts decoded frames."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver("video", direction="recvonly")
        self.track: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
        self.pc.on("track", self.track.set_result)
        self.viewer_id = ""

    async def connect(self, http: httpx.AsyncClient, camera: str) -> dict[str, Any]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        res = await http.post(
            f"/api/cameras/{camera}/live", json={"sdp": self.pc.localDescription.sdp, "type": "offer"}
        )
        assert res.status_code == 201, res.text
        answer: dict[str, Any] = res.json()
        self.viewer_id = answer["viewer_id"]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        return answer

    async def frames(self, seconds: float) -> list[Any]:
        track = await asyncio.wait_for(self.track, 10)
        got = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            got.append(await asyncio.wait_for(track.recv(), 10))
        return got


def run(server: Server, user: str, body: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
    """Run ``body`` in an event loop with an async client logged in as ``user``."""
    with http_login(server, user) as sync:

        async def main() -> None:
            async with httpx.AsyncClient(base_url=server.url, timeout=30, cookies=sync.cookies) as http:
                http.headers["X-CSRF-Token"] = sync.headers["X-CSRF-Token"]
                with host_candidates(("127.0.0.1",)):
                    await body(http)

        asyncio.run(main())


@pytest.mark.slow
def test_two_viewers_one_pull_and_leaving_releases_it(server: Server) -> None:
    admin_login = http_login(server, "admin")
    admin = admin_login.__enter__()

    async def body(http: httpx.AsyncClient) -> None:
        first, second = Viewer(), Viewer()
        answer = await first.connect(http, "CAM-01")
        assert answer["stream"] == "main"  # CAM-01 has no sub stream here
        await second.connect(http, "CAM-01")
        a, b = await asyncio.gather(first.frames(3.0), second.frames(3.0))
        # 10 fps for 3 s, across the end of the 2 s clip: it loops, and time keeps moving forward.
        for frames in (a, b):
            assert len(frames) >= 15
            assert (frames[0].width, frames[0].height) == (768, 576)
            pts = [f.pts for f in frames]
            assert all(later > earlier for earlier, later in itertools.pairwise(pts))
        assert live_metrics(admin, "gridwatch_live_pulls") == {'{camera="CAM-01"}': 1.0}
        assert live_metrics(admin, "gridwatch_live_viewers") == {'{camera="CAM-01"}': 2.0}
        await asyncio.to_thread(wait_for, lambda: server.open_files(server.clip) == 1)
        assert (await http.delete(f"/api/live/{first.viewer_id}")).status_code == 204
        await first.pc.close()
        assert live_metrics(admin, "gridwatch_live_pulls") == {'{camera="CAM-01"}': 1.0}
        await second.pc.close()  # the browser goes away without saying goodbye over HTTP
        await asyncio.to_thread(wait_for, lambda: not live_metrics(admin, "gridwatch_live_viewers"))
        await asyncio.to_thread(wait_for, lambda: server.open_files(server.clip) == 0)
        assert live_metrics(admin, "gridwatch_live_pulls") == {}
        # Closing twice is fine for the owner; others' views do not exist for them.
        assert (await http.delete(f"/api/live/{first.viewer_id}")).status_code == 204

    try:
        run(server, "operator", body)
    finally:
        admin_login.__exit__(None, None, None)


def test_rtsp_camera_with_stored_credentials(server: Server) -> None:
    """The same path a site's cameras take: rtsp:// with the credentials the store keeps encrypted."""

    async def body(http: httpx.AsyncClient) -> None:
        viewer = Viewer()
        answer = await viewer.connect(http, "CAM-05")
        assert answer["stream"] == "main"
        frames = await viewer.frames(1.5)
        assert len(frames) >= 8
        assert (frames[-1].width, frames[-1].height) == (768, 576)
        await viewer.pc.close()

    run(server, "operator", body)


def test_refused_rtsp_credentials_are_503_without_the_password(server: Server) -> None:
    async def body(http: httpx.AsyncClient) -> None:
        viewer = Viewer()
        await viewer.pc.setLocalDescription(await viewer.pc.createOffer())
        res = await http.post("/api/cameras/CAM-03/live", json={"sdp": viewer.pc.localDescription.sdp})
        assert res.status_code == 503
        detail = res.json()["detail"]
        assert detail.startswith('camera "CAM-03" stream cannot be opened:')
        assert "401 Unauthorized" in detail
        assert "rtsp://***@127.0.0.1" in detail
        assert server.rtsp_password not in res.text
        await viewer.pc.close()

    run(server, "operator", body)
    assert server.rtsp_password not in server.log.read_text()


def _offer(kind: str, codec: str | None = None) -> str:
    """A real offer from aiortc: ``kind`` audio or video, optionally with one video codec only."""

    async def make() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = pc.addTransceiver(kind, direction="recvonly")
        if codec is not None:
            capabilities = RTCRtpReceiver.getCapabilities(kind)
            assert capabilities is not None
            transceiver.setCodecPreferences([c for c in capabilities.codecs if c.mimeType == codec])
        with host_candidates(("127.0.0.1",)):
            await pc.setLocalDescription(await pc.createOffer())
        sdp: str = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


@pytest.mark.parametrize(
    ("offer", "message"),
    [
        (lambda: "not an offer", "sdp: the offer has no video section"),
        (lambda: _offer("audio"), "sdp: the offer has no video section"),
        (lambda: _offer("video", "video/VP8"), "sdp: not a usable WebRTC offer with H.264 video"),
    ],
)
def test_a_bad_offer_is_422(server: Server, offer: Callable[[], str], message: str) -> None:
    with http_login(server, "operator") as http, http_login(server, "admin") as admin:
        res = http.post("/api/cameras/CAM-01/live", json={"sdp": offer(), "type": "offer"})
        assert res.status_code == 422
        assert res.json()["detail"].startswith(message)
        assert admin.get("/metrics").status_code == 200
        assert live_metrics(admin, "gridwatch_live_viewers") == {}
        assert live_metrics(admin, "gridwatch_live_pulls") == {}


def test_viewers_cannot_watch_and_grid_workers_only_their_grid(server: Server) -> None:
    with http_login(server, "viewer") as http:
        assert http.post("/api/cameras/CAM-01/live", json={"sdp": "v=0"}).status_code == 403
    with http_login(server, "gridworker") as http:
        assert http.post("/api/cameras/CAM-03/live", json={"sdp": "v=0"}).status_code == 404
