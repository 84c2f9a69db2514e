"""Small thread-confined counters for per-camera stats: event rates over a window, recent means."""

from __future__ import annotations

from collections import deque


class WindowRate:
    """Events per second over the last ``window_s`` (over the time since start while that is shorter)."""

    def __init__(self, window_s: float, started_at: float) -> None:
        self.window_s = window_s
        self.started_at = started_at
        self.total = 0
        self._times: deque[float] = deque()

    def add(self, now: float) -> None:
        self.total += 1
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        span = min(self.window_s, now - self.started_at)
        if span <= 0.2:
            return 0.0
        return len(self._times) / span

    def _trim(self, now: float) -> None:
        limit = now - self.window_s
        times = self._times
        while times and times[0] <= limit:
            times.popleft()


class CountRate:
    """Events per second over about the last ``window_s``, for events too frequent to timestamp one by one (every
    packet of every camera): the hot loop only increments ``count``; `sample` (about once a second) and `rate`
    run under the owner's lock."""

    def __init__(self, window_s: float, started_at: float) -> None:
        self.window_s = window_s
        self.count = 0
        self._samples: deque[tuple[float, int]] = deque([(started_at, 0)])

    def sample(self, now: float) -> None:
        self._samples.append((now, self.count))
        while len(self._samples) > 1 and self._samples[1][0] <= now - self.window_s:
            self._samples.popleft()

    def rate(self, now: float) -> float:
        since, counted = self._samples[0]
        span = now - since
        if span <= 0.2:
            return 0.0
        return (self.count - counted) / span


class RecentMean:
    """Mean of the last ``n`` values (decode times, motion flags)."""

    def __init__(self, n: int = 50) -> None:
        self._values: deque[float] = deque(maxlen=n)

    def add(self, value: float) -> None:
        self._values.append(value)

    def mean(self) -> float:
        values = list(self._values)
        return sum(values) / len(values) if values else 0.0
