"""Tests for davcontacts.config: precedence, parsing, validation and the example file.

Every test passes its own `env` mapping, so the developer's environment never leaks in.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from davcontacts.config import (
    SCHEMA,
    Config,
    ConfigError,
    describe_schema,
    load_config,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "conf" / "davcontacts.toml"


def write(tmp_path: Path, text: str) -> str:
    """Write a TOML file into tmp_path and return its path."""
    path = tmp_path / "davcontacts.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def error_of(*args: object, **kwargs: object) -> str:
    """The message of the ConfigError that load_config raises for these arguments."""
    kwargs.setdefault("env", {})
    with pytest.raises(ConfigError) as info:
        load_config(*args, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


# Defaults and derived values ------------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    """With no file, env or overrides every key has its documented default."""
    cfg = load_config(env={"HOME": str(tmp_path)})
    assert (cfg.server.host, cfg.server.port) == ("127.0.0.1", 8008)
    assert (cfg.server.threads, cfg.server.workers, cfg.server.timeout) == (16, 1, 30)
    assert (cfg.server.tls_cert, cfg.server.tls_key) == ("", "")
    assert cfg.server.max_request_body == 16 * 1024 * 1024
    assert cfg.server.access_log is True
    assert cfg.storage.data_dir == str(tmp_path / ".local" / "share" / "davcontacts")
    assert cfg.dav.realm == "davcontacts"
    assert cfg.dav.max_resource_size == 1048576
    assert cfg.dav.default_vcard_version == "stored"
    assert (cfg.auth.credential_cache_seconds, cfg.auth.scrypt_n) == (300, 16384)
    assert (cfg.logging.level, cfg.logging.file) == ("info", "")


def test_schema_defaults_are_the_loaded_defaults(tmp_path: Path) -> None:
    """SCHEMA's defaults pass validation and are what load_config returns."""
    cfg = load_config(env={"HOME": str(tmp_path)})
    for opt in SCHEMA:
        if opt.name not in ("storage.data_dir", "storage.database_url"):
            assert cfg.get(opt.name) == opt.default, opt.name


def test_section_dataclasses_match_schema(tmp_path: Path) -> None:
    """Each section dataclass has exactly the schema's keys, in schema order."""
    cfg = load_config(env={"HOME": str(tmp_path)})
    for section in dict.fromkeys(opt.section for opt in SCHEMA):
        fields = [f.name for f in dataclasses.fields(getattr(cfg, section))]
        assert fields == [opt.key for opt in SCHEMA if opt.section == section]
    assert list(cfg.as_dict()) == [opt.name for opt in SCHEMA]


