"""Health state machine on a fake clock: transitions, since-when, reasons, reconnects per hour."""

from __future__ import annotations

from core.clock import FakeClock
from ingest.health import HealthTracker
from ingest.types import HealthState, OfflineReason


def tracker(clock: FakeClock) -> HealthTracker:
    return HealthTracker("CAM-1", clock, degraded_window_s=30.0, low_fps_ratio=0.5, warmup_s=5.0)


def test_starting_then_online_then_offline_with_reason_and_since() -> None:
    clock = FakeClock()
    t = tracker(clock)
    assert t.snapshot().state is HealthState.STARTING
    clock.advance(1)
    t.streaming()
    online = t.snapshot()
    assert (online.state, online.since) == (HealthState.ONLINE, clock.now())
    clock.advance(10)
    t.offline(OfflineReason.ENDED, "the source closed the stream")
    went_down = clock.now()
    clock.advance(3)
    t.offline(OfflineReason.REFUSED, "connection refused")
    h = t.snapshot()
    assert h.state is HealthState.OFFLINE
    assert h.reason is OfflineReason.REFUSED, "the latest cause is shown"
    assert h.since == went_down, "since when it went down, not since the last retry"


def test_stalls_degrade_until_they_age_out() -> None:
    clock = FakeClock()
    t = tracker(clock)
    t.streaming()
    t.stall()
    t.evaluate(25.0, 25.0)
    h = t.snapshot()
    assert h.state is HealthState.DEGRADED
    assert h.detail == "1 stall in the last 30 s"
    clock.advance(31)
    t.evaluate(25.0, 25.0)
    assert t.snapshot().state is HealthState.ONLINE


def test_low_frame_rate_degrades_after_warm_up_only() -> None:
    clock = FakeClock()
    t = tracker(clock)
    t.streaming()
    t.evaluate(5.0, 25.0)
    assert t.snapshot().state is HealthState.ONLINE, "rates are meaningless in the first seconds"
    clock.advance(6)
    t.evaluate(5.0, 25.0)
    h = t.snapshot()
    assert (h.state, h.detail) == (HealthState.DEGRADED, "input 5.0 fps of the stream's 25")
    t.evaluate(24.0, 25.0)
    assert t.snapshot().state is HealthState.ONLINE


def test_silence_shows_degraded_before_the_read_timeout() -> None:
    clock = FakeClock()
    t = tracker(clock)
    t.streaming()
    t.waiting(1.0, 2.0)
    assert t.snapshot().state is HealthState.ONLINE
    t.waiting(2.5, 2.0)
    h = t.snapshot()
    assert (h.state, h.detail) == (HealthState.DEGRADED, "no data for 2.5 s")


def test_reconnects_are_counted_over_the_last_hour() -> None:
    clock = FakeClock()
    t = tracker(clock)
    t.offline(OfflineReason.REFUSED, "refused")  # never up yet: not a reconnect
    t.streaming()
    assert t.snapshot().reconnects_last_hour == 0
    for _ in range(3):
        clock.advance(60)
        t.offline(OfflineReason.ENDED, "ended")
        t.offline(OfflineReason.REFUSED, "refused")  # retries while down count once
        clock.advance(5)
        t.streaming()
    assert t.snapshot().reconnects_last_hour == 3
    clock.advance(3600 - 100)  # the first reconnect (130 s before the last) is now over an hour old
    assert t.snapshot().reconnects_last_hour == 2
