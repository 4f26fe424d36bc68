"""The one configuration object: a typed schema, defaults, validation and loading.

Every key lives once in SCHEMA (type, default, help). Values come, lowest to highest
precedence, from the defaults, a TOML file, the environment and explicit overrides.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import textwrap
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

ENV_PREFIX = "DAVCONTACTS_"
CONFIG_ENV = "DAVCONTACTS_CONFIG"
# Short aliases for the keys most often set in containers; the long form
# (DAVCONTACTS_<SECTION>_<KEY>) wins when both are set, being the canonical name.
ENV_ALIASES: Mapping[str, str] = MappingProxyType({
    "DAVCONTACTS_HOST": "server.host", "DAVCONTACTS_PORT": "server.port",
    "DAVCONTACTS_DATA_DIR": "storage.data_dir", "DAVCONTACTS_DATABASE_URL": "storage.database_url",
})


class ConfigError(Exception):
    """An invalid configuration; the message names the offending key or file."""


def _between(lo: int, hi: int | None = None) -> Callable[[Any], None]:
    """A validator accepting integers in [lo, hi] (no upper bound when hi is None)."""
    expect = f"an integer from {lo} to {hi}" if hi is not None else f"an integer >= {lo}"

    def check(value: int) -> None:
        if value < lo or (hi is not None and value > hi):
            raise ValueError(f"expected {expect}")

    return check


def _power_of_two(value: int) -> None:
    """scrypt's N must be a power of two; below 1024 it protects nothing."""
    if value < 1024 or value & (value - 1):
        raise ValueError("expected a power of two >= 1024")


def _database_url(value: str) -> None:
    """Only the backends the model layer can bind (SQLite, PostgreSQL)."""
    if value and not value.startswith(("sqlite://", "postgresql://", "postgres://")):
        raise ValueError("expected empty or a sqlite://, postgresql:// or postgres:// URL")


def _networks(value: tuple[str, ...]) -> None:
    """Each entry an IP address or network (10.0.0.0/8, fd00::/8)."""
    for entry in value:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"expected IP addresses or networks, {entry!r} is neither") from None


def _existing_file(value: str) -> None:
    """TLS files are checked at load time so a typo fails before the server starts."""
    if value and not os.path.isfile(value):
        raise ValueError("file not found")


@dataclass(frozen=True)
class Option:
    """One schema entry: where it lives, its type, default and help text."""

    section: str
    key: str
    type: type
    default: object
    help: str
    validator: Callable[[Any], None] | None = None
    choices: tuple[object, ...] | None = None
    # "size": bytes, also written "16MiB"; "path": ~ expanded and made absolute.
    # A `tuple` type is a list of strings: a TOML array, or comma-separated from the
    # environment and the command line.
    kind: str = ""

    @property
    def name(self) -> str:
        """The dotted name, e.g. "server.port"."""
        return f"{self.section}.{self.key}"

    @property
    def env_var(self) -> str:
        """The environment variable, e.g. DAVCONTACTS_SERVER_PORT."""
        return f"{ENV_PREFIX}{self.section}_{self.key}".upper()


_MiB = 1024 * 1024

