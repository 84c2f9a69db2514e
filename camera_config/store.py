"""The site model's store: validated input in, typed `model` values out.

Every write is one transaction (all-or-nothing). Read paths return frozen values and never a
password; only `credentials()` decrypts, for the code that opens a stream.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Row, delete, func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.orm.interfaces import ORMOption

from camera_config.camera_csv import CSV_COLUMNS, read_camera_csv, spreadsheet_safe
from camera_config.cameras import CameraRecord, validate_camera
from camera_config.gateways import GatewayStore
from camera_config.hazard_settings import HazardSettings, ZoneSettings
from camera_config.onvif_settings import OnvifSettings
from camera_config.orm import (
    CameraRow,
    CommunityRow,
    CompoundRow,
    GridRow,
    PartnerUnitRow,
    PartyGroupRow,
    PersonRow,
    PropertyCompanyRow,
    StreetRow,
    ZoneRow,
    grid_compounds,
)
from camera_config.schema import CameraSpec
from camera_config.secrets import CredentialCipher
from camera_config.site_index import SiteIndex
from camera_config.stream_settings import DetectSettings
from camera_config.types import (
    Camera,
    CameraLevel,
    Compound,
    Grid,
    PartnerUnit,
    Person,
    PersonRole,
    Point,
    StreamCredentials,
    Street,
    Zone,
    ZonePurpose,
)
from camera_config.validate import ValidatedSite, load_site_file
from core.db import Base, transaction, utcnow
from core.errors import Issue, NotFound

Progress = Callable[[int, int], None]
"""Called as (done, total) during long writes."""

_CHUNK = 500
_Row = TypeVar("_Row", bound=Base)


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: int
    updated: int
    unchanged: int
    skipped: tuple[Issue, ...] = ()
    rows: int = 0
    warnings: tuple[Issue, ...] = ()

    def summary(self) -> str:
        """One line for people and for the access audit."""
        return (
            f"{self.rows} rows: {self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.skipped)} skipped"
        )


@dataclass(frozen=True, slots=True)
class GridSummary:
    id: str
    name: str
    cameras: int
    grid_worker: str | None
    building_leaders: int
    party_group_id: str | None


@dataclass(frozen=True, slots=True)
class CameraPlace:
    """Where a camera is and what it reports to: what a map needs of it, without its streams and zones."""

    id: str
    name: str
    grid_id: str
    compound_id: str | None
    lat: float | None
    lon: float | None
    enabled: bool


@dataclass(frozen=True, slots=True)
class TreeNode:
    """One node of street → community → property company → compound (→ camera), with counts."""

    kind: str
    id: str
    name: str
    cameras: int
    enabled_cameras: int
    children: tuple[TreeNode, ...] = ()
    grids: tuple[GridSummary, ...] = ()


def _get(s: Session, table: type[_Row], kind: str, id_: str, *options: ORMOption) -> _Row:
    """The row with this id, or `NotFound` naming the ``kind`` of thing."""
    row = s.get(table, id_, options=options)
    if row is None:
        raise NotFound.of(kind, id_)
    return row


def _points(stored: Sequence[Sequence[float]]) -> tuple[Point, ...]:
    """Points as stored (JSON lists) as (x, y) float pairs."""
    return tuple((float(p[0]), float(p[1])) for p in stored)


def _json_points(points: Sequence[Point]) -> list[list[float]]:
    return [list(p) for p in points]


def _camera_from_row(row: CameraRow) -> Camera:
    return Camera(
        id=row.id,
        name=row.name,
        level=CameraLevel(row.level),
        grid_id=row.grid_id,
        main_url=row.main_url,
        sub_url=row.sub_url,
        compound_id=row.compound_id,
        lat=row.lat,
        lon=row.lon,
        username=row.username,
        has_password=row.password_enc is not None,
        enabled=row.enabled,
        zones=tuple(
            Zone(
                id=z.id,
                name=z.name,
                purpose=ZonePurpose(z.purpose),
                points=_points(z.points),
                settings=ZoneSettings.model_validate(z.settings),
            )
            for z in row.zones
        ),
        detect=DetectSettings.model_validate(row.detect),
        hazards=HazardSettings.model_validate(row.hazards),
        onvif=OnvifSettings.model_validate(row.onvif) if row.onvif else None,
        revision=row.revision,
        updated_at=row.updated_at,
    )


def _grid_from_row(row: GridRow) -> Grid:
    return Grid(
        id=row.id,
        name=row.name,
        community_id=row.community_id,
        compound_ids=tuple(c.id for c in row.compounds),
        polygon=_points(row.polygon),
        party_group_id=row.party_group_id,
    )


def _person_from_row(row: Row[Any]) -> Person:
    return Person(
        id=row.id,
        name=row.name,
        role=PersonRole(row.role),
        grid_id=row.grid_id,
        party_group_id=row.party_group_id,
        community_id=row.community_id,
        building=row.building,
        phone=row.phone,
        email=row.email,
        im=row.im,
    )


_CONTENT: tuple[str, ...] = ("id", "name", "level", "grid_id", "main_url", "sub_url", "compound_id", "lat", "lon")
_CONTENT += ("username", "enabled", "zones", "detect", "hazards", "onvif")


def _same_content(a: Camera, b: Camera) -> bool:
    """Equal apart from bookkeeping (revision, updated_at, has_password)."""
    return all(getattr(a, k) == getattr(b, k) for k in _CONTENT)


def _upsert(s: Session, table: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert new rows and update existing ones by id, with one SELECT per chunk (not one per row)."""
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        pk = getattr(table, "id")  # noqa: B009 - every site table has a string id, Base does not
        found: list[Any] = list(s.scalars(select(table).where(pk.in_([v["id"] for v in chunk]))))
        existing = {r.id: r for r in found}
        for values in chunk:
            row = existing.get(values["id"])
            if row is None:
                s.add(table(**values))
            else:
                for key, value in values.items():
                    if getattr(row, key) != value:
                        setattr(row, key, value)


