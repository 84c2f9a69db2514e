"""Every stage's tables on the shared metadata, for migrations and schema checks."""

from api import orm as api_orm
from camera_config import orm as camera_config_orm
from core.db import Base
from events import orm as events_orm
from events.notify import orm as notify_orm

metadata = Base.metadata

__all__ = ["api_orm", "camera_config_orm", "events_orm", "metadata", "notify_orm"]