SCHEMA: tuple[Option, ...] = (
    Option("server", "host", str, "127.0.0.1",
           "Address to listen on; 0.0.0.0 or :: for all interfaces."),
    Option("server", "port", int, 8008, "TCP port to listen on.", _between(1, 65535)),
    Option("server", "threads", int, 16, "Worker threads per process.", _between(1)),
    Option("server", "workers", int, 1, "Server processes.", _between(1)),
    Option("server", "tls_cert", str, "",
           "PEM certificate file; set together with tls_key to serve HTTPS, leave both empty "
           "for plain HTTP (e.g. behind a reverse proxy).", _existing_file, kind="path"),
    Option("server", "tls_key", str, "",
           "PEM private key file matching tls_cert.", _existing_file, kind="path"),
    Option("server", "max_request_body", int, 16 * _MiB,
           'Largest request body accepted, in bytes (suffixes k, M, G allowed, e.g. "16MiB").',
           _between(1), kind="size"),
    Option("server", "timeout", int, 30, "Socket timeout in seconds.", _between(1)),
    Option("server", "access_log", bool, True, "Log one line per request."),
    Option("server", "trusted_proxies", tuple, (),
           "Addresses or networks (e.g. \"10.0.0.0/8\") of reverse proxies whose "
           "X-Forwarded-For header names the client; login throttling then counts the "
           "client's address instead of the proxy's. Empty trusts no header. Set it when "
           "the server runs behind a proxy, or every client shares the proxy's address.",
           _networks),
    Option("storage", "data_dir", str, "",
           "Directory for the database and other state; empty means "
           "$XDG_DATA_HOME/davcontacts or ~/.local/share/davcontacts.", kind="path"),
    Option("storage", "database_url", str, "",
           "Database URL (sqlite:// or postgresql://); empty means a SQLite file "
           "davcontacts.sqlite3 in data_dir.", _database_url),
    Option("dav", "realm", str, "davcontacts", "HTTP Basic authentication realm."),
    Option("dav", "max_resource_size", int, _MiB,
           "Largest vCard accepted, in bytes; advertised as CARDDAV:max-resource-size "
           "(RFC 6352 §6.2.3).", _between(1), kind="size"),
    Option("dav", "max_photo_size", int, 512 * 1024,
           "Largest inline PHOTO accepted in a vCard, in decoded bytes; a card with a "
           "larger one is refused with max-resource-size.", _between(1), kind="size"),
    Option("dav", "default_vcard_version", str, "stored",
           "vCard version served when a client asks for none: 'stored' serves each card "
           "as its client wrote it (Apple clients, which reject 4.0, still get 3.0); "
           "'3.0' or '4.0' converts every card that is stored in the other version.",
           choices=("stored", "3.0", "4.0")),
    Option("auth", "credential_cache_seconds", int, 300,
           "Seconds a verified password stays cached, sparing the scrypt cost on every "
           "request; 0 disables the cache.", _between(0)),
    Option("auth", "scrypt_n", int, 16384,
           "scrypt cost parameter N for new password hashes (a power of two >= 1024).",
           _power_of_two),
    Option("auth", "throttle", bool, True,
           "Throttle failed logins per client address and per user name; a throttled "
           "login is answered 429 Too Many Requests with Retry-After, without a password "
           "check."),
    Option("auth", "throttle_window_seconds", int, 300,
           "Failed logins are counted over this many seconds; the first lockout lasts as "
           "long, each further one in a row twice as long, up to "
           "throttle_lockout_cap_seconds.", _between(1)),
    Option("auth", "throttle_address_failures", int, 10,
           "Failed logins from one client address within the window before that address "
           "is locked out, for every user and even with the right password.", _between(1)),
    Option("auth", "throttle_user_failures", int, 30,
           "Failed logins for one user name (from any address) within the window before "
           "its password is refused to addresses that failed recently; addresses without "
           "failures, app passwords and credentials verified shortly before still get in.",
           _between(1)),
    Option("auth", "throttle_lockout_cap_seconds", int, 3600,
           "The longest a lockout lasts; every lockout ends by itself.", _between(1)),
    Option("logging", "level", str, "info", "Log level.",
           choices=("debug", "info", "warning", "error")),
    Option("logging", "file", str, "", "Log file; empty means standard error.", kind="path"),
)

_OPTIONS: Mapping[str, Option] = MappingProxyType({opt.name: opt for opt in SCHEMA})
_SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(opt.section for opt in SCHEMA))


@dataclass(frozen=True)
class ServerConfig:
    host: str
    port: int
    threads: int
    workers: int
    tls_cert: str
    tls_key: str
    max_request_body: int
    timeout: int
    access_log: bool
    trusted_proxies: tuple[str, ...]


@dataclass(frozen=True)
class StorageConfig:
    data_dir: str
    database_url: str


@dataclass(frozen=True)
class DavConfig:
    realm: str
    max_resource_size: int
    max_photo_size: int
    default_vcard_version: str


@dataclass(frozen=True)
class AuthConfig:
    credential_cache_seconds: int
    scrypt_n: int
    throttle: bool
    throttle_window_seconds: int
    throttle_address_failures: int
    throttle_user_failures: int
    throttle_lockout_cap_seconds: int


@dataclass(frozen=True)
class LoggingConfig:
    level: str
    file: str


_SECTION_CLASSES: Mapping[str, type] = MappingProxyType({
    "server": ServerConfig, "storage": StorageConfig, "dav": DavConfig,
    "auth": AuthConfig, "logging": LoggingConfig,
})


