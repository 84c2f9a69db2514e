"""Tables of the notification channels, their deliveries, suspends and Web Push subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from events.orm import BigId


class ChannelRow(Base):
    __tablename__ = "notification_channels"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str] = mapped_column(String(2000), default="")
    secret_enc: Mapped[str | None] = mapped_column(Text)
    """The signing secret (webhooks, DingTalk) or broker password, encrypted like stream credentials."""
    enabled: Mapped[bool] = mapped_column(default=True)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Rules, cap, retry schedule, MQTT prefix and user: what the channel's `ChannelSpec` holds besides the above."""
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    """Set when the receiver said it is gone (HTTP 410): nothing more is sent until an admin enables it again."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DeliveryRow(Base):
    """One message for one channel and target: pending → sent, or held (by the cap), dead (retries
    used up or refused for good), discarded (by an admin)."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (UniqueConstraint("channel_id", "outbox_id", "target", name="uq_deliveries_message"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(64))
    outbox_id: Mapped[int] = mapped_column(BigId)
    target: Mapped[str] = mapped_column(String(64), default="")
    """'' for a channel with one receiver; a push subscription's id for Web Push."""
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The bus message as published: the sender renders it, and the outbox may be pruned meanwhile."""
    message_at: Mapped[datetime]
    """When the message was written to the outbox (delivery latency is measured from it)."""
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    held_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


# The dispatcher's poll: a channel's due pending deliveries in order.
Index("ix_deliveries_due", DeliveryRow.channel_id, DeliveryRow.state, DeliveryRow.next_attempt_at, DeliveryRow.id)
# The delivery log per channel, newest first, and pruning by age.
Index("ix_deliveries_channel_created", DeliveryRow.channel_id, DeliveryRow.created_at, DeliveryRow.id)
Index("ix_deliveries_outbox", DeliveryRow.outbox_id)


class SuspendRow(Base):
    """A time-boxed silence of a camera or a grid: its alerts are recorded, marked and counted, not sent."""

    __tablename__ = "notification_suspends"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    until: Mapped[datetime]
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(64))


Index("ix_suspends_until", SuspendRow.until, SuspendRow.id)


class PushSubscriptionRow(Base):
    """One browser's Web Push subscription, for the user who made it, with that user's reach at the time."""

    __tablename__ = "push_subscriptions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(2000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    grid_ids: Mapped[list[Any] | None] = mapped_column()
    """The grids the user sees; None for all."""
    person_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    gone_at: Mapped[datetime | None]
    """When the push service said the subscription no longer exists (HTTP 404/410)."""
