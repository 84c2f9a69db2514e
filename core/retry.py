"""Retry delays: capped exponential backoff with jitter, so cameras, viewers and deliveries that failed
together never retry in lockstep. Every retry loop in gridwatch takes its waits from a `Backoff`."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delay before the next attempt: ``base_s · 2ⁿ`` capped at ``cap_s``, then jittered down by up to half.

    "Equal jitter": a delay never drops below half its nominal value (no hammering a server that just
    went away) and cameras that failed together spread out over the other half.
    """

    base_s: float = 0.5
    cap_s: float = 3.0
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def next_delay_s(self, cap_s: float | None = None) -> float:
        cap = self.cap_s if cap_s is None else cap_s
        nominal = min(cap, self.base_s * 2.0 ** min(self.attempts, 30))
        self.attempts += 1
        return nominal / 2 + self.rng.uniform(0.0, nominal / 2)

    def reset(self) -> None:
        self.attempts = 0
