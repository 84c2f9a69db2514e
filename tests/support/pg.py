"""A PostgreSQL schema of a test's own (so that parallel runs and tests never share tables)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.db import make_engine
from tests.support.paths import PG_URL


@contextmanager
def own_schema(prefix: str) -> Iterator[str]:
    """A new, empty schema named ``prefix_<random>``; dropped with everything in it afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def socket_url(url: str) -> str:
    """``url`` over PostgreSQL's unix socket instead of TCP: all that a private network (`tests.support.netns`)
    can reach. The folder is ``$GRIDWATCH_TEST_PG_SOCKET`` (default /var/run/postgresql)."""
    parts = make_url(url)
    folder = os.environ.get("GRIDWATCH_TEST_PG_SOCKET", "/var/run/postgresql")
    return parts.set(host="", port=None, query={**parts.query, "host": folder}).render_as_string(hide_password=False)
