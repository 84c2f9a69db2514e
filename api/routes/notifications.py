"""Notification channels (admins), their delivery logs and dead letters, and the alert-fatigue suspends
(operators, in their scope). Sending never happens here: the dispatcher does it from the queue; only
the test-send button sends at once, so that an admin sees the receiver's answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.access import Permission, Role
from api.audit import AuditAction
from api.auth import AlertHandler, AlertReader, Principal, Recorder, recorder, require
from api.errors import AUTH, responses
from api.notify.senders import sender_factories
from api.runtime import Runtime, RuntimeDep
from core.errors import InvalidInput, Issue, Unavailable
from core.text import CheckedModel
from events.notify.config import Channel, ChannelKind, parse_channel
from events.notify.fatigue import Held, Suspend, SuspendKind
from events.notify.store import DeliveryInfo, Job, Notifications

router = APIRouter(prefix="/api", tags=["notifications"])

NotifyAdmin = Annotated[Principal, Depends(require(Permission.NOTIFY_MANAGE))]
Record = Annotated[Recorder, Depends(recorder)]
ChannelId = Annotated[str, Path(min_length=1, max_length=64, description="Channel id.", examples=["city-platform"])]
ROLES = tuple(r.value for r in Role if r is not Role.WORKER)


def _store(runtime: Runtime) -> Notifications:
    if runtime.context.notifications is None:
        raise Unavailable("notifications are not configured on this server")
    return runtime.context.notifications


def _masked(url: str) -> str:
    """Robot URLs carry their access token in the query: shown without it."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "…", ""))


class ChannelPublic(BaseModel):
    id: str = Field(examples=["city-platform"])
    kind: ChannelKind
    name: str
    url: str = Field(description="Where it sends; a robot's access token is not shown.")
    has_secret: bool
    enabled: bool
    disabled_reason: str | None = Field(description="Why sending stopped (e.g. the endpoint answered 410).")
    sender_error: str | None = Field(description="Why this server cannot send on it now.")
    spec: dict[str, Any] = Field(description="Rules, cap, retry schedule and MQTT settings, as configured.")
    deliveries: dict[str, int] = Field(description="Deliveries by state: pending, sent, held, dead, discarded.")

    @classmethod
    def of(cls, c: Channel, counts: dict[str, int], error: str | None) -> ChannelPublic:
        return cls(
            id=c.id,
            kind=c.kind,
            name=c.name,
            url=_masked(c.url),
            has_secret=c.secret is not None,
            enabled=c.enabled,
            disabled_reason=c.disabled_reason,
            sender_error=error,
            spec=c.spec.model_dump(mode="json", exclude={"id", "kind", "name", "url", "secret", "enabled"}),
            deliveries=counts,
        )


class ChannelSaved(ChannelPublic):
    secret: str | None = Field(
        None, description="A generated webhook signing secret, shown this once: give it to the receiver."
    )


class SendResult(BaseModel):
    ok: bool
    status: int | None
    error: str | None


class DeliveryIds(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(min_length=1, max_length=1000)


class SuspendIn(CheckedModel):
    kind: SuspendKind = Field(description="camera or grid.")
    target_id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="Camera or grid id.", examples=["CAM-01"]
    )
    minutes: int = Field(ge=1, le=30 * 24 * 60, description="How long, from now.", examples=[120])
    reason: str = Field(min_length=1, max_length=300, examples=["roadworks at the east gate"])


class HeldBackCounts(BaseModel):
    since: datetime | None
    counts: dict[str, int] = Field(description="By control: cooldown, suspend:camera, suspend:grid, cap.")


def _public(runtime: Runtime, store: Notifications, channel: Channel) -> ChannelPublic:
    errors = runtime.dispatcher.errors if runtime.dispatcher is not None else {}
    return ChannelPublic.of(channel, store.counts().get(channel.id, {}), errors.get(channel.id))


@router.get("/notifications/channels", responses=responses(*AUTH, 503))
def list_channels(_admin: NotifyAdmin, runtime: RuntimeDep) -> list[ChannelPublic]:
    store = _store(runtime)
    counts = store.counts()
    errors = runtime.dispatcher.errors if runtime.dispatcher is not None else {}
    return [ChannelPublic.of(c, counts.get(c.id, {}), errors.get(c.id)) for c in store.channels()]


