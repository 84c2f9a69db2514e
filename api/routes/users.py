"""User management (admins): accounts, roles, scopes, and tokens for worker and integrator accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.audit import AuditAction
from api.auth import RecorderDep, UserAdmin
from api.errors import AUTH, responses
from api.runtime import RuntimeDep
from api.schemas import TokenCreate, TokenCreated, TokenPublic, UserCreate, UserCreated, UserPublic, UserUpdate
from api.users import ApiToken, User, generate_password

router = APIRouter(prefix="/api/users", tags=["users"])

Username = Annotated[str, Path(min_length=1, max_length=64, description="User name.", examples=["li.na"])]


def token_detail(token: ApiToken) -> str:
    return f'token {token.id} "{token.name}"'


def changes(before: User, after: User) -> list[tuple[AuditAction, str]]:
    """The access audit rows one change of an account makes: what changed, old → new (never a password)."""
    out: list[tuple[AuditAction, str]] = []
    fields = [
        ("role", before.role.value, after.role.value),
        ("scope", str(before.scope), str(after.scope)),
        ("name", before.display_name, after.display_name),
        ("person", before.person_id or "-", after.person_id or "-"),
    ]
    changed = [f"{what} {old} → {new}" for what, old, new in fields if old != new]
    if changed:
        out.append((AuditAction.USER_CHANGED, "; ".join(changed)))
    if before.disabled != after.disabled:
        out.append((AuditAction.USER_DISABLED if after.disabled else AuditAction.USER_ENABLED, ""))
    return out


@router.get("", responses=responses(*AUTH))
def list_users(_admin: UserAdmin, runtime: RuntimeDep) -> list[UserPublic]:
    return [UserPublic.of(u) for u in runtime.users.all()]


@router.post("", status_code=201, responses=responses(*AUTH, 409, 422))
def create_user(body: UserCreate, _admin: UserAdmin, runtime: RuntimeDep, audit: RecorderDep) -> UserCreated:
    """A new account. Without a password one is generated and returned once (workers get none: tokens only)."""
    generated = None
    password = body.password.get_secret_value() if body.password is not None else None
    if password is None and body.role.value != "worker":
        password = generated = generate_password()
    user = runtime.users.create(
        body.username,
        body.role,
        scope=body.scope.value() if body.scope else None,
        display_name=body.display_name,
        password=password,
        person_id=body.person_id,
    )
    audit.record(AuditAction.USER_CREATED, user.username, f"{user.role.value}, scope {user.scope}")
    return UserCreated(user=UserPublic.of(user), password=generated)


@router.get("/{username}", responses=responses(*AUTH, 404))
def get_user(username: Username, _admin: UserAdmin, runtime: RuntimeDep) -> UserPublic:
    return UserPublic.of(runtime.users.get(username))


@router.patch("/{username}", responses=responses(*AUTH, 404, 422))
def update_user(
    username: Username, body: UserUpdate, _admin: UserAdmin, runtime: RuntimeDep, audit: RecorderDep
) -> UserPublic:
    """Change role, scope, name, password or disable; a new password or disabling ends the user's sessions."""
    before = runtime.users.get(username)
    user = runtime.users.update(
        username,
        role=body.role,
        scope=body.scope.value() if body.scope else None,
        display_name=body.display_name,
        disabled=body.disabled,
        password=body.password.get_secret_value() if body.password is not None else None,
        person_id=body.person_id,
    )
    for action, detail in changes(before, user):
        audit.record(action, user.username, detail)
    if body.password is not None:
        audit.record(AuditAction.PASSWORD_RESET, user.username)
    return UserPublic.of(user)


@router.get("/{username}/tokens", responses=responses(*AUTH, 404))
def user_tokens(username: Username, _admin: UserAdmin, runtime: RuntimeDep) -> list[TokenPublic]:
    return [TokenPublic.of(t) for t in runtime.users.tokens(username)]


@router.post("/{username}/tokens", status_code=201, responses=responses(*AUTH, 404, 422))
def create_user_token(
    username: Username, body: TokenCreate, _admin: UserAdmin, runtime: RuntimeDep, audit: RecorderDep
) -> TokenCreated:
    """A bearer token for another account, e.g. a detection worker; the secret is in this answer only."""
    expires_s = body.expires_in_days * 86400.0 if body.expires_in_days else None
    new = runtime.users.create_token(username, body.name, expires_in_s=expires_s)
    audit.record(AuditAction.TOKEN_CREATED, new.token.username, token_detail(new.token))
    return TokenCreated(token=TokenPublic.of(new.token), secret=new.secret)
