"""`gridwatch cameras discover` against the protocol simulator's WS-Discovery responder (unicast on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cli import Gridwatch
from tests.support.onvif_sim import OnvifSimulator, running_device


@pytest.fixture
def sim() -> Iterator[OnvifSimulator]:
    with running_device("rtsp://127.0.0.1:8554/cam/main") as device:
        yield device


def test_discover_lists_address_model_serial_and_xaddrs(
    gridwatch: Gridwatch, sim: OnvifSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = str(sim.discovery_port)
    ran = gridwatch("cameras", "discover", "--subnet", "127.0.0.1/32", "--port", port, "--timeout", "1")
    assert ran.returncode == 0, ran.stderr
    assert "127.0.0.1" in ran.stdout
    assert "model GW-SIM-1" in ran.stdout
    assert f"{sim.url}/onvif/device_service" in ran.stdout
    assert "1 ONVIF device(s)" in ran.stderr

    monkeypatch.setenv("GRIDWATCH_ONVIF_PASSWORD", sim.password)
    args = ("cameras", "discover", "--subnet", "127.0.0.1/32", "--port", port, "--timeout", "1")
    ran = gridwatch(*args, "--username", sim.username)
    assert "serial SIM-0001" in ran.stdout
    monkeypatch.setenv("GRIDWATCH_ONVIF_PASSWORD", "not-the-password-7")
    ran = gridwatch(*args, "--username", sim.username)
    assert "ONVIF 用户名或密码错误" in ran.stdout
    assert "not-the-password-7" not in ran.stdout


def test_a_subnet_too_large_is_refused_naming_it(gridwatch: Gridwatch) -> None:
    ran = gridwatch("cameras", "discover", "--subnet", "10.0.0.0/8")
    assert ran.returncode == 1
    assert "subnet:" in ran.stderr
    assert "nothing was changed" in ran.stderr


def test_nothing_answering_is_said(gridwatch: Gridwatch, sim: OnvifSimulator) -> None:
    ran = gridwatch(
        "cameras", "discover", "--subnet", "127.0.0.2/32", "--port", str(sim.discovery_port), "--timeout", "0.3"
    )
    assert ran.returncode == 0
    assert "no ONVIF device answered" in ran.stderr
