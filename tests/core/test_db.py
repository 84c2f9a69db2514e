"""Pooled server connections: checked before use only after sitting idle, and replaced when lost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from core.db import make_engine
from tests.support.paths import PG_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def admin() -> Iterator[Engine]:
    engine = make_engine(PG_URL)
    yield engine
    engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


def _kill(admin: Engine, pid: int) -> None:
    """Terminate the backend and wait (up to 5 s) until it has exited, so the next use meets a dead one."""
    with admin.begin() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}) is True


def test_a_connection_lost_while_idle_is_replaced_before_use(admin: Engine) -> None:
    engine = make_engine(PG_URL, ping_idle_s=0.0)
    try:
        first = _backend_pid(engine)
        assert _backend_pid(engine) == first, "the pool hands the same connection back"
        _kill(admin, first)
        assert _backend_pid(engine) != first, "the ping found it dead and the pool opened another"
    finally:
        engine.dispose()


def test_a_connection_in_use_a_moment_ago_is_not_pinged(admin: Engine) -> None:
    """The ping is what saves the idle case: without it, the dead connection's first use fails."""
    engine = make_engine(PG_URL, ping_idle_s=3600.0)
    try:
        first = _backend_pid(engine)
        _kill(admin, first)
        with pytest.raises(DBAPIError):
            _backend_pid(engine)
        assert _backend_pid(engine) != first, "after the failure the pool replaces it"
    finally:
        engine.dispose()