@router.put("/notifications/channels/{channel_id}", responses=responses(*AUTH, 409, 422, 503))
def put_channel(
    channel_id: ChannelId,
    _admin: NotifyAdmin,
    runtime: RuntimeDep,
    audit: Record,
    body: Annotated[
        dict[str, Any],
        Body(
            description="A channel as in a site file's notifications section (without the id): kind, url, secret, "
            "enabled, rules [{topics, places, hazards, min_severity, case_states, roles}], cap {count, per_minutes}, "
            "retry_s, username, topic_prefix, discovery.",
            examples=[{"kind": "webhook", "url": "https://city.example/hooks/gw", "rules": [{"places": ["G-01"]}]}],
        ),
    ],
) -> ChannelSaved:
    """Create or replace a channel; without a secret the stored one stays (a new webhook gets one generated)."""
    store = _store(runtime)
    if "id" in body and body["id"] != channel_id:
        raise InvalidInput(Issue("id", f'must be "{channel_id}" (the id in the path) or left out'))
    spec = parse_channel({**body, "id": channel_id}, roles=ROLES, allow_hosts=store.allow_hosts)
    existed = any(c.id == channel_id for c in store.channels())
    [channel] = store.put_channels([spec])
    audit.record(AuditAction.CHANNEL_CHANGED, channel_id, f"{'changed' if existed else 'created'} ({spec.kind.value})")
    generated = channel.secret if spec.secret is None and not existed and spec.kind is ChannelKind.WEBHOOK else None
    return ChannelSaved(**_public(runtime, store, channel).model_dump(), secret=generated)


@router.delete("/notifications/channels/{channel_id}", status_code=204, responses=responses(*AUTH, 404, 503))
def delete_channel(channel_id: ChannelId, _admin: NotifyAdmin, runtime: RuntimeDep, audit: Record) -> None:
    _store(runtime).delete_channel(channel_id)
    audit.record(AuditAction.CHANNEL_DELETED, channel_id)


@router.post("/notifications/channels/{channel_id}/enable", responses=responses(*AUTH, 404, 503))
def enable_channel(channel_id: ChannelId, _admin: NotifyAdmin, runtime: RuntimeDep, audit: Record) -> ChannelPublic:
    """Enable (also after the receiver answered 410: it is back)."""
    store = _store(runtime)
    channel = store.set_enabled(channel_id, True)
    audit.record(AuditAction.CHANNEL_CHANGED, channel_id, "enabled")
    return _public(runtime, store, channel)


@router.post("/notifications/channels/{channel_id}/disable", responses=responses(*AUTH, 404, 503))
def disable_channel(channel_id: ChannelId, _admin: NotifyAdmin, runtime: RuntimeDep, audit: Record) -> ChannelPublic:
    store = _store(runtime)
    channel = store.set_enabled(channel_id, False)
    audit.record(AuditAction.CHANNEL_CHANGED, channel_id, "disabled")
    return _public(runtime, store, channel)


@router.post("/notifications/channels/{channel_id}/test", responses=responses(*AUTH, 404, 422, 503))
async def send_test(channel_id: ChannelId, _admin: NotifyAdmin, runtime: RuntimeDep) -> SendResult:
    """Send one sample message now and say what the receiver answered (Web Push: to the caller's devices)."""
    store = _store(runtime)
    channel = store.channel(channel_id)
    if channel.kind is ChannelKind.WEBPUSH:
        raise InvalidInput(Issue("channel", "a Web Push channel is tested from a subscribed device's own page"))
    if runtime.notify_context is None:
        raise Unavailable("notifications are not configured on this server")
    factories = sender_factories(runtime.notify_context, store, runtime.context.data_dir)
    if channel.kind not in factories:
        raise Unavailable(f"this server cannot send on {channel.kind.value} channels")
    now = store.now()
    sample = {
        "id": 0,
        "camera_id": "TEST",
        "hazard": "crowd",
        "severity": "low",
        "grid_id": "TEST",
        "started_at": now.isoformat(),
        "summary": "gridwatch 测试消息 / test message",
    }
    job = Job(0, channel.id, 0, "", "alert.opened", sample, now, 0)

    def send() -> SendResult:
        sender = factories[channel.kind](channel)
        try:
            [outcome] = sender.send([job])
        finally:
            sender.close()
        return SendResult(ok=outcome.ok, status=outcome.status, error=outcome.error)

    return await run_in_threadpool(send)