def test_data_dir_from_xdg_data_home(tmp_path: Path) -> None:
    """$XDG_DATA_HOME is used when absolute and ignored when relative (XDG spec)."""
    env = {"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert load_config(env=env).storage.data_dir == str(tmp_path / "xdg" / "davcontacts")
    env["XDG_DATA_HOME"] = "relative/dir"
    expected = str(tmp_path / "home" / ".local" / "share" / "davcontacts")
    assert load_config(env=env).storage.data_dir == expected


def test_data_dir_is_absolute_and_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A configured data_dir has ~ expanded and is made absolute."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    cfg = load_config(env={"DAVCONTACTS_DATA_DIR": "~/contacts"})
    assert cfg.storage.data_dir == str(tmp_path / "contacts")
    cfg = load_config(env={"DAVCONTACTS_DATA_DIR": "rel"})
    assert cfg.storage.data_dir == str(tmp_path / "rel")


def test_database_url_derived_from_data_dir(tmp_path: Path) -> None:
    """An empty database_url means a SQLite file in data_dir; a set one is kept."""
    cfg = load_config(overrides={"storage.data_dir": str(tmp_path)}, env={})
    assert cfg.storage.database_url == f"sqlite:///{tmp_path}/davcontacts.sqlite3"
    url = "postgresql://dav@localhost/dav"
    cfg = load_config(overrides={"storage.database_url": url}, env={})
    assert cfg.storage.database_url == url


# Precedence ------------------------------------------------------------------------------


def test_file_overrides_defaults(tmp_path: Path) -> None:
    """Keys in the TOML file replace the defaults; others keep theirs."""
    path = write(tmp_path, '[server]\nport = 9000\nhost = "0.0.0.0"\n[logging]\nlevel = "debug"\n')
    cfg = load_config(path, env={})
    assert (cfg.server.host, cfg.server.port, cfg.logging.level) == ("0.0.0.0", 9000, "debug")
    assert cfg.server.threads == 16


def test_env_overrides_file(tmp_path: Path) -> None:
    """DAVCONTACTS_<SECTION>_<KEY> wins over the file."""
    path = write(tmp_path, "[server]\nport = 9000\nthreads = 4\n")
    cfg = load_config(path, env={"DAVCONTACTS_SERVER_PORT": "9001"})
    assert (cfg.server.port, cfg.server.threads) == (9001, 4)


def test_overrides_override_env(tmp_path: Path) -> None:
    """Overrides (the CLI) win over the environment; None means "not given"."""
    path = write(tmp_path, "[server]\nport = 9000\n")
    env = {"DAVCONTACTS_SERVER_PORT": "9001", "DAVCONTACTS_HOST": "10.0.0.1"}
    cfg = load_config(path, env=env, overrides={"server.port": 9002, "server.host": None})
    assert (cfg.server.port, cfg.server.host) == (9002, "10.0.0.1")


def test_overrides_accept_strings_from_the_cli() -> None:
    """Override values given as strings are parsed like environment values."""
    cfg = load_config(env={}, overrides={"server.port": "9003", "server.access_log": "no"})
    assert (cfg.server.port, cfg.server.access_log) == (9003, False)


def test_config_file_from_env(tmp_path: Path) -> None:
    """$DAVCONTACTS_CONFIG names the file when no path is passed; a path argument wins."""
    from_env = write(tmp_path, "[server]\nport = 9000\n")
    other = tmp_path / "other.toml"
    other.write_text("[server]\nport = 9100\n")
    env = {"DAVCONTACTS_CONFIG": from_env}
    assert load_config(env=env).server.port == 9000
    assert load_config(str(other), env=env).server.port == 9100


def test_every_key_settable_from_env(tmp_path: Path) -> None:
    """Each schema key has a DAVCONTACTS_<SECTION>_<KEY> variable."""
    names = [opt.env_var for opt in SCHEMA]
    assert names[:2] == ["DAVCONTACTS_SERVER_HOST", "DAVCONTACTS_SERVER_PORT"]
    env = {
        "DAVCONTACTS_DAV_MAX_RESOURCE_SIZE": "2048",
        "DAVCONTACTS_DAV_DEFAULT_VCARD_VERSION": "4.0",
        "DAVCONTACTS_AUTH_SCRYPT_N": "1024",
        "DAVCONTACTS_LOGGING_LEVEL": "WARNING",
        "DAVCONTACTS_STORAGE_DATA_DIR": str(tmp_path),
    }
    cfg = load_config(env=env)
    assert cfg.dav.max_resource_size == 2048
    assert cfg.dav.default_vcard_version == "4.0"
    assert cfg.auth.scrypt_n == 1024
    assert cfg.logging.level == "warning"
    assert cfg.storage.data_dir == str(tmp_path)


def test_env_aliases_and_long_form_wins(tmp_path: Path) -> None:
    """Short aliases work; when both forms are set the long form wins."""
    env = {"DAVCONTACTS_HOST": "::", "DAVCONTACTS_PORT": "1234",
           "DAVCONTACTS_DATA_DIR": str(tmp_path), "DAVCONTACTS_DATABASE_URL": "sqlite:///x.db"}
    cfg = load_config(env=env)
    assert (cfg.server.host, cfg.server.port) == ("::", 1234)
    assert (cfg.storage.data_dir, cfg.storage.database_url) == (str(tmp_path), "sqlite:///x.db")
    env["DAVCONTACTS_SERVER_PORT"] = "4321"
    assert load_config(env=env).server.port == 4321


def test_unknown_davcontacts_env_vars_are_ignored(tmp_path: Path) -> None:
    """Other DAVCONTACTS_ variables (password, test switches, typos) are not errors."""
    env = {"DAVCONTACTS_PASSWORD": "secret", "DAVCONTACTS_TEST_PG": "postgresql://x/y",
           "DAVCONTACTS_SERVER_PROT": "abc", "DAVCONTACTS_CONFIG": "", "HOME": str(tmp_path)}
    assert load_config(env=env).server.port == 8008


# Parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("1048576", 1048576), ("512k", 512 * 1024), ("512K", 512 * 1024), ("512KiB", 512 * 1024),
    ("1M", 1048576), ("1MB", 1048576), ("16MiB", 16 * 1048576), ("2 MiB", 2 * 1048576),
    ("1G", 1024 ** 3), ("100B", 100),
])
def test_size_suffixes(text: str, expected: int, tmp_path: Path) -> None:
    """Byte sizes accept k/M/G suffixes, from env, TOML strings and overrides."""
    from_env = load_config(env={"DAVCONTACTS_SERVER_MAX_REQUEST_BODY": text})
    assert from_env.server.max_request_body == expected
    path = write(tmp_path, f'[dav]\nmax_resource_size = "{text}"\n')
    assert load_config(path, env={}).dav.max_resource_size == expected
    from_cli = load_config(env={}, overrides={"dav.max_resource_size": text})
    assert from_cli.dav.max_resource_size == expected


