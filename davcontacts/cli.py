"""The command line: one function per command, nothing beyond parsing and calling.

A password comes from DAVCONTACTS_PASSWORD when it is set, else from a prompt."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys

from .config import Config, ConfigError, load_config
from .errors import DomainError
from .model import ROLES, User, open_database
from .model.db import StorageError

PASSWORD_ENV = "DAVCONTACTS_PASSWORD"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML configuration file (or DAVCONTACTS_CONFIG)")
    parser.add_argument("--data-dir", help="data directory (SQLite database by default)")
    parser.add_argument("--database-url", help="sqlite:///PATH or postgresql://…")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="davcontacts",
                                     description="CardDAV/WebDAV contacts server")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    _common(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="processes sharing the port")
    serve.set_defaults(func=cmd_serve)

    init = sub.add_parser("init", help="create or migrate the database schema (idempotent)")
    _common(init)
    init.set_defaults(func=cmd_init)

    user = sub.add_parser("user", help="manage users")
    usub = user.add_subparsers(dest="user_command", required=True)
    add = usub.add_parser("add", help="create a user and their personal address book")
    _common(add)
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="member")
    add.add_argument("--display-name", default="")
    add.add_argument("--email", default="")
    add.set_defaults(func=cmd_user_add)
    passwd = usub.add_parser("passwd", help="set a user's password")
    _common(passwd)
    passwd.add_argument("name")
    passwd.set_defaults(func=cmd_user_passwd)
    lst = usub.add_parser("list", help="list users")
    _common(lst)
    lst.add_argument("--all", action="store_true", help="include deactivated users")
    lst.set_defaults(func=cmd_user_list)
    role = usub.add_parser("set-role", help="change a user's role")
    _common(role)
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(func=cmd_user_set_role)
    delete = usub.add_parser("delete", help="deactivate a user (their data is kept)")
    _common(delete)
    delete.add_argument("name")
    delete.set_defaults(func=cmd_user_delete)

    group = sub.add_parser("group", help="manage groups and their shared address books")
    gsub = group.add_subparsers(dest="group_command", required=True)
    gadd = gsub.add_parser("add", help="create a group and its address book")
    _common(gadd)
    gadd.add_argument("name")
    gadd.add_argument("--display-name", default="")
    gadd.set_defaults(func=cmd_group_add)
    gdel = gsub.add_parser("delete", help="delete a group whose book holds no contacts")
    _common(gdel)
    gdel.add_argument("name")
    gdel.set_defaults(func=cmd_group_delete)
    gmem = gsub.add_parser("add-member", help="add a user (or change their access)")
    _common(gmem)
    gmem.add_argument("group")
    gmem.add_argument("user")
    gmem.add_argument("--access", choices=("read", "write"), default="write")
    gmem.set_defaults(func=cmd_group_add_member)
    grem = gsub.add_parser("remove-member", help="remove a user from a group")
    _common(grem)
    grem.add_argument("group")
    grem.add_argument("user")
    grem.set_defaults(func=cmd_group_remove_member)
    glist = gsub.add_parser("list", help="list groups and their members")
    _common(glist)
    glist.set_defaults(func=cmd_group_list)
    return parser


def _config(args: argparse.Namespace) -> Config:
    overrides = {
        "storage.data_dir": getattr(args, "data_dir", None),
        "storage.database_url": getattr(args, "database_url", None),
        "server.host": getattr(args, "host", None),
        "server.port": getattr(args, "port", None),
        "server.workers": getattr(args, "workers", None),
    }
    return load_config(args.config, overrides=overrides)


def _open(config: Config):
    return open_database(config.storage.database_url)


def _password(prompt_for: str) -> str:
    """DAVCONTACTS_PASSWORD when set (even empty: then it is refused, not prompted
    for), else asked twice on the terminal."""
    password = os.environ.get(PASSWORD_ENV)
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise DomainError(f"no password: set {PASSWORD_ENV} or run in a terminal")
    try:
        first = getpass.getpass(f"Password for {prompt_for}: ")
        again = getpass.getpass("Repeat: ")
    except EOFError:
        raise DomainError("no password given") from None
    if first != again:
        raise DomainError("the passwords differ")
    return first


def _setup_logging(config: Config) -> None:
    try:
        handler = (logging.FileHandler(config.logging.file) if config.logging.file
                   else logging.StreamHandler())
    except OSError as exc:
        raise ConfigError(f"logging.file: cannot open {config.logging.file}: "
                          f"{exc.strerror}") from None
    # The pid tells the processes of `serve --workers N` apart.
    handler.setFormatter(logging.Formatter(
        "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.logging.level.upper())


def cmd_serve(args, config: Config) -> int:
    from .server import serve
    _setup_logging(config)
    return serve(config)


def cmd_init(args, config: Config) -> int:
    from .model import SCHEMA_VERSION
    with _open(config).connection_context():
        from .server import first_start_hint
        hint = first_start_hint(config)
    print(f"database ready at schema version {SCHEMA_VERSION}")
    if hint:
        print(hint)
    return 0


def cmd_user_add(args, config: Config) -> int:
    from .contacts.users import create_user
    with _open(config).connection_context():
        create_user(args.name, _password(args.name), role=args.role,
                    display_name=args.display_name, email=args.email,
                    scrypt_n=config.auth.scrypt_n)
    print(f"created {args.role} {args.name}")
    return 0


def cmd_user_passwd(args, config: Config) -> int:
    from .contacts.users import get_user, set_password
    with _open(config).connection_context():
        get_user(args.name)
        set_password(args.name, _password(args.name), scrypt_n=config.auth.scrypt_n)
    print(f"password of {args.name} changed")
    return 0


def cmd_user_list(args, config: Config) -> int:
    with _open(config).connection_context():
        query = User.select().order_by(User.username)
        if not args.all:
            query = query.where(User.active == True)  # noqa: E712 (SQL comparison)
        for u in query:
            state = "" if u.active else " (deactivated)"
            print(f"{u.username}\t{u.role}\t{u.display_name}{state}")
    return 0


def cmd_user_set_role(args, config: Config) -> int:
    from .contacts.users import set_role
    with _open(config).connection_context():
        set_role(args.name, args.role)
    print(f"{args.name} is now {args.role}")
    return 0


def cmd_user_delete(args, config: Config) -> int:
    from .contacts.users import deactivate_user
    with _open(config).connection_context():
        deactivate_user(args.name)
    print(f"{args.name} deactivated; their data is kept")
    return 0


def cmd_group_add(args, config: Config) -> int:
    from .contacts.groups import create_group
    with _open(config).connection_context():
        create_group(args.name, display_name=args.display_name)
    print(f"created group {args.name}")
    return 0


def cmd_group_delete(args, config: Config) -> int:
    from .contacts.groups import delete_group
    with _open(config).connection_context():
        delete_group(args.name)
    print(f"deleted group {args.name}")
    return 0


def cmd_group_add_member(args, config: Config) -> int:
    from .contacts.groups import set_membership
    with _open(config).connection_context():
        set_membership(args.group, args.user, args.access)
    print(f"{args.user} is a member of {args.group} with {args.access} access")
    return 0


def cmd_group_remove_member(args, config: Config) -> int:
    from .contacts.groups import remove_membership
    with _open(config).connection_context():
        remove_membership(args.group, args.user)
    print(f"{args.user} is no longer a member of {args.group}")
    return 0


def cmd_group_list(args, config: Config) -> int:
    from .contacts.groups import list_groups
    with _open(config).connection_context():
        for group, members in list_groups():
            names = ", ".join(f"{u} ({a})" for u, a in members) or "no members"
            print(f"{group.name}\t{group.display_name}\t{names}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = _config(args)
        return args.func(args, config)
    except ConfigError as exc:
        print(f"davcontacts: configuration error: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"davcontacts: {exc}", file=sys.stderr)
        return 1
    except DomainError as exc:
        print(f"davcontacts: {exc.reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
