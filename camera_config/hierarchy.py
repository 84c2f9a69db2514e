"""Checks for the street's tree below its communities: property companies, compounds and party groups."""

from __future__ import annotations

from camera_config.schema import CompoundSpec, PartyGroupSpec, PropertyCompanySpec
from camera_config.site_index import References
from camera_config.types import Compound, PartyGroup, PropertyCompany


def check_property_company(spec: PropertyCompanySpec, where: str, refs: References) -> PropertyCompany | None:
    idx = refs.index
    if refs.exists("community", spec.community, idx.communities, f"{where}.community"):
        idx.property_companies[spec.id] = spec.community
        return PropertyCompany(spec.id, spec.name, spec.community)
    return None


def check_compound(spec: CompoundSpec, where: str, refs: References) -> Compound | None:
    idx = refs.index
    if refs.exists("property company", spec.property_company, idx.property_companies, f"{where}.property_company"):
        community = idx.property_companies[spec.property_company]
        idx.compounds[spec.id] = community
        return Compound(spec.id, spec.name, spec.property_company, community)
    return None


def check_party_group(spec: PartyGroupSpec, where: str, refs: References) -> PartyGroup | None:
    idx = refs.index
    if refs.exists("community", spec.community, idx.communities, f"{where}.community"):
        idx.party_groups[spec.id] = spec.community
        return PartyGroup(spec.id, spec.name, spec.community)
    return None
