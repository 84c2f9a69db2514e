"""Demo accounts for `gridwatch run --demo`: one per role, with fresh passwords printed at each start."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from api.access import Role, Scope, ScopeKind
from api.context import AuthSettings
from api.users import UserStore, generate_password
from camera_config.store import SiteStore
from camera_config.types import PersonRole
from core.clock import SystemClock
from core.db import session_factory
from core.errors import NotFound


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    role: Role
    scope: Scope
    password: str = field(repr=False)


def ensure_demo_users(engine: Engine, site: SiteStore, settings: AuthSettings | None = None) -> list[DemoLogin]:
    """Create (or reset the password of) admin, operator, gridworker, integrator, viewer, property and partner.

    The operator watches the first community and the grid worker the first grid, each linked to the
    site's person in that role when there is one; ``property`` works for the property company of the first
    grid's first compound, ``partner`` is a member of the first partner unit. Roles that need a scope are
    skipped on a site without what they would be scoped to.
    """
    users = UserStore(session_factory(engine), site, SystemClock(), settings)
    grids = site.grids()
    people = site.people()
    plan: list[tuple[str, Role, Scope | None, str | None, str]] = [
        ("admin", Role.ADMIN, None, None, "Demo administrator"),
        ("integrator", Role.INTEGRATOR, None, None, "Demo integrator"),
        ("viewer", Role.VIEWER, None, None, "Demo viewer"),
    ]
    if grids:
        grid = grids[0]
        operator = next(
            (p for p in people if p.role is PersonRole.OPERATOR and p.community_id == grid.community_id), None
        )
        worker = next((p for p in people if p.role is PersonRole.GRID_WORKER and p.grid_id == grid.id), None)
        plan.insert(
            1,
            (
                "operator",
                Role.OPERATOR,
                Scope(ScopeKind.COMMUNITY, (grid.community_id,)),
                operator.id if operator else None,
                operator.name if operator else "Demo operator",
            ),
        )
        plan.insert(
            2,
            (
                "gridworker",
                Role.GRID_WORKER,
                Scope(ScopeKind.GRIDS, (grid.id,)),
                worker.id if worker else None,
                worker.name if worker else "Demo grid worker",
            ),
        )
    compounds = {k.id: k for k in site.compounds()}
    first = next((compounds[c] for g in grids for c in g.compound_ids if c in compounds), None)
    if first is not None:
        company = Scope(ScopeKind.COMPANY, (first.property_company_id,))
        plan.append(("property", Role.PROPERTY_STAFF, company, None, "Demo property company staff"))
    units = site.partner_units()
    if units:
        plan.append(("partner", Role.PARTNER_MEMBER, Scope(ScopeKind.PARTNER, (units[0].id,)), None, "Demo partner"))
    logins = []
    for username, role, scope, person_id, name in plan:
        password = generate_password()
        try:
            users.get(username)
        except NotFound:
            users.create(username, role, scope=scope, display_name=name, password=password, person_id=person_id)
        else:
            users.update(username, role=role, scope=scope, password=password, disabled=False)
        user = users.get(username)
        logins.append(DemoLogin(user.username, user.role, user.scope, password))
    return logins
