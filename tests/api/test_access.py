"""Roles, permissions and scopes: which scopes each role may have, and what a scope covers."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from api.access import (
    PERMISSIONS,
    GridScope,
    Permission,
    Role,
    Scope,
    ScopeKind,
    ScopeResolver,
    check_scope,
    resolve,
)
from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from camera_config.validate import validate_site
from core.errors import InvalidInput, NotFound
from tests.support.paths import EXAMPLES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("site", Scope(ScopeKind.SITE)),
        ("community:CM-01", Scope(ScopeKind.COMMUNITY, ("CM-01",))),
        ("grids:G-01, G-02", Scope(ScopeKind.GRIDS, ("G-01", "G-02"))),
        ("street:ST-DEMO", Scope(ScopeKind.STREET, ("ST-DEMO",))),
    ],
)
def test_scope_parses_the_command_line_form(text: str, expected: Scope) -> None:
    assert Scope.parse(text) == expected
    assert Scope.parse(str(expected)) == expected


def test_scope_parse_names_an_unknown_kind() -> None:
    with pytest.raises(InvalidInput, match='scope: "grid" is not one of site, street, community, grids'):
        Scope.parse("grid:G-01")


@pytest.mark.parametrize(
    ("role", "scope", "problem"),
    [
        (Role.OPERATOR, None, "scope: an operator needs a scope: street or community"),
        (Role.GRID_WORKER, None, "scope: a grid worker needs a scope: grids"),
        (Role.GRID_WORKER, Scope(ScopeKind.COMMUNITY, ("CM-01",)), 'may have scope grids, not "community"'),
        (Role.ADMIN, Scope(ScopeKind.GRIDS, ("G-01",)), 'an admin may have scope site, not "grids"'),
        (Role.OPERATOR, Scope(ScopeKind.COMMUNITY, ()), "scope.ids: a community scope needs at least one id"),
        (Role.GRID_WORKER, Scope(ScopeKind.GRIDS, ("G-01", "G-99")), 'scope.ids[1]: grid "G-99" does not exist'),
        (Role.VIEWER, Scope(ScopeKind.SITE, ("x",)), "scope.ids: a site scope takes no ids"),
        (Role.OPERATOR, Scope(ScopeKind.STREET, ("ST-X",)), 'scope.ids[0]: street "ST-X" does not exist'),
    ],
)
def test_check_scope_refuses_with_the_field(site: SiteStore, role: Role, scope: Scope | None, problem: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_scope(role, scope, site)
    assert problem in str(err.value)


@pytest.mark.parametrize(
    ("role", "scope", "expected"),
    [
        (Role.ADMIN, None, Scope(ScopeKind.SITE)),
        (Role.INTEGRATOR, None, Scope(ScopeKind.SITE)),
        (Role.OPERATOR, Scope(ScopeKind.COMMUNITY, ("CM-01",)), Scope(ScopeKind.COMMUNITY, ("CM-01",))),
        (Role.GRID_WORKER, Scope(ScopeKind.GRIDS, ("G-02", "G-01", "G-02")), Scope(ScopeKind.GRIDS, ("G-02", "G-01"))),
    ],
)
def test_check_scope_accepts(site: SiteStore, role: Role, scope: Scope | None, expected: Scope) -> None:
    assert check_scope(role, scope, site) == expected


@pytest.mark.parametrize(
    ("scope", "grids"),
    [
        (Scope(ScopeKind.SITE), None),
        (Scope(ScopeKind.STREET, ("ST-DEMO",)), {"G-01", "G-02", "G-03"}),
        (Scope(ScopeKind.COMMUNITY, ("CM-01",)), {"G-01", "G-02", "G-03"}),
        (Scope(ScopeKind.GRIDS, ("G-02",)), {"G-02"}),
    ],
)
def test_resolve_to_grids(site: SiteStore, scope: Scope, grids: set[str] | None) -> None:
    resolved = resolve(scope, site)
    assert resolved.grid_ids == (None if grids is None else frozenset(grids))


def _move_g03_to_a_new_community(store: SiteStore) -> None:
    doc = yaml.safe_load((EXAMPLES / "demo-site.yaml").read_text(encoding="utf-8"))
    doc["communities"].append({"id": "CM-02", "name": "Harbour Community"})
    doc["party_groups"].append({"id": "PG-02", "name": "Harbour Party Group", "community": "CM-02"})
    next(p for p in doc["property_companies"] if p["id"] == "PC-02")["community"] = "CM-02"
    grid = next(g for g in doc["grids"] if g["id"] == "G-03")
    grid.update(community="CM-02", party_group="PG-02")
    store.apply_site(validate_site(doc, existing=store.index()))


def test_the_scope_resolver_remembers_until_the_hierarchy_changes(
    site: SiteStore, sessions: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    community = Scope(ScopeKind.COMMUNITY, ("CM-01",))
    resolver = ScopeResolver(site, ttl_s=3600)
    assert resolver.cached(community) is None, "nothing is known before the first look"
    assert resolver.cached(Scope(ScopeKind.GRIDS, ("G-02",))) == GridScope(frozenset({"G-02"})), "needs no lookup"
    assert resolver(community).grid_ids == frozenset({"G-01", "G-02", "G-03"})
    assert resolver.cached(community) == resolver(community)

    # Another process (another store on the same database) moves G-03: seen after the time to live.
    _move_g03_to_a_new_community(SiteStore(sessions, cipher))
    assert resolver(community).grid_ids == frozenset({"G-01", "G-02", "G-03"})
    assert ScopeResolver(site, ttl_s=0.0)(community).grid_ids == frozenset({"G-01", "G-02"})

    # This process's own change is seen at once, whatever the time to live.
    _move_g03_to_a_new_community(site)
    assert resolver.cached(community) is None
    assert resolver(community).grid_ids == frozenset({"G-01", "G-02"})


def test_grid_scope_filters_and_hides() -> None:
    scope = GridScope(frozenset({"G-01"}))
    assert scope.allows("G-01")
    assert not scope.allows("G-02")
    assert not scope.allows(None)
    assert GridScope(None).allows(None)

    class Item:
        def __init__(self, grid_id: str) -> None:
            self.grid_id = grid_id

    items = [Item("G-01"), Item("G-02"), Item("G-01")]
    assert [i.grid_id for i in scope.visible(items)] == ["G-01", "G-01"]
    scope.check("G-01", "camera", "CAM-01")
    with pytest.raises(NotFound, match='camera "CAM-02" does not exist'):
        scope.check("G-02", "camera", "CAM-02")


def test_only_admins_manage_users_and_only_writers_write() -> None:
    managers = {r for r, perms in PERMISSIONS.items() if Permission.USERS_MANAGE in perms}
    writers = {r for r, perms in PERMISSIONS.items() if Permission.SITE_WRITE in perms}
    assert managers == {Role.ADMIN}
    assert writers == {Role.ADMIN, Role.INTEGRATOR}
    assert Permission.LIVE_VIEW not in PERMISSIONS[Role.VIEWER]
