"""The risk forecast, its early-warning and hot-hour tests, and the backtest arithmetic, on counts built here."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from scipy import stats

from events.risk.evaluate import FORECASTERS, backtest, block_bootstrap, pick
from events.risk.history import RiskEvent, bin_events, week_start
from events.risk.model import (
    HALF_LIVES,
    History,
    benjamini_hochberg,
    binomial_upper_tail,
    expected_next,
    forecast,
    hot_hours,
    model_weights,
    rise_tests,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def poisson_weeks(rates: list[float], weeks: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).poisson(np.asarray(rates)[:, None], (len(rates), weeks))


@pytest.mark.parametrize(("k", "n", "p"), [(0, 10, 0.3), (3, 10, 0.3), (10, 10, 0.3), (7, 40, 0.05), (120, 300, 0.4)])
def test_binomial_upper_tail_matches_scipy(k: int, n: int, p: float) -> None:
    assert binomial_upper_tail(k, n, p) == pytest.approx(stats.binom.sf(k - 1, n, p), rel=1e-9, abs=1e-300)


def test_binomial_upper_tail_matches_scipy_on_either_side_of_the_mean_and_far_in_the_tails() -> None:
    rng = np.random.default_rng(12)
    for _ in range(3000):
        n = int(rng.integers(1, 800))
        p = float(rng.choice([1 / 24, 4 / 52, rng.random()]))
        k = int(rng.integers(0, n + 2))
        want = float(stats.binom.sf(k - 1, n, p))
        if want > 1e-250:  # below that, both are 0 to any test that reads them
            assert binomial_upper_tail(k, n, p) == pytest.approx(want, rel=1e-9, abs=1e-12), (k, n, p)


def test_benjamini_hochberg_rejects_the_step_up_set() -> None:
    # Sorted: 0.001 ≤ 0.05·1/5, 0.008 ≤ 0.05·2/5, 0.035 > 0.05·3/5 but 0.039 ≤ 0.05·4/5: the step-up rule
    # rejects all four smallest, including 0.035, which a step-down rule would have kept.
    p = [0.039, 0.001, 0.6, 0.035, 0.008]
    assert benjamini_hochberg(p, 0.05) == [True, True, False, True, True]
    assert benjamini_hochberg([0.5, 0.9], 0.05) == [False, False]


def test_a_stable_unit_is_forecast_at_its_long_run_rate_and_parts_add_up() -> None:
    weekly = poisson_weeks([6.0, 2.0], 40, seed=3)
    parts = np.stack([weekly // 2, weekly - weekly // 2], axis=2)
    expected = expected_next(parts)
    assert expected.shape == (2, 2)
    assert expected.sum(axis=1) == pytest.approx(expected_next(weekly))
    assert expected_next(weekly) == pytest.approx(weekly.mean(axis=1), rel=0.15)
    assert model_weights(weekly)[-1].min() > model_weights(weekly)[0].max()  # the long memory wins


def test_a_unit_whose_rate_jumps_is_forecast_at_its_new_rate() -> None:
    before, after = poisson_weeks([2.0], 30, seed=4), poisson_weeks([12.0], 8, seed=5)
    weekly = np.concatenate([before, after], axis=1)
    assert expected_next(weekly)[0] == pytest.approx(12.0, rel=0.25)
    assert weekly.mean() < 5
    short = [c for c, h in enumerate(HALF_LIVES) if h <= 3]
    assert model_weights(weekly)[short].sum() > 0.9


def test_rise_tests_warn_on_a_rise_only_and_need_enough_weeks() -> None:
    rates = [3.0] * 20
    weekly = poisson_weeks(rates, 30, seed=6)
    weekly[7, -4:] = [12, 14, 11, 15]
    tests = rise_tests(weekly)
    assert [i for i, t in enumerate(tests) if t is not None and t.warning] == [7]
    assert tests[7] is not None
    assert tests[7].recent_rate == 13.0
    assert rise_tests(weekly[:, :7]) == [None] * 20


def test_hot_hours_find_a_planted_peak_and_not_a_flat_day() -> None:
    rng = np.random.default_rng(8)
    flat = np.bincount(rng.integers(0, 24, 480), minlength=24)
    peaked = flat.copy()
    peaked[19] += 60
    assert [h.hour for h in hot_hours(peaked)] == [19]
    assert hot_hours(flat) == []
    assert hot_hours(np.zeros(24, dtype=np.int64)) == []


def test_forecast_bands_reasons_and_rank() -> None:
    weekly = poisson_weeks([1.0] * 19 + [20.0], 12, seed=9)
    counts = np.stack([weekly, np.zeros_like(weekly)], axis=2)
    counts[19, :, 1] = 5  # the busy unit has a second, steady source
    hours = np.zeros((20, 24), dtype=np.int64)
    history = History(tuple(f"G{i}" for i in range(20)), (("camera", "crowd"), ("hotline", "other")), counts, hours)
    risks = forecast(history)
    top = risks[0]
    assert (top.unit_id, top.rank, top.band) == ("G19", 1, "high")
    assert [(r.source, r.hazard) for r in top.reasons] == [("camera", "crowd"), ("hotline", "other")]
    assert sum(r.expected for r in top.reasons) == pytest.approx(top.expected)
    assert sum(r.band == "high" for r in risks) == 1
    assert [r.rank for r in risks] == list(range(1, 21))


def test_events_are_binned_by_local_week_unit_and_column() -> None:
    tz = SHANGHAI
    first = week_start(datetime(2026, 3, 4, 12, tzinfo=UTC), tz)
    assert first == datetime(2026, 3, 2, tzinfo=tz)
    sunday_night_utc = datetime(2026, 3, 8, 17, 30, tzinfo=UTC)  # Monday 01:30 in Shanghai: week 1
    events = [
        RiskEvent(first + timedelta(hours=9), "G1", "K1", "camera", "crowd"),
        RiskEvent(sunday_night_utc, "G1", "K1", "patrol", "other"),
        RiskEvent(first + timedelta(days=1), "G2", None, "hotline", "other"),
        RiskEvent(first - timedelta(days=1), "G1", "K1", "camera", "crowd"),  # before the weeks
        RiskEvent(first, "G9", "K9", "camera", "crowd"),  # not a listed unit
    ]
    grid = bin_events(events, ["G1", "G2"], "grid", first, 2, tz)
    assert grid.columns == (("camera", "crowd"), ("hotline", "other"), ("patrol", "other"))
    assert grid.counts[0].tolist() == [[1, 0, 0], [0, 0, 1]]
    assert grid.counts[1].tolist() == [[0, 1, 0], [0, 0, 0]]
    assert grid.hours[0, 9] == 1
    assert grid.hours[0, 1] == 1
    compound = bin_events(events, ["K1"], "compound", first, 2, tz)
    assert int(compound.counts.sum()) == 2


def test_pai_and_pei_star_of_a_hand_worked_backtest() -> None:
    # Four units; week 2 has 10 events, 6 of them in unit 0. Persistence picks the busiest unit of week 1.
    weekly = np.array([[5, 1, 6], [1, 5, 2], [0, 0, 1], [0, 0, 1]], dtype=np.int64)
    scores = backtest(weekly, {"persistence": FORECASTERS["persistence"]}, first_origin=2, coverage=0.25, seed=1)
    assert scores.origins == (2,)
    assert scores.pai["persistence"][0] == pytest.approx((2 / 10) / (1 / 4))  # picked unit 1: 2 of 10
    assert scores.pei_star["persistence"][0] == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="first_origin"):
        backtest(weekly, FORECASTERS, first_origin=3, coverage=0.25, seed=1)
    with pytest.raises(ValueError, match="coverage"):
        backtest(weekly, FORECASTERS, first_origin=1, coverage=0.0, seed=1)


def test_a_random_pick_scores_pai_one_on_average() -> None:
    weekly = poisson_weeks(list(np.linspace(0.5, 10, 100)), 200, seed=10)
    scores = backtest(weekly, {"random": FORECASTERS["random"]}, first_origin=1, coverage=0.1, seed=2)
    assert scores.pai["random"].mean() == pytest.approx(1.0, abs=0.1)


def test_ties_are_broken_at_random_not_by_position() -> None:
    rng = np.random.default_rng(0)
    firsts = {int(pick(np.zeros(5), 1, rng)[0]) for _ in range(100)}
    assert firsts == {0, 1, 2, 3, 4}


def test_block_bootstrap_interval() -> None:
    values = np.random.default_rng(11).normal(0.3, 1.0, 200)
    interval = block_bootstrap(values, seed=1)
    assert interval.low < interval.mean < interval.high
    assert interval.high - interval.low == pytest.approx(2 * 1.96 / math.sqrt(200), rel=0.35)
    assert block_bootstrap(np.full(10, 2.0), seed=1).excludes(0.0)
    with pytest.raises(ValueError, match="no folds"):
        block_bootstrap(np.array([]), seed=1)
