"""GB/T 28181 gateways: wvp-GB28181-pro instances whose channels become cameras of one compound.

A gateway is stored like a camera's credentials: the password encrypted, read back only by `GatewayStore.access`
for the code that logs in (ingest's wvp client). Its cameras are the ones whose stream URL is
``gb28181://<gateway>/<deviceId>/<channelId>`` (`camera_config.urls.GatewayChannel`); `GatewayStore.apply_sync`
writes what a sync decided about them, with the gateway's own record of it, in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from camera_config.cameras import CameraRecord
from camera_config.issues import pydantic_issues
from camera_config.orm import GatewayRow
from camera_config.schema import Spec
from camera_config.secrets import CredentialCipher
from camera_config.site_index import SiteIndex
from camera_config.urls import GATEWAY_ID, is_gateway_source, parse_gateway_url
from core.db import transaction, utcnow
from core.errors import Conflict, InvalidInput, Issue, NotFound
from core.redact import redact

if TYPE_CHECKING:
    from camera_config.store import ImportReport

GatewayKind = Literal["wvp"]


def _check_gateway_id(value: str) -> str:
    if not GATEWAY_ID.match(value):
        raise ValueError(f'id "{value}": use letters, digits, "_" or "-", at most 31, starting alphanumeric')
    return value


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the gateway's base URL is http(s)://host[:port] (got {redact(value)!r})")
    if parts.username is not None or parts.password is not None:
        raise ValueError("put the user name and password in username and password, not in the URL")
    if parts.query or parts.fragment:
        raise ValueError(f"the base URL takes no query or fragment (got {redact(value)!r})")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise ValueError(f"the base URL has an invalid port (got {redact(value)!r})") from None
    return value.rstrip("/")


class GatewaySpec(Spec):
    """A gateway as the API and the command line take it."""

    id: str = Field(description="Gateway id; its cameras are named <id>-<channelId>. At most 31 characters.")
    kind: GatewayKind = Field("wvp", description="The gateway's software: wvp (wvp-GB28181-pro with ZLMediaKit).")
    name: str | None = Field(None, min_length=1, max_length=200, description="Display name (default: the id).")
    url: str = Field(max_length=500, description="Base URL of the gateway's REST API, e.g. http://10.1.2.3:18080.")
    username: str = Field(min_length=1, max_length=128, description="The gateway user gridwatch logs in as.")
    password: SecretStr | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="Its password (sent to the gateway as MD5, stored encrypted, never returned). Required for a new "
        "gateway; left out, a replace keeps the stored one.",
    )
    compound: str = Field(description="Id of the compound the gateway's channels are imported into.")
    grid: str | None = Field(
        None,
        description="Id of the grid its cameras report to; default: the one grid covering the compound (or the "
        "channel's coordinates).",
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_gateway_id(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_http_url(value)


@dataclass(frozen=True, slots=True)
class Gateway:
    """A stored gateway, without its password."""

    id: str
    kind: str
    name: str
    url: str
    username: str
    compound_id: str
    grid_id: str | None
    retired: tuple[str, ...] = ()
    """Its cameras a sync disabled because their channel vanished; a sync that finds the channel again enables them."""
    synced_at: datetime | None = None
    sync_summary: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayAccess:
    """What logging in to a gateway takes; handed only to the client, repr never shows the password."""

    id: str
    kind: str
    url: str
    username: str
    password: str = field(repr=False)


def gateway_of(url: str) -> str | None:
    """The gateway a camera's stream URL goes through, if any."""
    if not is_gateway_source(url):
        return None
    try:
        return parse_gateway_url(url).gateway_id
    except ValueError:
        return None


def _from_row(row: GatewayRow) -> Gateway:
    return Gateway(
        id=row.id,
        kind=row.kind,
        name=row.name,
        url=row.url,
        username=row.username,
        compound_id=row.compound_id,
        grid_id=row.grid_id,
        retired=tuple(row.retired),
        synced_at=row.synced_at,
        sync_summary=row.sync_summary,
    )


