"""Motion read from the compressed stream (`PacketActivity`) and a still camera's check interval, as tables."""

from __future__ import annotations

import pytest

from camera_config.stream_settings import DetectSettings
from ingest.meter import CountRate
from ingest.reader import PacketActivity, check_every_s


def group(activity: PacketActivity, sizes: list[int]) -> float | None:
    for size in sizes:
        activity.add(size)
    return activity.close_group()


def test_unknown_quiet_level_counts_as_active() -> None:
    activity = PacketActivity()
    assert activity.active(group(activity, [70] * 24))
    assert activity.active(None)  # a group without P-frames tells nothing


@pytest.mark.parametrize(
    ("quiet", "now", "active"),
    [
        ([70] * 24, [72] * 24, False),  # sensor noise, as before
        ([70] * 24, [200] * 24, False),  # within ratio 1.5 + 150 B of 70 B
        ([70] * 24, [300] * 24, True),  # someone walks in: P-frames grow
        ([500] * 24, [700] * 24, False),  # a busier stream's own quiet level
        ([500] * 24, [950] * 24, True),
    ],
)
def test_a_group_is_active_when_its_p_frames_grow_beyond_the_quiet_level(
    quiet: list[int], now: list[int], active: bool
) -> None:
    activity = PacketActivity()
    activity.learn(group(activity, quiet))
    assert activity.active(group(activity, now)) is active


def test_the_quiet_level_follows_slowly() -> None:
    activity = PacketActivity(learn=0.2)
    activity.learn(100.0)
    activity.learn(200.0)
    assert activity.quiet_bytes == pytest.approx(120.0)
    activity.learn(None)
    assert activity.quiet_bytes == pytest.approx(120.0)


@pytest.mark.parametrize(
    ("keepalive_s", "fps", "expected"),
    [
        (10.0, 1.0, 8.75),  # one analysed interval and a quarter early: gaps stay within 10 s
        (10.0, 5.0, 9.75),
        (2.0, 1.0, 1.0),  # never below half the keep-alive
    ],
)
def test_a_still_camera_is_checked_just_within_its_keepalive(keepalive_s: float, fps: float, expected: float) -> None:
    assert check_every_s(DetectSettings(keepalive_s=keepalive_s, fps=fps)) == pytest.approx(expected)


def test_count_rate_from_a_counter_sampled_once_a_second() -> None:
    rate = CountRate(5.0, 100.0)
    assert rate.rate(100.1) == 0.0  # too soon to say
    for second in range(1, 11):
        rate.count += 25
        rate.sample(100.0 + second)
    assert rate.rate(110.0) == pytest.approx(25.0)
    assert rate.rate(115.0) == pytest.approx(125 / 10)  # nothing since: the rate falls off
