"""Logging in and out, who am I, and one's own API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.access import Role
from api.audit import AuditAction
from api.auth import CSRF_COOKIE, SESSION_COOKIE, PrincipalDep, RecorderDep, TokenOwner
from api.errors import AUTH, Throttled, Unauthenticated, responses
from api.routes.users import token_detail
from api.runtime import RuntimeDep
from api.schemas import LoginRequest, LoginResponse, MePublic, TokenCreate, TokenCreated, TokenPublic, me_of

router = APIRouter(tags=["auth"])


@router.post("/api/auth/login", responses=responses(401, 422, 429))
def login(body: LoginRequest, request: Request, response: Response, runtime: RuntimeDep) -> LoginResponse:
    """Check a password and start a console session (an HttpOnly cookie).

    Failed logins are counted per user name and per client address; past the limit the login is
    refused with 429 and Retry-After, even with the right password, for a lockout that doubles
    with each further failure.
    """
    address = request.client.host if request.client else None
    try:
        session = runtime.users.login(body.username, body.password.get_secret_value(), address=address)
    except Throttled:
        runtime.metrics.logins.labels("throttled").inc()
        raise
    except Unauthenticated:
        runtime.metrics.logins.labels("refused").inc()
        raise
    runtime.metrics.logins.labels("ok").inc()
    settings = runtime.users.settings
    max_age = int(settings.session_max_s)
    response.set_cookie(
        SESSION_COOKIE,
        session.secret,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE, session.csrf, max_age=max_age, httponly=False, samesite="strict", secure=settings.cookie_secure
    )
    scope = runtime.scopes(session.user.scope).as_filter()
    return LoginResponse(
        user=me_of(session.user, list(scope) if scope is not None else None, "session"),
        csrf_token=session.csrf,
        expires_at=session.expires_at,
    )


@router.post("/api/auth/logout", status_code=204, responses=responses(*AUTH))
def logout(principal: PrincipalDep, runtime: RuntimeDep, response: Response) -> None:
    """End the console session (a bearer token stays valid: revoke it with DELETE /api/tokens/{id})."""
    if principal.session_secret is not None:
        runtime.users.logout(principal.session_secret)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.get("/api/auth/me", responses=responses(*AUTH))
def me(principal: PrincipalDep) -> MePublic:
    """The caller: role, scope (and the grids it covers now) and permissions."""
    grids = principal.scope.as_filter()
    return me_of(principal.user, list(grids) if grids is not None else None, principal.via)


@router.get("/api/tokens", responses=responses(*AUTH), tags=["tokens"])
def my_tokens(principal: TokenOwner, runtime: RuntimeDep) -> list[TokenPublic]:
    """The caller's API tokens (never the secrets)."""
    return [TokenPublic.of(t) for t in runtime.users.tokens(principal.user.username)]


@router.post("/api/tokens", status_code=201, responses=responses(*AUTH, 422), tags=["tokens"])
def create_token(body: TokenCreate, principal: TokenOwner, runtime: RuntimeDep, audit: RecorderDep) -> TokenCreated:
    """A new bearer token for the caller; the secret is in this answer only."""
    expires_s = body.expires_in_days * 86400.0 if body.expires_in_days else None
    new = runtime.users.create_token(principal.user.username, body.name, expires_in_s=expires_s)
    audit.record(AuditAction.TOKEN_CREATED, new.token.username, token_detail(new.token))
    return TokenCreated(token=TokenPublic.of(new.token), secret=new.secret)


@router.delete("/api/tokens/{token_id}", status_code=204, responses=responses(*AUTH, 404), tags=["tokens"])
async def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], principal: TokenOwner, runtime: RuntimeDep, audit: RecorderDep
) -> None:
    """Revoke one of the caller's tokens (an admin may revoke anyone's)."""
    owner = None if principal.user.role is Role.ADMIN else principal.user.username
    token = await run_in_threadpool(runtime.users.revoke_token, token_id, owner=owner)
    await run_in_threadpool(audit.record, AuditAction.TOKEN_REVOKED, token.username, token_detail(token))
