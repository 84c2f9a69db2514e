"""The sender of each channel kind, as the dispatcher makes them (one per channel)."""

from __future__ import annotations

from pathlib import Path

from api.notify.http import HttpSender
from api.notify.mqtt import CameraStates, MqttSender
from api.notify.render import Context
from api.notify.webpush import webpush_factory
from events.notify.config import Channel, ChannelKind
from events.notify.dispatcher import Sender, SenderFactory
from events.notify.store import Notifications


def sender_factories(
    ctx: Context, store: Notifications, data_dir: Path | None, *, camera_states: CameraStates | None = None
) -> dict[ChannelKind, SenderFactory]:
    """Every kind this process can send; a channel of another kind waits (its deliveries stay pending).
    ``camera_states`` feeds MQTT channels' retained camera states and Home Assistant entities."""

    def http(channel: Channel) -> Sender:
        return HttpSender(channel, ctx)

    def mqtt(channel: Channel) -> Sender:
        return MqttSender(channel, ctx, camera_states=camera_states)

    push = webpush_factory(ctx, store, data_dir)
    return {
        ChannelKind.WEBHOOK: http,
        ChannelKind.WECOM: http,
        ChannelKind.DINGTALK: http,
        ChannelKind.MQTT: mqtt,
        ChannelKind.WEBPUSH: push,
    }
