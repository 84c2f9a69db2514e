"""Tables of the site model. Rows never leave camera_config: the store converts them to `model` values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

grid_compounds = Table(
    "grid_compounds",
    Base.metadata,
    Column("grid_id", ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True),
    Column("compound_id", ForeignKey("compounds.id", ondelete="CASCADE"), primary_key=True),
)


class StreetRow(Base):
    __tablename__ = "streets"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    outline: Mapped[list[Any]] = mapped_column(default=list)


class CommunityRow(Base):
    __tablename__ = "communities"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    street_id: Mapped[str] = mapped_column(ForeignKey("streets.id"), index=True)


class PropertyCompanyRow(Base):
    __tablename__ = "property_companies"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), index=True)


class CompoundRow(Base):
    __tablename__ = "compounds"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    property_company_id: Mapped[str] = mapped_column(ForeignKey("property_companies.id"), index=True)
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), index=True)
    outline: Mapped[list[Any]] = mapped_column(default=list)


class PartyGroupRow(Base):
    __tablename__ = "party_groups"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), index=True)


class PartnerUnitRow(Base):
    __tablename__ = "partner_units"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_phone: Mapped[str] = mapped_column(String(32))
    community_ids: Mapped[list[Any]] = mapped_column(default=list)


class GridRow(Base):
    __tablename__ = "grids"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), index=True)
    party_group_id: Mapped[str | None] = mapped_column(ForeignKey("party_groups.id"), index=True)
    polygon: Mapped[list[Any]] = mapped_column(default=list)
    compounds: Mapped[list[CompoundRow]] = relationship(secondary=grid_compounds, order_by=CompoundRow.id)


class PersonRow(Base):
    __tablename__ = "people"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32), index=True)
    grid_id: Mapped[str | None] = mapped_column(ForeignKey("grids.id"), index=True)
    party_group_id: Mapped[str | None] = mapped_column(ForeignKey("party_groups.id"), index=True)
    community_id: Mapped[str | None] = mapped_column(ForeignKey("communities.id"))
    building: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    im: Mapped[str | None] = mapped_column(String(128))


class CameraRow(Base):
    __tablename__ = "cameras"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    compound_id: Mapped[str | None] = mapped_column(ForeignKey("compounds.id"), index=True)
    grid_id: Mapped[str] = mapped_column(ForeignKey("grids.id"), index=True)
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    main_url: Mapped[str] = mapped_column(Text)
    sub_url: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(String(128))
    password_enc: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    detect: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hazards: Mapped[dict[str, Any]] = mapped_column(default=dict)
    onvif: Mapped[dict[str, Any] | None]
    revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    zones: Mapped[list[ZoneRow]] = relationship(
        back_populates="camera", cascade="all, delete-orphan", order_by="ZoneRow.position"
    )


class ZoneRow(Base):
    __tablename__ = "zones"
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(16))
    points: Mapped[list[Any]]
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    camera: Mapped[CameraRow] = relationship(back_populates="zones")


Index("ix_cameras_grid_enabled", CameraRow.grid_id, CameraRow.enabled)


class GatewayRow(Base):
    """A GB/T 28181 gateway (wvp-GB28181-pro) whose channels are imported as cameras."""

    __tablename__ = "gateways"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    username: Mapped[str] = mapped_column(String(128))
    password_enc: Mapped[str] = mapped_column(Text)
    compound_id: Mapped[str] = mapped_column(ForeignKey("compounds.id"))
    grid_id: Mapped[str | None] = mapped_column(ForeignKey("grids.id"))
    retired: Mapped[list[Any]] = mapped_column(default=list)
    """Ids of its cameras that a sync disabled because their channel vanished (re-enabled if it comes back)."""
    synced_at: Mapped[datetime | None]
    sync_summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