@pytest.mark.parametrize("text", ["", "abc", "1.5M", "12 parsecs", "-1k", "M"])
def test_bad_size_names_key(text: str) -> None:
    """A malformed size names the env var and the key."""
    msg = error_of(env={"DAVCONTACTS_DAV_MAX_RESOURCE_SIZE": text})
    assert "dav.max_resource_size" in msg and "DAVCONTACTS_DAV_MAX_RESOURCE_SIZE" in msg


def test_size_as_toml_integer(tmp_path: Path) -> None:
    """Sizes may also be plain TOML integers."""
    path = write(tmp_path, "[server]\nmax_request_body = 4096\n")
    assert load_config(path, env={}).server.max_request_body == 4096


@pytest.mark.parametrize(("text", "expected"), [
    ("1", True), ("true", True), ("TRUE", True), ("yes", True), ("On", True), (" on ", True),
    ("0", False), ("false", False), ("False", False), ("no", False), ("OFF", False),
])
def test_bool_parsing(text: str, expected: bool) -> None:
    """Booleans from the environment accept the usual spellings, case-insensitively."""
    assert load_config(env={"DAVCONTACTS_SERVER_ACCESS_LOG": text}).server.access_log is expected


@pytest.mark.parametrize("text", ["", "maybe", "2", "y e s"])
def test_bad_bool_names_var_and_key(text: str) -> None:
    """An unparseable boolean names both the variable and the key."""
    msg = error_of(env={"DAVCONTACTS_SERVER_ACCESS_LOG": text})
    assert "server.access_log" in msg and "DAVCONTACTS_SERVER_ACCESS_LOG" in msg


@pytest.mark.parametrize(("var", "key"), [
    ("DAVCONTACTS_SERVER_PORT", "server.port"),
    ("DAVCONTACTS_PORT", "server.port"),
    ("DAVCONTACTS_SERVER_THREADS", "server.threads"),
    ("DAVCONTACTS_AUTH_CREDENTIAL_CACHE_SECONDS", "auth.credential_cache_seconds"),
])
def test_bad_int_from_env_names_var_and_key(var: str, key: str) -> None:
    """A non-integer from the environment names the variable and the key."""
    msg = error_of(env={var: "abc"})
    assert key in msg and var in msg and "'abc'" in msg


# File errors -----------------------------------------------------------------------------


def test_missing_file_names_it(tmp_path: Path) -> None:
    """A given but missing file is an error naming the file."""
    missing = str(tmp_path / "nope.toml")
    assert missing in error_of(missing)
    assert missing in error_of(env={"DAVCONTACTS_CONFIG": missing})


