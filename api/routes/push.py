"""Web Push subscriptions: the server's public key, and each user's browsers that want notifications.

A subscription is kept for the user who made it with what they may see at that moment: their role,
their grids (None for the whole site) and the person their account is linked to. The notification
rules then send it only messages of those grids; subscribing again (the console does on every visit)
brings a changed scope up to date. The service worker is served at the root (``/sw.js``) so that its
scope covers the whole console.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.access import Permission
from api.auth import Principal, PrincipalDep
from api.errors import AUTH, Forbidden, responses
from api.notify.webpush import AUTH_BYTES, P256DH_BYTES, check_endpoint, check_key, load_vapid
from api.routes.console import STATIC
from api.runtime import RuntimeDep
from core.errors import InvalidInput, Issue, Unavailable
from core.text import CheckedModel
from events.notify.store import Notifications, PushSubscription

router = APIRouter(tags=["notifications"])

NO_NOTIFICATIONS = "notifications are not available: this server runs without the notification store"


async def push_user(principal: PrincipalDep) -> Principal:
    """Anyone who reads alerts or works cases may have their phone notified."""
    if not (principal.can(Permission.ALERTS_READ) or principal.can(Permission.CASES_WORK)):
        raise Forbidden(f"your role ({principal.user.role.value}) receives no notifications")
    return principal


PushUser = Annotated[Principal, Depends(push_user)]


async def get_notifications(runtime: RuntimeDep) -> Notifications:
    store = runtime.context.notifications
    if store is None:
        raise Unavailable(NO_NOTIFICATIONS)
    return store


NotificationsDep = Annotated[Notifications, Depends(get_notifications)]


class PushKey(BaseModel):
    public_key: str = Field(
        description="The server's VAPID public key: a P-256 point, uncompressed, base64url "
        "(PushManager.subscribe's applicationServerKey).",
        examples=["BNc3…"],
    )


class SubscriptionKeys(CheckedModel):
    model_config = ConfigDict(extra="forbid")

    p256dh: str = Field(max_length=200, description="The browser's P-256 key, base64url of 65 bytes.")
    auth: str = Field(max_length=100, description="The browser's auth secret, base64url of 16 bytes.")

    @field_validator("p256dh")
    @classmethod
    def _p256dh(cls, value: str) -> str:
        return check_key(value, P256DH_BYTES)

    @field_validator("auth")
    @classmethod
    def _auth(cls, value: str) -> str:
        return check_key(value, AUTH_BYTES)


class SubscriptionIn(CheckedModel):
    """What ``PushSubscription.toJSON()`` gives in the browser."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str = Field(max_length=2000, description="The push service's URL for this browser.")
    keys: SubscriptionKeys
    expirationTime: int | None = Field(  # noqa: N815 - the browser's own name
        None, ge=0, le=2**53, description="Ignored: push services end subscriptions with 404/410."
    )


class EndpointIn(CheckedModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str = Field(max_length=2000, description="The endpoint of the subscription to remove.")


class SubscriptionOut(BaseModel):
    id: int
    endpoint: str
    role: str = Field(description="The user's role when they subscribed.")
    grid_ids: list[str] | None = Field(description="The grids whose messages it receives; null for all.")
    person_id: str | None = Field(description="The person the user's account is linked to, if any.")

    @classmethod
    def of(cls, sub: PushSubscription) -> SubscriptionOut:
        grids = list(sub.grid_ids) if sub.grid_ids is not None else None
        return cls(id=sub.id, endpoint=sub.endpoint, role=sub.role, grid_ids=grids, person_id=sub.person_id)


@router.get("/api/push/key", responses=responses(*AUTH, 503))
def push_key(_principal: PushUser, runtime: RuntimeDep, _store: NotificationsDep) -> PushKey:
    """The key browsers subscribe with; made on first use and kept in the data directory."""
    data_dir = runtime.context.data_dir
    if data_dir is None:
        raise Unavailable("Web Push is not available: this server runs without a data directory for its key")
    return PushKey(public_key=load_vapid(data_dir).public_key)


@router.post("/api/push/subscriptions", status_code=201, responses=responses(*AUTH, 422, 503))
def subscribe(principal: PushUser, store: NotificationsDep, body: SubscriptionIn) -> SubscriptionOut:
    """Keep this browser's subscription for the caller, reaching what the caller sees now (again: refreshed)."""
    try:  # here, not in the model: the check needs the store's allow-list
        check_endpoint(body.endpoint, store.allow_hosts)
    except ValueError as exc:
        raise InvalidInput(Issue("endpoint", str(exc))) from None
    user = principal.user
    sub = store.subscribe(
        body.endpoint,
        body.keys.p256dh,
        body.keys.auth,
        user_id=user.username,
        role=user.role.value,
        # A property company's or partner unit's people are reached only by their holder's cases: by grid they
        # would also get the cases of their grids that others hold, which they may not see.
        grid_ids=principal.scope.holders if principal.scope.holders is not None else principal.scope.grid_ids,
        person_id=user.person_id,
    )
    return SubscriptionOut.of(sub)


@router.delete("/api/push/subscriptions", status_code=204, responses=responses(*AUTH, 422, 503))
def unsubscribe(principal: PushUser, store: NotificationsDep, body: EndpointIn) -> Response:
    """Forget the caller's subscription with this endpoint (done when there is none)."""
    store.unsubscribe(body.endpoint, principal.user.username)
    return Response(status_code=204)


@router.get("/api/push/subscriptions", responses=responses(*AUTH, 503))
def my_subscriptions(principal: PushUser, store: NotificationsDep) -> list[SubscriptionOut]:
    """The caller's browsers that receive notifications."""
    return [SubscriptionOut.of(s) for s in store.subscriptions_of(principal.user.username)]


SERVICE_WORKER = Path(STATIC) / "sw.js"


@router.get("/sw.js", include_in_schema=False)
def service_worker() -> FileResponse:
    """At the root, so that the worker's scope is the whole console; never cached, so updates reach browsers."""
    return FileResponse(
        SERVICE_WORKER,
        media_type="application/javascript",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
