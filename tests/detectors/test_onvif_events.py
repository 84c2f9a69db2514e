"""A camera's own ONVIF events as observations: which topics are hazards, episodes opened and closed by the
device's state, ids that make a redelivered event no second alert, and the mark saying where they came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detectors.onvif_events import ONVIF_MARK, SOURCE_LABEL, OnvifEventMapper, hazard_of
from detectors.types import EpisodeState, HazardType
from ingest.onvif import OnvifEvent

T0 = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)


def event(topic: str, state: str, at: datetime = T0, source: str = "VideoSource_1", key: str = "State") -> OnvifEvent:
    return OnvifEvent(topic, at, "Changed", {"Source": source}, {key: state})


@pytest.mark.parametrize(
    ("topic", "hazard"),
    [
        ("VideoSource/GlobalSceneChange/ImagingService", HazardType.CAMERA_COVERED),
        ("VideoSource/GlobalSceneChange/AnalyticsService", HazardType.CAMERA_COVERED),
        ("VideoSource/MotionAlarm", HazardType.INTRUSION),
        ("RuleEngine/CellMotionDetector/Motion", HazardType.INTRUSION),
        ("Device/Trigger/DigitalInput", None),
        ("VideoSource/MotionAlarmX", None),
    ],
)
def test_topics_that_are_hazards(topic: str, hazard: HazardType | None) -> None:
    assert hazard_of(topic) is hazard


def test_state_true_opens_an_episode_and_false_closes_it() -> None:
    mapper = OnvifEventMapper("CAM-07")
    opened = mapper.observe(event("VideoSource/GlobalSceneChange/ImagingService", "true"))
    assert opened is not None
    assert opened.state is EpisodeState.OPENED
    assert opened.hazard is HazardType.CAMERA_COVERED
    assert opened.camera_id == "CAM-07"
    assert opened.summary.startswith(SOURCE_LABEL)
    assert opened.measurements == {ONVIF_MARK: 1.0}
    assert (
        mapper.observe(event("VideoSource/GlobalSceneChange/ImagingService", "true", T0 + timedelta(seconds=3))) is None
    )
    closed = mapper.observe(event("VideoSource/GlobalSceneChange/ImagingService", "false", T0 + timedelta(seconds=9)))
    assert closed is not None
    assert closed.state is EpisodeState.CLOSED
    assert closed.episode_id == opened.episode_id
    assert closed.seq == 1
    assert closed.observed_at == T0 + timedelta(seconds=9)


def test_a_redelivered_event_names_the_same_episode() -> None:
    first = OnvifEventMapper("CAM-07").observe(event("RuleEngine/CellMotionDetector/Motion", "true", key="IsMotion"))
    again = OnvifEventMapper("CAM-07").observe(event("RuleEngine/CellMotionDetector/Motion", "true", key="IsMotion"))
    assert first is not None
    assert again is not None
    assert (again.episode_id, again.seq) == (first.episode_id, first.seq)
    other_source = OnvifEventMapper("CAM-07").observe(
        event("RuleEngine/CellMotionDetector/Motion", "true", source="VideoSource_2", key="IsMotion")
    )
    assert other_source is not None
    assert other_source.episode_id != first.episode_id
    assert len(first.episode_id) <= 128


def test_an_inactive_state_without_an_open_episode_and_other_topics_say_nothing() -> None:
    mapper = OnvifEventMapper("CAM-07")
    assert mapper.observe(event("VideoSource/MotionAlarm", "false")) is None
    assert mapper.observe(event("Device/Trigger/DigitalInput", "true", key="LogicalState")) is None
    assert mapper.observe(OnvifEvent("VideoSource/MotionAlarm", T0, None, {}, {"Other": "1"})) is None


def test_closing_all_ends_every_open_episode() -> None:
    mapper = OnvifEventMapper("CAM-07")
    mapper.observe(event("VideoSource/MotionAlarm", "true"))
    mapper.observe(event("VideoSource/GlobalSceneChange/ImagingService", "true"))
    closing = mapper.close_all(T0 + timedelta(minutes=1), "camera removed")
    assert {o.hazard for o in closing} == {HazardType.INTRUSION, HazardType.CAMERA_COVERED}
    assert all(o.state is EpisodeState.CLOSED and "camera removed" in o.summary for o in closing)
    assert mapper.close_all(T0, "again") == []
