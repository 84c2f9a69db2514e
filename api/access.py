"""Who may do what, and where: roles, permissions and scopes as plain values.

Every list and every direct access goes through one `GridScope`: a camera (and later an alert or a
case) is visible when its grid is in the caller's scope. Outside the scope a thing does not exist
for the caller (404, absent from lists), so ids of other grids' cameras leak nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from camera_config.store import SiteStore
from core.errors import InvalidInput, Issue, NotFound
from events.lifecycle import actions_from
from events.queries import CaseFilter
from events.types import Case, CaseAction, CaseState, HolderKind, holder_key


class Role(enum.StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    GRID_WORKER = "grid_worker"
    INTEGRATOR = "integrator"
    VIEWER = "viewer"
    PROPERTY_STAFF = "property_staff"
    """A property company's people: their compounds' cameras and alerts, and the cases the company holds."""
    COMPOUND_STAFF = "compound_staff"
    """A compound's own people: its cameras and alerts, and the company's cases at the compound."""
    PARTNER_MEMBER = "partner_member"
    """A member of a partner unit (包联单位): the cases dispatched to the unit, on a phone."""
    WORKER = "worker"
    """A detection worker process: a machine account with API tokens and no password."""


class Permission(enum.StrEnum):
    SITE_READ = "site:read"
    SITE_WRITE = "site:write"
    LIVE_VIEW = "live:view"
    CAMERAS_TEST = "cameras:test"
    """Open a saved camera's stream once to check it (connection test)."""
    USERS_MANAGE = "users:manage"
    TOKENS_OWN = "tokens:own"
    METRICS_READ = "metrics:read"
    ALERTS_READ = "alerts:read"
    ALERTS_HANDLE = "alerts:handle"
    """Acknowledge, dismiss, escalate an alert or make a case of it."""
    CASES_READ = "cases:read"
    CASES_WORK = "cases:work"
    """Field work on a case: accept, start, resolve, comment, attach photos, report from patrol."""
    CASES_MANAGE = "cases:manage"
    """The centre's moves: register, dispatch, verify, close, reopen, dismiss, escalate."""
    OBSERVATIONS_DELIVER = "observations:deliver"
    """Detection workers on other machines hand in what their rules saw."""
    AUDIT_READ = "audit:read"
    """Read the access audit: who watched, opened, exported, imported or changed what (admins)."""
    NOTIFY_MANAGE = "notify:manage"
    """Configure notification channels, read their delivery logs, retry or discard dead letters (admins)."""


_READ_WORK = frozenset({Permission.ALERTS_READ, Permission.CASES_READ})

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(
        {
            Permission.SITE_READ,
            Permission.LIVE_VIEW,
            Permission.CAMERAS_TEST,
            *_READ_WORK,
            Permission.ALERTS_HANDLE,
            Permission.CASES_WORK,
            Permission.CASES_MANAGE,
        }
    ),
    Role.GRID_WORKER: frozenset({Permission.SITE_READ, Permission.LIVE_VIEW, *_READ_WORK, Permission.CASES_WORK}),
    Role.INTEGRATOR: frozenset(
        {
            Permission.SITE_READ,
            Permission.SITE_WRITE,
            Permission.LIVE_VIEW,
            Permission.CAMERAS_TEST,
            Permission.TOKENS_OWN,
            *_READ_WORK,
        }
    ),
    Role.VIEWER: frozenset({Permission.SITE_READ, *_READ_WORK}),
    Role.PROPERTY_STAFF: frozenset({Permission.SITE_READ, Permission.LIVE_VIEW, *_READ_WORK, Permission.CASES_WORK}),
    Role.COMPOUND_STAFF: frozenset({Permission.SITE_READ, Permission.LIVE_VIEW, *_READ_WORK, Permission.CASES_WORK}),
    Role.PARTNER_MEMBER: frozenset({Permission.SITE_READ, *_READ_WORK, Permission.CASES_WORK}),
    Role.WORKER: frozenset(
        {Permission.SITE_READ, Permission.TOKENS_OWN, Permission.METRICS_READ, Permission.OBSERVATIONS_DELIVER}
    ),
}


FIELD_WORK = frozenset({CaseAction.ACCEPT, CaseAction.START, CaseAction.RESOLVE})
"""The case actions that are field work (cases:work); every other one is the centre's (cases:manage)."""


def action_permission(action: CaseAction) -> Permission:
    """The permission a caller needs to take ``action`` on a case."""
    return Permission.CASES_WORK if action in FIELD_WORK else Permission.CASES_MANAGE


def allowed_actions(state: CaseState, permissions: frozenset[Permission]) -> list[CaseAction]:
    """What a caller with ``permissions`` may do to a case in ``state`` now: the case loop's table
    narrowed to the caller's role, in the table's order; the console offers exactly these."""
    return [a for a in actions_from(state) if action_permission(a) in permissions]


