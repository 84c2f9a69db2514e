"""A camera's optional ONVIF settings: where its device service answers, and whether its own events are used.

The camera's user name and password (stored encrypted with its streams) are its ONVIF credentials too: a
camera added by ONVIF has one account for both, as cameras ship.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class OnvifSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    host: str = Field(
        min_length=1, max_length=253, description="The device's IP address or host name (no scheme, no path)."
    )
    port: int = Field(80, ge=1, le=65535, description="Port of the device's ONVIF web service.")
    events: bool = Field(
        True,
        description="Subscribe to the device's own events (motion, tamper) by PullPoint; each becomes an alert "
        "marked as an ONVIF device event.",
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _HOST.match(value):
            raise ValueError(f'"{value}" is not an IP address or host name (give it without http:// and path)')
        return value
