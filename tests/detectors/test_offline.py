"""Camera offline: a lasting outage is one episode; blips, flapping and removal are handled."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

from camera_config.hazard_settings import HazardSettings, TamperSettings
from detectors.offline import OfflineRule
from detectors.types import EpisodeState, HazardType, Observation, Severity
from ingest.types import CameraHealth, HealthState, OfflineReason
from tests.detectors.rules_support import T0, camera

STEP_S = 2.0


def health(state: HealthState, reason: OfflineReason | None = None, cid: str = "CAM-T") -> CameraHealth:
    detail = "connection refused" if reason else None
    return CameraHealth(camera_id=cid, state=state, since=T0, reason=reason, detail=detail)


ONLINE = health(HealthState.ONLINE)
REFUSED = health(HealthState.OFFLINE, OfflineReason.REFUSED)
TIMEOUT = health(HealthState.OFFLINE, OfflineReason.TIMEOUT)


def feed(rule: OfflineRule, timeline: Sequence[tuple[float, CameraHealth]], start_s: float = 0.0) -> list[Observation]:
    """Each (duration, health) is reported every STEP_S seconds for that long, as the service does."""
    out: list[Observation] = []
    t = start_s
    for duration, h in timeline:
        end = t + duration
        while t < end:
            out += rule.step([h], t, T0 + timedelta(seconds=t))
            t += STEP_S
    return out


def rule_for(**settings: float) -> OfflineRule:
    rule = OfflineRule()
    hazards = HazardSettings(tamper=TamperSettings.model_validate(settings))
    assert rule.apply_cameras([camera(hazards=hazards)], T0) == []
    return rule


def test_lasting_outage_opens_once_and_closes_after_streaming_again() -> None:
    out = feed(rule_for(), [(30, ONLINE), (120, REFUSED), (30, ONLINE)])
    assert [o.state for o in out] == [EpisodeState.OPENED, EpisodeState.CLOSED]
    opened, closed = out
    assert opened.hazard is HazardType.CAMERA_OFFLINE
    assert opened.severity is Severity.HIGH
    assert opened.camera_id == "CAM-T"
    # offline from 30 s, alert once it has lasted offline_after_s (60 s)
    assert (opened.observed_at - T0).total_seconds() == 90
    assert opened.summary == "camera offline (refused): connection refused"
    # last reported offline at 148 s; closed once online_clear_s (10 s) passed without an offline report
    assert (closed.observed_at - T0).total_seconds() == 158
    assert closed.episode_id == opened.episode_id
    assert closed.seq == 1


def test_outage_shorter_than_the_threshold_raises_nothing() -> None:
    assert feed(rule_for(), [(10, ONLINE), (50, REFUSED), (60, ONLINE)]) == []


def test_flapping_camera_counts_as_offline_but_a_long_online_spell_restarts_the_wait() -> None:
    flapping = [(40, REFUSED), (4, ONLINE), (30, REFUSED)]
    assert [o.state for o in feed(rule_for(), flapping)] == [EpisodeState.OPENED]
    recovered = [(40, REFUSED), (120, ONLINE), (40, REFUSED)]
    assert feed(rule_for(), recovered) == []


def test_a_new_reason_updates_the_open_episode() -> None:
    out = feed(rule_for(), [(70, REFUSED), (20, TIMEOUT)])
    assert [o.state for o in out] == [EpisodeState.OPENED, EpisodeState.UPDATED]
    assert out[1].summary.startswith("camera offline (timeout)")
    assert out[1].episode_id == out[0].episode_id


def test_thresholds_come_from_the_camera_settings() -> None:
    out = feed(rule_for(offline_after_s=4, online_clear_s=2), [(8, REFUSED), (6, ONLINE)])
    assert [(o.state, (o.observed_at - T0).total_seconds()) for o in out] == [
        (EpisodeState.OPENED, 4),
        (EpisodeState.CLOSED, 8),
    ]


def test_starting_and_degraded_are_not_offline() -> None:
    timeline = [(100, health(HealthState.STARTING)), (100, health(HealthState.DEGRADED))]
    assert feed(rule_for(), timeline) == []


def test_unknown_disabled_or_removed_cameras() -> None:
    rule = rule_for()
    # health of a camera the rule does not watch is ignored
    assert feed(rule, [(100, health(HealthState.OFFLINE, OfflineReason.REFUSED, cid="CAM-X"))]) == []
    opened = feed(rule, [(70, REFUSED)], start_s=100)
    assert [o.state for o in opened] == [EpisodeState.OPENED]
    # the camera is disabled while offline: its open episode is closed, not left hanging
    disabled = dataclasses.replace(camera(), enabled=False)
    closed = rule.apply_cameras([disabled], T0 + timedelta(seconds=200))
    assert [(o.state, o.episode_id, o.observed_at) for o in closed] == [
        (EpisodeState.CLOSED, opened[0].episode_id, T0 + timedelta(seconds=200))
    ]
    assert feed(rule, [(100, REFUSED)], start_s=200) == []
    # tamper checks turned off for the camera: not watched either
    rule = rule_for(enabled=False)
    assert feed(rule, [(100, REFUSED)]) == []