def sees_reporter(permissions: frozenset[Permission]) -> bool:
    """Whether a caller sees a resident's contact on the cases in their scope: only those who handle cases
    (operators, grid workers, and the company's or partner unit's people on the cases they hold), never
    read-only roles (viewers, integrators): personal data goes to whoever must call back, no further."""
    return Permission.CASES_WORK in permissions


class ScopeKind(enum.StrEnum):
    SITE = "site"
    STREET = "street"
    COMMUNITY = "community"
    GRIDS = "grids"
    COMPANY = "company"
    COMPOUNDS = "compounds"
    PARTNER = "partner"


ALLOWED_SCOPES: dict[Role, tuple[ScopeKind, ...]] = {
    Role.ADMIN: (ScopeKind.SITE,),
    Role.OPERATOR: (ScopeKind.STREET, ScopeKind.COMMUNITY),
    Role.GRID_WORKER: (ScopeKind.GRIDS,),
    Role.INTEGRATOR: (ScopeKind.SITE, ScopeKind.STREET, ScopeKind.COMMUNITY),
    Role.VIEWER: (ScopeKind.SITE, ScopeKind.STREET, ScopeKind.COMMUNITY, ScopeKind.GRIDS),
    Role.PROPERTY_STAFF: (ScopeKind.COMPANY,),
    Role.COMPOUND_STAFF: (ScopeKind.COMPOUNDS,),
    Role.PARTNER_MEMBER: (ScopeKind.PARTNER,),
    Role.WORKER: (ScopeKind.SITE, ScopeKind.STREET, ScopeKind.COMMUNITY, ScopeKind.GRIDS),
}
"""The first kind listed is the role's default when none is given."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a user may look: the whole site, or some streets, communities or grids (by id)."""

    kind: ScopeKind
    ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.kind.value if self.kind is ScopeKind.SITE else f"{self.kind.value}:{','.join(self.ids)}"

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``site``, ``community:CM-01`` or ``grids:G-01,G-02`` (the command line's form)."""
        kind, _, rest = text.strip().partition(":")
        try:
            scope_kind = ScopeKind(kind)
        except ValueError:
            raise InvalidInput(
                Issue("scope", f'"{kind}" is not one of {", ".join(k.value for k in ScopeKind)}')
            ) from None
        ids = tuple(i.strip() for i in rest.split(",") if i.strip())
        return cls(scope_kind, ids)


def _a(role: Role) -> str:
    name = role.value.replace("_", " ")
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def check_scope(role: Role, scope: Scope | None, site: SiteStore) -> Scope:
    """The scope a user of ``role`` gets: ``scope`` checked against the role and the site (or the default)."""
    allowed = ALLOWED_SCOPES[role]
    if scope is None:
        if allowed[0] is not ScopeKind.SITE:
            kinds = " or ".join(k.value for k in allowed)
            raise InvalidInput(Issue("scope", f"{_a(role)} needs a scope: {kinds}"))
        return Scope(ScopeKind.SITE)
    if scope.kind not in allowed:
        kinds = ", ".join(k.value for k in allowed)
        raise InvalidInput(Issue("scope.kind", f'{_a(role)} may have scope {kinds}, not "{scope.kind.value}"'))
    if scope.kind is ScopeKind.SITE:
        if scope.ids:
            raise InvalidInput(Issue("scope.ids", "a site scope takes no ids"))
        return scope
    if not scope.ids:
        raise InvalidInput(Issue("scope.ids", f"a {scope.kind.value} scope needs at least one id"))
    index = site.index()
    known: Collection[str] = {
        ScopeKind.STREET: index.streets,
        ScopeKind.COMMUNITY: index.communities,
        ScopeKind.GRIDS: set(index.grids),
        ScopeKind.COMPANY: index.property_companies,
        ScopeKind.COMPOUNDS: index.compounds,
        ScopeKind.PARTNER: index.partner_units,
    }[scope.kind]
    noun = {
        ScopeKind.STREET: "street",
        ScopeKind.COMMUNITY: "community",
        ScopeKind.GRIDS: "grid",
        ScopeKind.COMPANY: "property company",
        ScopeKind.COMPOUNDS: "compound",
        ScopeKind.PARTNER: "partner unit",
    }[scope.kind]
    issues = [
        Issue(f"scope.ids[{i}]", f'{noun} "{ident}" does not exist')
        for i, ident in enumerate(scope.ids)
        if ident not in known
    ]
    if issues:
        raise InvalidInput(issues)
    return Scope(scope.kind, tuple(dict.fromkeys(scope.ids)))


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class GridScope:
    """A scope resolved to grid ids against the current site; ``grid_ids`` None means every grid.

    Cameras and alerts are seen by grid. Cases too, unless ``holders`` is set: then only the cases one of
    those holds (a property company's, a partner unit's), and with ``compound_ids`` only those at the
    compounds (a compound's own staff)."""

    grid_ids: frozenset[str] | None
    holders: frozenset[str] | None = None
    compound_ids: frozenset[str] | None = None

    @property
    def whole_site(self) -> bool:
        return self.grid_ids is None

    def allows(self, grid_id: str | None) -> bool:
        return self.grid_ids is None or (grid_id is not None and grid_id in self.grid_ids)

    def visible(self, items: Iterable[_T], grid_of: str = "grid_id") -> list[_T]:
        """The items whose grid (attribute ``grid_of``) is in scope."""
        return [i for i in items if self.allows(getattr(i, grid_of))]

    def check(self, grid_id: str | None, kind: str, ident: object) -> None:
        """Raise `NotFound` naming the thing (``camera "CAM-02"``) when its grid is out of scope: the same answer
        as for one that does not exist."""
        if not self.allows(grid_id):
            raise NotFound.of(kind, ident)

    def as_filter(self) -> Sequence[str] | None:
        return None if self.grid_ids is None else sorted(self.grid_ids)

    def allows_case(self, grid_id: str, holder: str, compound_id: str | None) -> bool:
        if self.holders is None:
            return self.allows(grid_id)
        return holder in self.holders and (self.compound_ids is None or compound_id in self.compound_ids)

    def check_case(self, case: Case) -> None:
        """`NotFound` for a case outside the scope: the same answer as for one that does not exist."""
        if not self.allows_case(case.grid_id, case.holder, case.compound_id):
            raise NotFound.of("case", case.id)

    def cases(self, f: CaseFilter) -> CaseFilter:
        """``f`` kept inside the scope."""
        if self.holders is None:
            return dataclasses.replace(f, grid_ids=self.grid_ids)
        return dataclasses.replace(f, holders=self.holders, compound_ids=self.compound_ids)


def resolve(scope: Scope, site: SiteStore) -> GridScope:
    """Grid ids a scope covers now; grids added later to a community or street join it automatically."""
    if scope.kind is ScopeKind.SITE:
        return GridScope(None)
    wanted = set(scope.ids)
    if scope.kind is ScopeKind.GRIDS:
        return GridScope(frozenset(wanted))
    if scope.kind is ScopeKind.COMMUNITY:
        return GridScope(frozenset(g.id for g in site.grids() if g.community_id in wanted))
    if scope.kind is ScopeKind.PARTNER:  # no camera of its own: only the cases dispatched to the unit
        return GridScope(frozenset(), holders=frozenset(holder_key(HolderKind.PARTNER, i) for i in wanted))
    if scope.kind in (ScopeKind.COMPANY, ScopeKind.COMPOUNDS):
        compounds = site.compounds()
        if scope.kind is ScopeKind.COMPANY:
            mine = {k.id for k in compounds if k.property_company_id in wanted}
            companies = wanted
        else:
            mine = wanted & {k.id for k in compounds}
            companies = {k.property_company_id for k in compounds if k.id in mine}
        # The grids that lie wholly within those compounds: their cameras and alerts are the compounds'.
        grids = frozenset(g.id for g in site.grids() if g.compound_ids and set(g.compound_ids) <= mine)
        holders = frozenset(holder_key(HolderKind.COMPANY, c) for c in companies)
        return GridScope(grids, holders, None if scope.kind is ScopeKind.COMPANY else frozenset(mine))
    communities = {c.id for street in site.tree() if street.id in wanted for c in street.children}
    return GridScope(frozenset(g.id for g in site.grids() if g.community_id in communities))


_NO_LOOKUP = frozenset({ScopeKind.SITE, ScopeKind.GRIDS, ScopeKind.PARTNER})
"""Scopes `resolve` answers from the scope alone."""


class ScopeResolver:
    """`resolve` with a memory: a community's or street's grids are read once per site change.

    Every request resolves its caller's scope, and the case board is read several times a second;
    without this each read cost two queries for the grid list. A change this process makes to the
    hierarchy (`SiteStore.hierarchy_version`) is seen at once; one made by another process within
    ``ttl_s``, as a revoked token is."""

    def __init__(self, site: SiteStore, *, ttl_s: float = 5.0) -> None:
        self._site = site
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[Scope, tuple[float, int, GridScope]] = {}

    def cached(self, scope: Scope) -> GridScope | None:
        """The resolved scope when still fresh, else None; never touches the database."""
        if scope.kind in _NO_LOOKUP:
            return resolve(scope, self._site)
        with self._lock:
            entry = self._cache.get(scope)
        if entry is None:
            return None
        at, version, grid_scope = entry
        if version != self._site.hierarchy_version or time.monotonic() - at >= self._ttl_s:
            return None
        return grid_scope

    def __call__(self, scope: Scope) -> GridScope:
        found = self.cached(scope)
        if found is not None:
            return found
        version = self._site.hierarchy_version
        grid_scope = resolve(scope, self._site)
        with self._lock:
            if len(self._cache) > 10_000:  # bounded: each distinct scope costs only a lookup
                self._cache.clear()
            self._cache[scope] = (time.monotonic(), version, grid_scope)
        return grid_scope
