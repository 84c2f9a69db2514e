"""Each camera's health: online / degraded / offline with the reason, since when, and how often it reconnects.

A pure state machine on an injected clock: the reader reports what happened (connected, a frame,
a stall, a failure), the tracker decides the state.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime

from core.clock import Clock
from ingest.types import CameraHealth, HealthState, OfflineReason

HOUR_S = 3600.0


class HealthTracker:
    def __init__(
        self,
        camera_id: str,
        clock: Clock,
        *,
        degraded_window_s: float = 30.0,
        low_fps_ratio: float = 0.5,
        warmup_s: float = 5.0,
    ) -> None:
        self.camera_id = camera_id
        self.clock = clock
        self.degraded_window_s = degraded_window_s
        self.low_fps_ratio = low_fps_ratio
        self.warmup_s = warmup_s
        self._lock = threading.Lock()
        self._state = HealthState.STARTING
        self._since: datetime = clock.now()
        self._reason: OfflineReason | None = None
        self._detail: str | None = "connecting"
        self._stalls: deque[float] = deque()
        self._reconnects: deque[float] = deque()
        self._was_up = False
        self._lost = False
        self._streaming_since: float | None = None

    # ------------------------------------------------------------------ what the reader reports

    def streaming(self) -> None:
        """The first frame after (re)connecting arrived."""
        with self._lock:
            now = self.clock.monotonic()
            if self._lost:
                self._reconnects.append(now)
                self._lost = False
            self._was_up = True
            self._streaming_since = now
            self._set(HealthState.ONLINE, None, None)

    def stall(self) -> None:
        with self._lock:
            self._stalls.append(self.clock.monotonic())

    def offline(self, reason: OfflineReason, detail: str | None) -> None:
        with self._lock:
            if self._was_up:
                self._lost = True
            self._streaming_since = None
            if self._state is HealthState.OFFLINE:
                self._reason, self._detail = reason, detail  # still down: keep "since", show the latest cause
            else:
                self._set(HealthState.OFFLINE, reason, detail)

    def evaluate(self, input_fps: float, nominal_fps: float | None) -> None:
        """While streaming: degraded on recent stalls or a frame rate well below the stream's own."""
        with self._lock:
            if self._state not in (HealthState.ONLINE, HealthState.DEGRADED) or self._streaming_since is None:
                return
            now = self.clock.monotonic()
            self._trim(now)
            problems = []
            if self._stalls:
                n = len(self._stalls)
                problems.append(f"{n} stall{'s' if n > 1 else ''} in the last {self.degraded_window_s:g} s")
            warmed_up = now - self._streaming_since >= self.warmup_s
            if warmed_up and nominal_fps and input_fps < self.low_fps_ratio * nominal_fps:
                problems.append(f"input {input_fps:.1f} fps of the stream's {nominal_fps:g}")
            if problems:
                self._set(HealthState.DEGRADED, None, "; ".join(problems))
            else:
                self._set(HealthState.ONLINE, None, None)

    def waiting(self, data_age_s: float, stall_s: float) -> None:
        """Called on reading health: a stream that has sent nothing for ``stall_s`` shows degraded at once,
        before the read timeout ends the session."""
        with self._lock:
            if self._state in (HealthState.ONLINE, HealthState.DEGRADED) and data_age_s >= stall_s:
                self._set(HealthState.DEGRADED, None, f"no data for {data_age_s:.1f} s")

    # ------------------------------------------------------------------ reading

    def snapshot(self) -> CameraHealth:
        with self._lock:
            self._trim(self.clock.monotonic())
            return CameraHealth(
                camera_id=self.camera_id,
                state=self._state,
                since=self._since,
                reason=self._reason,
                detail=self._detail,
                reconnects_last_hour=len(self._reconnects),
            )

    @property
    def stalls_recent(self) -> int:
        with self._lock:
            return len(self._stalls)

    # ------------------------------------------------------------------ internals

    def _set(self, state: HealthState, reason: OfflineReason | None, detail: str | None) -> None:
        if state is not self._state:
            self._since = self.clock.now()
        self._state, self._reason, self._detail = state, reason, detail

    def _trim(self, now: float) -> None:
        while self._stalls and self._stalls[0] <= now - self.degraded_window_s:
            self._stalls.popleft()
        while self._reconnects and self._reconnects[0] <= now - HOUR_S:
            self._reconnects.popleft()
