"""`gridwatch gateway add / import / sync / list` on a real database against the wvp-like simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cli import Gridwatch
from tests.support.paths import EXAMPLES
from tests.support.wvp_sim import DEVICE, SimChannel, WvpSimulator, gateway_with_channels

DEV = DEVICE


@pytest.fixture
def sim() -> Iterator[WvpSimulator]:
    with gateway_with_channels(2) as s:
        yield s


def test_add_import_sync_list(gridwatch: Gridwatch, sim: WvpSimulator) -> None:
    assert gridwatch("site", "load", str(EXAMPLES / "demo-site.yaml")).returncode == 0
    add = ["gateway", "add", "gw-1", "--url", sim.url, "--username", "admin", "--compound", "K-01"]
    ran = gridwatch(*add)
    assert ran.returncode == 1
    assert "password: a new gateway needs the password" in ran.stderr
    ran = gridwatch(*add, "--password-stdin", stdin="gw-pass\n")
    assert ran.returncode == 0, ran.stderr
    assert 'gateway "gw-1" (wvp, ' in ran.stdout

    ran = gridwatch("gateway", "import", "gw-1", "--compound", "K-02")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == (
        "gw-1: 2 channels; added gw-1-34020000001310000001, gw-1-34020000001310000002; 0 updated, 0 unchanged"
    )
    sim.add_channel(SimChannel(DEV, "34020000001310000003", "Gate 3", "/x"))
    ran = gridwatch("gateway", "sync")
    assert ran.stdout.strip() == "gw-1: 3 channels; added gw-1-34020000001310000003; 0 updated, 2 unchanged"
    ran = gridwatch("gateway", "list")
    assert "gw-1  wvp" in ran.stdout
    assert "compound K-02" in ran.stdout
    assert "added gw-1-34020000001310000003" in ran.stdout

    sim.stop()
    ran = gridwatch("gateway", "sync", "gw-1")
    assert ran.returncode != 0
    assert f"GB28181 网关 gw-1 无法连接 (unreachable): {sim.url}" in ran.stderr
