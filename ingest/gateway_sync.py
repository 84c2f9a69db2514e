"""Gateway import and sync: a gateway's video channels as cameras of its compound, kept in line with the gateway.

One pass (`GatewaySync.run`) lists every device and channel, turns each video channel into a camera
(``<gateway>-<channelId>``, stream ``gb28181://<gateway>/<deviceId>/<channelId>``, its name and coordinates from
the gateway, its grid from the gateway's grid, the compound's one grid or the coordinates) and writes them all in one
transaction, like a CSV import: a channel that cannot be a camera refuses the whole pass, naming the device, the
channel and the field, and nothing is written. A camera whose channel has vanished is disabled (its zones and
settings kept) and enabled again if the channel comes back; a gateway that cannot be listed changes nothing.
Zones, detection and hazard settings drawn on an imported camera are never touched by a sync.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, replace

from pydantic import ValidationError

from camera_config.cameras import CameraRecord, check_camera
from camera_config.gateways import Gateway, gateway_of, place_issues
from camera_config.issues import pydantic_message
from camera_config.schema import CameraSpec
from camera_config.site_index import SiteIndex
from camera_config.store import ImportReport, SiteStore
from camera_config.types import Camera, CameraLevel
from camera_config.urls import GATEWAY_SCHEME, GB_CODE, GatewayChannel
from core.errors import InvalidInput, Issue
from ingest.gateways import GatewayClients
from ingest.gb28181 import WvpChannel

log = logging.getLogger(__name__)

_FIELD = {
    "id": "channelId",
    "name": "name",
    "streams.main": "deviceId/channelId",
    "location": "latitude/longitude",
    "location.lat": "latitude",
    "location.lon": "longitude",
}
"""A camera's field → the channel's field it came from, for issues."""


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one pass changed, by camera id."""

    gateway_id: str
    channels: int
    """Video channels the gateway listed."""
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    """Disabled: their channel is gone from the gateway."""
    restored: tuple[str, ...] = ()
    """Enabled again: their channel is back."""
    updated: int = 0
    """Renamed, moved or re-placed by the gateway's data."""
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.restored or self.updated)

    def summary(self) -> str:
        """``gw-1: 5 channels; added gw-1-…; removed gw-1-…; 1 updated, 3 unchanged``"""
        parts = [f"{self.gateway_id}: {self.channels} channel{'s' if self.channels != 1 else ''}"]
        for name, ids in (("added", self.added), ("removed", self.removed), ("restored", self.restored)):
            if ids:
                shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
                parts.append(f"{name} {shown}")
        parts.append(f"{self.updated} updated, {self.unchanged} unchanged")
        return "; ".join(parts)


def channel_spec(gateway: Gateway, channel: WvpChannel) -> dict[str, object]:
    """The camera a channel becomes, as CameraSpec input."""
    ref = GatewayChannel(gateway.id, channel.device_id, channel.channel_id)
    name = (channel.name.strip() or channel.channel_id)[:200]
    data: dict[str, object] = {
        "id": ref.camera_id,
        "name": name,
        "level": CameraLevel.COMPOUND.value,
        "compound": gateway.compound_id,
        "streams": {"main": ref.url},
    }
    if gateway.grid_id is not None:
        data["grid"] = gateway.grid_id
    lat, lon = channel.latitude, channel.longitude
    if lat is not None and lon is not None and (lat, lon) != (0.0, 0.0):  # wvp answers 0, 0 for "not known"
        data["location"] = {"lat": lat, "lon": lon}
    return data


