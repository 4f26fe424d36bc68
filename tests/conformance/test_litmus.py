"""litmus (groups basic, copymove, props, locks, http) against the real server, through
litmus/run --check: every test recorded as pass in litmus/expected.txt must still pass.

Runs on SQLite, and on PostgreSQL (a private schema) when DAVCONTACTS_TEST_PG is set.
A missing litmus is a failure, not a skip: CI installs it and must not pass silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import PG_ENV, REPO, _pg_drop, _pg_schema_url

RUN = REPO / "litmus" / "run"
TIMEOUT = 900


def run_litmus(database_url: str | None, results) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("DAVCONTACTS_DATABASE_URL", None)  # the SQLite variant must not inherit one
    cmd = [sys.executable, str(RUN), "--check", "--results", str(results)]
    if database_url:
        cmd += ["--database-url", database_url]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=TIMEOUT)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_litmus_has_no_regressions(backend, tmp_path):
    if shutil.which("litmus") is None:
        pytest.fail("litmus is not installed (apt-get install litmus): the WebDAV "
                    "conformance suite cannot run")
    schema = None
    database_url = None
    if backend == "postgresql":
        base = os.environ.get(PG_ENV)
        if not base:
            pytest.skip(f"{PG_ENV} is not set: PostgreSQL variant not run")
        database_url, schema = _pg_schema_url(base)
    try:
        proc = run_litmus(database_url, tmp_path / "results.txt")
    finally:
        if schema:
            _pg_drop(os.environ[PG_ENV], schema)
    print(proc.stdout)
    print(proc.stderr, file=sys.stderr)
    status = proc.returncode
    assert status == 0, (
        f"litmus/run --check failed on {backend} (exit {status}):\n"
        + failure_report(proc))


def failure_report(proc: subprocess.CompletedProcess) -> str:
    """The regressions litmus/run listed (or its error), and where it kept the logs."""
    out = proc.stdout
    start = out.find("REGRESSIONS")
    report = out[start:] if start >= 0 else out
    kept = [line for line in proc.stderr.splitlines() if line.startswith("litmus/run:")]
    return report + "\n" + "\n".join(kept)
