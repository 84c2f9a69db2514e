"""The project's small typed error family.

Every stage raises these (or subclasses); the API maps them to HTTP in one place, the CLI prints
them. Messages name the field or value at fault and never contain a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class GridwatchError(Exception):
    """Base of every error gridwatch raises on purpose."""


class NotFound(GridwatchError):
    """The named thing does not exist (or is outside the caller's scope)."""


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
