"""Events binned into the weekly counts the forecast reads: one typed event in, one ``History`` out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import numpy as np

from events.risk.model import History

WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """One thing that happened in a place: a confirmed-or-open camera alert, a patrol report, a 12345 ticket, a
    resident's report."""

    at: datetime
    grid_id: str
    compound_id: str | None
    source: str
    """``camera``, ``patrol``, ``hotline`` or ``resident``: kept apart, so camera alerts do not feed on themselves."""
    hazard: str
    """The hazard type, or ``other`` for a report that names none."""


def week_start(moment: datetime, tz: tzinfo) -> datetime:
    """Monday 00:00 in ``tz`` of the week holding ``moment`` (weeks are local: hot hours are local too)."""
    local = moment.astimezone(tz)
    monday = (local - timedelta(days=local.weekday())).date()
    return datetime(monday.year, monday.month, monday.day, tzinfo=tz)


def bin_events(
    events: Iterable[RiskEvent],
    unit_ids: Sequence[str],
    unit_of: str,
    first_week: datetime,
    weeks: int,
    tz: tzinfo,
) -> History:
    """Counts per unit (``grid`` or ``compound``, per ``unit_of``), week from ``first_week``, and column.

    Events outside the weeks or of units not listed are left out; columns are the (source, hazard) pairs
    seen, sorted, so the same events always give the same History.
    """
    index = {u: i for i, u in enumerate(unit_ids)}
    kept: list[tuple[int, int, tuple[str, str], int]] = []
    for e in events:
        unit = e.grid_id if unit_of == "grid" else e.compound_id
        i = index.get(unit) if unit is not None else None
        week = (e.at - first_week) // WEEK
        if i is None or not 0 <= week < weeks:
            continue
        kept.append((i, int(week), (e.source, e.hazard), e.at.astimezone(tz).hour))
    columns = tuple(sorted({col for _, _, col, _ in kept}))
    col_index = {c: j for j, c in enumerate(columns)}
    counts = np.zeros((len(unit_ids), weeks, len(columns)), dtype=np.int64)
    hours = np.zeros((len(unit_ids), 24), dtype=np.int64)
    for i, week, col, hour in kept:
        counts[i, week, col_index[col]] += 1
        hours[i, hour] += 1
    return History(tuple(unit_ids), columns, counts, hours)
