"""Gateway import and sync on the real stores (SQLite and PostgreSQL) against the wvp-like simulator: a gateway's
channels become cameras of its compound all-or-nothing, later passes add and disable what changed on the
gateway, and nothing drawn on an imported camera is lost."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from camera_config.gateways import GatewaySpec
from camera_config.orm import GatewayRow
from camera_config.schema import CameraSpec
from camera_config.store import SiteStore
from camera_config.types import Zone, ZonePurpose
from camera_config.validate import validate_site
from core.errors import Conflict, InvalidInput
from ingest.gateway_sync import GatewaySync
from ingest.gateways import GatewayClients
from ingest.gb28181 import GatewayError, GatewayFault
from tests.camera_config.sites import site
from tests.support.wvp_sim import SimChannel, WvpSimulator

DEV = "34020000001320000001"
DEV2 = "34020000001320000002"


def chan(n: int, device: str = DEV, **kw: object) -> SimChannel:
    return SimChannel(device, f"3402000000131{n:07d}", f"楼栋 {n} 号门", f"/cam/CAM-{n:04d}/sub", **kw)  # type: ignore[arg-type]


def cam_id(n: int) -> str:
    return f"gw-1-3402000000131{n:07d}"


@pytest.fixture
def sim() -> Iterator[WvpSimulator]:
    with WvpSimulator(("127.0.0.1", 9), password="gw-pass") as s:
        for n in (1, 2, 3):
            s.add_channel(chan(n))
        yield s


@pytest.fixture
def sync(store: SiteStore, sim: WvpSimulator) -> Iterator[GatewaySync]:
    store.apply_site(validate_site(site(cameras=[])))
    store.gateways.put(gateway(sim), create=True)
    clients = GatewayClients(store.gateways.access)
    yield GatewaySync(store, clients)
    clients.close()


def gateway(sim: WvpSimulator, **over: object) -> GatewaySpec:
    data: dict[str, object] = {
        "id": "gw-1",
        "url": sim.url,
        "username": "admin",
        "password": "gw-pass",
        "compound": "K1",
    }
    data.update(over)
    return GatewaySpec.model_validate(data)


def test_import_makes_every_channel_a_camera_of_the_compound(store: SiteStore, sync: GatewaySync) -> None:
    report = sync.run("gw-1")
    assert report.added == (cam_id(1), cam_id(2), cam_id(3))
    assert (report.channels, report.removed, report.updated, report.unchanged) == (3, (), 0, 0)
    cams = store.cameras()
    assert [c.id for c in cams] == [cam_id(1), cam_id(2), cam_id(3)]
    first = cams[0]
    assert (first.name, first.compound_id, first.grid_id, first.enabled) == ("楼栋 1 号门", "K1", "G1", True)
    assert first.main_url == f"gb28181://gw-1/{DEV}/34020000001310000001"
    assert store.gateways.get("gw-1").sync_summary == report.summary()
    again = sync.run("gw-1")
    assert (again.added, again.updated, again.unchanged, again.changed) == ((), 0, 3, False)


def test_sync_adds_new_channels_and_disables_vanished_ones_keeping_their_zones(
    store: SiteStore, sim: WvpSimulator, sync: GatewaySync
) -> None:
    sync.run("gw-1")
    zone = Zone("door", "door", ZonePurpose.CROWD, ((0.1, 0.1), (0.9, 0.1), (0.5, 0.9)))
    two = store.camera(cam_id(2))
    store.put_camera(_spec(replace(two, zones=(zone,))))
    store.set_enabled(cam_id(3), False)  # an operator's choice: a sync leaves it
    sim.add_channel(chan(4, device=DEV2, longitude=121.02, latitude=31.22))
    sim.remove_channel(DEV, "34020000001310000002")
    report = sync.run("gw-1")
    assert (report.added, report.removed, report.restored) == ((cam_id(4),), (cam_id(2),), ())
    assert store.camera(cam_id(2)).enabled is False
    assert store.camera(cam_id(3)).enabled is False
    four = store.camera(cam_id(4))
    assert (four.lat, four.lon, four.main_url) == (31.22, 121.02, f"gb28181://gw-1/{DEV2}/34020000001310000004")
    assert store.gateways.get("gw-1").retired == (cam_id(2),)

    sim.add_channel(chan(2))  # back on the gateway: enabled again, its zone still there
    sim.channels[(DEV, "34020000001310000001")].name = "东门"
    report = sync.run("gw-1")
    assert (report.added, report.removed, report.restored, report.updated) == ((), (), (cam_id(2),), 1)
    assert store.camera(cam_id(2)).enabled is True
    assert store.camera(cam_id(2)).zones == (zone,)
    assert store.camera(cam_id(1)).name == "东门"
    assert store.camera(cam_id(3)).enabled is False
    assert store.gateways.get("gw-1").retired == ()


def test_one_bad_channel_refuses_the_whole_import_naming_it(
    store: SiteStore, sim: WvpSimulator, sync: GatewaySync
) -> None:
    sim.add_channel(chan(4, latitude=231.5, longitude=121.0))
    sim.add_channel(SimChannel(DEV2, "3402-bad/id", "bad code", "/x"))
    with pytest.raises(InvalidInput) as caught:
        sync.run("gw-1")
    assert [str(i) for i in caught.value.issues] == [
        f"gateway gw-1 device {DEV} channel 34020000001310000004: latitude: Input should be less than or equal to 90",
        f'gateway gw-1 device {DEV2} channel 3402-bad/id: channelId: "3402-bad/id" is no code (letters and digits, '
        "at most 32; GB/T 28181: 20 digits)",
    ]
    assert store.cameras() == []
    assert store.gateways.get("gw-1").synced_at is None


def test_a_compound_in_two_grids_needs_the_grid_and_says_so(store: SiteStore, sync: GatewaySync) -> None:
    with pytest.raises(InvalidInput) as caught:
        sync.run("gw-1", compound="K2")
    assert str(caught.value.issues[0]) == (
        f'gateway gw-1 device {DEV} channel 34020000001310000001: compound "K2" is in grids G2a, G2b; give grid'
    )
    assert store.gateways.get("gw-1").compound_id == "K1"  # nothing moved
    report = sync.run("gw-1", compound="K2", grid="G2b")
    assert len(report.added) == 3
    assert {(c.compound_id, c.grid_id) for c in store.cameras()} == {("K2", "G2b")}
    assert (store.gateways.get("gw-1").compound_id, store.gateways.get("gw-1").grid_id) == ("K2", "G2b")


def test_a_gateway_that_cannot_be_listed_changes_nothing(
    store: SiteStore, sim: WvpSimulator, sync: GatewaySync
) -> None:
    sync.run("gw-1")
    sim.stop()
    with pytest.raises(GatewayError) as caught:
        sync.run("gw-1")
    assert caught.value.fault is GatewayFault.UNREACHABLE
    assert [c.enabled for c in store.cameras()] == [True, True, True]
    assert sync.run_all() == []  # logged and skipped


def test_gateways_are_checked_and_their_password_kept_secret(
    store: SiteStore, sim: WvpSimulator, sync: GatewaySync, sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(Conflict, match='gateway "gw-1" already exists'):
        store.gateways.put(gateway(sim), create=True)
    with pytest.raises(InvalidInput) as caught:
        store.gateways.put(gateway(sim, id="gw-2", compound="K9", grid="G3", password=None))
    assert [str(i) for i in caught.value.issues] == [
        'compound: compound "K9" does not exist',
        'grid: grid "G3" does not cover compound "K9"',
        "password: a new gateway needs the password gridwatch logs in with",
    ]
    with pytest.raises(InvalidInput, match='grid: grid "G3" does not cover compound "K1"'):
        store.gateways.put(gateway(sim, id="gw-2", grid="G3"))
    store.gateways.put(gateway(sim, password=None, name="东区网关"))  # a replace keeps the password
    assert store.gateways.access("gw-1").password == "gw-pass"
    assert "gw-pass" not in repr(store.gateways.access("gw-1"))
    with sessions() as s:
        stored = s.scalars(select(GatewayRow.password_enc)).one()
    assert "gw-pass" not in stored
    assert store.gateways.get("gw-1").name == "东区网关"
    with pytest.raises(ValueError, match="not in the URL"):
        gateway(sim, url="http://admin:x@10.0.0.1:18080")
    assert isinstance(gateway(sim).password, SecretStr)


def _spec(camera: object) -> CameraSpec:
    from api.routes.cameras import spec_of  # the API's own camera → spec

    return spec_of(camera, False)  # type: ignore[arg-type]
