"""Backtests the way hotspot forecasts are judged: rolling origin, PAI and PEI*, bootstrap intervals.

For each origin k the forecaster sees weeks 0..k-1 only and names the units it would watch in week k: the
top ``coverage`` share of units. PAI = (n/N)/(a/A): the share of week k's events inside the named units
over the share of units named (units count as equal cells; 1 is what a random pick scores). PEI* = n/n*,
where n* is the most any pick of the same size could have caught (NIJ's efficiency index). Ties in a
forecaster's scores are broken at random, so a forecaster that says "all equal" scores like chance.

Folds share most of their training weeks, so their scores are not independent: intervals come from a
moving-block bootstrap over folds (blocks of ``BLOCK_WEEKS``), of the mean of each score and of the paired
difference between two forecasters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from events.risk.model import expected_next

Weekly = npt.NDArray[np.int64]
Forecaster = Callable[[Weekly], npt.NDArray[np.float64]]
BLOCK_WEEKS = 4
RESAMPLES = 2000


def persistence(history: Weekly) -> npt.NDArray[np.float64]:
    """Last week's hotspots are next week's."""
    return np.asarray(history[:, -1], dtype=np.float64)


def long_run(history: Weekly) -> npt.NDArray[np.float64]:
    """Every past week counts the same: the stable rates, and nothing that moved lately."""
    return np.asarray(history.mean(axis=1), dtype=np.float64)


def random_pick(history: Weekly) -> npt.NDArray[np.float64]:
    """No information: every unit equal, so the random tie-break picks."""
    return np.zeros(history.shape[0], dtype=np.float64)


def gridwatch_forecast(history: Weekly) -> npt.NDArray[np.float64]:
    """The service's own forecast (events.risk.model), on all sources summed."""
    return expected_next(history)


FORECASTERS: dict[str, Forecaster] = {
    "gridwatch": gridwatch_forecast,
    "persistence": persistence,
    "long-run rate": long_run,
    "random": random_pick,
}


@dataclass(frozen=True, slots=True)
class FoldScores:
    """Per forecaster, one PAI and one PEI* per fold (origins with no event in the target week are skipped)."""

    origins: tuple[int, ...]
    pai: dict[str, npt.NDArray[np.float64]]
    pei_star: dict[str, npt.NDArray[np.float64]]


def pick(scores: npt.NDArray[np.float64], size: int, rng: np.random.Generator) -> npt.NDArray[np.intp]:
    """The ``size`` highest-scoring units, ties broken at random."""
    order = np.lexsort((np.asarray(rng.random(scores.shape[0])), -scores))
    return order[:size]


def backtest(
    weekly: Weekly,
    forecasters: Mapping[str, Forecaster],
    *,
    first_origin: int,
    coverage: float,
    seed: int,
) -> FoldScores:
    """Rolling-origin folds k = first_origin .. weeks-1, each forecaster on the same folds."""
    units, weeks = weekly.shape
    if not 1 <= first_origin < weeks:
        raise ValueError(f"first_origin {first_origin} must be within 1..{weeks - 1}")
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage {coverage} must be in (0, 1]")
    size = max(1, round(coverage * units))
    rng = np.random.default_rng(seed)
    origins: list[int] = []
    pai: dict[str, list[float]] = {name: [] for name in forecasters}
    pei: dict[str, list[float]] = {name: [] for name in forecasters}
    for k in range(first_origin, weeks):
        actual = weekly[:, k]
        total = int(actual.sum())
        if total == 0:
            continue
        best = int(np.sort(actual)[::-1][:size].sum())
        origins.append(k)
        history = weekly[:, :k]
        for name, forecaster in forecasters.items():
            caught = int(actual[pick(forecaster(history), size, rng)].sum())
            pai[name].append((caught / total) / (size / units))
            pei[name].append(caught / best)
    return FoldScores(
        tuple(origins),
        {n: np.asarray(v, dtype=np.float64) for n, v in pai.items()},
        {n: np.asarray(v, dtype=np.float64) for n, v in pei.items()},
    )


@dataclass(frozen=True, slots=True)
class Interval:
    mean: float
    low: float
    high: float

    def excludes(self, value: float) -> bool:
        return not self.low <= value <= self.high


def block_bootstrap(values: npt.NDArray[np.float64], *, seed: int, level: float = 0.95) -> Interval:
    """Mean of per-fold values with a moving-block bootstrap percentile interval."""
    n = values.shape[0]
    if n == 0:
        raise ValueError("no folds to bootstrap")
    block = min(BLOCK_WEEKS, n)
    starts_max = n - block + 1
    blocks = -(-n // block)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, starts_max, size=(RESAMPLES, blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(RESAMPLES, -1)[:, :n]
    means = values[idx].mean(axis=1)
    tail = (1 - level) / 2
    return Interval(float(values.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail)))
