"""Checks for the street's tree below its communities: property companies, compounds and party groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from camera_config.schema import CompoundSpec, PartnerUnitSpec, PartyGroupSpec, PropertyCompanySpec
from camera_config.site_index import References
from camera_config.types import Compound, PartnerUnit, PartyGroup, PropertyCompany
from core.errors import Issue

_M = TypeVar("_M", PropertyCompany, PartyGroup)


def _in_community(
    spec: PropertyCompanySpec | PartyGroupSpec,
    where: str,
    known: dict[str, str],
    make: Callable[[str, str, str], _M],
    refs: References,
) -> _M | None:
    """Something that belongs to a community: its value once the community exists, noted in ``known``."""
    if not refs.exists("community", spec.community, refs.index.communities, f"{where}.community"):
        return None
    known[spec.id] = spec.community
    return make(spec.id, spec.name, spec.community)


def check_property_company(spec: PropertyCompanySpec, where: str, refs: References) -> PropertyCompany | None:
    return _in_community(spec, where, refs.index.property_companies, PropertyCompany, refs)


def check_compound(spec: CompoundSpec, where: str, refs: References) -> Compound | None:
    idx = refs.index
    if not refs.exists("property company", spec.property_company, idx.property_companies, f"{where}.property_company"):
        return None
    community = idx.property_companies[spec.property_company]
    idx.compounds[spec.id] = community
    return Compound(spec.id, spec.name, spec.property_company, community, tuple(spec.outline))


def check_party_group(spec: PartyGroupSpec, where: str, refs: References) -> PartyGroup | None:
    return _in_community(spec, where, refs.index.party_groups, PartyGroup, refs)


def check_partner_unit(spec: PartnerUnitSpec, where: str, refs: References) -> PartnerUnit | None:
    """A partner unit serves communities of this site, each named once."""
    ok = True
    seen: set[str] = set()
    for i, community in enumerate(spec.communities):
        if community in seen:
            refs.issues.append(Issue(f"{where}.communities[{i}]", f'community "{community}" is listed twice'))
            ok = False
        seen.add(community)
        ok = refs.exists("community", community, refs.index.communities, f"{where}.communities[{i}]") and ok
    if not ok:
        return None
    refs.index.partner_units[spec.id] = tuple(spec.communities)
    return PartnerUnit(spec.id, spec.name, spec.contact.name, spec.contact.phone, tuple(spec.communities))
