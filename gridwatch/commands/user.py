"""`gridwatch user ...`: console and API accounts."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gridwatch.commands.common import Subparsers, add_command, add_group, out, service_from_args

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


def _password_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--password-stdin", action="store_true", help="read the password from standard input")


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
    us = add_group(
        sub,
        "user",
        "console and API accounts: add, list, passwd, token",
        "Console and API accounts: create them, list them, set their passwords, give them API tokens.",
    )
    ua = add_command(
        us,
        "add",
        "create an account (prints a generated password once)",
        "Creates an account with a role and a scope. Its password is generated and printed once, or read from "
        "standard input with --password-stdin; worker accounts have no password, only API tokens.",
        func=cmd_user_add,
    )
    ua.add_argument("username", help="login name of the new account")
    ua.add_argument(
        "--role",
        required=True,
        choices=[
            "admin",
            "operator",
            "grid_worker",
            "integrator",
            "viewer",
            "property_staff",
            "compound_staff",
            "partner_member",
            "worker",
        ],
        help="worker = a detection worker process: API tokens only, no password; property_staff, compound_staff "
        "and partner_member work the cases their property company, compound or partner unit holds",
    )
    ua.add_argument(
        "--scope",
        help="site, street:ID, community:ID[,ID], grids:ID[,ID], company:ID, compounds:ID[,ID] or partner:ID "
        "(operators: street or community; grid workers: grids; property staff: company; compound staff: "
        "compounds; partner unit members: partner)",
    )
    ua.add_argument("--name", help="display name (default: the user name)")
    ua.add_argument("--person", help="id of the person in the site model this account belongs to")
    _password_option(ua)
    add_command(
        us,
        "list",
        "every account with role and scope",
        "Lists every account with its role, scope and display name; disabled accounts are marked.",
        func=cmd_user_list,
    )
    up = add_command(
        us,
        "passwd",
        "set a new password (ends the user's console sessions)",
        "Sets a new password for an account, generated and printed once or read from standard input, and "
        "ends the account's console sessions.",
        func=cmd_user_passwd,
    )
    up.add_argument("username", help="account whose password to set")
    _password_option(up)
    ut = add_command(
        us,
        "token",
        "new API token for an account (printed once)",
        "Gives an account a new API token; the secret is printed once, on standard output.",
        func=cmd_user_token,
    )
    ut.add_argument("username", help="account the token acts for")
    ut.add_argument("--name", default="cli", help="what the token is for")
    ut.add_argument("--days", type=int, help="expire after this many days (default: never)")
