"""The notification store: channels, the sink that turns published messages into deliveries, the
delivery queue the dispatcher drains, suspends and Web Push subscriptions.

Deliveries are written by the outbox relay in its marking transaction (`Notifications.write`), so
a message is either published *and* queued for every channel that wants it, or neither: a crash in
between publishes it again and the unique key (channel, message, target) keeps one delivery.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Connection, Table, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from camera_config.secrets import CredentialCipher
from core.clock import Clock
from core.db import transaction
from core.errors import InvalidInput, Issue, NotFound
from events.messages import Delivery
from events.notify.config import (
    ESCALATIONS,
    Channel,
    ChannelKind,
    ChannelSpec,
    Facts,
    facts_of,
    spec_from_row,
    stored_spec,
)
from events.notify.fatigue import Fatigue, Held, Suspend, SuspendKind
from events.notify.orm import ChannelRow, DeliveryRow, PushSubscriptionRow, SuspendRow
from events.notify.signing import new_webhook_secret
from events.orm import AlertRow

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

log = logging.getLogger(__name__)
_V = TypeVar("_V", bound="DataclassInstance")

CACHE_S = 5.0
"""How long channels and push subscriptions are cached (the dispatcher may run in another process)."""
PENDING, SENT, HELD, DEAD, DISCARDED = "pending", "sent", "held", "dead", "discarded"
DELIVERIES = cast(Table, DeliveryRow.__table__)
_RECORD = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == bindparam("b_id"))
    .values(
        {
            name: bindparam(f"b_{name}")
            for name in (
                "state",
                "attempts",
                "last_attempt_at",
                "last_status",
                "last_error",
                "next_attempt_at",
                "sent_at",
            )
        }
    )
)


@dataclass(frozen=True, slots=True)
class Job:
    """One delivery as a sender gets it."""

    id: int
    channel_id: str
    outbox_id: int
    target: str
    topic: str
    payload: Mapping[str, Any]
    message_at: datetime
    attempts: int

    @property
    def message_id(self) -> str:
        """Stable across retries and restarts: receivers dedupe on it (``webhook-id``)."""
        return f"msg_{self.outbox_id}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to. ``gone``: the receiver said it no longer exists (HTTP 410, or a push
    subscription 404/410): stop sending there. ``permanent``: retrying cannot help."""

    ok: bool
    status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
    gone: bool = False
    permanent: bool = False


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    id: int
    channel_id: str
    message_id: str
    target: str
    topic: str
    state: str
    attempts: int
    created_at: datetime
    message_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    held_reason: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class PushSubscription:
    id: int
    endpoint: str
    p256dh: str
    auth: str
    user_id: str
    role: str
    grid_ids: tuple[str, ...] | None
    person_id: str | None


def _value(cls: type[_V], row: Any, **given: Any) -> _V:
    """A ``cls`` from the row's columns of the same names; ``given`` fields are the ones that differ."""
    return cls(**{f.name: given[f.name] if f.name in given else getattr(row, f.name) for f in fields(cls)})


def _delivery_info(r: DeliveryRow) -> DeliveryInfo:
    return _value(DeliveryInfo, r, message_id=f"msg_{r.outbox_id}")


def _suspend(r: SuspendRow) -> Suspend:
    return _value(Suspend, r, kind=SuspendKind(r.kind))


def _push(r: PushSubscriptionRow) -> PushSubscription:
    return _value(PushSubscription, r, grid_ids=tuple(r.grid_ids) if r.grid_ids is not None else None)


