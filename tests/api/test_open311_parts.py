"""The Open311 façade's parts without HTTP: rate buckets, the XML writer, client apps and their command line."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import Engine

from api.open311 import ITEM_TAGS, KEY_PREFIX, Clients, RateLimiter, iso, parse_rate, to_xml
from core.clock import FakeClock
from core.db import session_factory
from core.errors import Conflict, InvalidInput
from tests.support.cli import Gridwatch
from tests.support.factories import START


def test_a_bucket_allows_its_rate_in_a_burst_then_one_per_interval() -> None:
    clock = FakeClock(START)
    limiter = RateLimiter(clock)
    assert [limiter.allow("a", 6) for _ in range(6)] == [0] * 6
    assert limiter.allow("a", 6) == 10  # 6 a minute: one every 10 s
    assert limiter.allow("b", 6) == 0  # buckets are per key
    clock.advance(10)
    assert limiter.allow("a", 6) == 0
    assert limiter.allow("a", 6) >= 1


def test_old_buckets_are_forgotten_beyond_the_cap() -> None:
    limiter = RateLimiter(FakeClock(START), max_keys=2)
    for key in "abc":
        assert limiter.allow(key, 1) == 0
    assert limiter.allow("a", 1) == 0  # forgotten, so a full bucket again
    assert limiter.allow("c", 1) > 0


def test_xml_escapes_and_names_list_items() -> None:
    text = to_xml("service_requests", [{"description": "<a & b>", "lat": 31.2, "address": None}], ITEM_TAGS)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text)
    assert root.findtext("request/description") == "<a & b>"
    assert root.findtext("request/lat") == "31.2"
    assert root.find("request/address") is not None


def test_times_are_utc_with_a_zone() -> None:
    assert iso(START) == START.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    assert iso(None) is None


def test_rates_and_names() -> None:
    assert parse_rate("30/min") == 30
    assert parse_rate("5") == 5
    for bad in ("0/min", "fast", "30/h", "1000000"):
        with pytest.raises(InvalidInput):
            parse_rate(bad)


def test_clients_store_only_a_hash(engine: Engine) -> None:
    clients = Clients(session_factory(engine), FakeClock(START), cache_s=0)
    new = clients.add("lianxinqiao", 10)
    assert new.key.startswith(KEY_PREFIX)
    assert clients.check(new.key) == new.client
    assert clients.check(new.key + "x") is None
    assert clients.check("gw_something") is None
    with engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.exec_driver_sql("SELECT * FROM open311_clients") for v in row)
    assert new.key not in stored
    with pytest.raises(Conflict):
        clients.add("lianxinqiao")
    with pytest.raises(InvalidInput):
        clients.add("bad name")
    clients.set_enabled("lianxinqiao", False)
    assert clients.check(new.key) is None


def test_client_commands(gridwatch: Gridwatch) -> None:
    added = gridwatch("open311", "client", "add", "lianxinqiao", "--rate", "60/min")
    assert added.returncode == 0, added.stderr
    assert 'Open311 client "lianxinqiao" (60/min)' in added.stdout
    key = added.stdout.strip().splitlines()[-1]
    assert key.startswith(KEY_PREFIX)
    listed = gridwatch("open311", "client", "list")
    assert "lianxinqiao" in listed.stdout
    assert key[:9] in listed.stdout
    assert key not in listed.stdout
    assert "60/min" in listed.stdout
    assert gridwatch("open311", "client", "disable", "lianxinqiao").returncode == 0
    assert "(disabled)" in gridwatch("open311", "client", "list").stdout
    missing = gridwatch("open311", "client", "disable", "nobody")
    assert missing.returncode == 1
    assert "nobody" in missing.stderr
    wrong = gridwatch("open311", "client", "add", "x", "--rate", "lots")
    assert wrong.returncode == 1
    assert "rate" in wrong.stderr
