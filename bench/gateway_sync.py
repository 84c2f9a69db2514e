"""Time to import and keep in sync a GB/T 28181 gateway of the full site's size (1,751 channels), SQLite and
PostgreSQL, side by side with its peer: the integrators' CSV import of the same 1,751 cameras.

The gateway is the wvp-like simulator of the test tree on 127.0.0.1 (its channels on 30 devices, listed page by
page as wvp does), so the figures include the REST round trips. Measured per backend: the first import (every
channel a new camera), a sync that finds nothing changed (what `gridwatch run` does every
GRIDWATCH_GATEWAY_SYNC_S), and a sync after 20 channels vanished and 20 new ones appeared.

    .venv/bin/python bench/gateway_sync.py [--pg-url URL] [--channels N]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ is first on sys.path and bench/events.py would hide the events package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import time
from collections.abc import Callable
from typing import TypeVar

from cryptography.fernet import Fernet

from bench.import_site import backend
from camera_config.gateways import GatewaySpec
from camera_config.generate import cameras_csv, generate_site
from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from camera_config.validate import validate_site
from core.db import session_factory
from ingest.gateway_sync import GatewaySync, SyncReport
from ingest.gateways import GatewayClients
from tests.support.wvp_sim import SimChannel, WvpSimulator

T = TypeVar("T")
DEVICES = 30
CHURN = 20


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def counts(report: SyncReport) -> str:
    return (
        f"{report.channels} channels: {len(report.added)} added, {len(report.removed)} disabled, "
        f"{len(report.restored)} restored, {report.updated} updated, {report.unchanged} unchanged"
    )


def channel(n: int) -> SimChannel:
    device = f"340200000013200{n % DEVICES:05d}"
    return SimChannel(device, f"3402000000131{n:07d}", f"通道 {n}", f"/cam/{n}")


def run(name: str, pg_url: str, channels: int) -> list[tuple[str, float, str]]:
    doc = generate_site()
    skeleton = {k: v for k, v in doc.items() if k != "cameras"}
    compound = doc["compounds"][0]["id"]
    grid = next(g["id"] for g in doc["grids"] if compound in g.get("compounds", []))
    rows: list[tuple[str, float, str]] = []
    with backend(name, pg_url) as engine:
        store = SiteStore(session_factory(engine), CredentialCipher(Fernet.generate_key()))
        store.apply_site(validate_site(skeleton))
        seconds, _ = timed(lambda: store.import_cameras(cameras_csv(doc["cameras"][:channels])))
        rows.append(("peer: CSV import of the same count", seconds, f"{store.counts()['cameras']} cameras"))
    with backend(name, pg_url) as engine, WvpSimulator(("127.0.0.1", 9), password="bench-pass") as sim:
        store = SiteStore(session_factory(engine), CredentialCipher(Fernet.generate_key()))
        store.apply_site(validate_site(skeleton))
        for n in range(channels):
            sim.add_channel(channel(n))
        spec = {"id": "gw-1", "url": sim.url, "username": "admin", "password": "bench-pass", "compound": compound}
        store.gateways.put(GatewaySpec.model_validate({**spec, "grid": grid}), create=True)
        clients = GatewayClients(store.gateways.access)
        sync = GatewaySync(store, clients)
        try:
            seconds, first = timed(lambda: sync.run("gw-1"))
            rows.append(("gateway: first import", seconds, counts(first)))
            seconds, again = timed(lambda: sync.run("gw-1"))
            rows.append(("gateway: sync, nothing changed", seconds, counts(again)))
            for n in range(CHURN):
                gone = channel(n)
                sim.remove_channel(gone.device_id, gone.channel_id)
                sim.add_channel(channel(channels + n))
            seconds, churn = timed(lambda: sync.run("gw-1"))
            rows.append((f"gateway: sync, {CHURN} gone + {CHURN} new", seconds, counts(churn)))
        finally:
            clients.close()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--channels", type=int, default=1751, help="channels on the gateway (default: the full site)")
    args = ap.parse_args()
    print(f"{'backend':<12}{'pass':<38}{'seconds':>9}  result")
    for name in ("sqlite", "postgresql"):
        for label, seconds, result in run(name, args.pg_url, args.channels):
            print(f"{name:<12}{label:<38}{seconds:>9.2f}  {result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
