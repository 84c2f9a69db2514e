"""The site tree (street → community → property company → compound → camera), filtered by scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import SiteReader
from api.errors import AUTH, responses
from api.runtime import RuntimeDep
from api.schemas import GridSummaryPublic, TreeNodePublic

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
