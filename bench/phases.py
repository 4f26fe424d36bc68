"""The black-box phases, run in order against each server, each timed over HTTP with
keep-alive connections and checked for correctness.

A phase answers with PhaseResults: a value (seconds, or milliseconds for single GETs),
a status ("ok", "fail" when a check failed, "unsupported" when the server refuses the
request as such, "error" when the phase could not run) and a one-line detail. Any 5xx
answer fails its phase.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .cards import Card, fn_contains
from .client import (
    VCARD_TYPE,
    XML_TYPE,
    Conn,
    Reply,
    multiget_body,
    parse_multistatus,
    propfind_body,
    query_fn_contains_body,
    sync_body,
)
from .servers import Server

MULTIGET_BATCH = 100
EDITS, DELETES = 10, 5
SYNC_REPEATS = 11  # the incremental sync is timed this often (same token), median kept
READ_REPEATS = 5  # PROPFIND, initial sync and query: timed this often, median kept
QUERY_NEEDLE = "mart"
GET_SAMPLES = 1000
GET_BATCH = 50  # single GETs per turn when servers take turns
UPDATE_THREADS, UPDATES_PER_THREAD, HOT_CARDS = 4, 50, 10
UNSUPPORTED = (403, 405, 415, 501)


@dataclass
class PhaseResult:
    phase: str
    value: float | None
    unit: str = "s"
    status: str = "ok"
    detail: str = ""
    server_cpu_s: float | None = None
    server_hwm_mib: float | None = None     # the server's VmHWM once the phase ended
    extra: dict = field(default_factory=dict)


class CheckFailed(Exception):
    """A correctness check failed; `value` keeps the measurement when there was one."""

    def __init__(self, message: str, value: float | None = None):
        super().__init__(message)
        self.value = value


@dataclass
class State:
    """What the bench knows a server holds: live cards by resource name and their ETags."""

    srv: Server
    cards: list[Card]
    live: dict[str, Card] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)
    token: str | None = None

    def href(self, name: str) -> str:
        return self.srv.book + name

    def name_of(self, path: str) -> str | None:
        book = self.srv.book
        if path.startswith(book) and len(path) > len(book):
            return path[len(book):]
        return None


def _status_summary(statuses: Counter) -> str:
    return ", ".join(f"{k}×{v}" for k, v in sorted(statuses.items()))


def _no_5xx(statuses: Counter, what: str) -> None:
    bad = {s: n for s, n in statuses.items() if s >= 500}
    if bad:
        raise CheckFailed(f"{what}: server errors {_status_summary(Counter(bad))}")


def _report(conn: Conn, state: State, body: bytes, depth: str | None) -> Reply:
    headers = {"Content-Type": XML_TYPE}
    if depth is not None:
        headers["Depth"] = depth
    return conn.request("REPORT", state.srv.book, body, headers)


def _expect_207(r: Reply, what: str) -> None:
    if r.status != 207:
        raise CheckFailed(f"{what}: HTTP {r.status} {r.body[:200]!r}")


# --- phases -----------------------------------------------------------------------

def upload(state: State) -> list[PhaseResult]:
    """Sequential PUTs with If-None-Match: * on one connection."""
    conn = state.srv.conn()
    statuses: Counter = Counter()
    t0 = time.perf_counter()
    for card in state.cards:
        r = conn.request("PUT", state.href(card.name), card.render(),
                         {"Content-Type": VCARD_TYPE, "If-None-Match": "*"})
        statuses[r.status] += 1
        if 200 <= r.status < 300:
            state.live[card.name] = card
            if r.header("etag"):
                state.etags[card.name] = r.header("etag")
    elapsed = time.perf_counter() - t0
    conn.close()
    n = len(state.cards)
    detail = f"{n / elapsed:,.0f} cards/s; {_status_summary(statuses)}; " \
             f"{conn.connects} connection(s)"
    _no_5xx(statuses, "PUT")
    if len(state.live) != n:
        raise CheckFailed(f"only {len(state.live)}/{n} created; {detail}", elapsed)
    return [PhaseResult("upload", elapsed, detail=detail,
                        extra={"cards_per_s": n / elapsed, "statuses": dict(statuses)})]


def _repeated(conn: Conn, send: Callable[[], Reply], what: str,
              ok=(207,)) -> tuple[Reply, float, str]:
    """The same read-only request READ_REPEATS times on one connection: the first
    reply, the median time (one request is at the mercy of one scheduler hiccup on a
    shared machine) and a note of the spread. Every reply must have the first's
    status and length."""
    times, replies = [], []
    for _ in range(READ_REPEATS):
        t0 = time.perf_counter()
        replies.append(send())
        times.append(time.perf_counter() - t0)
    conn.close()
    first = replies[0]
    if first.status in ok and any((r.status, len(r.body)) != (first.status, len(first.body))
                                  for r in replies):
        raise CheckFailed(f"{what}: the same request answered differently",
                          statistics.median(times))
    spread = f"median of {READ_REPEATS}, {min(times) * 1000:.1f}-{max(times) * 1000:.1f} ms"
    return first, statistics.median(times), spread


def propfind(state: State) -> list[PhaseResult]:
    conn = state.srv.conn()
    body = propfind_body("D:resourcetype", "D:getetag", "D:getcontenttype")
    r, elapsed, spread = _repeated(conn, lambda: conn.request(
        "PROPFIND", state.srv.book, body, {"Depth": "1", "Content-Type": XML_TYPE}), "PROPFIND")
    _expect_207(r, "PROPFIND")
    members, _ = parse_multistatus(r.body)
    names = {}
    for m in members:
        name = state.name_of(m.href)
        if name is not None:
            names[name] = m.text("{DAV:}getetag")
    no_etag = sum(1 for v in names.values() if not v)
    detail = f"{len(names)} members, {len(r.body) / 1e6:.1f} MB; {spread}"
    if set(names) != set(state.live) or no_etag:
        raise CheckFailed(f"{detail}; expected {len(state.live)}, {no_etag} without getetag",
                          elapsed)
    state.etags.update(names)
    return [PhaseResult("propfind_depth1", elapsed, detail=detail)]


def sync_initial(state: State) -> list[PhaseResult]:
    conn = state.srv.conn()
    r, elapsed, spread = _repeated(conn, lambda: _report(conn, state, sync_body(
        None, "D:getetag"), "0"), "sync-collection")
    _expect_207(r, "sync-collection")
    members, token = parse_multistatus(r.body)
    names = {state.name_of(m.href) for m in members if m.props} - {None}
    detail = f"{len(names)} members; {spread}"
    if names != set(state.live) or not token:
        raise CheckFailed(f"{detail}, expected {len(state.live)}; token {token!r}", elapsed)
    state.token = token
    return [PhaseResult("sync_initial", elapsed, detail=detail)]


def multiget(state: State) -> list[PhaseResult]:
    """addressbook-multiget of every card, 100 hrefs a request."""
    conn = state.srv.conn()
    names = [c.name for c in state.cards if c.name in state.live]
    got: dict[str, str] = {}
    statuses: Counter = Counter()
    bodies = [multiget_body([state.href(n) for n in names[i:i + MULTIGET_BATCH]],
                            "D:getetag", "C:address-data")
              for i in range(0, len(names), MULTIGET_BATCH)]
    replies = []
    t0 = time.perf_counter()
    for body in bodies:  # the timed part: requests and answers, as for the other phases
        replies.append(_report(conn, state, body, "1"))
    elapsed = time.perf_counter() - t0
    for r in replies:
        statuses[r.status] += 1
        if r.status != 207:
            continue
        for m in parse_multistatus(r.body)[0]:
            data = m.text("{urn:ietf:params:xml:ns:carddav}address-data")
            name = state.name_of(m.href)
            if name and data:
                got[name] = data
    conn.close()
    _no_5xx(statuses, "multiget")
    wrong = [n for n in names if f"UID:{state.live[n].uid}" not in got.get(n, "")]
    same = sum(1 for n in names
               if got.get(n, "").replace("\r\n", "\n")
               == state.live[n].render().decode().replace("\r\n", "\n"))
    detail = f"{len(got)}/{len(names)} cards in {len(range(0, len(names), MULTIGET_BATCH))} " \
             f"requests; {same} byte-identical"
    if wrong or set(statuses) != {207}:
        raise CheckFailed(f"{detail}; {len(wrong)} missing/wrong; {_status_summary(statuses)}",
                          elapsed)
    return [PhaseResult("multiget_all", elapsed, detail=detail,
                        extra={"byte_identical": same})]


def sync_incremental(state: State) -> list[PhaseResult]:
    """10 If-Match edits and 5 If-Match deletes (untimed), then a timed sync-collection
    from the initial token that must name exactly those 15 hrefs."""
    if not state.token:
        raise CheckFailed("no sync token from the initial sync")
    rng = random.Random(15)
    chosen = rng.sample(sorted(state.live), EDITS + DELETES)
    edits, deletes = chosen[:EDITS], chosen[EDITS:]
    conn = state.srv.conn()
    statuses: Counter = Counter()
    new_etags = {}
    for k, name in enumerate(edits):
        card = state.live[name].edited(f"Edited by the benchmark, round {k}.")
        r = conn.request("PUT", state.href(name), card.render(),
                         {"Content-Type": VCARD_TYPE, "If-Match": state.etags[name]})
        statuses[r.status] += 1
        if 200 <= r.status < 300:
            state.live[name] = card
            new_etags[name] = r.header("etag")
    for name in deletes:
        r = conn.request("DELETE", state.href(name), None, {"If-Match": state.etags[name]})
        statuses[r.status] += 1
        if 200 <= r.status < 300:
            del state.live[name]
    if any(not 200 <= s < 300 for s in statuses):
        raise CheckFailed(f"edits/deletes: {_status_summary(statuses)}")
    times, bodies = [], set()
    for _ in range(SYNC_REPEATS):  # one request is at the mercy of one scheduler hiccup
        t0 = time.perf_counter()
        r = _report(conn, state, sync_body(state.token, "D:getetag"), "0")
        times.append(time.perf_counter() - t0)
        _expect_207(r, "incremental sync-collection")
        members, token = parse_multistatus(r.body)
        bodies.add(frozenset((m.href, m.status, m.text("{DAV:}getetag")) for m in members))
    conn.close()
    elapsed = statistics.median(times)
    if len(bodies) != 1:
        raise CheckFailed(f"the same sync answered {len(bodies)} different ways", elapsed)
    changed = {state.name_of(m.href): m for m in members} if members else {}
    changed.pop(None, None)
    problems = []
    if set(changed) != set(chosen):
        problems.append(f"{len(set(changed) - set(chosen))} unexpected, "
                        f"{len(set(chosen) - set(changed))} missing")
    for name in deletes:
        m = changed.get(name)
        if m is not None and m.status != 404:
            problems.append(f"deleted {name} not 404")
    for name in edits:
        m = changed.get(name)
        etag = m.text("{DAV:}getetag") if m else None
        if m is not None and (not etag or (new_etags.get(name) and etag != new_etags[name])):
            problems.append(f"edited {name} etag {etag!r} != PUT's {new_etags.get(name)!r}")
        elif etag:
            state.etags[name] = etag
    detail = (f"{len(changed)} hrefs ({EDITS} edited, {DELETES} deleted expected); median of "
              f"{SYNC_REPEATS}, {min(times) * 1000:.1f}-{max(times) * 1000:.1f} ms")
    if problems or not token:
        raise CheckFailed(f"{detail}: " + "; ".join(problems[:3]) + ("" if token else "; no token"),
                          elapsed)
    state.token = token
    return [PhaseResult("sync_incremental", elapsed, detail=detail)]


def query(state: State) -> list[PhaseResult]:
    """addressbook-query: FN contains QUERY_NEEDLE; hits must be the expected set."""
    expected = fn_contains(list(state.live.values()), QUERY_NEEDLE)
    conn = state.srv.conn()
    body = query_fn_contains_body(QUERY_NEEDLE, "D:getetag", "C:address-data")
    r, elapsed, spread = _repeated(conn, lambda: _report(conn, state, body, "1"),
                                   "addressbook-query")
    if r.status in UNSUPPORTED or (r.status == 400 and b"supported-report" in r.body):
        return [PhaseResult("query_fn_contains", None, status="unsupported",
                            detail=f"HTTP {r.status}")]
    _expect_207(r, "addressbook-query")
    members, _ = parse_multistatus(r.body)
    hits = {state.name_of(m.href) for m in members if m.props} - {None}
    detail = f"{len(hits)} hits for FN contains {QUERY_NEEDLE!r}; {spread}"
    if hits != expected:
        raise CheckFailed(f"{detail}; expected {len(expected)}: {len(hits - expected)} wrong, "
                          f"{len(expected - hits)} missing", elapsed)
    return [PhaseResult("query_fn_contains", elapsed, detail=detail)]


class GetRun:
    """GET_SAMPLES single GETs of random live cards on one connection, done in batches
    so that several servers can take turns (run_side_by_side)."""

    def __init__(self, state: State):
        rng = random.Random(7)
        names = sorted(state.live)
        self.state = state
        self.todo = [rng.choice(names) for _ in range(GET_SAMPLES)] if names else []
        self.conn = state.srv.conn()
        self.times: list[float] = []
        self.statuses: Counter = Counter()
        self.bad = 0

    def batch(self, count: int) -> None:
        done = len(self.times)
        for name in self.todo[done:done + count]:
            t0 = time.perf_counter()
            r = self.conn.request("GET", self.state.href(name))
            self.times.append(time.perf_counter() - t0)
            self.statuses[r.status] += 1
            if r.status != 200 or not r.header("etag") or \
                    f"UID:{self.state.live[name].uid}".encode() not in r.body:
                self.bad += 1

    @property
    def finished(self) -> bool:
        return len(self.times) >= len(self.todo)

    def results(self) -> list[PhaseResult]:
        """p50 and p99 in milliseconds."""
        self.conn.close()
        if not self.todo:
            raise CheckFailed("no live cards to GET")
        times = sorted(self.times)
        p50 = times[len(times) // 2] * 1000
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
        detail = f"{len(times)} GETs, {self.conn.connects} connection(s)"
        if self.bad:
            raise CheckFailed(f"{detail}; {self.bad} bad answers; "
                              f"{_status_summary(self.statuses)}", p50)
        return [PhaseResult("get_p50", p50, unit="ms", detail=detail),
                PhaseResult("get_p99", p99, unit="ms", detail=detail)]


def single_gets(state: State) -> list[PhaseResult]:
    """GET_SAMPLES single GETs on one connection, one server alone: p50 and p99."""
    run = GetRun(state)
    run.batch(GET_SAMPLES)
    return run.results()


def concurrent_updates(state: State) -> list[PhaseResult]:
    """4 threads GET then PUT with If-Match on the same 10 cards. Only 2xx and 412 may
    answer, and the successful updates of each card must form one chain from its
    starting ETag to its final one (no two updates accepted against the same ETag)."""
    rng = random.Random(4)
    hot = rng.sample(sorted(state.live), min(HOT_CARDS, len(state.live)))
    conn = state.srv.conn()
    start = {}
    for name in hot:
        r = conn.request("GET", state.href(name))
        start[name] = r.header("etag")
    log: list[tuple[str, str, int, str | None]] = []   # (name, if-match, status, new etag)
    get_statuses: Counter = Counter()
    errors: list[str] = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        wrng = random.Random(100 + t)
        c = state.srv.conn()
        try:
            for i in range(UPDATES_PER_THREAD):
                name = wrng.choice(hot)
                g = c.request("GET", state.href(name))
                etag = g.header("etag")
                body = state.live[name].render(note=f"Update {i} from thread {t}.")
                p = c.request("PUT", state.href(name), body,
                              {"Content-Type": VCARD_TYPE, "If-Match": etag or '"none"'})
                with lock:
                    get_statuses[g.status] += 1
                    log.append((name, etag, p.status, p.header("etag")))
        except Exception as e:  # noqa: BLE001 - recorded as the phase's failure
            with lock:
                errors.append(f"thread {t}: {e!r}")
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(UPDATE_THREADS)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join(600)
    elapsed = time.perf_counter() - t0
    final = {name: conn.request("GET", state.href(name)).header("etag") for name in hot}
    conn.close()
    put_statuses = Counter(s for _, _, s, _ in log)
    ok = sum(n for s, n in put_statuses.items() if 200 <= s < 300)
    detail = f"{len(log)} updates: {ok} accepted, {put_statuses.get(412, 0)} × 412; " \
             f"{len(log) / elapsed:,.0f} updates/s"
    problems = list(errors)
    other = {s: n for s, n in put_statuses.items() if not (200 <= s < 300 or s == 412)}
    if other:
        problems.append(f"PUT answered {_status_summary(Counter(other))}")
    if set(get_statuses) - {200}:
        problems.append(f"GET answered {_status_summary(get_statuses)}")
    if not ok:
        problems.append("no update accepted")
    problems += _chain_problems(hot, start, final, log)
    if problems:
        raise CheckFailed(f"{detail}; " + "; ".join(problems[:3]), elapsed)
    return [PhaseResult("concurrent_if_match", elapsed, detail=detail,
                        extra={"put_statuses": dict(put_statuses)})]


def _chain_problems(hot, start, final, log) -> list[str]:
    problems = []
    for name in hot:
        succ = [(base, new) for n, base, s, new in log if n == name and 200 <= s < 300]
        if not succ:
            continue
        if any(new is None for _, new in succ):
            return ["PUT answered no ETag: chain not checked"]
        nxt = dict(succ)
        if len(nxt) != len(succ):
            problems.append(f"{name}: {len(succ) - len(nxt)} lost update(s)")
            continue
        cur, steps = start[name], 0
        while cur in nxt and steps <= len(succ):
            cur, steps = nxt[cur], steps + 1
        if steps != len(succ) or cur != final[name]:
            problems.append(f"{name}: accepted updates do not chain to the final ETag")
    return problems


PHASES: list[tuple[str, Callable[[State], list[PhaseResult]]]] = [
    ("upload", upload),
    ("propfind_depth1", propfind),
    ("sync_initial", sync_initial),
    ("multiget_all", multiget),
    ("sync_incremental", sync_incremental),
    ("query_fn_contains", query),
    ("get_p50", single_gets),
    ("concurrent_if_match", concurrent_updates),
]


def _record(srv: Server, out: list[PhaseResult], cpu: float, results: list[PhaseResult],
            log) -> None:
    hwm = srv.sampler.hwm_kib() / 1024
    for res in out:
        res.server_cpu_s, res.server_hwm_mib = cpu, hwm
        results.append(res)
        value = "-" if res.value is None else f"{res.value:.3f} {res.unit}"
        log(f"  {srv.name:12} {res.phase:20} {value:>12}  {res.status:11} {res.detail}")


def _guarded(name: str, run: Callable, *args) -> list[PhaseResult]:
    """What `run(*args)` answers ([] for nothing); a failed check or a crash becomes
    the phase's result."""
    try:
        return run(*args) or []
    except CheckFailed as e:
        return [PhaseResult(name, e.value, status="fail", detail=str(e))]
    except Exception as e:  # noqa: BLE001 - one phase's crash must not stop the bench
        return [PhaseResult(name, None, status="error", detail=f"{type(e).__name__}: {e}")]


