"""The project's small typed error family.

Every stage raises these (or subclasses); the API maps them to HTTP in one place, the CLI prints
them. Messages name the field or value at fault and never contain a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Self

Param = str | int | float

ENTITIES = (
    "alert",
    "attachment",
    "camera",
    "case",
    "channel",
    "community",
    "compound",
    "gateway",
    "grid",
    "partner_unit",
    "party_group",
    "person",
    "property_company",
    "street",
    "suspend",
    "token",
    "user",
)
"""What `NotFound.of` may name; a client translates each (the console's ``entity.<kind>``)."""


class GridwatchError(Exception):
    """Base of every error gridwatch raises on purpose.

    ``code`` and ``params``, when set, say the same as the message in a form a client can put into the user's
    language (the console does); the English message stays what logs and the command line show."""

    code: str | None = None
    params: Mapping[str, Param] | None = None

    def with_code(self, code: str, **params: Param) -> Self:
        self.code, self.params = code, params
        return self


class NotFound(GridwatchError):
    """The named thing does not exist (or is outside the caller's scope)."""

    @classmethod
    def of(cls, kind: str, ident: object) -> NotFound:
        """``camera "CAM-09" does not exist`` (ids that are numbers unquoted), with code ``not_found``."""
        if kind not in ENTITIES:
            raise ValueError(f"not a kind of thing a client can name: {kind}")
        shown = str(ident) if isinstance(ident, int) else f'"{ident}"'
        return cls(f"{kind.replace('_', ' ')} {shown} does not exist").with_code("not_found", kind=kind, id=str(ident))


class Gone(GridwatchError):
    """The named thing existed but was removed on purpose (e.g. a file past its keeping period)."""


class Conflict(GridwatchError):
    """The request clashes with the current state (duplicate id, illegal transition, ...)."""


class Unavailable(GridwatchError):
    """A component the request needs is not reachable right now."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One validation problem at an exact place, e.g. ``cameras[17].zones[2].points``."""

    where: str
    message: str
    code: str | None = None
    params: Mapping[str, Param] | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class InvalidInput(GridwatchError):
    """Input was refused; carries every problem found, not just the first."""

    def __init__(self, issues: Iterable[Issue] | Issue | str) -> None:
        if isinstance(issues, str):
            issues = [Issue("", issues)]
        elif isinstance(issues, Issue):
            issues = [issues]
        self.issues: list[Issue] = list(issues)
        super().__init__(self.summary())

    def summary(self, limit: int = 20) -> str:
        lines = [str(i) for i in self.issues[:limit]]
        if len(self.issues) > limit:
            lines.append(f"... and {len(self.issues) - limit} more")
        return "\n".join(lines)
