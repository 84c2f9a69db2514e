"""End to end over real RTSP: a wvp-like gateway's channels imported into a compound and pulled through the
gateway's media relay from the project's footage server; the gateway going down takes the cameras offline naming
it, and they come back with it; a sync's added and removed channels start and stop streams."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from camera_config.gateways import GatewaySpec
from camera_config.store import SiteStore
from ingest.demo_server import FootageServer
from ingest.gateway_sync import GatewaySync
from ingest.gateways import GatewayClients
from ingest.types import HealthState, OfflineReason
from ingest.worker import IngestWorker
from tests.camera_config.sites import store_without_cameras
from tests.support.wait import wait_for
from tests.support.wvp_sim import SimChannel, WvpSimulator

DEV = "34020000001320000001"
N = 3


def chan(n: int) -> SimChannel:
    return SimChannel(DEV, f"3402000000131{n:07d}", f"单元门 {n}", f"/cam/CAM-{n:04d}/sub")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SiteStore]:
    with store_without_cameras(tmp_path / "gridwatch.db") as site_store:
        yield site_store


@pytest.fixture
def sim(rtsp_server: FootageServer) -> Iterator[WvpSimulator]:
    with WvpSimulator(("127.0.0.1", rtsp_server.port), password="gw-pass") as s:
        for n in range(1, N + 1):
            s.add_channel(chan(n))
        yield s


def states(worker: IngestWorker) -> dict[str, tuple[HealthState, OfflineReason | None, str | None]]:
    return {h.camera_id: (h.state, h.reason, h.detail) for h in worker.health()}


def test_gateway_channels_stream_go_offline_with_the_gateway_and_come_back(store: SiteStore, sim: WvpSimulator) -> None:
    spec = {"id": "gw-1", "url": sim.url, "username": "admin", "password": "gw-pass", "compound": "K1"}
    store.gateways.put(GatewaySpec.model_validate(spec), create=True)
    clients = GatewayClients(store.gateways.access)
    sync = GatewaySync(store, clients)
    report = sync.run("gw-1")
    assert len(report.added) == N
    with IngestWorker(store.credentials, gateways=clients.resolve) as worker:
        worker.apply(store.cameras(enabled_only=True))
        ids = worker.camera_ids
        assert len(ids) == N

        def all_in(*wanted: HealthState) -> bool:
            return all(s in wanted for s, _, _ in states(worker).values())

        def frames_from_all() -> bool:
            return all(worker.latest(cid) is not None for cid in ids)

        wait_for(
            lambda: all_in(HealthState.ONLINE, HealthState.DEGRADED) and frames_from_all(),
            15,
            what=lambda: states(worker),
        )
        assert sorted(sim.play_starts) == [(DEV, c.split("-")[-1]) for c in ids]
        # The readers hold their sessions: the streams flow on with no further play/start.
        wait_for(lambda: all(worker.stats(cid)[0].input_fps > 0 for cid in ids), 5)
        assert len(sim.play_starts) == N

        sim.expire_tokens()  # the gateway's 30 minutes pass while it is down
        sim.stop()
        wait_for(
            lambda: (
                all_in(HealthState.OFFLINE) and all(r is OfflineReason.GATEWAY for _, r, _ in states(worker).values())
            ),
            15,
            what=lambda: states(worker),
        )
        for _, _, detail in states(worker).values():
            assert detail is not None
            assert detail.startswith(f"GB28181 网关 gw-1 无法连接 (unreachable): {sim.url}"), detail

        starts = len(sim.play_starts)
        sim.start()
        wait_for(lambda: all_in(HealthState.ONLINE, HealthState.DEGRADED), 15, what=lambda: states(worker))
        assert len(sim.play_starts) >= starts + N  # each reader asked for its stream again
        assert sim.logins == 2  # the expired token was renewed once, for all the cameras
        assert all(h.reconnects_last_hour >= 1 for h in worker.health())

        # Channels added and removed on the gateway: the next sync starts and stops streams.
        sim.remove_channel(DEV, "34020000001310000001")
        sim.add_channel(chan(N + 1))
        report = sync.run("gw-1")
        assert (report.added, report.removed) == (
            ("gw-1-3402000000131" + f"{N + 1:07d}",),
            ("gw-1-34020000001310000001",),
        )
        result = worker.apply(store.cameras(enabled_only=True))
        assert (result.started, result.stopped) == (report.added, report.removed)
        new = report.added[0]
        wait_for(lambda: states(worker)[new][0] is HealthState.ONLINE and worker.latest(new) is not None, 15)
    clients.close()