def test_toml_syntax_error_names_file(tmp_path: Path) -> None:
    """A TOML syntax error names the file and carries the parser's message."""
    path = write(tmp_path, "[server\nport = 1\n")
    msg = error_of(path)
    assert path in msg and "line 1" in msg


def test_unknown_key_suggests_close_match(tmp_path: Path) -> None:
    """An unknown key is named, with a close match suggested."""
    msg = error_of(write(tmp_path, "[server]\nprot = 1\n"))
    assert "unknown key 'server.prot'" in msg and "server.port" in msg


def test_unknown_section_is_named(tmp_path: Path) -> None:
    """An unknown section is named, with a close match suggested."""
    msg = error_of(write(tmp_path, "[sever]\nport = 1\n"))
    assert "unknown section 'sever'" in msg and "'server'" in msg
    assert "'port'" in error_of(write(tmp_path, "port = 1\n"))


def test_section_must_be_a_table(tmp_path: Path) -> None:
    """A known section name used as a plain value is an error naming it."""
    assert "server" in error_of(write(tmp_path, "server = 1\n"))


@pytest.mark.parametrize(("text", "key"), [
    ('[server]\nport = "abc"\n', "server.port"),
    ('[server]\nport = "8008"\n', "server.port"),
    ("[server]\nport = true\n", "server.port"),
    ('[server]\naccess_log = "yes"\n', "server.access_log"),
    ("[server]\nhost = 1\n", "server.host"),
    ("[dav]\nmax_resource_size = 1.5\n", "dav.max_resource_size"),
    ("[dav]\ndefault_vcard_version = 4.0\n", "dav.default_vcard_version"),
])
def test_wrong_type_in_file_names_key(tmp_path: Path, text: str, key: str) -> None:
    """TOML values must have the key's type (sizes may be strings); errors name key and file."""
    path = write(tmp_path, text)
    msg = error_of(path)
    assert msg.startswith(key + ":") and path in msg


# Validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), [
    ("server.port", 0), ("server.port", 65536), ("server.threads", 0), ("server.workers", 0),
    ("server.timeout", 0), ("server.max_request_body", 0), ("dav.max_resource_size", "0k"),
    ("auth.credential_cache_seconds", -1),
    ("dav.default_vcard_version", "2.1"), ("auth.scrypt_n", 512), ("auth.scrypt_n", 3000),
    ("logging.level", "verbose"), ("storage.database_url", "mysql://localhost/dav"),
])
def test_invalid_values_name_key(key: str, value: object) -> None:
    """Each validation rule rejects bad values with a message starting with the key."""
    assert error_of(overrides={key: value}).startswith(key + ": expected")


def test_port_message() -> None:
    """The port message says what is expected and what was given."""
    assert error_of(overrides={"server.port": 70000}) == (
        "server.port: expected an integer from 1 to 65535, got 70000")


def test_validation_applies_to_file_and_env(tmp_path: Path) -> None:
    """The same rules hold whatever the source, and the source is named."""
    path = write(tmp_path, "[auth]\nscrypt_n = 1000\n")
    assert error_of(path).startswith("auth.scrypt_n:")
    msg = error_of(env={"DAVCONTACTS_LOGGING_LEVEL": "loud"})
    assert "logging.level" in msg and "DAVCONTACTS_LOGGING_LEVEL" in msg


def test_valid_edge_values() -> None:
    """The boundaries themselves are accepted."""
    cfg = load_config(env={}, overrides={
        "server.port": 65535, "auth.scrypt_n": 1024, "auth.credential_cache_seconds": 0,
        "storage.database_url": "postgres://u@h/d", "logging.level": "error",
    })
    assert (cfg.server.port, cfg.auth.scrypt_n) == (65535, 1024)
    assert cfg.auth.credential_cache_seconds == 0


def test_tls_cert_and_key_go_together(tmp_path: Path) -> None:
    """Only one of tls_cert / tls_key set is an error naming both."""
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    msg = error_of(overrides={"server.tls_cert": str(cert)})
    assert "server.tls_cert" in msg and "server.tls_key" in msg


