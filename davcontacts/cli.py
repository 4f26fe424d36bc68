"""The command line: one function per command, nothing beyond parsing and calling.

A password comes from DAVCONTACTS_PASSWORD when it is set, else from a prompt."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import io
import logging
import os
import sys
import time
from pathlib import Path

from .config import Config, ConfigError, load_config
from .errors import DomainError
from .model import ROLES, User, open_database
from .model.db import StorageError

PASSWORD_ENV = "DAVCONTACTS_PASSWORD"
TRANSFER_FORMATS = ("vcf", "csv")
_EXTENSIONS = {".vcf": "vcf", ".vcard": "vcf", ".csv": "csv"}


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
    app = usub.add_parser("app-password", help="manage a user's per-device app passwords",
                          description="An app password lets one device (phone, laptop) "
                          "sign in as the user without knowing the user's password; it is "
                          "shown once, at creation, and can be revoked on its own.")
    asub = app.add_subparsers(dest="app_password_command", required=True)
    aadd = asub.add_parser("add", help="create an app password and print it (only this once)")
    _common(aadd)
    aadd.add_argument("name")
    aadd.add_argument("--label", required=True, help="the device it is for, e.g. 'iPhone'")
    aadd.set_defaults(func=cmd_app_password_add)
    alist = asub.add_parser("list", help="list a user's app passwords")
    _common(alist)
    alist.add_argument("name")
    alist.add_argument("--all", action="store_true", help="include revoked ones")
    alist.set_defaults(func=cmd_app_password_list)
    arev = asub.add_parser("revoke", help="revoke an app password at once")
    _common(arev)
    arev.add_argument("name")
    arev.add_argument("id", help="its id, as `list` shows it")
    arev.set_defaults(func=cmd_app_password_revoke)

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

    imp = sub.add_parser("import", help="import contacts from a .vcf or CSV file",
                         description="Import cards from a .vcf file (many cards) or contacts "
                         "from CSV (columns: docs/import-export.md). Exit status 1 when some "
                         "rows failed; they are listed on stderr.")
    _common(imp)
    imp.add_argument("file", help="the file to read, or - for stdin")
    target = imp.add_mutually_exclusive_group(required=True)
    target.add_argument("--user", metavar="NAME",
                        help="import as this user, into their personal book")
    target.add_argument("--book-owner", metavar="OWNER",
                        help="import into this book: USER or group:NAME (optionally /BOOK)")
    imp.add_argument("--format", choices=TRANSFER_FORMATS,
                     help="file format (default: from the file name)")
    imp.add_argument("--dry-run", action="store_true",
                     help="check every row and report, writing nothing")
    imp.add_argument("--progress", action="store_true",
                     help="show a progress bar even when stderr is not a terminal")
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser("export", help="export contacts to a .vcf or CSV file")
    _common(exp)
    exp.add_argument("file", help="the file to write, or - for stdout")
    scope = exp.add_mutually_exclusive_group(required=True)
    scope.add_argument("--user", metavar="NAME", help="every book this user can see")
    scope.add_argument("--all", action="store_true", help="every book")
    exp.add_argument("--format", choices=TRANSFER_FORMATS,
                     help="file format (default: from the file name)")
    exp.add_argument("--progress", action="store_true",
                     help="show a progress bar even when stderr is not a terminal")
    exp.set_defaults(func=cmd_export)
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


def cmd_app_password_add(args, config: Config) -> int:
    from .contacts.users import create_app_password
    with _open(config).connection_context():
        row, password = create_app_password(args.name, args.label,
                                            scrypt_n=config.auth.scrypt_n)
    print(f"app password {row.public_id} ({row.label}) for {args.name}; enter it on the "
          "device instead of the password. It is shown only now:", file=sys.stderr)
    print(password)
    return 0


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") + " UTC" if value else "never"


def cmd_app_password_list(args, config: Config) -> int:
    from .contacts.users import list_app_passwords
    with _open(config).connection_context():
        rows = list_app_passwords(args.name, include_revoked=args.all)
    for row in rows:
        state = f"\trevoked {_when(row.revoked_at)}" if row.revoked_at else ""
        print(f"{row.public_id}\t{row.label}\tcreated {_when(row.created_at)}\t"
              f"last used {_when(row.last_used_at)}{state}")
    return 0


def cmd_app_password_revoke(args, config: Config) -> int:
    from .contacts.users import revoke_app_password
    with _open(config).connection_context():
        row = revoke_app_password(args.name, args.id)
    print(f"app password {row.public_id} ({row.label}) of {args.name} revoked")
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


class ProgressBar:
    """`done/total`, rate and ETA on one stderr line, redrawn at most 10 times a second."""

    def __init__(self, label: str, stream=None):
        self.label = label
        self.stream = stream or sys.stderr
        self.start = self.last = time.monotonic()
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = f"ETA {_duration((total - done) / rate)}" if rate and done < total else \
            f"in {_duration(elapsed)}"
        filled = 30 * done // total if total else 30
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] "
                          f"{done}/{total} {rate:,.0f}/s {eta}   ")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _transfer_format(args: argparse.Namespace) -> str | None:
    if args.format:
        return args.format
    return _EXTENSIONS.get(os.path.splitext(args.file)[1].lower())


def _progress(args: argparse.Namespace, label: str) -> ProgressBar | None:
    return ProgressBar(label) if args.progress or sys.stderr.isatty() else None


def cmd_import(args, config: Config) -> int:
    from .contacts import transfer
    from .contacts.actor import Actor
    from .contacts.users import get_user
    fmt = _transfer_format(args)
    if fmt is None:
        print(f"davcontacts: cannot tell the format of {args.file!r}: give --format vcf|csv",
              file=sys.stderr)
        return 2
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"davcontacts: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    bar = _progress(args, "import")
    with _open(config).connection_context():
        if args.user:
            user = get_user(args.user)
            if not user.active:
                raise DomainError(f"user {args.user!r} is deactivated")
            actor, owner = Actor(user, door="import"), args.user
        else:
            actor, owner = Actor.cli(), args.book_owner
        book = transfer.book_for_owner(owner)
        options = dict(dry_run=args.dry_run, progress=bar,
                       max_size=config.dav.max_resource_size)
        try:
            if fmt == "vcf":
                report = transfer.import_vcf(actor, data, book=book, **options)
            else:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DomainError(f"{args.file} is not UTF-8 text (invalid data at "
                                      f"offset {exc.start})") from None
                report = transfer.import_csv(actor, text, default_book=book, **options)
        finally:
            if bar:
                bar.close()
    what = "card" if fmt == "vcf" else "row"
    for number, reason in report.failed:
        print(f"{what} {number}: {reason}", file=sys.stderr)
    verb = "would import" if args.dry_run else "imported"
    print(f"{verb} {report.total} {what}s into {owner}: {report.created} created, "
          f"{report.updated} updated (UID already in the book), {report.unchanged} unchanged, "
          f"{len(report.failed)} failed" + (" (dry run: nothing written)" if args.dry_run else ""))
    return 0 if report.ok else 1


def cmd_export(args, config: Config) -> int:
    from .acl.policy import visible_books
    from .contacts import transfer
    from .contacts.users import get_user
    from .model import AddressBook
    fmt = _transfer_format(args)
    if fmt is None:
        print(f"davcontacts: cannot tell the format of {args.file!r}: give --format vcf|csv",
              file=sys.stderr)
        return 2
    to_stdout = args.file == "-"
    bar = _progress(args, "export")
    with _open(config).connection_context():
        if args.user:
            books = [vb.book for vb in visible_books(get_user(args.user))]
        else:
            books = list(AddressBook.select().order_by(AddressBook.id))
        try:
            with contextlib.ExitStack() as stack:
                if fmt == "vcf":
                    binary = (sys.stdout.buffer if to_stdout
                              else stack.enter_context(open(args.file, "wb")))
                    count = transfer.export_vcf(books, binary, progress=bar)
                else:
                    text = (io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
                            if to_stdout else
                            stack.enter_context(open(args.file, "w", encoding="utf-8",
                                                     newline="")))
                    count = transfer.export_csv(books, text, progress=bar)
                    if to_stdout:
                        text.flush()
                        text.detach()  # leave stdout open
        except OSError as exc:
            print(f"davcontacts: cannot write {args.file}: {exc.strerror}", file=sys.stderr)
            return 2
        finally:
            if bar:
                bar.close()
    print(f"exported {count} contacts from {len(books)} books to {args.file}",
          file=sys.stderr if to_stdout else sys.stdout)
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
