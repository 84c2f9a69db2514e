"""GB/T 28181 gateways (wvp-GB28181-pro): list and add them, import or sync their channels as cameras now.

Gateways are site-wide: every route needs a site writer with a site-wide scope (as the CSV import does). Passwords
go in and are never returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.audit import AuditAction
from api.auth import Principal, RecorderDep, SiteWriter
from api.errors import AUTH, Forbidden, responses
from api.runtime import Runtime, RuntimeDep
from camera_config.gateways import Gateway, GatewaySpec
from core.errors import InvalidInput, Issue, Unavailable
from ingest.gateway_sync import GatewaySync, SyncReport

router = APIRouter(prefix="/api/gateways", tags=["gateways"])

GatewayId = Annotated[str, Path(max_length=31, description="Gateway id.", examples=["gw-1"])]


class GatewayPublic(BaseModel):
    """A gateway as stored, without its password."""

    id: str = Field(examples=["gw-1"])
    kind: str = Field(description="wvp: wvp-GB28181-pro with ZLMediaKit.", examples=["wvp"])
    name: str = Field(examples=["东区视频网关"])
    url: str = Field(description="Base URL of its REST API.", examples=["http://10.1.2.3:18080"])
    username: str = Field(examples=["gridwatch"])
    compound_id: str = Field(description="Where its channels are imported.", examples=["K-01"])
    grid_id: str | None = Field(description="The grid its cameras report to (None: by compound).", examples=[None])
    synced_at: datetime | None = Field(description="Last successful import or sync.", examples=[None])
    sync_summary: str | None = Field(description="What that pass changed.", examples=[None])
    retired: list[str] = Field(description="Its cameras disabled because their channel vanished.", examples=[[]])

    @classmethod
    def of(cls, g: Gateway) -> GatewayPublic:
        return cls(
            id=g.id,
            kind=g.kind,
            name=g.name,
            url=g.url,
            username=g.username,
            compound_id=g.compound_id,
            grid_id=g.grid_id,
            synced_at=g.synced_at,
            sync_summary=g.sync_summary,
            retired=list(g.retired),
        )


class SyncReportPublic(BaseModel):
    gateway: str = Field(examples=["gw-1"])
    channels: int = Field(description="Video channels the gateway listed.", examples=[12])
    added: list[str] = Field(description="Cameras made of new channels.", examples=[["gw-1-34020000001310000001"]])
    removed: list[str] = Field(description="Cameras disabled: their channel is gone.", examples=[[]])
    restored: list[str] = Field(description="Cameras enabled again: their channel is back.", examples=[[]])
    updated: int = Field(description="Cameras renamed or moved by the gateway's data.", examples=[0])
    unchanged: int = Field(examples=[11])

    @classmethod
    def of(cls, r: SyncReport) -> SyncReportPublic:
        return cls(
            gateway=r.gateway_id,
            channels=r.channels,
            added=list(r.added),
            removed=list(r.removed),
            restored=list(r.restored),
            updated=r.updated,
            unchanged=r.unchanged,
        )


def _site_wide(principal: Principal) -> None:
    if not principal.scope.whole_site:
        raise Forbidden("gateways are site-wide: they need a site-wide scope")


def _sync(runtime: Runtime) -> GatewaySync:
    sync = runtime.context.gateway_sync
    if sync is None:
        raise Unavailable("this server does not reach gateways (no gateway sync configured)")
    return sync


@router.get("", responses=responses(*AUTH))
def list_gateways(principal: SiteWriter, runtime: RuntimeDep) -> list[GatewayPublic]:
    """Every gateway with its last sync."""
    _site_wide(principal)
    return [GatewayPublic.of(g) for g in runtime.context.site.gateways.list()]


@router.post("", status_code=201, responses=responses(*AUTH, 409, 422))
def add_gateway(spec: GatewaySpec, principal: SiteWriter, runtime: RuntimeDep) -> GatewayPublic:
    """Add a gateway (its password is required, stored encrypted, never returned); import it next."""
    _site_wide(principal)
    return GatewayPublic.of(runtime.context.site.gateways.put(spec, create=True))


@router.put("/{gateway_id}", responses=responses(*AUTH, 404, 422))
def replace_gateway(
    gateway_id: GatewayId, spec: GatewaySpec, principal: SiteWriter, runtime: RuntimeDep
) -> GatewayPublic:
    """Replace a gateway; without a password the stored one is kept."""
    _site_wide(principal)
    if spec.id != gateway_id:
        raise InvalidInput(Issue("id", f'"{spec.id}" differs from the gateway in the path ("{gateway_id}")'))
    runtime.context.site.gateways.get(gateway_id)
    return GatewayPublic.of(runtime.context.site.gateways.put(spec))


@router.post("/{gateway_id}/sync", responses=responses(*AUTH, 404, 422, 503))
async def sync_gateway(
    gateway_id: GatewayId,
    principal: SiteWriter,
    runtime: RuntimeDep,
    audit: RecorderDep,
    compound: Annotated[str | None, Query(max_length=64, description="Import into this compound now.")] = None,
    grid: Annotated[
        str | None, Query(max_length=64, description="With compound: the grid its cameras report to.")
    ] = None,
) -> SyncReportPublic:
    """Import or sync now: every video channel becomes (or stays) a camera, vanished ones are disabled. All or
    nothing: 422 naming each channel that cannot be a camera, 503 naming the gateway when it cannot be listed."""
    _site_wide(principal)
    if grid is not None and compound is None:
        raise InvalidInput(Issue("grid", "give compound with grid"))
    await run_in_threadpool(runtime.context.site.gateways.get, gateway_id)  # 404 first
    report = await run_in_threadpool(_sync(runtime).run, gateway_id, compound=compound, grid=grid)
    await run_in_threadpool(audit.record, AuditAction.CAMERAS_IMPORTED, f"gateway {gateway_id}", report.summary())
    if report.changed:
        runtime.sse.publish("cameras.imported", None, {"gateway": gateway_id, "created": len(report.added)})
    return SyncReportPublic.of(report)
