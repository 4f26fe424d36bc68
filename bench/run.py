"""Benchmark davcontacts against Radicale and Xandikos with the same black-box phases.

    python bench/run.py --n 1000 [--servers davcontacts,radicale,xandikos]
                        [--db sqlite|postgresql] [--pg-url URL] [--out results.json]

Every server runs in its own process on a loopback port with a temporary data
directory, and gets the same generated vCards. The servers run side by side and take
the phases together: each phase runs on every server before the next one starts, and
the single GETs alternate between servers in small batches, so that a slow spell of
the machine does not land on one server only. The table shows each
phase's time, the ratio of each server to davcontacts (>1: davcontacts is faster) and
the servers' peak memory. See docs/benchmarks.md for recorded runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):          # run as `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cards import generate  # noqa: E402
from bench.phases import PhaseResult, run_side_by_side  # noqa: E402
from bench.servers import (
    SERVERS,
    PgSchema,
    Server,
    StartError,
    davcontacts_version,
    ensure_venv,  # noqa: E402
    start_davcontacts,
    start_radicale,
    start_xandikos,
)

LABELS = {
    "upload": "upload, PUT If-None-Match:*",
    "propfind_depth1": "PROPFIND Depth 1",
    "sync_initial": "sync-collection, initial",
    "multiget_all": "multiget all, 100/request",
    "sync_incremental": "sync-collection, 10 edits+5 del",
    "query_fn_contains": "addressbook-query FN contains",
    "get_p50": "single GET p50",
    "get_p99": "single GET p99",
    "concurrent_if_match": "If-Match updates, 4 threads",
}
ORDER = list(LABELS)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="number of cards (default 1000)")
    p.add_argument("--servers", default=",".join(SERVERS),
                   help="comma-separated, from: " + ", ".join(SERVERS))
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite",
                   help="davcontacts database (default sqlite in the temp data dir)")
    p.add_argument("--pg-url", default=os.environ.get("DAVCONTACTS_TEST_PG"),
                   help="PostgreSQL URL for --db postgresql; a private schema is created "
                        "and dropped (default $DAVCONTACTS_TEST_PG)")
    p.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir())
                   / "davcontacts-bench-venv",
                   help="throwaway venv for Radicale and Xandikos (reused when present)")
    p.add_argument("--seed", type=int, default=20240601, help="vCard generator seed")
    p.add_argument("--out", type=Path, help="also write the results as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dirs")
    args = p.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.servers) - set(SERVERS)
    if unknown or not args.servers:
        p.error(f"unknown server(s) {sorted(unknown)}; choose from {', '.join(SERVERS)}")
    if args.n < 20:
        p.error("--n must be at least 20 (the phases edit, delete and contend on cards)")
    if args.db == "postgresql" and not args.pg_url:
        p.error("--db postgresql needs --pg-url or DAVCONTACTS_TEST_PG")
    return args


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def start(name: str, args, tmp: Path, versions: dict[str, str],
          pg: PgSchema | None) -> Server:
    if name == "davcontacts":
        return start_davcontacts(tmp, pg.url if pg else None)
    if name == "radicale":
        return start_radicale(tmp, args.venv, versions["radicale"])
    return start_xandikos(tmp, args.venv, versions["xandikos"])


def bench_all(args, cards, tmp: Path, versions: dict[str, str]) -> dict[str, dict]:
    """Start every server, run the phases side by side (phases.run_side_by_side), stop
    them and collect their peak memory."""
    pg = PgSchema(args.pg_url) if "davcontacts" in args.servers and args.db == "postgresql" \
        else None
    report: dict[str, dict] = {}
    running: list[Server] = []
    try:
        for name in args.servers:
            try:
                srv = start(name, args, tmp, versions, pg)
            except StartError as e:
                log(f"{name}: could not start: {e}")
                report[name] = {"version": versions.get(name, ""), "error": str(e),
                                "phases": [], "memory": {}}
                continue
            log(f"{name} {srv.version} on 127.0.0.1:{srv.port}{srv.book}")
            running.append(srv)
        # Other work on the machine skews timings: keep the 1-minute load around the run.
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        results = run_side_by_side(running, cards, log) if running else {}
        wall = time.perf_counter() - t0
        load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        while running:
            srv = running.pop(0)
            memory = srv.stop()
            log(f"  {srv.name:12} peak memory {memory['vmhwm_mib']:.0f} MiB")
            report[srv.name] = {"version": versions.get(srv.name, ""), "auth": srv.auth_note,
                                "phases": [asdict(r) for r in results[srv.name]],
                                "memory": memory, "wall_s": wall, "loadavg_1min": load}
        log(f"phases took {wall:.0f} s; load {load[0]:.2f} -> {load[1]:.2f}")
        return {name: report[name] for name in args.servers}
    finally:
        for srv in running:
            srv.stop()
        if pg is not None:
            pg.drop()


def _cell(res: PhaseResult | None) -> str:
    if res is None:
        return "-"
    if res.status == "unsupported":
        return "unsupported"
    if res.value is None:
        return res.status.upper()
    text = f"{res.value:.3f}" if res.unit == "ms" or res.value < 10 else f"{res.value:.1f}"
    return text + ("" if res.status == "ok" else " FAIL")


def _ratio(res: PhaseResult | None, base: PhaseResult | None) -> str:
    if res is None or base is None or res.value is None or base.value is None \
            or res.status != "ok" or base.status != "ok" or base.value <= 0:
        return "n/a"
    return f"{res.value / base.value:.2f}x"


def table(report: dict) -> str:
    """A plain-text (Markdown) table: rows are phases, columns servers and ratios."""
    servers = list(report["servers"])
    by = {s: {p["phase"]: PhaseResult(**p) for p in report["servers"][s]["phases"]}
          for s in servers}
    with_ratio = "davcontacts" in servers
    head = ["phase", "unit"]
    for s in servers:
        head.append(s)
        if with_ratio and s != "davcontacts":
            head.append(f"{s}/dc")
    rows = [head]
    for phase in ORDER:
        unit = "ms" if phase.startswith("get_") else "s"
        row = [LABELS[phase], unit]
        for s in servers:
            row.append(_cell(by[s].get(phase)))
            if with_ratio and s != "davcontacts":
                row.append(_ratio(by[s].get(phase), by["davcontacts"].get(phase)))
        rows.append(row)
    for key, label in (("vmhwm_mib", "peak memory (VmHWM)"),
                       ("peak_pss_mib", "peak PSS (polled, 0.1 s)")):
        row = [label, "MiB"]
        base = report["servers"].get("davcontacts", {}).get("memory", {}).get(key)
        for s in servers:
            v = report["servers"][s].get("memory", {}).get(key)
            row.append("-" if v is None else f"{v:.0f}")
            if with_ratio and s != "davcontacts":
                row.append(f"{v / base:.2f}x" if v and base else "n/a")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for k, r in enumerate(rows):
        cells = (c.ljust(w) if i == 0 else c.rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        lines.append("| " + " | ".join(cells) + " |")
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 1) + (":" if i else "-")
                                        for i, w in enumerate(widths)) + "|")
    return "\n".join(lines)


def notes(report: dict) -> str:
    """Details worth reading: every non-ok phase, and each server's CPU and memory per
    phase (to see which phase costs the CPU and which one raises the peak)."""
    out = []
    for s, data in report["servers"].items():
        if data.get("error"):
            out.append(f"- {s}: did not start: {data['error'].splitlines()[0]}")
        for p in data["phases"]:
            if p["status"] != "ok":
                out.append(f"- {s} {p['phase']}: {p['status']}: {p['detail']}")
    for s, data in report["servers"].items():
        phases = [p for p in data["phases"] if p["phase"] != "get_p99"]
        out.append(f"- {s}, server CPU s / VmHWM MiB after each phase: " + ", ".join(
            f"{p['phase']} {_num(p.get('server_cpu_s'), 2)} / {_num(p.get('server_hwm_mib'), 0)}"
            for p in phases))
    return "\n".join(out)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def machine_facts() -> dict:
    facts = {"nproc": os.cpu_count(), "python": platform.python_version(),
             "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as f:
            facts["cpu"] = next((ln.split(":", 1)[1].strip() for ln in f
                                 if ln.startswith("model name")), "")
        with open("/proc/meminfo") as f:
            facts["mem_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return facts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    versions = {}
    if {"radicale", "xandikos"} & set(args.servers):
        versions.update(ensure_venv(args.venv, log))
    log(f"generating {args.n} vCards (seed {args.seed}) ...")
    cards = generate(args.n, args.seed)
    size = sum(len(c.render()) for c in cards)
    report: dict = {
        "command": "python bench/run.py " + " ".join(shlex.quote(a) for a in
                                                      (argv if argv is not None else sys.argv[1:])),
        "n": args.n, "seed": args.seed, "db": args.db,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine_facts(),
        "cards_mb": round(size / 1e6, 2), "servers": {},
    }
    with tempfile.TemporaryDirectory(prefix="davcontacts-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if "davcontacts" in args.servers:
            versions["davcontacts"] = davcontacts_version()
        report["servers"] = bench_all(args, cards, tmp, versions)
        if args.keep:
            kept = Path(tempfile.mkdtemp(prefix="davcontacts-bench-kept-"))
            os.rename(tmp, kept / "data")
            os.mkdir(tmp)
            log(f"data kept in {kept / 'data'}")
    print(f"\nN = {args.n} cards ({report['cards_mb']} MB of vCards), davcontacts on "
          f"{args.db}; " + ", ".join(f"{s} {v}" for s, v in versions.items()))
    print(table(report))
    print(notes(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
        log(f"results written to {args.out}")
    failed = [s for s, d in report["servers"].items() if d.get("error")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
