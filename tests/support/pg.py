"""A PostgreSQL schema of a test's own (so that parallel runs and tests never share tables)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

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
