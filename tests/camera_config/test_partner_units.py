"""Partner units (包联单位) in site files: checked like everything else, stored, read back."""

from __future__ import annotations

from typing import Any

import pytest

from camera_config.store import SiteStore
from camera_config.validate import validate_site
from core.errors import InvalidInput, NotFound
from tests.camera_config.sites import site

UNIT = {"id": "PU1", "name": "Hospital volunteers", "contact": {"name": "Gao Lin", "phone": "+86 21 5555 0101"}}


def unit(**over: Any) -> dict[str, Any]:
    return {**UNIT, "communities": ["CM1"], **over}


def issues_of(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        validate_site(doc)
    return [str(i) for i in info.value.issues]


def test_a_partner_unit_is_stored_and_read_back(store: SiteStore) -> None:
    store.apply_site(validate_site(site(partner_units=[unit(communities=["CM1", "CM2"]), unit(id="PU2")])))
    first = store.partner_unit("PU1")
    assert (first.name, first.contact_name) == ("Hospital volunteers", "Gao Lin")
    assert first.contact_phone == "+86 21 5555 0101"
    assert first.community_ids == ("CM1", "CM2")
    assert [u.id for u in store.partner_units()] == ["PU1", "PU2"]
    assert store.counts()["partner_units"] == 2
    assert store.index().partner_units == {"PU1": ("CM1", "CM2"), "PU2": ("CM1",)}
    with pytest.raises(NotFound, match='partner unit "PU9" does not exist'):
        store.partner_unit("PU9")


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({k: v for k, v in unit().items() if k != "contact"}, "partner_units[0].contact: required"),
        (unit(contact={"name": "Gao Lin"}), "partner_units[0].contact.phone: required"),
        (unit(contact={"name": "", "phone": "+86 21 5555 0101"}), "partner_units[0].contact.name"),
        (unit(communities=[]), "partner_units[0].communities"),
        (unit(communities=["CM9"]), 'partner_units[0].communities[0]: community "CM9" does not exist'),
        (unit(communities=["CM1", "CM1"]), 'partner_units[0].communities[1]: community "CM1" is listed twice'),
    ],
)
def test_a_bad_partner_unit_names_its_field(item: dict[str, Any], expected: str) -> None:
    found = issues_of(site(partner_units=[item]))
    assert any(expected in issue for issue in found), found


def test_nothing_of_a_file_with_a_bad_partner_unit_is_stored(store: SiteStore) -> None:
    with pytest.raises(InvalidInput):
        store.apply_site(validate_site(site(partner_units=[unit(), unit(id="PU2", communities=["CM9"])])))
    assert store.counts()["partner_units"] == 0
    assert store.counts()["cameras"] == 0