class SiteStore:
    def __init__(self, factory: sessionmaker[Session], cipher: CredentialCipher, *, allow_files: bool = False):
        self._factory = factory
        self._cipher = cipher
        self.allow_files = allow_files
        """Demo mode: accept local files as stream sources."""
        self.hierarchy_version = 0
        """Bumped by every `apply_site` in this process: caches of the hierarchy compare it."""
        self.gateways = GatewayStore(factory, cipher, self.index, lambda s, records: self._write_cameras(s, records))
        """GB/T 28181 gateways whose channels are cameras here."""

    # ------------------------------------------------------------------ reading

    def index(self, session: Session | None = None) -> SiteIndex:
        """What exists, for validating new input against it."""
        if session is None:
            with self._factory() as s:
                return self.index(s)
        idx = SiteIndex()
        idx.streets = set(session.scalars(select(StreetRow.id)))
        idx.communities = set(session.scalars(select(CommunityRow.id)))
        idx.property_companies = dict(
            session.execute(select(PropertyCompanyRow.id, PropertyCompanyRow.community_id)).all()
        )
        idx.compounds = dict(session.execute(select(CompoundRow.id, CompoundRow.community_id)).all())
        idx.party_groups = dict(session.execute(select(PartyGroupRow.id, PartyGroupRow.community_id)).all())
        idx.partner_units = {
            pid: tuple(communities)
            for pid, communities in session.execute(select(PartnerUnitRow.id, PartnerUnitRow.community_ids))
        }
        idx.grids = {
            g.id: _grid_from_row(g) for g in session.scalars(select(GridRow).options(selectinload(GridRow.compounds)))
        }
        workers = session.execute(
            select(PersonRow.grid_id, PersonRow.id).where(PersonRow.role == PersonRole.GRID_WORKER.value)
        )
        idx.grid_workers = {grid: person for grid, person in workers if grid is not None}
        idx.cameras = set(session.scalars(select(CameraRow.id)))
        return idx

    def cameras(
        self, *, enabled_only: bool = False, grid_ids: Iterable[str] | None = None, url_prefix: str | None = None
    ) -> list[Camera]:
        """``url_prefix``: only cameras whose main stream URL starts so (a gateway's: ``gb28181://gw-1/``)."""
        stmt = select(CameraRow).options(selectinload(CameraRow.zones)).order_by(CameraRow.id)
        if enabled_only:
            stmt = stmt.where(CameraRow.enabled.is_(True))
        if url_prefix is not None:
            stmt = stmt.where(CameraRow.main_url.startswith(url_prefix, autoescape=True))
        if grid_ids is not None:
            stmt = stmt.where(CameraRow.grid_id.in_(list(grid_ids)))
        with self._factory() as s:
            return [_camera_from_row(r) for r in s.scalars(stmt)]

    def camera(self, camera_id: str) -> Camera:
        with self._factory() as s:
            return _camera_from_row(_get(s, CameraRow, "camera", camera_id, selectinload(CameraRow.zones)))

    def revisions(self) -> dict[str, int]:
        """camera id → revision: a cheap poll for workers to find what changed."""
        with self._factory() as s:
            return dict(s.execute(select(CameraRow.id, CameraRow.revision)).all())

    def camera_names(self) -> dict[str, str]:
        """camera id → name: what lists of alerts and cases show next to a camera id."""
        with self._factory() as s:
            return dict(s.execute(select(CameraRow.id, CameraRow.name)).all())

    def community_names(self) -> dict[str, str]:
        """community id → name: what the map shows for a grid's community."""
        with self._factory() as s:
            return dict(s.execute(select(CommunityRow.id, CommunityRow.name)).all())

    def person_names(self) -> dict[str, str]:
        """person id → name: what case lists show for an assignee."""
        with self._factory() as s:
            return dict(s.execute(select(PersonRow.id, PersonRow.name)).all())

    def credentials(self, camera_id: str) -> StreamCredentials:
        with self._factory() as s:
            row = s.execute(
                select(CameraRow.username, CameraRow.password_enc).where(CameraRow.id == camera_id)
            ).one_or_none()
        if row is None:
            raise NotFound.of("camera", camera_id)
        username, token = row
        return StreamCredentials(username, self._cipher.decrypt(token) if token else None)

    def camera_places(self, grid_ids: Iterable[str] | None = None) -> list[CameraPlace]:
        """The cameras (of ``grid_ids``; None: all) by id, as plain columns: a map of 1,751 cameras reads
        no zone or setting of any of them."""
        stmt = select(
            CameraRow.id,
            CameraRow.name,
            CameraRow.grid_id,
            CameraRow.compound_id,
            CameraRow.lat,
            CameraRow.lon,
            CameraRow.enabled,
        ).order_by(CameraRow.id)
        if grid_ids is not None:
            stmt = stmt.where(CameraRow.grid_id.in_(list(grid_ids)))
        with self._factory() as s:
            return [CameraPlace(*row) for row in s.execute(stmt)]

    def streets(self) -> list[Street]:
        with self._factory() as s:
            rows = s.scalars(select(StreetRow).order_by(StreetRow.id))
            return [Street(r.id, r.name, _points(r.outline)) for r in rows]

    def compounds(self, ids: Iterable[str] | None = None) -> list[Compound]:
        """The compounds (with these ``ids``; None: all) by id, with their outlines."""
        stmt = select(CompoundRow).order_by(CompoundRow.id)
        if ids is not None:
            stmt = stmt.where(CompoundRow.id.in_(list(ids)))
        with self._factory() as s:
            return [
                Compound(r.id, r.name, r.property_company_id, r.community_id, _points(r.outline))
                for r in s.scalars(stmt)
            ]

    def partner_units(self, ids: Iterable[str] | None = None) -> list[PartnerUnit]:
        """The partner units (with these ``ids``; None: all) by id."""
        stmt = select(PartnerUnitRow).order_by(PartnerUnitRow.id)
        if ids is not None:
            stmt = stmt.where(PartnerUnitRow.id.in_(list(ids)))
        with self._factory() as s:
            return [
                PartnerUnit(r.id, r.name, r.contact_name, r.contact_phone, tuple(r.community_ids))
                for r in s.scalars(stmt)
            ]

    def partner_unit(self, unit_id: str) -> PartnerUnit:
        found = self.partner_units([unit_id])
        if not found:
            raise NotFound.of("partner_unit", unit_id)
        return found[0]

    def grids(self) -> list[Grid]:
        with self._factory() as s:
            rows = s.scalars(select(GridRow).options(selectinload(GridRow.compounds)).order_by(GridRow.id))
            return [_grid_from_row(r) for r in rows]

    def community_streets(self) -> dict[str, str]:
        """community id → its street's id (one query; the tree would read every camera for it)."""
        with self._factory() as s:
            return {cid: sid for cid, sid in s.execute(select(CommunityRow.id, CommunityRow.street_id))}

    def grid(self, grid_id: str) -> Grid:
        with self._factory() as s:
            return _grid_from_row(_get(s, GridRow, "grid", grid_id, selectinload(GridRow.compounds)))

    def people(self, *, grid_id: str | None = None, party_group_id: str | None = None) -> list[Person]:
        # Plain rows, not ORM objects: the events router re-reads every person every few seconds,
        # and for ~900 people the ORM's bookkeeping took 30 ms of the process's one interpreter.
        stmt = select(*PersonRow.__table__.columns).order_by(PersonRow.id)
        if grid_id is not None:
            stmt = stmt.where(PersonRow.grid_id == grid_id)
        if party_group_id is not None:
            stmt = stmt.where(PersonRow.party_group_id == party_group_id)
        with self._factory() as s:
            return [_person_from_row(r) for r in s.execute(stmt)]

    def counts(self) -> dict[str, int]:
        with self._factory() as s:
            out = {
                name: s.scalar(select(func.count()).select_from(table)) or 0
                for name, table in (
                    ("streets", StreetRow),
                    ("communities", CommunityRow),
                    ("property_companies", PropertyCompanyRow),
                    ("compounds", CompoundRow),
                    ("party_groups", PartyGroupRow),
                    ("partner_units", PartnerUnitRow),
                    ("grids", GridRow),
                    ("people", PersonRow),
                    ("cameras", CameraRow),
                    ("zones", ZoneRow),
                )
            }
            roles = Counter(dict(s.execute(select(PersonRow.role, func.count()).group_by(PersonRow.role)).all()))
        out.update({f"people.{r.value}": roles.get(r.value, 0) for r in PersonRole})
        return out

    def tree(self, *, with_cameras: bool = False, grid_ids: Collection[str] | None = None) -> list[TreeNode]:
        """Street → community → property company → compound, with camera counts and grid summaries.

        With ``grid_ids``, only those grids, their cameras, and the branches leading to them.
        """
        with self._factory() as s:
            streets = s.scalars(select(StreetRow).order_by(StreetRow.id)).all()
            communities = s.scalars(select(CommunityRow).order_by(CommunityRow.id)).all()
            companies = s.scalars(select(PropertyCompanyRow).order_by(PropertyCompanyRow.id)).all()
            compounds = s.scalars(select(CompoundRow).order_by(CompoundRow.id)).all()
            grids = s.scalars(select(GridRow).order_by(GridRow.id)).all()
            cams = s.execute(
                select(
                    CameraRow.id, CameraRow.name, CameraRow.compound_id, CameraRow.grid_id, CameraRow.enabled
                ).order_by(CameraRow.id)
            ).all()
            workers = dict(
                s.execute(
                    select(PersonRow.grid_id, PersonRow.name).where(PersonRow.role == PersonRole.GRID_WORKER.value)
                ).all()
            )
            leaders = dict(
                s.execute(
                    select(PersonRow.grid_id, func.count())
                    .where(PersonRow.role == PersonRole.BUILDING_LEADER.value)
                    .group_by(PersonRow.grid_id)
                ).all()
            )
            covered: set[str] = set()
            if grid_ids is not None:
                wanted = set(grid_ids)
                grids = [g for g in grids if g.id in wanted]
                cams = [c for c in cams if c.grid_id in wanted]
                covered = set(
                    s.scalars(select(grid_compounds.c.compound_id).where(grid_compounds.c.grid_id.in_(wanted)))
                )
        grid_community = {g.id: g.community_id for g in grids}
        by_compound: dict[str | None, list[tuple[str, str, bool]]] = defaultdict(list)
        direct: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)  # community -> compound-less cameras
        per_grid: Counter[str] = Counter()
        for cam_id, name, compound_id, grid_id, enabled in cams:
            per_grid[grid_id] += 1
            if compound_id is None:
                direct[grid_community[grid_id]].append((cam_id, name, enabled))
            else:
                by_compound[compound_id].append((cam_id, name, enabled))

        def leaves(items: Sequence[tuple[str, str, bool]]) -> tuple[TreeNode, ...]:
            if not with_cameras:
                return ()
            return tuple(TreeNode("camera", i, n, 1, int(e)) for i, n, e in items)

        def node(
            kind: str,
            id_: str,
            name: str,
            children: Sequence[TreeNode],
            own: Sequence[tuple[str, str, bool]] = (),
            **kw: Any,
        ) -> TreeNode:
            total = sum(c.cameras for c in children if c.kind != "camera") + len(own)
            enabled = sum(c.enabled_cameras for c in children if c.kind != "camera") + sum(e for *_, e in own)
            return TreeNode(kind, id_, name, total, enabled, tuple(children) + leaves(own), **kw)

        scoped = grid_ids is not None
        compound_nodes: dict[str, list[TreeNode]] = defaultdict(list)
        for c in compounds:
            if scoped and c.id not in covered and c.id not in by_compound:
                continue
            compound_nodes[c.property_company_id].append(node("compound", c.id, c.name, (), by_compound.get(c.id, [])))
        company_nodes: dict[str, list[TreeNode]] = defaultdict(list)
        for pc in companies:
            if scoped and not compound_nodes[pc.id]:
                continue
            company_nodes[pc.community_id].append(node("property_company", pc.id, pc.name, compound_nodes[pc.id]))
        grid_summaries: dict[str, list[GridSummary]] = defaultdict(list)
        for g in grids:
            grid_summaries[g.community_id].append(
                GridSummary(g.id, g.name, per_grid[g.id], workers.get(g.id), leaders.get(g.id, 0), g.party_group_id)
            )
        community_nodes: dict[str, list[TreeNode]] = defaultdict(list)
        for cm in communities:
            if scoped and not (grid_summaries[cm.id] or company_nodes[cm.id] or direct.get(cm.id)):
                continue
            community_nodes[cm.street_id].append(
                node(
                    "community",
                    cm.id,
                    cm.name,
                    company_nodes[cm.id],
                    direct.get(cm.id, []),
                    grids=tuple(grid_summaries[cm.id]),
                )
            )
        return [
            node("street", st.id, st.name, community_nodes[st.id])
            for st in streets
            if not scoped or community_nodes[st.id]
        ]

    # ------------------------------------------------------------------ writing

    def apply_site(self, site: ValidatedSite, progress: Progress | None = None) -> ImportReport:
        """Insert or update everything in a validated site, in one transaction."""
        try:
            return self._apply_site(site, progress)
        finally:
            self.hierarchy_version += 1

    def _apply_site(self, site: ValidatedSite, progress: Progress | None) -> ImportReport:
        with transaction(self._factory) as s:
            street = site.street
            _upsert(s, StreetRow, [{"id": street.id, "name": street.name, "outline": _json_points(street.outline)}])
            _upsert(s, CommunityRow, [asdict(c) for c in site.communities])
            _upsert(s, PropertyCompanyRow, [asdict(p) for p in site.property_companies])
            _upsert(s, CompoundRow, [{**asdict(k), "outline": _json_points(k.outline)} for k in site.compounds])
            _upsert(s, PartyGroupRow, [asdict(pg) for pg in site.party_groups])
            units = [{**asdict(u), "community_ids": list(u.community_ids)} for u in site.partner_units]
            _upsert(s, PartnerUnitRow, units)
            s.flush()
            _upsert(
                s,
                GridRow,
                [
                    {
                        "id": g.id,
                        "name": g.name,
                        "community_id": g.community_id,
                        "party_group_id": g.party_group_id,
                        "polygon": _json_points(g.polygon),
                    }
                    for g in site.grids
                ],
            )
            s.flush()
            if site.grids:
                s.execute(delete(grid_compounds).where(grid_compounds.c.grid_id.in_([g.id for g in site.grids])))
                pairs = [{"grid_id": g.id, "compound_id": c} for g in site.grids for c in g.compound_ids]
                if pairs:
                    s.execute(grid_compounds.insert(), pairs)
            _upsert(s, PersonRow, [{**asdict(p), "role": p.role.value} for p in site.people])
            s.flush()
            return self._write_cameras(s, site.cameras, progress)

    def load_site(self, path: Path, progress: Progress | None = None) -> ImportReport:
        site = load_site_file(path, allow_files=self.allow_files, existing=self.index())
        return self.apply_site(site, progress)

    def import_cameras(
        self,
        text: str,
        *,
        source: str = "cameras.csv",
        skip_invalid: bool = False,
        progress: Progress | None = None,
    ) -> ImportReport:
        """Bulk import from CSV: all-or-nothing unless ``skip_invalid``, then the report lists the skips."""
        batch = read_camera_csv(
            text,
            source=source,
            allow_files=self.allow_files,
            existing=self.index(),
            skip_invalid=skip_invalid,
        )
        with transaction(self._factory) as s:
            report = self._write_cameras(s, batch.records, progress)
        return ImportReport(
            report.created, report.updated, report.unchanged, tuple(batch.skipped), batch.rows, tuple(batch.warnings)
        )

    def put_camera(self, spec: CameraSpec) -> Camera:
        """Create or replace one camera (the API's write path)."""
        spec = CameraSpec.model_validate(spec.model_dump(), context={"allow_files": self.allow_files})
        record = validate_camera(spec, self.index(), "")
        with transaction(self._factory) as s:
            self._write_cameras(s, [record], None)
        return self.camera(spec.id)

    def set_enabled(self, camera_id: str, enabled: bool) -> Camera:
        with transaction(self._factory) as s:
            row = _get(s, CameraRow, "camera", camera_id)
            if row.enabled != enabled:
                row.enabled = enabled
                row.revision += 1
                row.updated_at = utcnow()
        return self.camera(camera_id)

    def delete_camera(self, camera_id: str) -> None:
        with transaction(self._factory) as s:
            row = _get(s, CameraRow, "camera", camera_id)
            s.delete(row)

    def _write_cameras(
        self, s: Session, records: Sequence[CameraRecord], progress: Progress | None = None
    ) -> ImportReport:
        created = updated = unchanged = 0
        total = len(records)
        for start in range(0, total, _CHUNK):
            chunk = records[start : start + _CHUNK]
            ids = [r.camera.id for r in chunk]
            existing = {
                row.id: row
                for row in s.scalars(
                    select(CameraRow).where(CameraRow.id.in_(ids)).options(selectinload(CameraRow.zones))
                )
            }
            for rec in chunk:
                cam = rec.camera
                row = existing.get(cam.id)
                password_enc = self._cipher.encrypt(rec.password) if rec.password is not None else None
                if row is None:
                    row = CameraRow(id=cam.id, revision=1)
                    self._fill_row(row, cam, password_enc)
                    s.add(row)
                    created += 1
                    continue
                stored = _camera_from_row(row)
                if rec.keeps_settings:
                    cam = replace(
                        cam, zones=stored.zones, detect=stored.detect, hazards=stored.hazards, onvif=stored.onvif
                    )
                same_secret = rec.password is None or (
                    row.password_enc is not None and self._cipher.decrypt(row.password_enc) == rec.password
                )
                if _same_content(stored, cam) and same_secret:
                    unchanged += 1
                    continue
                self._fill_row(row, cam, password_enc if rec.password is not None else row.password_enc)
                row.revision += 1
                row.updated_at = utcnow()
                updated += 1
            s.flush()
            if progress:
                progress(min(start + _CHUNK, total), total)
        return ImportReport(created, updated, unchanged, rows=total)

    @staticmethod
    def _fill_row(row: CameraRow, cam: Camera, password_enc: str | None) -> None:
        row.name = cam.name
        row.level = cam.level.value
        row.compound_id = cam.compound_id
        row.grid_id = cam.grid_id
        row.lat, row.lon = cam.lat, cam.lon
        row.main_url, row.sub_url = cam.main_url, cam.sub_url
        row.username = cam.username
        row.password_enc = password_enc
        row.enabled = cam.enabled
        row.detect = cam.detect.model_dump(mode="json")
        row.hazards = cam.hazards.model_dump(mode="json")
        row.onvif = cam.onvif.model_dump(mode="json") if cam.onvif is not None else None
        by_id = {z.id: z for z in row.zones}
        keep: list[ZoneRow] = []
        for pos, zone in enumerate(cam.zones):
            zr = by_id.get(zone.id) or ZoneRow(id=zone.id)
            zr.position = pos
            zr.name = zone.name
            zr.purpose = zone.purpose.value
            zr.points = _json_points(zone.points)
            zr.settings = zone.settings.model_dump(mode="json", exclude_none=True)
            keep.append(zr)
        row.zones = keep

    # ------------------------------------------------------------------ export

    def export_cameras_csv(self) -> str:
        """The cameras as an import-ready CSV. The password column is always empty (blank keeps it); text
        that a spreadsheet would run as a formula is written as text (`spreadsheet_safe`)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for cam in self.cameras():
            text = [
                cam.id,
                cam.name,
                cam.compound_id or "",
                cam.grid_id,
                cam.level.value,
                cam.main_url,
                cam.sub_url or "",
                cam.username or "",
                "",
            ]
            writer.writerow(
                [
                    *(spreadsheet_safe(cell) for cell in text),
                    "" if cam.lat is None else repr(cam.lat),
                    "" if cam.lon is None else repr(cam.lon),
                    "true" if cam.enabled else "false",
                ]
            )
        return out.getvalue()
