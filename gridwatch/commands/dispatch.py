"""`gridwatch dispatch`: send the queued notifications (the process `gridwatch run` keeps beside itself)."""

from __future__ import annotations

import argparse
import os
import signal
import threading

from gridwatch.commands.common import Subparsers, add_command, out
from gridwatch.settings import settings_from_args


def cmd_dispatch(args: argparse.Namespace) -> int:
    import logging

    from api.names import CameraNames
    from api.notify.render import Context
    from api.notify.senders import sender_factories
    from core.redact import redact_logs
    from events.notify.config import ChannelKind
    from events.notify.dispatcher import Dispatcher
    from gridwatch.wiring import open_service

    if args.nice:
        os.nice(args.nice)
    settings = settings_from_args(args)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact_logs()
    service = open_service(settings, migrate=False)  # the service that started it has migrated the database
    store = service.notifications
    context = Context(settings.console_url, CameraNames(service.site).name)
    kinds = [k for k in ChannelKind if args.mqtt or k is not ChannelKind.MQTT]
    dispatcher = Dispatcher(store, sender_factories(context, store, settings.data_dir), kinds=kinds, idle_s=0.25)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    dispatcher.start()
    out.print(f"dispatch (pid {os.getpid()}): sending {', '.join(k.value for k in kinds)} notifications")
    while not stop.wait(1.0):
        if args.parent and os.getppid() != args.parent:  # the service died without stopping us (kill -9)
            break
    dispatcher.close()
    service.engine.dispose()
    return 0


def register(sub: Subparsers) -> None:
    d = add_command(
        sub,
        "dispatch",
        "send queued notifications: webhooks, group robots, Web Push (`run` starts this itself)",
        "Sends the deliveries the service queued for its notification channels, retrying on each channel's "
        "schedule. `gridwatch run` starts one beside itself (GRIDWATCH_DISPATCH=process, the default) and "
        "starts it again if it exits; run it by hand only when the API's own is off. MQTT is sent by the API "
        "process (its camera states live there) unless --mqtt.",
        func=cmd_dispatch,
    )
    d.add_argument("--nice", type=int, default=0, help="lower this process's CPU priority by this much")
    d.add_argument("--mqtt", action="store_true", help="send MQTT channels too (when the API does not)")
    d.add_argument("--parent", type=int, default=0, help="exit when this process (the service) is gone")
