"""Notifications under load: 200 alerts per second through every channel at once, on PostgreSQL.

The full-size site (1,751 cameras) gets --rate alert episodes per second for --seconds through group commit,
as the API applies workers' observations (bench/events.py's phase 1, reused), twice in one run:

    off:  no channel configured — the service as before
    on:   five channels, each with the default rules (new alerts and cases): a Standard Webhooks endpoint, a WeCom
          and a DingTalk robot (signed URLs) — local HTTP receivers on 127.0.0.1, in a process of their own
          (tests/support/receivers.py) — the machine's Mosquitto at
          127.0.0.1:1883 (QoS 1, a prefix of its own, cleared at the end) and Web Push to one subscription whose
          push service is a local receiver (real aes128gcm encryption and VAPID signatures)

For the "on" run it prints, per channel, how long each delivery took from the message entering the outbox to
the receiver's acknowledgement (`sent_at − message_at`, both stamped by the service): p50, p95, max; target
p95 ≤ 1 s. And both runs' alert → case latency (observation due → its case message on the bus), which the
channels must not slow down.

    .venv/bin/python bench/notify.py [--pg-url URL] [--rate 200] [--seconds 20] [--channels webhook,push,…]
                                     [--dispatch process|inline] [--json FILE]

With --dispatch process (the default, as `gridwatch run`), webhooks, robots and Web Push are sent by a
`gridwatch dispatch` process at a lower CPU priority and MQTT by this one; with inline, all from threads here.
"""

# ruff: noqa: E402 - the path fix below must run before the project's imports

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and `events.py` in it would hide the events package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import base64
import json
import os
import subprocess
import tempfile
import time
import uuid
from contextlib import ExitStack
from typing import Any
from urllib.parse import quote

import paho.mqtt.client as mqtt
import yaml
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select, text

from api.notify.render import Context
from api.notify.senders import sender_factories
from bench.events import pct, pg_schema, sustained
from camera_config.generate import generate_site
from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from core.db import session_factory
from events.group_commit import GroupCommit
from events.notify.config import ChannelKind, parse_channel
from events.notify.dispatcher import Dispatcher
from events.notify.orm import DeliveryRow
from events.notify.store import Notifications
from events.service import EventsService
from gridwatch.settings import REPO_ROOT