def test_tls_files_must_exist(tmp_path: Path) -> None:
    """A TLS file that does not exist is an error naming the key; existing files load."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x")
    msg = error_of(overrides={"server.tls_cert": str(cert), "server.tls_key": str(key)})
    assert msg.startswith("server.tls_key:") and "not found" in msg
    key.write_text("x")
    cfg = load_config(env={}, overrides={"server.tls_cert": str(cert), "server.tls_key": str(key)})
    assert (cfg.server.tls_cert, cfg.server.tls_key) == (str(cert), str(key))


def test_unknown_override_key() -> None:
    """Overrides must name schema keys."""
    assert "unknown key 'server.prot'" in error_of(overrides={"server.prot": 1})


def test_password_in_database_url_not_echoed() -> None:
    """An invalid URL's password does not end up in the error message (and so the logs)."""
    msg = error_of(env={"DAVCONTACTS_DATABASE_URL": "mysql://dav:hunter2@db/dav"})
    assert "storage.database_url" in msg and "hunter2" not in msg


# replace() -------------------------------------------------------------------------------


def test_replace_returns_new_validated_config(tmp_path: Path) -> None:
    """replace() takes keyword or dotted-dict changes, validates, and re-derives."""
    cfg = load_config(env={}, overrides={"storage.data_dir": str(tmp_path / "a")})
    new = cfg.replace(server_port=9000, storage_data_dir=str(tmp_path / "b"))
    assert isinstance(new, Config) and new.server.port == 9000 and cfg.server.port == 8008
    assert new.storage.database_url == f"sqlite:///{tmp_path / 'b'}/davcontacts.sqlite3"
    assert cfg.replace({"dav.max_resource_size": "2MiB"}).dav.max_resource_size == 2 * 1048576
    with pytest.raises(ConfigError, match="server.port"):
        cfg.replace(server_port=0)
    with pytest.raises(ConfigError, match="unknown key"):
        cfg.replace(server_prot=1)


def test_config_is_frozen(tmp_path: Path) -> None:
    """The config object cannot be mutated in place."""
    cfg = load_config(env={"HOME": str(tmp_path)})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.server.port = 1  # type: ignore[misc]


# Schema rendering and the example file --------------------------------------------------


def test_describe_schema_comments_every_key() -> None:
    """describe_schema() has every section and key commented out, so it parses to nothing."""
    text = describe_schema()
    assert tomllib.loads(text) == {opt.section: {} for opt in SCHEMA}
    for opt in SCHEMA:
        assert f"# {opt.key} = " in text


def test_describe_schema_uncommented_loads_the_defaults(tmp_path: Path) -> None:
    """The uncommented rendering is a valid file equal to the defaults."""
    path = write(tmp_path, describe_schema(commented=False))
    env = {"HOME": str(tmp_path)}
    assert load_config(path, env=env) == load_config(env=env)


def test_example_file_has_exactly_the_schema_keys() -> None:
    """conf/davcontacts.toml sets every SCHEMA key and nothing else."""
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    keys = {f"{section}.{key}" for section, table in data.items() for key in table}
    assert keys == {opt.name for opt in SCHEMA}


def test_example_file_help_matches_schema() -> None:
    """Each key in the example carries the schema's help text, so the two cannot drift."""
    text = EXAMPLE.read_text(encoding="utf-8")
    schema_text = describe_schema(commented=False)
    for opt in SCHEMA:
        block = schema_text.split(f"\n{opt.key} = ")[0].rsplit("\n\n", 1)[1]
        assert block + f"\n{opt.key} = " in text, opt.name


def test_example_file_loads_with_defaults() -> None:
    """The example loads cleanly and, apart from data_dir, equals the defaults."""
    cfg = load_config(str(EXAMPLE), env={})
    assert cfg.storage.data_dir == "/var/lib/davcontacts"
    defaults = load_config(env={}, overrides={"storage.data_dir": "/var/lib/davcontacts"})
    assert cfg == defaults
