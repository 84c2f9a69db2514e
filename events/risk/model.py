"""The forecast: Poisson rates with forgetting, averaged over how fast each unit forgets, kept apart by source.

Each unit's weekly counts are Poisson with a rate that may drift. A candidate forecast for next week is the
recency-weighted mean of past weeks (weights halve every h weeks), shrunk towards the unit's long-run rate
with the weight of ``PRIOR_WEEKS`` weeks (the posterior mean under a gamma prior centred there). The
candidates run from h = 1 week to h = ∞ (the long-run rate itself). Which one to trust is learned per unit
from its own history: each candidate's one-step-ahead Poisson likelihood over the weeks after a
``WARM_UP_WEEKS`` warm-up gives its posterior weight (Bayesian model averaging). A stable unit ends up on the
long memories, so the forecast claims no change it cannot see; a unit whose rate moves ends up on the short
ones. For fixed weights the estimate is linear in the counts, so it splits exactly into per-source and
per-hazard parts: those parts are the reasons.

Sources stay apart: camera alerts, patrol reports and 12345 tickets are counted in their own columns, and
a case opened from an alert is not counted again (its alert already is). Camera faults, dismissed alerts
and alerts held back by a cooldown are not risk of the place and are left out before this module.

The early warning is a stated test, not a threshold: the conditional (binomial) test for two Poisson
rates (Przyborowski & Wilenski 1940) compares the last ``RECENT_WEEKS`` weeks with the unit's earlier
weeks, one-sided, and the Benjamini–Hochberg procedure keeps the false discovery rate across units at
``WARNING_FDR``. Hot hours are hours of the day whose share of a unit's events is above a uniform day's,
by a one-sided binomial test at ``HOT_HOUR_ALPHA`` with a Bonferroni correction over the 24 hours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HALF_LIVES = (1.0, 2.0, 3.0, 6.0, 12.0, math.inf)
"""Candidate half-lives of a week's weight, in weeks; ∞ is the long-run rate."""
PRIOR_WEEKS = 0.5
WARM_UP_WEEKS = 4
"""Weeks before a candidate's one-step forecasts start to count towards its weight."""
RATE_FLOOR = 0.01
"""Events a week below which a candidate's rate is not taken in its likelihood (0 would make one event fatal)."""
MIN_HISTORY_WEEKS = 4
"""Fewer weeks than this and the service answers "not enough history" instead of a forecast."""
RECENT_WEEKS = 4
MIN_EARLIER_WEEKS = 4
"""The early warning needs this many weeks before the recent ones to compare with."""
WARNING_FDR = 0.05
HOT_HOUR_ALPHA = 0.01
HIGH_SHARE = 0.05
"""The top 5 % of units by expected events are ``high``: the coverage the backtests score."""
ELEVATED_SHARE = 0.20
REASON_MIN_SHARE = 0.10
"""A source/hazard part shows as a reason when it is at least this share of the unit's forecast."""

Counts = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def _one_step(counts: Floats, half_life: float) -> Floats:
    """``out[:, t]`` = the candidate's forecast of week t from weeks < t (t = 1..weeks), trailing axes kept."""
    decay = 0.0 if half_life <= 0 else 0.5 ** (1.0 / half_life)
    recent = np.zeros_like(counts[:, 0], dtype=np.float64)
    total = np.zeros_like(recent)
    weight = 0.0
    out = np.empty((counts.shape[0], counts.shape[1] + 1, *counts.shape[2:]), dtype=np.float64)
    out[:, 0] = 0.0
    for t in range(counts.shape[1]):
        recent = decay * recent + counts[:, t]
        weight = decay * weight + 1.0
        total = total + counts[:, t]
        out[:, t + 1] = (recent + PRIOR_WEEKS * total / (t + 1)) / (weight + PRIOR_WEEKS)
    return out


def model_weights(weekly: npt.NDArray[np.integer] | Floats) -> Floats:
    """Posterior weight of each candidate half-life per unit: ``[candidate, unit]``, from ``weekly[unit, week]``."""
    weeks = weekly.shape[1]
    log_lik = np.zeros((len(HALF_LIVES), weekly.shape[0]))
    if weeks > WARM_UP_WEEKS:
        actual = np.asarray(weekly[:, WARM_UP_WEEKS:], dtype=np.float64)
        for c, half_life in enumerate(HALF_LIVES):
            rate = np.maximum(
                _one_step(np.asarray(weekly, dtype=np.float64), half_life)[:, WARM_UP_WEEKS:weeks], RATE_FLOOR
            )
            log_lik[c] = (actual * np.log(rate) - rate).sum(axis=1)
    weights = np.exp(log_lik - log_lik.max(axis=0))
    return np.asarray(weights / weights.sum(axis=0), dtype=np.float64)


def expected_next(counts: npt.NDArray[np.integer] | Floats) -> Floats:
    """Next week's expected count per unit from ``counts[unit, week, ...]`` (oldest week first).

    Trailing axes (sources, hazards) are kept: the result has the shape of ``counts`` without the week axis,
    and summing it over them gives the unit's forecast, because the weights are the unit's, not the part's.
    """
    if counts.shape[1] == 0:
        raise ValueError("no weeks of history")
    values = np.asarray(counts, dtype=np.float64)
    weekly = values.reshape(values.shape[0], values.shape[1], -1).sum(axis=2)
    weights = model_weights(weekly)
    out = np.zeros((values.shape[0], *values.shape[2:]), dtype=np.float64)
    for c, half_life in enumerate(HALF_LIVES):
        final = _one_step(values, half_life)[:, -1]
        out += weights[c].reshape((-1,) + (1,) * (values.ndim - 2)) * final
    return out


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p).

    Summed from the term at k outwards by the terms' ratio, over the shorter side of the mean, until the terms no
    longer count: the hot-hours test asks 24 of these per unit, and a full sum cost most of a site's forecast."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    q = 1.0 - p
    upper = k > n * p
    i = k if upper else k - 1  # the upper tail from k, or the lower tail below k (then 1 minus it)
    log_term = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
    term = math.exp(log_term + i * math.log(p) + (n - i) * math.log1p(-p))
    total = 0.0
    while 0 <= i <= n and term > 0.0:
        total += term
        if term < total * 1e-17:
            break
        if upper:
            term *= (n - i) / (i + 1) * p / q
            i += 1
        else:
            term *= i / (n - i + 1) * q / p
            i -= 1
    return min(1.0, total) if upper else max(0.0, 1.0 - total)