@router.get("/notifications/channels/{channel_id}/deliveries", responses=responses(*AUTH, 404, 422, 503))
def channel_deliveries(
    channel_id: ChannelId,
    _admin: NotifyAdmin,
    runtime: RuntimeDep,
    state: Annotated[Literal["pending", "sent", "held", "dead", "discarded"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryInfo]:
    """The channel's delivery log, newest first."""
    store = _store(runtime)
    store.channel(channel_id)
    return store.log(channel_id, state=state, limit=limit)


@router.get("/notifications/dead-letters", responses=responses(*AUTH, 422, 503))
def dead_letters(
    _admin: NotifyAdmin, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[DeliveryInfo]:
    """Deliveries that used up their retries or were refused for good, every channel, newest first."""
    return _store(runtime).log(state="dead", limit=limit)


@router.post("/notifications/deliveries/retry", responses=responses(*AUTH, 422, 503))
def retry_deliveries(ids: DeliveryIds, _admin: NotifyAdmin, runtime: RuntimeDep, audit: Record) -> dict[str, int]:
    """Dead, held or discarded deliveries back into the queue with fresh attempts."""
    n = _store(runtime).retry(ids.ids)
    audit.record(AuditAction.DELIVERIES_CHANGED, "deliveries", f"retried {n} of {len(ids.ids)}")
    return {"retried": n}


@router.post("/notifications/deliveries/discard", responses=responses(*AUTH, 422, 503))
def discard_deliveries(ids: DeliveryIds, _admin: NotifyAdmin, runtime: RuntimeDep, audit: Record) -> dict[str, int]:
    n = _store(runtime).discard(ids.ids)
    audit.record(AuditAction.DELIVERIES_CHANGED, "deliveries", f"discarded {n} of {len(ids.ids)}")
    return {"discarded": n}


@router.get("/notifications/held-back", responses=responses(*AUTH, 422, 503))
def held_back(
    _reader: AlertReader,
    runtime: RuntimeDep,
    since: Annotated[datetime | None, Query(description="Count from (with time zone); default: all time.")] = None,
) -> HeldBackCounts:
    """What each alert-fatigue control held back: alerts (cooldown, suspends) and deliveries (cap)."""
    counts = _store(runtime).held_counts(since)
    return HeldBackCounts(since=since, counts={h.value: counts.get(h.value, 0) for h in Held})


# ---------------------------------------------------------------------------- suspends


def _check_target(runtime: Runtime, principal: Principal, kind: SuspendKind, target_id: str) -> None:
    """404 for a camera or grid that does not exist or lies outside the caller's scope (the same answer)."""
    site = runtime.context.site
    if kind is SuspendKind.CAMERA:
        principal.scope.check(site.camera(target_id).grid_id, "camera", target_id)
    else:
        principal.scope.check(site.grid(target_id).id, "grid", target_id)


@router.get("/suspends", responses=responses(*AUTH, 503))
def list_suspends(
    principal: AlertReader,
    runtime: RuntimeDep,
    active: Annotated[bool, Query(description="Only those in force now.")] = True,
) -> list[Suspend]:
    """Suspends of cameras and grids in the caller's scope, newest first."""
    out = []
    for s in _store(runtime).suspends(active_only=active):
        try:
            _check_target(runtime, principal, s.kind, s.target_id)
        except Exception:  # out of scope, or the camera is gone
            continue
        out.append(s)
    return out


@router.post("/suspends", status_code=201, responses=responses(*AUTH, 404, 422, 503))
def create_suspend(body: SuspendIn, principal: AlertHandler, runtime: RuntimeDep, audit: Record) -> Suspend:
    """Hold back a camera's or grid's alerts until a time: they are recorded, marked and counted, not sent,
    and open no case; escalations still go out."""
    store = _store(runtime)
    _check_target(runtime, principal, body.kind, body.target_id)
    until = store.now() + timedelta(minutes=body.minutes)
    suspend = store.suspend(body.kind, body.target_id, until, body.reason, principal.user.username)
    detail = f"until {until:%Y-%m-%d %H:%M} UTC: {body.reason}"
    audit.record(AuditAction.SUSPENDED, f"{body.kind.value} {body.target_id}", detail)
    return suspend


@router.post("/suspends/{suspend_id}/lift", responses=responses(*AUTH, 404, 503))
def lift_suspend(
    suspend_id: Annotated[int, Path(ge=1, le=2**62)], principal: AlertHandler, runtime: RuntimeDep, audit: Record
) -> Suspend:
    store = _store(runtime)
    current = next((s for s in store.suspends(active_only=False) if s.id == suspend_id), None)
    if current is not None:
        _check_target(runtime, principal, current.kind, current.target_id)
    suspend = store.lift(suspend_id, principal.user.username)
    audit.record(AuditAction.SUSPEND_LIFTED, f"{suspend.kind.value} {suspend.target_id}")
    return suspend
