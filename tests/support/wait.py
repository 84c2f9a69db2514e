"""The one way tests wait for something that happens in another thread or process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None],
    timeout_s: float = 10.0,
    interval_s: float = 0.05,
    what: str | Callable[[], object] = "",
) -> T:
    """The probe's first truthy answer, polled until ``timeout_s``; after that a test failure that says
    ``what`` was awaited (a callable is asked only then, so it can show the state at the deadline).

    Polling with a deadline, never a fixed sleep: a slow machine only waits longer, it does not fail.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not reached within {timeout_s:g} s: {said or getattr(probe, '__name__', 'probe')}")
        time.sleep(interval_s)
