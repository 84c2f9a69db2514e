"""``POST /api/worker/cameras/{id}/play``: a remote worker asks the API for the stream of a camera behind a
GB/T 28181 gateway (the gateway's login stays on the server), against the wvp-like simulator; and the worker's
side of it (`gridwatch.remote.RemoteGateways`) against the same app served over real HTTP."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from api.access import Role, Scope, ScopeKind
from api.app import create_app
from api.context import ApiContext
from api.users import UserStore
from camera_config.gateways import GatewaySpec
from camera_config.store import SiteStore
from events.service import EventsService
from gridwatch.remote import ApiClient, RemoteGateways, RemoteSite
from ingest.demo_server import FootageServer, free_port
from ingest.gateway_sync import GatewaySync
from ingest.gateways import GatewayClients
from ingest.sources import SourceKind, StreamError, resolve_source
from ingest.types import HealthState, OfflineReason
from ingest.worker import IngestWorker
from tests.api.conftest import Api, fast_auth, serve_app
from tests.support.wait import wait_for
from tests.support.wvp_sim import DEVICE, SimChannel, WvpSimulator, gateway_with_channels

CHANNEL = "34020000001310000001"
CAM = f"gw-1-{CHANNEL}"
STREAM = f"gb28181://gw-1/{DEVICE}/{CHANNEL}"


@pytest.fixture
def sim() -> Iterator[WvpSimulator]:
    with gateway_with_channels(2) as s:
        yield s


@contextlib.contextmanager
def gateway_app(
    engine: Engine, site: SiteStore, users: UserStore, events: EventsService, sim: WvpSimulator
) -> Iterator[Api]:
    """The demo site with gateway gw-1's channels imported into K-01 (grid G-01); worker accounts box-1 (the whole
    site) and box-g2 (grid G-02)."""
    spec = {"id": "gw-1", "url": sim.url, "username": "admin", "password": "gw-pass", "compound": "K-01"}
    site.gateways.put(GatewaySpec.model_validate(spec), create=True)
    clients = GatewayClients(site.gateways.access)
    sync = GatewaySync(site, clients)
    assert sync.run("gw-1").added
    context = ApiContext(engine=engine, site=site, auth=fast_auth(), events=events, gateway_sync=sync)
    holder = Api(create_app(context), [])
    users.create("box-1", Role.WORKER)
    users.create("box-g2", Role.WORKER, scope=Scope(ScopeKind.GRIDS, ("G-02",)))
    try:
        yield holder
    finally:
        for client in holder.clients:
            client.__exit__(None, None, None)
        clients.close()


@pytest.fixture
def gw_api(
    engine: Engine, site: SiteStore, users: UserStore, events: EventsService, sim: WvpSimulator
) -> Iterator[Api]:
    with gateway_app(engine, site, users, events, sim) as api:
        yield api


def token(api: Api, who: str = "box-1") -> str:
    return api.token(who)["Authorization"].removeprefix("Bearer ")


def play(api: Api, camera: str, who: str = "box-1") -> tuple[int, dict[str, Any]]:
    res = api.anonymous().post(f"/api/worker/cameras/{camera}/play", headers=api.token(who))
    return res.status_code, res.json()


def test_a_worker_gets_the_stream_the_gateway_serves_now(gw_api: Api, sim: WvpSimulator) -> None:
    status, body = play(gw_api, CAM)
    assert status == 200, body
    assert body == {
        "camera_id": CAM,
        "gateway": "gw-1",
        "url": f"rtsp://127.0.0.1:{sim.media_port}/x",
        "credentials": None,
    }
    assert sim.play_starts == [(DEVICE, CHANNEL)]
    play(gw_api, CAM)
    assert len(sim.play_starts) == 2  # every call asks the gateway again: the worker calls at every (re)open
    assert sim.logins == 1  # one login shared by the server's readers and the workers


def test_only_worker_tokens_get_gateway_streams(gw_api: Api, sim: WvpSimulator) -> None:
    assert gw_api.anonymous().post(f"/api/worker/cameras/{CAM}/play").status_code == 401
    res = gw_api.as_("admin").post(f"/api/worker/cameras/{CAM}/play")
    assert res.status_code == 403
    assert "only a worker account's API token gets gateway streams" in res.json()["detail"]
    assert gw_api.anonymous().post(f"/api/worker/cameras/{CAM}/play", headers=gw_api.token("admin")).status_code == 403
    assert gw_api.as_("viewer").post(f"/api/worker/cameras/{CAM}/play").status_code == 403
    assert sim.play_starts == []


def test_unknown_out_of_scope_disabled_and_direct_cameras_are_refused(gw_api: Api, sim: WvpSimulator) -> None:
    status, body = play(gw_api, "gw-1-nope")
    assert (status, body["detail"]) == (404, 'camera "gw-1-nope" does not exist')
    status, body = play(gw_api, CAM, who="box-g2")  # a worker of grid G-02 does not see G-01's cameras
    assert (status, body["detail"]) == (404, f'camera "{CAM}" does not exist')
    status, body = play(gw_api, "CAM-01")
    assert status == 409
    assert body["detail"].startswith('camera "CAM-01" is not behind a GB/T 28181 gateway'), body
    assert (body["code"], body["params"]) == ("not_a_gateway_camera", {"camera": "CAM-01"})
    admin = gw_api.as_("admin")
    assert admin.patch(f"/api/cameras/{CAM}", json={"enabled": False}).status_code == 200
    status, body = play(gw_api, CAM)
    assert (status, body["detail"]) == (409, f'camera "{CAM}" is disabled: a worker runs only enabled cameras')
    assert sim.play_starts == []


def test_a_gateway_that_fails_is_named_in_a_503_with_the_reason_gateway(gw_api: Api, sim: WvpSimulator) -> None:
    sim.channels[(DEVICE, CHANNEL)].online = False
    status, body = play(gw_api, CAM)
    assert status == 503
    assert (body["code"], body["params"]) == ("gateway", {"camera": CAM, "gateway": "gw-1"})
    assert body["detail"].startswith(f'camera "{CAM}": GB28181 网关 gw-1 拒绝请求 (request refused)'), body
    assert "点播超时" in str(body["detail"])
    sim.stop()
    status, body = play(gw_api, CAM)
    assert (status, body["code"]) == (503, "gateway")
    assert body["detail"].startswith(f'camera "{CAM}": GB28181 网关 gw-1 无法连接 (unreachable): {sim.url}'), body
    assert "gw-pass" not in str(body)


# ---------------------------------------------------------------------------- the worker's side


def test_a_remote_workers_readers_resolve_through_the_api(gw_api: Api, sim: WvpSimulator) -> None:
    with serve_app(gw_api.app) as url, ApiClient(url, token(gw_api)) as client:
        site = RemoteSite(client, ids=[CAM, "CAM-01"])
        assert site.refresh()
        gateways = RemoteGateways(client, site, timeout_s=10)
        source = gateways.resolve(resolve_source(STREAM, allow_files=False))
        assert (source.kind, source.url) == (SourceKind.RTSP, f"rtsp://127.0.0.1:{sim.media_port}/x")
        direct = resolve_source("rtsp://10.1.0.11:554/sub", allow_files=False)
        assert gateways.resolve(direct) is direct  # other cameras are opened as they are

        sim.stop()
        with pytest.raises(StreamError) as failed:
            gateways.resolve(resolve_source(STREAM, allow_files=False))
        assert failed.value.reason is OfflineReason.GATEWAY
        assert failed.value.detail.startswith(f'camera "{CAM}": GB28181 网关 gw-1 无法连接 (unreachable)')

        with pytest.raises(StreamError) as failed:  # a stream no camera of this worker has
            gateways.resolve(resolve_source(f"gb28181://gw-1/{DEVICE}/34020000001319999999", allow_files=False))
        assert failed.value.reason is OfflineReason.GATEWAY

    # The API away: an error of the camera, in bounded time, never the worker's end.
    with ApiClient(f"http://127.0.0.1:{free_port()}", token(gw_api)) as away:
        began = time.monotonic()
        with pytest.raises(StreamError) as failed:
            RemoteGateways(away, site, timeout_s=2).resolve(resolve_source(STREAM, allow_files=False))
        assert time.monotonic() - began < 5
        assert failed.value.reason is OfflineReason.ERROR
        assert failed.value.detail.startswith(f'camera "{CAM}": its gateway stream could not be asked for: the API')


def states(worker: IngestWorker) -> dict[str, tuple[HealthState, OfflineReason | None, str | None]]:
    return {h.camera_id: (h.state, h.reason, h.detail) for h in worker.health()}


@pytest.mark.rtsp
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_remote_worker_pulls_a_gateway_camera_and_shows_the_gateway_down(
    rtsp_server: FootageServer, engine: Engine, site: SiteStore, users: UserStore, events: EventsService
) -> None:
    """Over real HTTP and RTSP: the worker's reader asks the API, the API the gateway, the stream flows from the
    gateway's media relay; the gateway stopped → the camera offline, reason gateway, naming it; back with it."""
    with (
        WvpSimulator(("127.0.0.1", rtsp_server.port), password="gw-pass") as sim,
        contextlib.ExitStack() as stack,
    ):
        sim.add_channel(SimChannel(DEVICE, CHANNEL, "单元门 1", "/cam/CAM-0001/sub"))
        api = stack.enter_context(gateway_app(engine, site, users, events, sim))
        url = stack.enter_context(serve_app(api.app))
        client = stack.enter_context(ApiClient(url, token(api)))
        remote = RemoteSite(client, ids=[CAM])
        remote.refresh()
        worker = stack.enter_context(IngestWorker(remote.credentials, gateways=RemoteGateways(client, remote).resolve))
        worker.apply(remote.cameras(enabled_only=True))

        def online() -> bool:
            return states(worker)[CAM][0] in (HealthState.ONLINE, HealthState.DEGRADED)

        wait_for(lambda: online() and worker.latest(CAM) is not None, 15, what=lambda: states(worker))
        assert sim.play_starts == [(DEVICE, CHANNEL)]  # asked once, then the reader holds the session

        sim.stop()
        wait_for(lambda: states(worker)[CAM][1] is OfflineReason.GATEWAY, 15, what=lambda: states(worker))
        state, _, detail = states(worker)[CAM]
        assert state is HealthState.OFFLINE
        assert detail is not None
        assert detail.startswith(f'camera "{CAM}": GB28181 网关 gw-1 无法连接 (unreachable): {sim.url}'), detail

        starts = len(sim.play_starts)
        sim.start()
        wait_for(online, 15, what=lambda: states(worker))
        assert len(sim.play_starts) > starts  # the reopen asked the gateway again, through the API
