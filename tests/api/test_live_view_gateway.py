"""The live view of a camera behind a GB/T 28181 gateway asks the gateway (play/start) at every open of its feed,
not only the first: after the stream drops, the gateway may serve it elsewhere, or only once asked again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.context import LiveViewSettings
from api.live_view import CameraTrack, Gateway, StreamTarget
from camera_config.gateways import GatewaySpec
from camera_config.store import SiteStore
from camera_config.types import Camera, CameraLevel, StreamCredentials
from camera_config.urls import with_credentials
from core.errors import Unavailable
from ingest.demo_server import FootageServer
from ingest.gateways import GatewayClients
from ingest.sources import resolve_source
from tests.camera_config.sites import store_without_cameras
from tests.support.wvp_sim import DEVICE, SimChannel, WvpSimulator

CHANNEL = "34020000001310000001"
CAMERA = Camera(
    "gw-1-cam", "Gate", CameraLevel.COMPOUND, "G-1", main_url=f"gb28181://gw-1/{DEVICE}/{CHANNEL}", sub_url=None
)
SETTINGS = LiveViewSettings(open_timeout_s=5.0, retry_max_s=1.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SiteStore]:
    with store_without_cameras(tmp_path / "gridwatch.db") as site_store:
        yield site_store


def through(store: SiteStore, sim: WvpSimulator) -> tuple[GatewayClients, Gateway]:
    """The server's way in (as `api.routes.live_view` builds it): the gateways' clients asked for the URL."""
    spec = {"id": "gw-1", "url": sim.url, "username": "admin", "password": "gw-pass", "compound": "K1"}
    store.gateways.put(GatewaySpec.model_validate(spec), create=True)
    clients = GatewayClients(store.gateways.access)

    def resolve(url: str) -> str:
        source = clients.resolve(resolve_source(url, allow_files=False))
        return with_credentials(source.url, source.username, source.password)

    return clients, resolve


def test_a_gateway_that_is_down_is_named_and_each_open_asks_it_again(store: SiteStore) -> None:
    with WvpSimulator(("127.0.0.1", 9), password="gw-pass") as sim:  # its media relay leads nowhere
        sim.add_channel(SimChannel(DEVICE, CHANNEL, "Gate", "/x"))
        clients, gateway = through(store, sim)
        target = StreamTarget.of(CAMERA, "sub", StreamCredentials(None), gateway)
        assert (target.stream, target.label) == ("main", CAMERA.main_url)
        for attempt in (1, 2):
            with pytest.raises(Unavailable, match='camera "gw-1-cam" stream cannot be opened'):
                asyncio.run(CameraTrack(target, SETTINGS).start())
            assert len(sim.play_starts) == attempt
        sim.stop()
        with pytest.raises(Unavailable) as refused:
            asyncio.run(CameraTrack(target, SETTINGS).start())
        assert str(refused.value).startswith(f'camera "gw-1-cam": GB28181 网关 gw-1 无法连接 (unreachable): {sim.url}')
        clients.close()


@pytest.mark.rtsp
def test_a_dropped_gateway_stream_is_asked_for_again(store: SiteStore, rtsp_server: FootageServer) -> None:
    with WvpSimulator(("127.0.0.1", rtsp_server.port), password="gw-pass") as sim:
        sim.add_channel(SimChannel(DEVICE, CHANNEL, "Gate", "/cam/CAM-0001/sub"))
        clients, gateway = through(store, sim)

        async def watch() -> None:
            track = CameraTrack(StreamTarget.of(CAMERA, "sub", StreamCredentials(None), gateway), SETTINGS)
            try:
                await track.start()
                for _ in range(3):
                    await asyncio.wait_for(track.recv(), 10)
                assert (track.opens, len(sim.play_starts)) == (1, 1)
                sim.stop()  # the gateway and its media relay go: the stream drops, reopening fails meanwhile
                pending = asyncio.ensure_future(track.recv())
                deadline = time.monotonic() + 10
                while track.is_open:  # what was buffered still comes, then the end
                    assert time.monotonic() < deadline, "the dropped stream was not noticed"
                    if pending.done():
                        pending = asyncio.ensure_future(track.recv())
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.5)
                sim.start()
                await asyncio.wait_for(pending, 15)
                await asyncio.wait_for(track.recv(), 10)
                assert track.opens == 2
                assert len(sim.play_starts) == 2  # the reopen asked the gateway again
            finally:
                track.stop()

        asyncio.run(watch())
        clients.close()
