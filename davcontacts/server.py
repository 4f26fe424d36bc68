"""Serving with cheroot: threaded, keep-alive, optional TLS, and `workers` forked
processes sharing the port through SO_REUSEPORT (all state lives in the database)."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import platform
import resource
import signal
import sys
import threading

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from .app import make_app
from .config import Config
from .http import Server
from .model import User, open_database
from .model.db import close_connections

log = logging.getLogger(__name__)
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def build_server(config: Config, *, reuse_port: bool = False) -> Server:
    server = Server((config.server.host, config.server.port), make_app(config),
                    numthreads=config.server.threads, timeout=config.server.timeout,
                    server_name="davcontacts", reuse_port=reuse_port)
    server.max_request_body_size = config.server.max_request_body
    server.max_request_header_size = 64 * 1024
    server.keep_alive_conn_limit = keep_alive_limit()
    server.error_log = _cheroot_log
    if config.server.tls_cert:
        server.ssl_adapter = BuiltinSSLAdapter(config.server.tls_cert, config.server.tls_key)
    return server


def keep_alive_limit() -> int:
    """Idle keep-alive connections one process holds open. cheroot's default, 10,
    answers every request of an eleventh concurrent client with Connection: close;
    an idle connection costs a file descriptor (no thread), so allow half of them."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 10000
    return max(10, min(10000, soft // 2))


def _cheroot_log(msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
    """cheroot's error log (bind failures, errors, shutdown) into ours, not raw stderr."""
    logging.getLogger("cheroot").log(level, msg, exc_info=traceback)


def first_start_hint(config: Config) -> str | None:
    """What to do when no super admin exists yet (there is never a default password)."""
    if User.select().where(User.role == "superadmin").exists():
        return None
    args = f"--data-dir {config.storage.data_dir}" if config.storage.database_url.startswith(
        "sqlite") else ""
    return ("No super admin exists yet. Create one with:\n"
            f"    davcontacts user add ADMIN --role superadmin {args}".rstrip())


def serve(config: Config) -> int:
    _limit_malloc_arenas()
    db = open_database(config.storage.database_url)
    with db.connection_context():
        hint = first_start_hint(config)
    if hint:
        print(hint, file=sys.stderr)
    if config.server.workers <= 1:
        server = build_server(config)
        _freeze_startup_objects()
        return _run(server)
    close_connections(db)  # no connection may be shared with the children
    _freeze_startup_objects()
    return _prefork(config)


# glibc's mallopt parameter for the number of malloc arenas (malloc.h).
_M_ARENA_MAX = -8


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Let the worker threads share `arenas` glibc malloc arenas. By default every
    thread that allocates while another holds an arena gets its own (up to 8 per
    core), and each keeps the memory freed in it: RSS then grows with the number of
    threads that ever served a request, not with the work (at N = 10,000 cards the
    bench's peak was 131 MiB with the default and 101 MiB with 2 arenas). The GIL
    serialises the threads anyway. MALLOC_ARENA_MAX in the environment wins."""
    if "MALLOC_ARENA_MAX" in os.environ or platform.libc_ver()[0] != "glibc":
        return
    try:
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        log.debug("mallopt is not available; malloc arenas left as they are")


def _freeze_startup_objects() -> None:
    """Move what start-up allocated (modules, the app, WsgiDAV's and Flask's tables)
    out of the garbage collector's reach: full collections then scan only what
    requests allocate, which shortens the pauses behind slow responses, and forked
    workers do not touch (and copy) those pages when they collect."""
    gc.collect()
    gc.freeze()


def _run(server: wsgi.Server) -> int:
    """Serve until SIGTERM or SIGINT, then finish the requests in flight and return.

    The handler only sets an event; a thread waiting for it calls server.stop(). The
    handler may neither call stop() itself (stop() waits for the serve loop, which runs
    in this very thread) nor raise into the loop (an exception landing inside a Queue's
    notify loses a wake-up, and a worker thread then never sees its shutdown request).
    """
    stop_requested = threading.Event()

    def stop_when_requested() -> None:
        stop_requested.wait()
        log.info("stopping: finishing the requests in flight")
        server.stop()

    stopper = threading.Thread(target=stop_when_requested, name="davcontacts-stop")
    for sig in _SIGNALS:
        signal.signal(sig, lambda signum, frame: stop_requested.set())
    # A stop before prepare() has marked the server ready would be a no-op, and serve()
    # would then run on: signals wait until then. (The threads started meanwhile keep
    # them blocked, so they reach the main thread and its handlers.)
    signal.pthread_sigmask(signal.SIG_BLOCK, set(_SIGNALS))
    try:
        server.prepare()
        stopper.start()
    except OSError as exc:  # the port is taken, the address is not ours, …
        log.error("cannot listen on %s:%s: %s", *server.bind_addr[:2], exc)
        return 1
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, set(_SIGNALS))
    host, port = server.bind_addr[:2]
    log.info("davcontacts listening on %s://%s:%d/ (%d threads)",
             "https" if server.ssl_adapter else "http", host, port, server.requests.min)
    try:
        server.serve()
    finally:
        stop_requested.set()
        stopper.join()
    return 0


def _prefork(config: Config) -> int:
    """Fork `workers` processes, each with its own socket on the port (SO_REUSEPORT:
    the kernel spreads connections); forward SIGTERM/SIGINT to them and wait."""
    children: list[int] = []
    parent = os.getpid()
    # Signals wait until each side has its own handlers: a child must not run the
    # parent's forwarding handler, and the parent must not die between two forks.
    signal.pthread_sigmask(signal.SIG_BLOCK, set(_SIGNALS))
    try:
        for _ in range(config.server.workers):
            pid = os.fork()
            if pid == 0:
                _worker(config, parent)  # never returns
            children.append(pid)

        def forward(signum, frame):
            for child in children:
                try:
                    os.kill(child, signal.SIGTERM)
                except ProcessLookupError:
                    pass

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        log.info("started %d worker processes: %s", len(children),
                 " ".join(map(str, children)))
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, set(_SIGNALS))
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or os.waitstatus_to_exitcode(code)
    return status


def _worker(config: Config, parent: int) -> None:
    """A forked worker: its own database connections and server, then os._exit (the
    parent's cleanup must not run twice)."""
    code = 1
    try:
        for signum in _SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        # The signals stay blocked (as at the fork) until _run has its handler: a
        # SIGTERM that arrives while the worker is still starting then stops it
        # cleanly instead of killing it with the default action.
        _die_with_parent(parent)
        open_database(config.storage.database_url, migrate=False)
        code = _run(build_server(config, reuse_port=True))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("worker %d failed", os.getpid())
    finally:
        logging.shutdown()
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    """On Linux, have the kernel stop this worker if the parent is killed outright
    (SIGKILL), so no orphan keeps serving the port."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before prctl
        os.kill(os.getpid(), signal.SIGTERM)