def place_issues(compound: str, grid_id: str | None, index: SiteIndex) -> list[Issue]:
    """Where a gateway imports to: the compound and grid exist, and the grid covers the compound."""
    issues = []
    if compound not in index.compounds:
        issues.append(Issue("compound", f'compound "{compound}" does not exist'))
    if grid_id is not None:
        grid = index.grids.get(grid_id)
        if grid is None:
            issues.append(Issue("grid", f'grid "{grid_id}" does not exist'))
        elif grid.compound_ids and compound not in grid.compound_ids:
            issues.append(Issue("grid", f'grid "{grid_id}" does not cover compound "{compound}"'))
    return issues


def parse_gateway_spec(data: object) -> GatewaySpec:
    """A gateway from a plain mapping (a site file's or the command line's), `InvalidInput` naming each field."""
    try:
        return GatewaySpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(pydantic_issues(exc, "")) from None


WriteCameras = Callable[[Session, Sequence[CameraRecord]], "ImportReport"]


class GatewayStore:
    """The gateways table; reached as `SiteStore.gateways`."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        cipher: CredentialCipher,
        index: Callable[[], SiteIndex],
        write_cameras: WriteCameras,
    ) -> None:
        self._factory = factory
        self._cipher = cipher
        self._index = index
        self._write_cameras = write_cameras

    def list(self) -> list[Gateway]:
        with self._factory() as s:
            return [_from_row(r) for r in s.scalars(select(GatewayRow).order_by(GatewayRow.id))]

    def get(self, gateway_id: str) -> Gateway:
        with self._factory() as s:
            row = s.get(GatewayRow, gateway_id)
            if row is None:
                raise NotFound.of("gateway", gateway_id)
            return _from_row(row)

    def access(self, gateway_id: str) -> GatewayAccess:
        with self._factory() as s:
            row = s.get(GatewayRow, gateway_id)
            if row is None:
                raise NotFound.of("gateway", gateway_id)
            return GatewayAccess(row.id, row.kind, row.url, row.username, self._cipher.decrypt(row.password_enc))

    def put(self, spec: GatewaySpec, *, create: bool = False) -> Gateway:
        """Create or replace a gateway (``create``: refuse one that exists). Refuses unknown compounds and grids,
        and a new gateway without a password, naming the field."""
        issues = place_issues(spec.compound, spec.grid, self._index())
        with transaction(self._factory) as s:
            row = s.get(GatewayRow, spec.id)
            if row is not None and create:
                raise Conflict(f'gateway "{spec.id}" already exists')
            if row is None and spec.password is None:
                issues.append(Issue("password", "a new gateway needs the password gridwatch logs in with"))
            if issues:
                raise InvalidInput(issues)
            if row is None:
                row = GatewayRow(id=spec.id, retired=[], created_at=utcnow())
                s.add(row)
            row.kind = spec.kind
            row.name = spec.name or spec.id
            row.url = spec.url
            row.username = spec.username
            if spec.password is not None:
                row.password_enc = self._cipher.encrypt(spec.password.get_secret_value())
            row.compound_id = spec.compound
            row.grid_id = spec.grid
            row.updated_at = utcnow()
        return self.get(spec.id)

    def apply_sync(
        self,
        gateway_id: str,
        records: Sequence[CameraRecord],
        *,
        retired: Sequence[str],
        summarize: Callable[[ImportReport], str],
        place: tuple[str, str | None] | None = None,
    ) -> ImportReport:
        """Write a sync's cameras and the gateway's record of it together: the cameras it disabled, when, what
        changed (``summarize``, given what the write did) and, with ``place``, its new compound and grid."""
        with transaction(self._factory) as s:
            row = s.get(GatewayRow, gateway_id)
            if row is None:
                raise NotFound.of("gateway", gateway_id)
            report = self._write_cameras(s, records)
            row.retired = sorted(retired)
            row.synced_at = utcnow()
            row.sync_summary = summarize(report)
            if place is not None:
                row.compound_id, row.grid_id = place
                row.updated_at = utcnow()
        return report