def next_wait(
    schedule: Sequence[float], attempts: int, retry_after_s: float | None, rng: random.Random
) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones, or None when the schedule is used
    up. ±10 % jitter, so that many deliveries failing together do not retry together; a receiver's
    ``Retry-After`` is honoured when it asks for longer (up to a day)."""
    if attempts - 1 >= len(schedule):
        return None
    wait = schedule[attempts - 1] * rng.uniform(0.9, 1.1)
    if retry_after_s is not None:
        wait = max(wait, min(retry_after_s, 86400.0))
    return wait


class Notifications:
    """Channels, deliveries, suspends and push subscriptions over one database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: CredentialCipher,
        clock: Clock,
        fatigue: Fatigue | None = None,
        *,
        allow_hosts: Collection[str] = (),
        seed: int | None = None,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._clock = clock
        self.fatigue = fatigue or Fatigue()
        self.allow_hosts = tuple(allow_hosts)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._channels: list[Channel] | None = None
        self._subs: list[PushSubscription] | None = None
        self._loaded_at = (0.0, 0.0)
        """When channels and subscriptions were read (monotonic): another process may change them."""
        self._listeners: list[Callable[[], None]] = []
        self.load_suspends()

    def now(self) -> datetime:
        return self._clock.now()

    # ------------------------------------------------------------------ channels

    def on_change(self, listener: Callable[[], None]) -> None:
        """Called after channels change or deliveries were queued (the dispatcher wakes)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("notification listener failed")

    def _invalidate(self) -> None:
        with self._lock:
            self._channels = None
        self._changed()

    def channels(self) -> list[Channel]:
        """Cached for `CACHE_S`: this process's own changes clear it at once, another process's show then."""
        with self._lock:
            if self._channels is not None and time.monotonic() - self._loaded_at[0] < CACHE_S:
                return self._channels
        with self._sessions() as s:
            rows = s.scalars(select(ChannelRow).order_by(ChannelRow.id)).all()
            loaded = []
            for r in rows:
                spec = spec_from_row(r.id, r.kind, r.name, r.url, r.enabled, r.spec)
                secret = self._cipher.decrypt(r.secret_enc) if r.secret_enc else None
                loaded.append(Channel.of(spec, secret, r.disabled_reason))
        with self._lock:
            self._channels = loaded
            self._loaded_at = (time.monotonic(), self._loaded_at[1])
        return loaded

    def channel(self, channel_id: str) -> Channel:
        for c in self.channels():
            if c.id == channel_id:
                return c
        raise NotFound.of("channel", channel_id)

    def put_channels(self, specs: Iterable[ChannelSpec]) -> list[Channel]:
        """Create or replace channels (all or none). A spec without a secret keeps the stored one; a new
        webhook without one gets a generated ``whsec_`` secret (read back once by `secret_of`)."""
        now = self._clock.now()
        ids = []
        with transaction(self._sessions) as s:
            for spec in specs:
                row = s.get(ChannelRow, spec.id)
                if row is None:
                    row = ChannelRow(id=spec.id, created_at=now, secret_enc=None)
                    s.add(row)
                elif row.kind != spec.kind.value:
                    raise InvalidInput(Issue("kind", f'channel "{spec.id}" is a {row.kind} channel; delete it first'))
                secret = spec.secret
                if secret is None and row.secret_enc is None and spec.kind is ChannelKind.WEBHOOK:
                    secret = new_webhook_secret()
                if secret is not None:
                    row.secret_enc = self._cipher.encrypt(secret)
                row.kind, row.name, row.url, row.enabled = spec.kind.value, spec.name, spec.url, spec.enabled
                row.spec, row.updated_at = stored_spec(spec), now
                if spec.enabled:
                    row.disabled_at = row.disabled_reason = None
                ids.append(spec.id)
        self._invalidate()
        return [self.channel(i) for i in ids]

    def secret_of(self, channel_id: str) -> str | None:
        """The channel's secret in clear (an admin reads a generated webhook secret once to give the receiver)."""
        return self.channel(channel_id).secret

    def delete_channel(self, channel_id: str) -> None:
        """Remove a channel; its pending deliveries are discarded (kept in the log)."""
        self.channel(channel_id)
        with transaction(self._sessions) as s:
            s.execute(
                update(DeliveryRow)
                .where(DeliveryRow.channel_id == channel_id, DeliveryRow.state.in_((PENDING, HELD)))
                .values(state=DISCARDED, last_error="channel deleted")
            )
            s.execute(delete(ChannelRow).where(ChannelRow.id == channel_id))
        self._invalidate()

    def _disable(self, s: Session, channel_id: str, reason: str) -> None:
        """The receiver said it is gone (410): stop sending until an admin enables the channel again."""
        s.execute(
            update(ChannelRow)
            .where(ChannelRow.id == channel_id)
            .values(disabled_at=self._clock.now(), disabled_reason=reason[:300])
        )
        log.warning("notification channel %s disabled: %s", channel_id, reason)

    def set_enabled(self, channel_id: str, enabled: bool) -> Channel:
        self.channel(channel_id)
        with transaction(self._sessions) as s:
            values: dict[str, Any] = {"enabled": enabled, "updated_at": self._clock.now()}
            if enabled:
                values |= {"disabled_at": None, "disabled_reason": None}
            s.execute(update(ChannelRow).where(ChannelRow.id == channel_id).values(**values))
        self._invalidate()
        return self.channel(channel_id)

    # ------------------------------------------------------------------ the sink (in the relay's transaction)

    def write(self, conn: Connection, published: Sequence[Delivery]) -> int:
        """Queue a delivery for every active channel (and push subscription) that wants each message.

        Messages of alerts held back by a fatigue control are not queued (the alert carries the mark and
        the figures count it); over a channel's cap, a delivery is queued as ``held`` instead, unless
        it is an escalation or critical. Returns how many deliveries were queued to send."""
        channels = [c for c in self.channels() if c.active]
        if not channels or not published:
            return 0
        now = self._clock.now()
        subs = self._subscriptions() if any(c.kind is ChannelKind.WEBPUSH for c in channels) else []
        used = self._cap_use(conn, [c for c in channels if c.cap is not None], now)
        rows: list[dict[str, Any]] = []
        for d in published:
            topic = d.topic.value
            try:
                facts = facts_of(d.payload)
            except Exception:  # a payload no rule can read is nobody's message; the bus still had it
                log.exception("outbox message %d: no facts for the notification rules", d.id)
                continue
            exempt = topic in ESCALATIONS or facts.critical
            if facts.held_back is not None and not exempt:
                continue
            for c in channels:
                rules = c.matching(topic, facts)
                if not rules:
                    continue
                targets = [""] if c.kind is not ChannelKind.WEBPUSH else self._push_targets(subs, rules, facts)
                for target in targets:
                    held = None
                    if c.cap is not None and not exempt:
                        if used.get(c.id, 0) >= c.cap.count:
                            held = Held.CAP.value
                        else:
                            used[c.id] = used.get(c.id, 0) + 1
                    rows.append(
                        {
                            "channel_id": c.id,
                            "outbox_id": d.id,
                            "target": target,
                            "topic": topic,
                            "payload": dict(d.payload),
                            "message_at": d.created_at,
                            "state": PENDING if held is None else HELD,
                            "attempts": 0,
                            "next_attempt_at": now if held is None else None,
                            "held_reason": held,
                            "created_at": now,
                        }
                    )
        if rows:
            dialect = conn.dialect.name
            stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(DELIVERIES)
            conn.execute(stmt.on_conflict_do_nothing(), rows)
        return sum(1 for r in rows if r["state"] == PENDING)

    def committed(self) -> None:
        """The relay committed what `write` queued: wake the dispatcher."""
        self._changed()

    def _cap_use(self, conn: Connection, capped: Sequence[Channel], now: datetime) -> dict[str, int]:
        used = {}
        for c in capped:
            assert c.cap is not None
            since = now - timedelta(minutes=c.cap.per_minutes)
            used[c.id] = (
                conn.scalar(
                    select(func.count())
                    .select_from(DeliveryRow)
                    .where(
                        DeliveryRow.channel_id == c.id,
                        DeliveryRow.created_at >= since,
                        DeliveryRow.held_reason.is_(None),
                        DeliveryRow.topic.not_in(sorted(ESCALATIONS)),
                    )
                )
                or 0
            )
        return used

    @staticmethod
    def _push_targets(subs: Sequence[PushSubscription], rules: Sequence[Any], facts: Facts) -> list[str]:
        out = []
        for sub in subs:
            if sub.grid_ids is not None and not (facts.places & set(sub.grid_ids)):
                continue
            if any(not r.roles or sub.role in r.roles for r in rules):
                out.append(str(sub.id))
        return out

    # ------------------------------------------------------------------ the dispatcher's side

    def due(self, channel_id: str, limit: int = 100) -> list[Job]:
        now = self._clock.now()
        with self._sessions() as s:
            rows = s.scalars(
                select(DeliveryRow)
                .where(
                    DeliveryRow.channel_id == channel_id,
                    DeliveryRow.state == PENDING,
                    DeliveryRow.next_attempt_at <= now,
                )
                .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
                .limit(limit)
            ).all()
            return [
                Job(r.id, r.channel_id, r.outbox_id, r.target, r.topic, r.payload, r.message_at, r.attempts)
                for r in rows
            ]

    def next_due_at(self, channel_id: str) -> datetime | None:
        with self._sessions() as s:
            return s.scalar(
                select(func.min(DeliveryRow.next_attempt_at)).where(
                    DeliveryRow.channel_id == channel_id, DeliveryRow.state == PENDING
                )
            )

    def record(self, channel: Channel, results: Sequence[tuple[Job, Outcome]]) -> None:
        """Write what the attempts came to: sent, pending again at the next wait, or dead."""
        now = self._clock.now()
        gone_subs: list[int] = []
        disable: str | None = None
        params: list[dict[str, Any]] = []
        for job, out in results:
            values: dict[str, Any] = {
                "b_id": job.id,
                "b_state": PENDING,
                "b_attempts": job.attempts + 1,
                "b_last_attempt_at": now,
                "b_last_status": out.status,
                "b_last_error": out.error[:500] if out.error else None,
                "b_next_attempt_at": None,
                "b_sent_at": None,
            }
            if out.ok:
                values |= {"b_state": SENT, "b_sent_at": now, "b_last_error": None}
            elif out.gone or out.permanent:
                values["b_state"] = DEAD
                if out.gone and channel.kind is ChannelKind.WEBPUSH and job.target:
                    gone_subs.append(int(job.target))
                elif out.gone:
                    disable = f"the receiver answered {out.status or 'gone'}: endpoint gone, channel disabled"
            else:
                wait = next_wait(channel.retry_s, job.attempts + 1, out.retry_after_s, self._rng)
                if wait is None:
                    values["b_state"] = DEAD
                else:
                    values["b_next_attempt_at"] = now + timedelta(seconds=wait)
            params.append(values)
        with transaction(self._sessions) as s:
            if params:  # one statement for the batch: under load this is most of the dispatcher's database work
                s.execute(_RECORD, params)
            if disable is not None:  # with the delivery's own outcome: nobody sees one without the other
                self._disable(s, channel.id, disable)
            if gone_subs:
                s.execute(update(PushSubscriptionRow).where(PushSubscriptionRow.id.in_(gone_subs)).values(gone_at=now))
                s.execute(
                    update(DeliveryRow)
                    .where(
                        DeliveryRow.channel_id == channel.id,
                        DeliveryRow.state == PENDING,
                        DeliveryRow.target.in_([str(i) for i in gone_subs]),
                    )
                    .values(state=DEAD, last_error="push subscription gone", next_attempt_at=None)
                )
        if gone_subs:
            with self._lock:
                self._subs = None
        if disable is not None:
            self._invalidate()

    def log(self, channel_id: str | None = None, *, state: str | None = None, limit: int = 100) -> list[DeliveryInfo]:
        """Deliveries newest first (a channel's, or all), optionally in one state."""
        q = select(DeliveryRow).order_by(DeliveryRow.id.desc()).limit(limit)
        if channel_id is not None:
            q = q.where(DeliveryRow.channel_id == channel_id)
        if state is not None:
            q = q.where(DeliveryRow.state == state)
        with self._sessions() as s:
            return [_delivery_info(r) for r in s.scalars(q).all()]

    def retry(self, ids: Collection[int]) -> int:
        """Dead, held or discarded deliveries back to pending, due now, with fresh attempts."""
        with transaction(self._sessions) as s:
            n = s.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id.in_(sorted(ids)), DeliveryRow.state.in_((DEAD, HELD, DISCARDED)))
                .values(state=PENDING, attempts=0, next_attempt_at=self._clock.now(), held_reason=None)
            ).rowcount  # type: ignore[attr-defined]
        self._changed()
        return int(n or 0)

    def discard(self, ids: Collection[int]) -> int:
        with transaction(self._sessions) as s:
            n = s.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id.in_(sorted(ids)), DeliveryRow.state.in_((DEAD, HELD, PENDING)))
                .values(state=DISCARDED, next_attempt_at=None)
            ).rowcount  # type: ignore[attr-defined]
        return int(n or 0)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per channel, deliveries by state."""
        with self._sessions() as s:
            rows = s.execute(
                select(DeliveryRow.channel_id, DeliveryRow.state, func.count()).group_by(
                    DeliveryRow.channel_id, DeliveryRow.state
                )
            ).all()
        out: dict[str, dict[str, int]] = {}
        for channel_id, state, n in rows:
            out.setdefault(channel_id, {})[state] = n
        return out

    def held_counts(self, since: datetime | None = None) -> dict[str, int]:
        """What each fatigue control held back: alerts by cooldown and suspends, deliveries by the cap."""
        with self._sessions() as s:
            q = select(AlertRow.held_back, func.count()).where(AlertRow.held_back.is_not(None))
            c = select(func.count()).select_from(DeliveryRow).where(DeliveryRow.held_reason == Held.CAP.value)
            if since is not None:
                q, c = q.where(AlertRow.received_at >= since), c.where(DeliveryRow.created_at >= since)
            out = {str(k): int(n) for k, n in s.execute(q.group_by(AlertRow.held_back)).all()}
            out[Held.CAP.value] = int(s.scalar(c) or 0)
        return {h.value: out.get(h.value, 0) for h in Held}

    def prune(self, before: datetime) -> int:
        """Forget sent and discarded deliveries created before ``before`` (pending, held and dead ones stay until
        they are sent or an admin acts; each keeps its own copy of the message, so the outbox is pruned apart)."""
        with transaction(self._sessions) as s:
            n = s.execute(
                delete(DeliveryRow).where(DeliveryRow.created_at < before, DeliveryRow.state.in_((SENT, DISCARDED)))
            ).rowcount  # type: ignore[attr-defined]
        return int(n or 0)

    # ------------------------------------------------------------------ suspends

    def load_suspends(self) -> None:
        with self._sessions() as s:
            rows = s.scalars(
                select(SuspendRow).where(SuspendRow.lifted_at.is_(None), SuspendRow.until > self._clock.now())
            ).all()
            self.fatigue.set_suspends(_suspend(r) for r in rows)

    def suspend(self, kind: SuspendKind, target_id: str, until: datetime, reason: str, by: str) -> Suspend:
        now = self._clock.now()
        issues = []
        if until <= now:
            issues.append(Issue("until", "must be in the future"))
        if until > now + timedelta(days=30):
            issues.append(Issue("until", "at most 30 days ahead: a silence must end"))
        if not reason.strip():
            issues.append(Issue("reason", "required: say why the alerts are held back"))
        if issues:
            raise InvalidInput(issues)
        with transaction(self._sessions) as s:
            row = SuspendRow(
                kind=kind.value,
                target_id=target_id,
                reason=reason.strip()[:300],
                created_by=by,
                created_at=now,
                until=until,
            )
            s.add(row)
            s.flush()
            out = _suspend(row)
        self.load_suspends()
        return out

    def lift(self, suspend_id: int, by: str) -> Suspend:
        with transaction(self._sessions) as s:
            row = s.get(SuspendRow, suspend_id)
            if row is None:
                raise NotFound.of("suspend", suspend_id)
            if row.lifted_at is None:
                row.lifted_at, row.lifted_by = self._clock.now(), by
            out = _suspend(row)
        self.load_suspends()
        return out

    def suspends(self, *, active_only: bool = True) -> list[Suspend]:
        now = self._clock.now()
        q = select(SuspendRow).order_by(SuspendRow.id.desc()).limit(500)
        if active_only:
            q = q.where(SuspendRow.lifted_at.is_(None), SuspendRow.until > now)
        with self._sessions() as s:
            return [_suspend(r) for r in s.scalars(q).all()]

    # ------------------------------------------------------------------ Web Push subscriptions

    def _subscriptions(self) -> list[PushSubscription]:
        with self._lock:
            if self._subs is not None and time.monotonic() - self._loaded_at[1] < CACHE_S:
                return self._subs
        with self._sessions() as s:
            subs = [
                _push(r) for r in s.scalars(select(PushSubscriptionRow).where(PushSubscriptionRow.gone_at.is_(None)))
            ]
        with self._lock:
            self._subs = subs
            self._loaded_at = (self._loaded_at[0], time.monotonic())
        return subs

    def subscription(self, sub_id: int) -> PushSubscription | None:
        with self._sessions() as s:
            row = s.get(PushSubscriptionRow, sub_id)
            return _push(row) if row is not None and row.gone_at is None else None

    def subscriptions_by_id(self, ids: Collection[int]) -> dict[int, PushSubscription]:
        """The live ones among ``ids`` (a sender's batch: one query)."""
        if not ids:
            return {}
        with self._sessions() as s:
            rows = s.scalars(
                select(PushSubscriptionRow).where(
                    PushSubscriptionRow.id.in_(sorted(ids)), PushSubscriptionRow.gone_at.is_(None)
                )
            ).all()
            return {r.id: _push(r) for r in rows}

    def subscribe(
        self,
        endpoint: str,
        p256dh: str,
        auth: str,
        *,
        user_id: str,
        role: str,
        grid_ids: Collection[str] | None,
        person_id: str | None,
    ) -> PushSubscription:
        """Keep (or refresh) one browser's subscription for its user."""
        now = self._clock.now()
        with transaction(self._sessions) as s:
            row = s.scalar(select(PushSubscriptionRow).where(PushSubscriptionRow.endpoint == endpoint))
            if row is None:
                row = PushSubscriptionRow(endpoint=endpoint, created_at=now)
                s.add(row)
            row.p256dh, row.auth, row.user_id, row.role, row.person_id = p256dh, auth, user_id, role, person_id
            row.grid_ids = sorted(grid_ids) if grid_ids is not None else None
            row.gone_at = None
            s.flush()
            out = _push(row)
        with self._lock:
            self._subs = None
        return out

    def unsubscribe(self, endpoint: str, user_id: str) -> bool:
        with transaction(self._sessions) as s:
            n = s.execute(
                delete(PushSubscriptionRow).where(
                    PushSubscriptionRow.endpoint == endpoint, PushSubscriptionRow.user_id == user_id
                )
            ).rowcount  # type: ignore[attr-defined]
        with self._lock:
            self._subs = None
        return bool(n)

    def subscriptions_of(self, user_id: str) -> list[PushSubscription]:
        with self._sessions() as s:
            rows = s.scalars(
                select(PushSubscriptionRow).where(
                    PushSubscriptionRow.user_id == user_id, PushSubscriptionRow.gone_at.is_(None)
                )
            ).all()
            return [_push(r) for r in rows]
