"""What the bus carries: one topic enum and one frozen value per kind of message.

Producers append these values; they become JSON only when the outbox row is written (`encode`), and
the relay turns rows back into them (`decode`, keyed by topic) before subscribers see them. The JSON
form is the bus's public contract (``docs/bus/``): field names and shapes here are wire names.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Self, TypeVar

from pydantic import TypeAdapter

from detectors.types import EpisodeState
from events.lifecycle import TRANSITIONS
from events.types import Alert, AttachmentInfo, Case, CaseAction, Comment

M = TypeVar("M")


def _copy(cls: type[M], value: Any) -> M:
    """A ``cls`` from the fields it shares with ``value`` (a message made from the value it announces)."""
    return cls(**{f.name: getattr(value, f.name) for f in dataclasses.fields(cls)})  # type: ignore[arg-type]


class Topic(enum.StrEnum):
    """Every topic the service publishes; subscribers match them with shell-style patterns (``case.*``)."""

    ALERT_OPENED = "alert.opened"
    ALERT_UPDATED = "alert.updated"
    ALERT_CLOSED = "alert.closed"
    ALERT_CLIP = "alert.clip"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    ALERT_DISMISSED = "alert.dismissed"
    ALERT_IN_CASE = "alert.in_case"
    ALERT_ESCALATED = "alert.escalated"
    CASE_CREATED = "case.created"
    CASE_ALERT_ADDED = "case.alert_added"
    CASE_COMMENT = "case.comment"
    CASE_REGISTERED = "case.registered"
    CASE_DISPATCHED = "case.dispatched"
    CASE_ACCEPTED = "case.accepted"
    CASE_IN_PROGRESS = "case.in_progress"
    CASE_RESOLVED = "case.resolved"
    CASE_VERIFIED = "case.verified"
    CASE_CLOSED = "case.closed"
    CASE_DISMISSED = "case.dismissed"
    CASE_ESCALATED = "case.escalated"
    CASE_REOPENED = "case.reopened"
    SYSTEM_DISK_LOW = "system.disk_low"


# ---------------------------------------------------------------------------- alert.*: the alert as it now is


@dataclass(frozen=True, slots=True)
class AlertMessage(Alert):
    """An alert as the change left it; its fields are the payload. The subclass says what changed."""

    topic: ClassVar[Topic]

    @classmethod
    def of(cls, alert: Alert) -> Self:
        return _copy(cls, alert)


@dataclass(frozen=True, slots=True)
class AlertOpened(AlertMessage):
    """A new hazard episode (or a redelivered opening step of one)."""

    topic: ClassVar[Topic] = Topic.ALERT_OPENED


@dataclass(frozen=True, slots=True)
class AlertUpdated(AlertMessage):
    topic: ClassVar[Topic] = Topic.ALERT_UPDATED


@dataclass(frozen=True, slots=True)
class AlertClosed(AlertMessage):
    """The hazard is over (the episode closed); the alert may still be in a case."""

    topic: ClassVar[Topic] = Topic.ALERT_CLOSED


@dataclass(frozen=True, slots=True)
class AlertClipAttached(AlertMessage):
    topic: ClassVar[Topic] = Topic.ALERT_CLIP


@dataclass(frozen=True, slots=True)
class AlertAcknowledged(AlertMessage):
    topic: ClassVar[Topic] = Topic.ALERT_ACKNOWLEDGED


@dataclass(frozen=True, slots=True)
class AlertDismissed(AlertMessage):
    """A false alarm (``dismiss_reason`` says why)."""

    topic: ClassVar[Topic] = Topic.ALERT_DISMISSED


@dataclass(frozen=True, slots=True)
class AlertInCase(AlertMessage):
    """An operator put the alert into a case (``case_id``)."""

    topic: ClassVar[Topic] = Topic.ALERT_IN_CASE


@dataclass(frozen=True, slots=True)
class AlertEscalated(AlertMessage):
    topic: ClassVar[Topic] = Topic.ALERT_ESCALATED


AlertStep = AlertOpened | AlertUpdated | AlertClosed
"""What an observation does to its alert."""

ALERT_STEPS: Mapping[EpisodeState, type[AlertStep]] = {
    EpisodeState.OPENED: AlertOpened,
    EpisodeState.UPDATED: AlertUpdated,
    EpisodeState.CLOSED: AlertClosed,
}
"""The message of an observation applied to its alert, by the episode's state."""


# ---------------------------------------------------------------------------- case.*


@dataclass(frozen=True, slots=True)
class CaseCreated(Case):
    """A new case; its fields are the payload."""

    topic: ClassVar[Topic] = Topic.CASE_CREATED

    @classmethod
    def of(cls, case: Case) -> Self:
        return _copy(cls, case)


