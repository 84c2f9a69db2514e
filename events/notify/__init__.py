"""Outbound notifications: channels, who receives what, alert-fatigue controls and the durable
delivery queue that every sender (webhooks, group robots, Web Push, MQTT) drains at least once.

The relay hands each published outbox message to `DeliverySink`, which records one delivery per
matching channel and target in the relay's own transaction; a `Dispatcher` per process then sends
them, outside every request, retrying on a schedule that survives restarts.
"""