TARGET_S = 1.0
CHANNELS = ("webhook", "wecom", "dingtalk", "mqtt", "push")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def subscriber_keys() -> tuple[str, str]:
    """What a browser's subscription carries: its P-256 public key and 16 auth bytes."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(point), b64url(os.urandom(16))


def clear_retained(prefix: str) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    client.publish(f"{prefix}/available", b"", qos=1, retain=True).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def run(args: argparse.Namespace) -> dict[str, Any]:
    doc = generate_site()
    cameras = [c["id"] for c in doc["cameras"]]
    figures: dict[str, Any] = {"rate": args.rate, "seconds": args.seconds, "cameras": len(cameras)}
    data_root = REPO_ROOT / "var"
    data_root.mkdir(exist_ok=True)
    prefix = f"gwbench-{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=data_root)))
        engine, schema = stack.enter_context(pg_schema(args.pg_url))
        site_file = tmp / "site.yaml"
        site_file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        sessions = session_factory(engine)
        key = Fernet.generate_key()
        cipher = CredentialCipher(key)
        site = SiteStore(sessions, cipher)
        site.load_site(site_file)
        print(f"site: {len(cameras)} cameras; PostgreSQL schema {schema}")
        for phase in ("off", "on"):
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE alerts, cases, case_audit, outbox, notification_deliveries CASCADE"))
            service = EventsService(sessions, site, tmp / "data", publish="thread")
            store = Notifications(sessions, cipher, service.clock, service.fatigue, allow_hosts=("127.0.0.1",))
            service.outbox.sinks.append(store)
            dispatcher = None
            if phase == "on":
                peers = subprocess.Popen(
                    [sys.executable, str(REPO_ROOT / "tests" / "support" / "receivers.py")],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                stack.callback(peers.wait, 10)
                stack.callback(peers.stdin.close)  # type: ignore[union-attr]
                ports = json.loads(peers.stdout.readline())  # type: ignore[union-attr]
                url = {name: f"http://127.0.0.1:{port}/{name}" for name, port in ports.items()}
                specs: list[dict[str, Any]] = [
                    {"id": "webhook", "kind": "webhook", "url": url["webhook"]},
                    {"id": "wecom", "kind": "wecom", "url": url["wecom"] + "?key=bench"},
                    {
                        "id": "dingtalk",
                        "kind": "dingtalk",
                        "url": url["dingtalk"] + "?access_token=bench",
                        "secret": "SECb",
                    },
                    {"id": "mqtt", "kind": "mqtt", "url": "mqtt://127.0.0.1:1883", "topic_prefix": prefix},
                    {"id": "push", "kind": "webpush", "discovery": False},
                ]
                specs = [s for s in specs if s["id"] in args.channels]
                store.put_channels([parse_channel(s, allow_hosts=("127.0.0.1",)) for s in specs])
                p256dh, auth = subscriber_keys()
                store.subscribe(url["push"], p256dh, auth, user_id="op", role="operator", grid_ids=None, person_id=None)
                ctx = Context("http://127.0.0.1:8000/", lambda camera_id: camera_id)
                kinds = {ChannelKind.MQTT} if args.dispatch == "process" else None
                dispatcher = Dispatcher(store, sender_factories(ctx, store, tmp / "data"), kinds=kinds)
                dispatcher.start()
                if args.dispatch == "process":  # as `gridwatch run` does: the HTTP kinds from a process of their own
                    db_url = f"{args.pg_url}{'&' if '?' in args.pg_url else '?'}"
                    db_url += f"options={quote(f'-csearch_path={schema}')}"
                    env = os.environ | {
                        "GRIDWATCH_DATA_DIR": str(tmp / "data"),
                        "GRIDWATCH_DATABASE_URL": db_url,
                        "GRIDWATCH_SECRET_KEY": key.decode(),
                        "GRIDWATCH_NOTIFY_ALLOW_HOSTS": "127.0.0.1",
                        "GRIDWATCH_LOG_LEVEL": "warning",
                    }
                    child = subprocess.Popen(
                        [sys.executable, "-m", "gridwatch", "dispatch", "--nice", "5"],
                        env=env,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                    stack.callback(child.wait, 10)
                    stack.callback(child.terminate)
                    started = child.stdout.readline()  # type: ignore[union-attr]
                    if "sending" not in started:
                        raise SystemExit(f"the dispatch process did not start: {started!r}")
                    print(f"  {started.strip()}")
            batcher = GroupCommit(service)
            service.start()
            batcher.start()
            print(f"\n=== channels {phase}")
            ok, latency = sustained(service, batcher, cameras, args.rate, args.seconds)
            batcher.close()
            service.close()
            figures[f"alert_to_case_{phase}"] = latency
            if dispatcher is not None:
                deadline = time.monotonic() + 120
                with sessions() as s:
                    while time.monotonic() < deadline:
                        left = s.scalar(select(func.count()).where(DeliveryRow.state == "pending")) or 0
                        if not left:
                            break
                        time.sleep(0.2)
                    rows = s.execute(
                        select(DeliveryRow.channel_id, DeliveryRow.state, DeliveryRow.message_at, DeliveryRow.sent_at)
                    ).all()
                dispatcher.close()
                print(
                    f"\n  {'outbox → delivered (s)':<24}{'sent':>8}{'other':>7}{'p50':>8}{'p95':>8}{'max':>8}   target"
                )
                per: dict[str, Any] = {}
                for channel in args.channels:
                    mine = [r for r in rows if r.channel_id == channel]
                    waits = [(r.sent_at - r.message_at).total_seconds() for r in mine if r.state == "sent"]
                    other = len(mine) - len(waits)
                    if not waits:
                        print(f"  {channel:<24}{0:>8}{other:>7}   nothing sent")
                        per[channel] = {"sent": 0, "other": other}
                        continue
                    p50, p95 = pct(waits, 0.5), pct(waits, 0.95)
                    verdict = "ok" if p95 <= TARGET_S and not other else "MISSED"
                    print(
                        f"  {channel:<24}{len(waits):>8}{other:>7}{p50:>8.3f}{p95:>8.3f}{max(waits):>8.3f}"
                        f"   p95 ≤ {TARGET_S:g} s  {verdict}"
                    )
                    per[channel] = {"sent": len(waits), "other": other, "p50_s": p50, "p95_s": p95, "max_s": max(waits)}
                figures["deliveries"] = per
                peers.stdin.write("counts\n")  # type: ignore[union-attr]
                peers.stdin.flush()  # type: ignore[union-attr]
                figures["receivers"] = json.loads(peers.stdout.readline())  # type: ignore[union-attr]
                print(f"  requests the receivers got: {figures['receivers']}")
            del ok
        clear_retained(prefix)
    off, on = figures.get("alert_to_case_off", {}), figures.get("alert_to_case_on", {})
    if off and on:
        print(
            f"\nalert → case p95: {off['p95_ms']:.1f} ms with no channel, {on['p95_ms']:.1f} ms with {args.channels} "
            f"(p50 {off['p50_ms']:.1f} → {on['p50_ms']:.1f} ms)"
        )
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--rate", type=float, default=200.0, help="alerts per second")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    ap.add_argument(
        "--dispatch",
        choices=("process", "inline"),
        default="process",
        help="send HTTP channels from a `gridwatch dispatch` process (as `gridwatch run` does) or from threads here",
    )
    ap.add_argument(
        "--channels",
        type=lambda v: v.split(","),
        default=list(CHANNELS),
        help=f"comma-separated, of {','.join(CHANNELS)} (default: all)",
    )
    args = ap.parse_args()
    figures = run(args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
