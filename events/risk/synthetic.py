"""A year of site history with planted risk: the controls the forecast is measured on.

The parameters are fixed here, not chosen by the backtest, so the forecast cannot be tuned to them:

- every grid's baseline weekly count is Poisson, its mean drawn from a gamma distribution of shape 2 and
  mean 3 (scale 1.5), simulated day by day;
- positive control: 10 % of the grids have a rate that rises linearly to 3 times its baseline over 8 weeks
  (the rise starts in a week drawn uniformly from those that let it finish within the year) and stays there;
  5 % more are self-exciting: each event raises the grid's rate by 50 % for the following 7 days. A later
  event restarts the 7 days; raises do not compound, since 50 % per event compounding over 7 days would make
  any grid with more than two events a week explode;
- negative control: the same baselines and nothing else.

Each event gets a source (camera alert 60 %, patrol report 25 %, 12345 ticket 15 %), a hazard, one of its
grid's compounds, and an hour: 60 % follow a site-wide day (quiet at night, busy morning and evening), 40 %
cluster around the grid's own planted peak hour, which the hot-hours test should find.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from camera_config.generate import generate_site
from events.risk.history import RiskEvent

WEEKS = 52
BASE_SHAPE = 2.0
BASE_MEAN = 3.0
RISING_SHARE = 0.10
RISE_FACTOR = 3.0
RISE_WEEKS = 8
EXCITING_SHARE = 0.05
EXCITE_FACTOR = 1.5
EXCITE_DAYS = 7
SOURCES = (("camera", 0.60), ("patrol", 0.25), ("hotline", 0.15))
HAZARDS = (
    ("crowd", 0.30),
    ("intrusion", 0.20),
    ("loitering", 0.15),
    ("fire_lane_blocked", 0.12),
    ("fallen_person", 0.10),
    ("ebike_indoors", 0.08),
    ("structure", 0.05),
)
REPORT_OTHER = 0.6
"""Share of patrol reports and tickets that name no hazard (``other``)."""
PEAK_SHARE = 0.4
_DAY = np.array([1, 1, 1, 1, 1, 2, 4, 6, 7, 6, 5, 5, 6, 5, 5, 5, 6, 7, 8, 8, 6, 4, 2, 1], dtype=np.float64)


class Planted(enum.StrEnum):
    NONE = "none"
    RISING = "rising"
    EXCITING = "self-exciting"


@dataclass(frozen=True, slots=True)
class GridTruth:
    grid_id: str
    baseline: float
    """Mean weekly count before any planted change."""
    planted: Planted
    rise_week: int | None
    """First week of the rise, for a rising grid."""
    peak_hour: int


@dataclass(frozen=True, slots=True)
class SyntheticHistory:
    start: datetime
    weeks: int
    events: tuple[RiskEvent, ...]
    truth: tuple[GridTruth, ...]

    @property
    def grid_ids(self) -> tuple[str, ...]:
        return tuple(t.grid_id for t in self.truth)

    def weekly(self) -> np.ndarray:
        """All sources summed: ``[grid, week]``, grids in ``truth`` order."""
        index = {g: i for i, g in enumerate(self.grid_ids)}
        out = np.zeros((len(index), self.weeks), dtype=np.int64)
        for e in self.events:
            out[index[e.grid_id], (e.at - self.start).days // 7] += 1
        return out


def generate_history(*, seed: int, positive: bool, start: datetime, weeks: int = WEEKS) -> SyntheticHistory:
    """The demo site's 118 grids over ``weeks`` weeks from ``start`` (aware; a Monday 00:00 reads best)."""
    if start.tzinfo is None:
        raise ValueError("start must carry a time zone")
    if weeks < 2 * RISE_WEEKS:
        raise ValueError(f"weeks must be at least {2 * RISE_WEEKS}, got {weeks}")
    site = generate_site(with_cameras=False)
    grids = [(g["id"], tuple(g.get("compounds", ()))) for g in site["grids"]]
    rng = np.random.default_rng(seed)
    n = len(grids)
    baseline = rng.gamma(BASE_SHAPE, BASE_MEAN / BASE_SHAPE, n)
    peak = rng.integers(0, 24, n)
    order = rng.permutation(n)
    rising = set(order[: round(RISING_SHARE * n)].tolist()) if positive else set()
    exciting = set(order[len(rising) : len(rising) + round(EXCITING_SHARE * n)].tolist()) if positive else set()
    days = weeks * 7
    day_index = np.arange(days)
    events: list[RiskEvent] = []
    truth: list[GridTruth] = []
    for g, (grid_id, compounds) in enumerate(grids):
        multiplier = np.ones(days)
        rise_week: int | None = None
        if g in rising:
            rise_week = int(rng.integers(RISE_WEEKS, weeks - RISE_WEEKS))
            ramp = (day_index - rise_week * 7) / (RISE_WEEKS * 7)
            multiplier = 1 + (RISE_FACTOR - 1) * np.clip(ramp, 0, 1)
        planted = Planted.RISING if g in rising else Planted.EXCITING if g in exciting else Planted.NONE
        truth.append(GridTruth(grid_id, float(baseline[g]), planted, rise_week, int(peak[g])))
        last_event = -(10**9)
        for day in range(days):
            rate = baseline[g] / 7 * multiplier[day]
            if planted is Planted.EXCITING and day - last_event <= EXCITE_DAYS:
                rate *= EXCITE_FACTOR
            count = int(rng.poisson(rate))
            if count:
                last_event = day
            for _ in range(count):
                events.append(_event(rng, start, day, grid_id, compounds, int(peak[g])))
    return SyntheticHistory(start, weeks, tuple(sorted(events, key=lambda e: e.at)), tuple(truth))


def _event(
    rng: np.random.Generator, start: datetime, day: int, grid_id: str, compounds: tuple[str, ...], peak: int
) -> RiskEvent:
    if rng.random() < PEAK_SHARE:
        hour = round(peak + rng.normal(0, 0.7)) % 24
    else:
        hour = int(rng.choice(24, p=_DAY / _DAY.sum()))
    at = start + timedelta(days=day, hours=hour, seconds=int(rng.integers(0, 3600)))
    source = str(rng.choice([s for s, _ in SOURCES], p=[p for _, p in SOURCES]))
    if source != "camera" and rng.random() < REPORT_OTHER:
        hazard = "other"
    else:
        hazard = str(rng.choice([h for h, _ in HAZARDS], p=[p for _, p in HAZARDS]))
    compound = str(rng.choice(list(compounds))) if compounds else None
    return RiskEvent(at, grid_id, compound, source, hazard)