@dataclass(frozen=True, slots=True)
class CaseAlertAdded:
    """An alert joined an open case of its camera and hazard (the case keeps its state)."""

    topic: ClassVar[Topic] = Topic.CASE_ALERT_ADDED
    case: Case
    alert_id: int


@dataclass(frozen=True, slots=True)
class CaseChanged:
    """A case moved along its loop; the topic is ``case.<the state it reached>``."""

    case: Case
    action: CaseAction

    @property
    def topic(self) -> Topic:
        return Topic(f"case.{self.case.state.value}")


@dataclass(frozen=True, slots=True)
class CaseCommented(Comment):
    """A note on case ``case_id`` that leaves its state alone; its fields are the payload, its photos
    without their stored paths."""

    topic: ClassVar[Topic] = Topic.CASE_COMMENT

    @classmethod
    def of(cls, comment: Comment) -> Self:
        files = tuple(_copy(AttachmentInfo, a) for a in comment.attachments)
        return dataclasses.replace(_copy(cls, comment), attachments=files)


# ---------------------------------------------------------------------------- system.*: for admins


@dataclass(frozen=True, slots=True)
class DiskLow:
    """The data dir was short of room (free space below the floor, or its size above the quota); the
    disk watchdog removed the oldest evidence of alerts in no case to make room. ``still_low``: it could
    not free enough (what is left is case files and the database, which it never removes)."""

    topic: ClassVar[Topic] = Topic.SYSTEM_DISK_LOW
    at: datetime
    free_bytes: int
    """Free space on the data dir's file system after the removals."""
    min_free_bytes: int
    used_bytes: int
    """What the data dir takes after the removals."""
    quota_bytes: int | None
    files_removed: int
    bytes_freed: int
    alerts_affected: int
    still_low: bool


BusMessage = (
    AlertOpened
    | AlertUpdated
    | AlertClosed
    | AlertClipAttached
    | AlertAcknowledged
    | AlertDismissed
    | AlertInCase
    | AlertEscalated
    | CaseCreated
    | CaseAlertAdded
    | CaseChanged
    | CaseCommented
    | DiskLow
)
"""Any message on the bus."""

MESSAGE_OF: Mapping[Topic, type[BusMessage]] = {
    **{
        cls.topic: cls
        for cls in (
            AlertOpened,
            AlertUpdated,
            AlertClosed,
            AlertClipAttached,
            AlertAcknowledged,
            AlertDismissed,
            AlertInCase,
            AlertEscalated,
            CaseCreated,
            CaseAlertAdded,
            CaseCommented,
            DiskLow,
        )
    },
    **{Topic(f"case.{move.target.value}"): CaseChanged for move in TRANSITIONS.values()},
}
"""The message class of each topic (every ``case.<state>`` a transition reaches is a `CaseChanged`)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What subscribers receive. ``id`` is the outbox row's: delivery is at-least-once, so dedupe on it."""

    id: int
    message: BusMessage
    payload: Mapping[str, Any]
    """The message's JSON form as stored (what an outbound channel forwards as it is)."""
    created_at: datetime

    @property
    def topic(self) -> Topic:
        return self.message.topic


def _json(value: Any) -> Any:
    """Dataclass values as JSON-ready data: enums by value, datetimes as ISO 8601 with offset."""
    if value is None or isinstance(value, str | int | float):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    cls = type(value)
    names = _FIELDS.get(cls)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: _json(getattr(value, name)) for name in names}
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


_FIELDS: dict[type, tuple[str, ...]] = {}


def encode(message: BusMessage) -> dict[str, Any]:
    """The payload of ``message`` as the outbox stores it."""
    out: dict[str, Any] = _json(message)
    return out


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def adapter(cls: type[BusMessage]) -> TypeAdapter[Any]:
    """Validation and JSON Schema of one message class (built once: building one takes milliseconds)."""
    got = _ADAPTERS.get(cls)
    if got is None:
        got = _ADAPTERS[cls] = TypeAdapter(cls)
    return got


def decode(topic: str, payload: Mapping[str, Any]) -> BusMessage:
    """A stored payload back as its typed message; ValueError for an unknown topic or a payload that
    does not fit it."""
    try:
        cls = MESSAGE_OF[Topic(topic)]
    except ValueError:
        raise ValueError(f'unknown bus topic "{topic}"') from None
    message: BusMessage = adapter(cls).validate_python(payload)
    if message.topic != topic:
        raise ValueError(f'a {type(message).__name__} for "{message.topic}" came under "{topic}"')
    return message