def _dead(name: str) -> list[PhaseResult]:
    return [PhaseResult(name, None, status="error", detail="server died")]


def run_side_by_side(servers: list[Server], cards: list[Card],
                     log=print) -> dict[str, list[PhaseResult]]:
    """Every phase in order against each server, phase by phase: a phase runs on every
    server (each starting it in turn) before the next phase starts, and the single GETs
    take turns in batches of GET_BATCH, so that a slow spell of a shared machine falls
    on all servers alike rather than on whichever ran then. A failing phase is
    recorded and the next one still runs."""
    states = {srv.name: State(srv, cards) for srv in servers}
    results: dict[str, list[PhaseResult]] = {srv.name: [] for srv in servers}
    for i, (name, phase) in enumerate(PHASES):
        order = servers[i % len(servers):] + servers[:i % len(servers)]
        if phase is single_gets:
            _gets_taking_turns(order, states, results, log)
            continue
        for srv in order:
            if not srv.alive():
                _record(srv, _dead(name), 0.0, results[srv.name], log)
                continue
            cpu0 = srv.sampler.cpu()
            out = _guarded(name, phase, states[srv.name])
            _record(srv, out, srv.sampler.cpu() - cpu0, results[srv.name], log)
    return results


def _gets_taking_turns(order: list[Server], states: dict[str, State],
                       results: dict[str, list[PhaseResult]], log) -> None:
    cpu0 = {srv.name: srv.sampler.cpu() for srv in order}
    runs: dict[str, GetRun] = {}
    outcome: dict[str, list[PhaseResult]] = {}
    for srv in order:
        if srv.alive():
            runs[srv.name] = GetRun(states[srv.name])
        else:
            outcome[srv.name] = _dead("get_p50")
    while pending := [srv.name for srv in order if srv.name in runs
                      and srv.name not in outcome and not runs[srv.name].finished]:
        for name in pending:
            problem = _guarded("get_p50", runs[name].batch, GET_BATCH)
            if problem:
                outcome[name] = problem
    for srv in order:
        out = outcome.get(srv.name) or _guarded("get_p50", runs[srv.name].results)
        _record(srv, out, srv.sampler.cpu() - cpu0[srv.name], results[srv.name], log)
