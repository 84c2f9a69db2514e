"""`gridwatch cameras discover`: the ONVIF devices on a subnet (WS-Discovery), to add them by ONVIF."""

from __future__ import annotations

import argparse
import asyncio
import os

from gridwatch.commands.common import Subparsers, add_command, add_group, err, out

PASSWORD_ENV = "GRIDWATCH_ONVIF_PASSWORD"


def cmd_discover(args: argparse.Namespace) -> int:
    from core.errors import GridwatchError
    from ingest.onvif import probe_device
    from ingest.onvif_discovery import WSD_PORT, discover

    port = args.port or WSD_PORT
    found = discover(args.subnet, port=port, timeout_s=args.timeout, multicast=args.port is None)
    if not found:
        err.print(f"no ONVIF device answered in {args.subnet} within {args.timeout:g} s")
        return 0
    password = os.environ.get(PASSWORD_ENV)
    for device in found:
        model, serial = device.hardware or "?", "?"
        note = ""
        if args.username:
            try:
                info = asyncio.run(
                    probe_device(device.address, device.port, args.username, password, timeout_s=args.timeout + 5)
                )
                model = f"{info.manufacturer} {info.model}".strip() or model
                serial = info.serial or "?"
            except GridwatchError as exc:
                note = f"  ({exc})"
        out.print(
            f"{device.address:<15}  model {model}  serial {serial}  name {device.name or '?'}  "
            f"xaddrs {' '.join(device.xaddrs)}{note}",
            markup=False,
            soft_wrap=True,
        )
    err.print(f"{len(found)} ONVIF device(s); add one with POST /api/cameras/onvif or the console's cameras page")
    return 0


def register(sub: Subparsers) -> None:
    group = add_group(
        sub,
        "cameras",
        "cameras on the network: discover (ONVIF)",
        "Cameras on the network, before they are added to the site.",
    )
    discover = add_command(
        group,
        "discover",
        "find the ONVIF devices on a subnet (WS-Discovery): address, model, serial, service addresses",
        "Send a WS-Discovery Probe for ONVIF video devices to the subnet (multicast on the standard port 3702, "
        "and unicast to every host, at most 1024) and list the devices that answer from inside it. Model and "
        f"serial come from GetDeviceInformation when --username is given (the password from ${PASSWORD_ENV}); "
        "without it, the model is the one the device's scopes name.",
        func=cmd_discover,
        opens_database=False,
    )
    discover.add_argument("--subnet", required=True, help="the subnet to search, e.g. 10.0.0.0/24 (or one address)")
    discover.add_argument(
        "--port", type=int, help="send the Probe unicast to this UDP port instead (no multicast; for tests)"
    )
    discover.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for answers (default 3)")
    discover.add_argument("--username", help="ONVIF user name, to ask each device for its model and serial")