@dataclass(frozen=True)
class Config:
    """The validated configuration, one typed dataclass per section."""

    server: ServerConfig
    storage: StorageConfig
    dav: DavConfig
    auth: AuthConfig
    logging: LoggingConfig
    # Values before derivation (database_url may still be ""), so replace() re-derives.
    _values: Mapping[str, object] = field(repr=False, compare=False, default_factory=dict)

    def get(self, name: str) -> object:
        """The value of a dotted key such as "server.port"."""
        section, _, key = name.partition(".")
        return getattr(getattr(self, section), key)

    def as_dict(self) -> dict[str, object]:
        """Every effective value by dotted key, in schema order."""
        return {opt.name: self.get(opt.name) for opt in SCHEMA}

    def replace(self, changes: Mapping[str, object] | None = None, /, **kwargs: object) -> Config:
        """A new validated Config: replace({"server.port": 9000}) or replace(server_port=9000).

        None values are ignored, as in load_config's overrides.
        """
        named = {k.replace("_", ".", 1): v for k, v in kwargs.items()}
        values = {**self._values, **_from_overrides({**(changes or {}), **named})}
        return _build(values, os.environ)


def _unknown(name: str, candidates: list[str], what: str = "key", origin: str = "") -> ConfigError:
    """An error for a name not in the schema, suggesting the closest known one."""
    close = difflib.get_close_matches(name, candidates, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(f"unknown {what} '{name}'{hint}{origin}")


_BOOLS = {"1": True, "true": True, "yes": True, "on": True,
          "0": False, "false": False, "no": False, "off": False}
_SIZE = re.compile(r"\s*(\d+)\s*(?:([kmg])(?:i?b)?|b)?\s*", re.IGNORECASE)
_WORDS = {int: "an integer", bool: "a boolean", float: "a number", str: "a string",
          tuple: "a list of strings"}
_UNITS = {None: 1, "k": 1024, "m": _MiB, "g": 1024 * _MiB}


def _parse_size(text: str) -> int:
    """Bytes from "1048576", "512k", "1M" or "16MiB" (units are binary: 1k = 1024)."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise ValueError("expected a size in bytes such as 1048576, \"512k\" or \"16MiB\"")
    unit = match.group(2).lower() if match.group(2) else None
    return int(match.group(1)) * _UNITS[unit]


def _coerce(opt: Option, raw: object, parse_strings: bool) -> object:
    """Check raw against opt's type; strings are parsed when they come from env or CLI."""
    if opt.type is tuple:
        if isinstance(raw, str) and parse_strings:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if isinstance(raw, (list, tuple)) and all(isinstance(item, str) for item in raw):
            return tuple(raw)
        raise ValueError(f"expected {_WORDS[tuple]}")
    if isinstance(raw, str) and opt.type is not str and (parse_strings or opt.kind == "size"):
        text = raw.strip()
        if opt.kind == "size":
            return _parse_size(text)
        if opt.type is bool:
            if text.lower() in _BOOLS:
                return _BOOLS[text.lower()]
            raise ValueError("expected a boolean (true/false, yes/no, on/off, 1/0)")
        try:
            return opt.type(text)
        except ValueError:
            raise ValueError(f"expected {_WORDS[opt.type]}") from None
    if opt.type is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if not isinstance(raw, opt.type) or (opt.type is int and isinstance(raw, bool)):
        expected = "a size in bytes" if opt.kind == "size" else _WORDS[opt.type]
        raise ValueError(f"expected {expected}")
    if opt.kind == "path" and raw:
        return os.path.abspath(os.path.expanduser(str(raw)))
    return raw


def _redact(raw: object) -> object:
    """Hide a password in a URL before it goes into an error message (and so into logs)."""
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", raw) if isinstance(raw, str) else raw


def _convert(opt: Option, raw: object, origin: str = "", parse_strings: bool = True) -> object:
    """Coerce and validate one value; a failure names the key and where it came from."""
    try:
        value = _coerce(opt, raw, parse_strings)
        if opt.choices is not None:
            value = value.lower() if isinstance(value, str) else value
            if value not in opt.choices:
                raise ValueError("expected one of " + ", ".join(repr(c) for c in opt.choices))
        if opt.validator is not None:
            opt.validator(value)
    except ValueError as exc:
        raise ConfigError(f"{opt.name}: {exc}, got {_redact(raw)!r}{origin}") from None
    return value


def _from_file(path: str) -> dict[str, object]:
    """Values from a TOML file of [section] tables."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:  # missing, unreadable, a directory…
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    origin = f" (in {path})"
    values: dict[str, object] = {}
    for section, table in data.items():
        if section not in _SECTIONS:
            raise _unknown(section, list(_SECTIONS), "section", origin)
        if not isinstance(table, dict):
            raise ConfigError(f"{section}: expected a [{section}] table, got {table!r}{origin}")
        for key, raw in table.items():
            name = f"{section}.{key}"
            if name not in _OPTIONS:
                raise _unknown(name, list(_OPTIONS), "key", origin)
            values[name] = _convert(_OPTIONS[name], raw, origin, parse_strings=False)
    return values


def _from_env(env: Mapping[str, str]) -> dict[str, object]:
    """Values from DAVCONTACTS_<SECTION>_<KEY> and the short aliases; other vars are ignored."""
    values: dict[str, object] = {}
    for var, name in ENV_ALIASES.items():
        if var in env:
            values[name] = _convert(_OPTIONS[name], env[var], f" (from environment variable {var})")
    for opt in SCHEMA:
        if opt.env_var in env:
            origin = f" (from environment variable {opt.env_var})"
            values[opt.name] = _convert(opt, env[opt.env_var], origin)
    return values


def _from_overrides(overrides: Mapping[str, object]) -> dict[str, object]:
    """Values given by dotted name (e.g. from the CLI); None means "not given"."""
    values: dict[str, object] = {}
    for name, raw in overrides.items():
        if name not in _OPTIONS:
            raise _unknown(name, list(_OPTIONS))
        if raw is not None:
            values[name] = _convert(_OPTIONS[name], raw)
    return values


def _default_data_dir(env: Mapping[str, str]) -> str:
    """$XDG_DATA_HOME/davcontacts, else ~/.local/share/davcontacts (XDG spec: ignore relative)."""
    xdg = env.get("XDG_DATA_HOME", "")
    if not os.path.isabs(xdg):
        xdg = os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local", "share")
    return os.path.join(xdg, "davcontacts")


def _build(values: dict[str, object], env: Mapping[str, str]) -> Config:
    """Fill derived values, check rules spanning keys, and assemble the Config."""
    if not values["storage.data_dir"]:
        values["storage.data_dir"] = _default_data_dir(env)
    if bool(values["server.tls_cert"]) != bool(values["server.tls_key"]):
        raise ConfigError("server.tls_cert, server.tls_key: set both to serve HTTPS, or neither")
    effective = dict(values)
    if not effective["storage.database_url"]:
        data_dir = values["storage.data_dir"]
        effective["storage.database_url"] = f"sqlite:///{data_dir}/davcontacts.sqlite3"
    sections = {
        section: cls(**{opt.key: effective[opt.name] for opt in SCHEMA if opt.section == section})
        for section, cls in _SECTION_CLASSES.items()
    }
    return Config(**sections, _values=MappingProxyType(values))


def load_config(path: str | None = None, *, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, object] | None = None) -> Config:
    """Build the Config from defaults < TOML file < environment < overrides.

    The file is `path`, else $DAVCONTACTS_CONFIG, else none. `env` defaults to os.environ.
    """
    env = os.environ if env is None else env
    values: dict[str, object] = {opt.name: opt.default for opt in SCHEMA}
    path = path if path is not None else env.get(CONFIG_ENV) or None
    if path is not None:
        values.update(_from_file(path))
    values.update(_from_env(env))
    values.update(_from_overrides(overrides or {}))
    return _build(values, env)


def _toml_value(opt: Option, value: object) -> str:
    """A TOML literal for value; whole MiB sizes are written "16MiB" for readability."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if opt.kind == "size" and isinstance(value, int) and value % _MiB == 0:
        return f'"{value // _MiB}MiB"'
    return json.dumps(value) if isinstance(value, str) else str(value)


def describe_schema(*, commented: bool = True) -> str:
    """The schema as TOML: a [section] per section, `# help` lines, then `# key = default`."""
    lines: list[str] = []
    for section in _SECTIONS:
        lines += ["", f"[{section}]"] if lines else [f"[{section}]"]
        for opt in (o for o in SCHEMA if o.section == section):
            lines += [""] + textwrap.wrap(opt.help, 76, initial_indent="# ", subsequent_indent="# ")
            if opt.choices:
                lines.append("# One of: " + ", ".join(json.dumps(c) for c in opt.choices))
            lines.append(f"{'# ' if commented else ''}{opt.key} = {_toml_value(opt, opt.default)}")
    return "\n".join(lines) + "\n"
