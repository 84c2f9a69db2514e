"""Who is calling: a console session (cookie) or an API token (bearer), resolved to a `Principal`.

Cookie-authenticated changes must carry the session's CSRF token in a header (the console's
script reads it from a second, non-HttpOnly cookie); bearer tokens are never sent by a browser on
its own, so they need none. Every route but health depends on `current_principal`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from api.access import PERMISSIONS, GridScope, Permission
from api.audit import AuditAction, AuditActor, AuditLog
from api.errors import Forbidden, Unauthenticated
from api.runtime import Runtime, RuntimeDep
from api.users import Authenticated, User, csrf_for

SESSION_COOKIE = "gridwatch_session"
CSRF_COOKIE = "gridwatch_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

cookie_auth = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description="Console session from POST /api/auth/login; changes also need the X-CSRF-Token header.",
)
bearer_auth = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="API token (gw_...) from POST /api/tokens or `gridwatch user token`.",
)


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    via: Literal["session", "token"]
    scope: GridScope
    session_secret: str | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        return PERMISSIONS[self.user.role]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden(f"your role ({self.user.role.value}) may not do this ({permission.value})").with_code(
                "forbidden", role=self.user.role.value, permission=permission.value
            )


def authenticate(
    runtime: Runtime,
    request: Request,
    cookie: str | None,
    bearer: HTTPAuthorizationCredentials | None,
) -> Principal:
    found: Authenticated | None
    if bearer is not None:
        found = runtime.users.token_user(bearer.credentials)
        if found is None:
            raise Unauthenticated("the bearer token is unknown, expired or revoked")
    elif cookie:
        found = runtime.users.session_user(cookie)
        if found is None:
            raise Unauthenticated("the session has ended; log in again")
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf_for(cookie).encode()):
                raise Forbidden(f"the {CSRF_HEADER} header is missing or does not match the session")
    else:
        raise Unauthenticated("log in or send a bearer token")
    return Principal(found.user, found.via, runtime.scopes(found.user.scope), found.session_secret)


async def current_principal(
    runtime: RuntimeDep,
    request: Request,
    cookie: Annotated[str | None, Security(cookie_auth)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_auth)] = None,
) -> Principal:
    """A token checked in the last seconds is answered on the event loop; anything that needs the
    database (a session, a token not seen lately) is looked up in the thread pool."""
    if bearer is not None and (found := runtime.users.cached_token_user(bearer.credentials)) is not None:
        scope = runtime.scopes.cached(found.user.scope)
        if scope is not None:
            return Principal(found.user, found.via, scope, found.session_secret)
    return await run_in_threadpool(authenticate, runtime, request, cookie, bearer)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the caller, who must hold ``permission`` (403 otherwise)."""

    async def dependency(principal: PrincipalDep) -> Principal:
        principal.require(permission)
        return principal

    return dependency


SiteReader = Annotated[Principal, Depends(require(Permission.SITE_READ))]
SiteWriter = Annotated[Principal, Depends(require(Permission.SITE_WRITE))]
LiveViewer = Annotated[Principal, Depends(require(Permission.LIVE_VIEW))]
CameraTester = Annotated[Principal, Depends(require(Permission.CAMERAS_TEST))]
UserAdmin = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]
TokenOwner = Annotated[Principal, Depends(require(Permission.TOKENS_OWN))]
MetricsReader = Annotated[Principal, Depends(require(Permission.METRICS_READ))]
AlertReader = Annotated[Principal, Depends(require(Permission.ALERTS_READ))]
AlertHandler = Annotated[Principal, Depends(require(Permission.ALERTS_HANDLE))]
CaseReader = Annotated[Principal, Depends(require(Permission.CASES_READ))]
CaseWorker = Annotated[Principal, Depends(require(Permission.CASES_WORK))]
ObservationDeliverer = Annotated[Principal, Depends(require(Permission.OBSERVATIONS_DELIVER))]
AuditReader = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]


@dataclass(frozen=True, slots=True)
class Recorder:
    """Writes the caller's access audit rows: ``record(AuditAction.EVIDENCE_OPENED, "alert 7")``."""

    log: AuditLog
    actor: AuditActor

    def record(self, action: AuditAction, target: str, detail: str = "") -> None:
        self.log.record(self.actor, action, target, detail)


async def recorder(principal: PrincipalDep, runtime: RuntimeDep, request: Request) -> Recorder:
    """The caller (the same principal the route's permission check resolved) and their address."""
    address = request.client.host if request.client else None
    return Recorder(runtime.audit, AuditActor(principal.user.username, principal.user.role.value, address))


RecorderDep = Annotated[Recorder, Depends(recorder)]
