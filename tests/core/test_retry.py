"""Reconnect backoff: grows exponentially, is capped, jittered within [nominal/2, nominal], resets."""

from __future__ import annotations

import random

import pytest

from core.retry import Backoff


@pytest.mark.parametrize(
    ("attempt", "nominal_s"),
    [(0, 0.5), (1, 1.0), (2, 2.0), (3, 3.0), (4, 3.0), (40, 3.0)],
)
def test_delay_is_jittered_below_the_capped_nominal(attempt: int, nominal_s: float) -> None:
    delays = []
    for seed in range(200):
        b = Backoff(base_s=0.5, cap_s=3.0, rng=random.Random(seed), attempts=attempt)
        delays.append(b.next_delay_s())
    assert all(nominal_s / 2 <= d <= nominal_s for d in delays)
    assert max(delays) - min(delays) > nominal_s / 4, "jitter spreads cameras that failed together"


def test_a_larger_cap_for_faults_that_will_not_clear_soon() -> None:
    b = Backoff(base_s=0.5, cap_s=3.0, rng=random.Random(1))
    delays = [b.next_delay_s(cap_s=30.0) for _ in range(10)]
    assert delays[-1] >= 15.0
    assert all(d <= 30.0 for d in delays)


def test_reset_starts_over_after_a_good_session() -> None:
    b = Backoff(base_s=0.5, cap_s=3.0, rng=random.Random(2))
    for _ in range(6):
        b.next_delay_s()
    b.reset()
    assert b.next_delay_s() <= 0.5
