"""HTTP response models (routes never return ORM rows or internal values directly)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from camera_config.store import TreeNode


class Health(BaseModel):
    status: str = Field(description="ok when every component answers.", examples=["ok"])
    database: str = Field(description="ok, or the error the database gave.", examples=["ok"])


class GridSummaryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    cameras: int
    grid_worker: str | None
    building_leaders: int
    party_group_id: str | None


class TreeNodePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    kind: str = Field(description="street, community, property_company, compound or camera.", examples=["compound"])
    id: str = Field(examples=["K-01"])
    name: str = Field(examples=["Willow Court"])
    cameras: int = Field(description="Cameras at or below this node.", examples=[12])
    enabled_cameras: int = Field(description="Of those, the enabled ones.", examples=[11])
    children: list[TreeNodePublic] = Field(default_factory=list)
    grids: list[GridSummaryPublic] = Field(default_factory=list, description="Community nodes: their grids.")

    @classmethod
    def of(cls, node: TreeNode) -> TreeNodePublic:
        return cls.model_validate(node)