def benjamini_hochberg(p_values: Sequence[float], q: float) -> list[bool]:
    """Which hypotheses are rejected with the false discovery rate kept at ``q``."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    cutoff = 0
    for rank, i in enumerate(order, start=1):
        if p_values[i] <= q * rank / m:
            cutoff = rank
    rejected = [False] * m
    for i in order[:cutoff]:
        rejected[i] = True
    return rejected


@dataclass(frozen=True, slots=True)
class RiseTest:
    """The early-warning test of one unit: recent weekly rate against its own earlier rate."""

    recent_rate: float
    earlier_rate: float
    p_value: float
    warning: bool


def rise_tests(weekly: npt.NDArray[np.integer]) -> list[RiseTest | None]:
    """One test per unit of ``weekly[unit, week]``; None for every unit when the history is too short."""
    units, weeks = weekly.shape
    if weeks < RECENT_WEEKS + MIN_EARLIER_WEEKS:
        return [None] * units
    recent = weekly[:, -RECENT_WEEKS:].sum(axis=1)
    earlier = weekly[:, :-RECENT_WEEKS].sum(axis=1)
    share = RECENT_WEEKS / weeks
    p_values = [binomial_upper_tail(int(r), int(r + e), share) for r, e in zip(recent, earlier, strict=True)]
    flags = benjamini_hochberg(p_values, WARNING_FDR)
    earlier_weeks = weeks - RECENT_WEEKS
    return [
        RiseTest(float(r) / RECENT_WEEKS, float(e) / earlier_weeks, p, flag)
        for r, e, p, flag in zip(recent, earlier, p_values, flags, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class HotHour:
    hour: int
    count: int
    share: float
    p_value: float


def hot_hours(hours: npt.NDArray[np.integer]) -> list[HotHour]:
    """The hours of the day that hold more of a unit's events than a uniform day would (see module doc)."""
    n = int(hours.sum())
    out = []
    for hour, count in enumerate(hours.tolist()):
        p = binomial_upper_tail(int(count), n, 1.0 / 24.0)
        if n and p * 24 < HOT_HOUR_ALPHA:
            out.append(HotHour(hour, int(count), count / n, min(1.0, p * 24)))
    return sorted(out, key=lambda h: (-h.count, h.hour))


@dataclass(frozen=True, slots=True)
class Reason:
    """One source/hazard part of a forecast."""

    source: str
    hazard: str
    expected: float
    share: float


@dataclass(frozen=True, slots=True)
class UnitRisk:
    unit_id: str
    expected: float
    """Events expected in the coming week, all sources."""
    rank: int
    """1 = the unit with the most expected events."""
    band: str
    """``high`` (top 5 %), ``elevated`` (top 20 % or an early warning) or ``low``."""
    reasons: tuple[Reason, ...]
    rise: RiseTest | None
    hot_hours: tuple[HotHour, ...]
    events: int
    """Events in the history the forecast was made from."""


@dataclass(frozen=True, slots=True)
class History:
    """Counts the forecast is made from: ``counts[unit, week, column]`` and ``hours[unit, hour]``."""

    unit_ids: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]
    """(source, hazard) per column of ``counts``."""
    counts: Counts
    hours: Counts

    @property
    def weeks(self) -> int:
        return int(self.counts.shape[1])


def forecast(history: History) -> list[UnitRisk]:
    """Every unit's risk for the week after the history, highest expected first."""
    parts = expected_next(history.counts)  # [unit, column]
    totals = parts.sum(axis=1)
    rises = rise_tests(history.counts.sum(axis=2))
    order = sorted(range(len(history.unit_ids)), key=lambda i: (-totals[i], history.unit_ids[i]))
    n = len(order)
    high = max(1, round(HIGH_SHARE * n)) if n else 0
    elevated = max(high, round(ELEVATED_SHARE * n))
    out = []
    for rank, i in enumerate(order, start=1):
        total = float(totals[i])
        rise = rises[i]
        band = "high" if rank <= high and total > 0 else "low"
        if band == "low" and ((rank <= elevated and total > 0) or (rise is not None and rise.warning)):
            band = "elevated"
        reasons = [
            Reason(source, hazard, float(parts[i, c]), float(parts[i, c]) / total)
            for c, (source, hazard) in enumerate(history.columns)
            if total > 0 and parts[i, c] / total >= REASON_MIN_SHARE
        ]
        reasons.sort(key=lambda r: (-r.expected, r.source, r.hazard))
        out.append(
            UnitRisk(
                unit_id=history.unit_ids[i],
                expected=total,
                rank=rank,
                band=band,
                reasons=tuple(reasons),
                rise=rise,
                hot_hours=tuple(hot_hours(history.hours[i])),
                events=int(history.counts[i].sum()),
            )
        )
    return out