def plan(
    gateway: Gateway, channels: list[WvpChannel], existing: list[Camera], index: SiteIndex
) -> tuple[list[CameraRecord], SyncReport]:
    """The records a pass writes and what they change; `InvalidInput` naming every channel that cannot be a camera
    (and nothing to write)."""
    issues: list[Issue] = []
    mine = {c.id: c for c in existing}
    retired = set(gateway.retired)
    records: list[CameraRecord] = []
    seen: dict[str, WvpChannel] = {}
    added: list[str] = []
    restored: list[str] = []
    for channel in channels:
        where = f"gateway {gateway.id} device {channel.device_id} channel {channel.channel_id}"
        bad = [
            (k, v)
            for k, v in (("deviceId", channel.device_id), ("channelId", channel.channel_id))
            if not GB_CODE.match(v)
        ]
        if bad:
            issues += [
                Issue(where, f'{k}: "{v}" is no code (letters and digits, at most 32; GB/T 28181: 20 digits)')
                for k, v in bad
            ]
            continue
        data = channel_spec(gateway, channel)
        camera_id = str(data["id"])
        first = seen.get(camera_id)
        if first is not None:
            issues.append(Issue(where, f"channelId: also listed under device {first.device_id} (codes must be unique)"))
            continue
        seen[camera_id] = channel
        try:
            spec = CameraSpec.model_validate(data)
        except ValidationError as exc:
            issues += [
                Issue(where, f"{_FIELD.get('.'.join(map(str, e['loc'])), 'channel')}: {pydantic_message(e)}")
                for e in exc.errors(include_input=False)
            ]
            continue
        if camera_id in index.cameras and camera_id not in mine:
            issues.append(Issue(where, f'channelId: camera "{camera_id}" exists and is not a channel of {gateway.id}'))
            continue
        record, problems = check_camera(spec, index)
        if record is None or problems:
            issues += [
                Issue(where, p.message if p.names_field else f"{_FIELD.get(p.field, p.field)}: {p.message}")
                for p in problems
            ]
            continue
        stored = mine.get(camera_id)
        if stored is None:
            added.append(camera_id)
        else:
            enabled = stored.enabled or camera_id in retired
            if not stored.enabled and camera_id in retired:
                restored.append(camera_id)
            record = replace(record, camera=replace(record.camera, enabled=enabled))
        records.append(replace(record, keeps_settings=True))
    if issues:
        raise InvalidInput(issues)
    removed = [c.id for c in existing if c.id not in seen and c.enabled]
    records += [CameraRecord(replace(mine[cid], enabled=False)) for cid in removed]
    report = SyncReport(gateway.id, len(seen), tuple(added), tuple(removed), tuple(restored))
    return records, report


class GatewaySync:
    """Import and sync passes over the site's gateways; one pass per gateway at a time."""

    def __init__(self, site: SiteStore, clients: GatewayClients) -> None:
        self.site = site
        self.clients = clients
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def run(self, gateway_id: str, *, compound: str | None = None, grid: str | None = None) -> SyncReport:
        """One pass over one gateway (``compound``/``grid``: move its cameras there, stored with the gateway only
        if the pass succeeds). `GatewayError` when the gateway cannot be listed, `InvalidInput` for channels that
        cannot be cameras: nothing is written then."""
        with self._guard:
            lock = self._locks[gateway_id]
        with lock:
            gateway = self.site.gateways.get(gateway_id)
            index = self.site.index()
            if compound is not None:
                if issues := place_issues(compound, grid, index):
                    raise InvalidInput(issues)
                gateway = replace(gateway, compound_id=compound, grid_id=grid)
            client = self.clients.client(gateway_id)
            channels = [c for d in client.devices() for c in client.channels(d.device_id) if c.channel_type == 0]
            mine = self.site.cameras(url_prefix=f"{GATEWAY_SCHEME}://{gateway_id}/")
            existing = [c for c in mine if gateway_of(c.main_url) == gateway_id]
            records, planned = plan(gateway, channels, existing, index)
            done: list[SyncReport] = []

            def summarize(written: ImportReport) -> str:
                # Disabling and enabling again are updates to the store; the rest are changes the gateway made.
                moved = written.updated - len(planned.removed) - len(planned.restored)
                done.append(replace(planned, updated=moved, unchanged=written.unchanged))
                return done[-1].summary()

            self.site.gateways.apply_sync(
                gateway_id,
                records,
                retired=sorted((set(gateway.retired) - set(planned.restored)) | set(planned.removed)),
                summarize=summarize,
                place=(compound, grid) if compound is not None else None,
            )
            report = done[-1]
        if report.changed:
            log.info("gateway sync: %s", report.summary())
        return report

    def run_all(self) -> list[SyncReport]:
        """Every gateway once; one that fails is logged and skipped (its cameras stay as they are)."""
        reports = []
        for gateway in self.site.gateways.list():
            try:
                reports.append(self.run(gateway.id))
            except Exception as exc:  # one gateway down must not stop the others' sync
                log.warning("gateway sync: %s not synced: %s", gateway.id, exc)
        return reports
