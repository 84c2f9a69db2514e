"""`gridwatch user ...`: console and API accounts."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gridwatch.commands.common import COMMON_OPTIONS, Subparsers, out, service_from_args

if TYPE_CHECKING:
    from api.users import UserStore


def _users(args: argparse.Namespace) -> UserStore:
    from api.users import UserStore
    from core.clock import SystemClock
    from core.db import session_factory

    service = service_from_args(args)
    return UserStore(session_factory(service.engine), service.site, SystemClock())


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated): one line from standard input with --password-stdin, else a new random one."""
    from api.users import generate_password

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return generate_password(), True


def _show_generated(password: str | None, generated: bool) -> None:
    if generated:
        out.print(f"password: {password}  (shown once)")


def cmd_user_add(args: argparse.Namespace) -> int:
    from api.access import Role, Scope

    users = _users(args)
    role = Role(args.role)
    password, generated = (None, False) if role is Role.WORKER else _password(args)
    user = users.create(
        args.username,
        role,
        scope=Scope.parse(args.scope) if args.scope else None,
        display_name=args.name,
        password=password,
        person_id=args.person,
    )
    out.print(f'created user "{user.username}" ({user.role.value}, scope {user.scope})')
    _show_generated(password, generated)
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    for user in _users(args).all():
        state = " [disabled]" if user.disabled else ""
        out.print(f"{user.username:<20} {user.role.value:<12} {user.scope!s:<24} {user.display_name}{state}")
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    users = _users(args)
    password, generated = _password(args)
    user = users.update(args.username, password=password)
    out.print(f'new password for "{user.username}"; their console sessions have ended')
    _show_generated(password, generated)
    return 0


def cmd_user_token(args: argparse.Namespace) -> int:
    new = _users(args).create_token(args.username, args.name, expires_in_s=args.days * 86400.0 if args.days else None)
    out.print(f'token {new.token.id} "{new.token.name}" for "{new.token.username}" (shown once):')
    sys.stdout.write(new.secret + "\n")
    return 0


def register(sub: Subparsers) -> None:
    users = sub.add_parser("user", help="console and API accounts: add, list, passwd, token")
    us = users.add_subparsers(dest="user_command", required=True, metavar="SUBCOMMAND")
    ua = us.add_parser("add", parents=[COMMON_OPTIONS], help="create an account (prints a generated password once)")
    ua.add_argument("username")
    ua.add_argument(
        "--role",
        required=True,
        choices=["admin", "operator", "grid_worker", "integrator", "viewer", "worker"],
        help="worker = a detection worker process: API tokens only, no password",
    )
    ua.add_argument(
        "--scope",
        help="site, street:ID, community:ID[,ID] or grids:ID[,ID] (operators: street or community; "
        "grid workers: grids)",
    )
    ua.add_argument("--name", help="display name (default: the user name)")
    ua.add_argument("--person", help="id of the person in the site model this account belongs to")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    ua.set_defaults(func=cmd_user_add)
    ul = us.add_parser("list", parents=[COMMON_OPTIONS], help="every account with role and scope")
    ul.set_defaults(func=cmd_user_list)
    up = us.add_parser("passwd", parents=[COMMON_OPTIONS], help="set a new password (ends the user's console sessions)")
    up.add_argument("username")
    up.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    up.set_defaults(func=cmd_user_passwd)
    ut = us.add_parser("token", parents=[COMMON_OPTIONS], help="new API token for an account (printed once)")
    ut.add_argument("username")
    ut.add_argument("--name", default="cli", help="what the token is for")
    ut.add_argument("--days", type=int, help="expire after this many days (default: never)")
    ut.set_defaults(func=cmd_user_token)
