"""Outbound notification channels: how messages are signed and shaped for their receivers."""
