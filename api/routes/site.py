"""The site tree (street → community → property company → compound → camera), filtered by scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import SiteReader
from api.errors import AUTH, responses
from api.runtime import RuntimeDep
from api.schemas import GridSummaryPublic, TreeNodePublic
from events.types import HolderKind, holder_key, split_holder

router = APIRouter(prefix="/api/site", tags=["site"])


@router.get("/tree", responses=responses(*AUTH))
def site_tree(
    principal: SiteReader,
    runtime: RuntimeDep,
    cameras: Annotated[bool, Query(description="Include each camera as a leaf.")] = False,
) -> list[TreeNodePublic]:
    """Street → community → property company → compound, with camera counts and each community's grids.

    Only the part of the site in the caller's scope: a grid worker sees the compounds of their grids.
    """
    nodes = runtime.context.site.tree(with_cameras=cameras, grid_ids=principal.scope.as_filter())
    return [TreeNodePublic.of(n) for n in nodes]


@router.get("/grids", responses=responses(*AUTH))
def grids(principal: SiteReader, runtime: RuntimeDep) -> list[GridSummaryPublic]:
    """The grids in the caller's scope, with their camera counts and grid workers."""
    nodes = runtime.context.site.tree(grid_ids=principal.scope.as_filter())
    return [GridSummaryPublic.model_validate(g) for st in nodes for cm in st.children for g in cm.grids]


class PartnerUnitPublic(BaseModel):
    """A partner unit (包联单位): who a case can be dispatched to besides the grids."""

    id: str = Field(examples=["PU-01"])
    name: str = Field(examples=["Riverside Hospital Volunteer Team"])
    contact_name: str = Field(examples=["Gao Lin"])
    contact_phone: str = Field(examples=["+86 21 5555 0101"])
    community_ids: list[str] = Field(description="The communities the unit serves.", examples=[["CM-01"]])
    holder: str = Field(description="What a dispatch names to hand a case to the unit.", examples=["partner:PU-01"])


@router.get("/partner-units", responses=responses(*AUTH))
def partner_units(principal: SiteReader, runtime: RuntimeDep) -> list[PartnerUnitPublic]:
    """The partner units serving a community of the caller's scope (a unit's own members: their unit)."""
    site = runtime.context.site
    scope = principal.scope
    units = site.partner_units()
    if scope.holders is not None:
        own = {ident for kind, ident in map(split_holder, scope.holders) if kind is HolderKind.PARTNER}
        units = [u for u in units if u.id in own]
    elif not scope.whole_site:
        allowed = scope.grid_ids or frozenset()
        communities = {g.community_id for g in site.grids() if g.id in allowed}
        units = [u for u in units if communities & set(u.community_ids)]
    return [
        PartnerUnitPublic(
            id=u.id,
            name=u.name,
            contact_name=u.contact_name,
            contact_phone=u.contact_phone,
            community_ids=list(u.community_ids),
            holder=holder_key(HolderKind.PARTNER, u.id),
        )
        for u in units
    ]
