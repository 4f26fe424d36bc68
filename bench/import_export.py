"""Import and export rates of the command line.

    python bench/import_export.py --n 100000 [--database-url URL] [--keep DIR]

Writes N generated contacts as CSV (seeded; the names, companies, addresses, tags and
notes of bench/cards.py; every column of docs/import-export.md; 1 in 20 a company), then
in a temporary data directory (SQLite unless --database-url) runs, as users run them:

    davcontacts user add bench
    davcontacts import contacts.csv --user bench --progress
    davcontacts export out.csv --user bench
    davcontacts export out.vcf --user bench

and prints each step's wall time and rows per second (process start-up included).
The import's progress bar is shown on stderr. See docs/import-export.md for runs.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/import_export.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cards import (  # noqa: E402
    CATEGORIES,
    CITIES,
    COMPANIES,
    EMAIL_DOMAINS,
    FIRST,
    LAST,
    MIDDLE,
    NOTE_WORDS,
    PREFIX,
    STREETS,
    TITLES,
    _ascii,
    _phone,
)
from davcontacts.contacts.transfer import COLUMNS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _address(rng: random.Random) -> str:
    city, region, code, country = rng.choice(CITIES)
    return f"{rng.randint(1, 250)} {rng.choice(STREETS)}; {city}; {region}; {code}; {country}"


def make_row(rng: random.Random, index: int) -> dict[str, str]:
    """One contact as a CSV row; row i depends only on the seed and i's predecessors."""
    uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    org, dept = rng.choice(COMPANIES)
    note = " ".join(rng.choice(NOTE_WORDS) for _ in range(rng.randint(20, 80)))
    row = dict.fromkeys(COLUMNS, "")
    row.update(uid=uid, company=org, department=dept, note=note.capitalize() + ".",
               tags=", ".join(rng.sample(CATEGORIES, rng.randint(1, 3))),
               phone=" | ".join(f"{kind}: {_phone(rng)}" for kind in
                                rng.sample(["cell", "work", "home", "fax"], rng.randint(1, 3))))
    if index % 20 == 3:
        row.update(kind="company", email=f"info{index}@{rng.choice(EMAIL_DOMAINS)}",
                   address_billing=_address(rng))
        return row
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = f"{_ascii(first)}.{_ascii(last)}"
    row.update(kind="person", given=first, family=last, middle=rng.choice(MIDDLE),
               prefix=rng.choice(PREFIX), title=rng.choice(TITLES),
               email=" | ".join(f"{kind}: {local}{index if k else ''}@"
                                f"{rng.choice(EMAIL_DOMAINS)}"
                                for k, kind in enumerate(["work,pref", "home", "other"]
                                                         [:rng.randint(1, 3)])))
    for kind in rng.sample(["home", "work", "billing"], rng.randint(1, 2)):
        row[f"address_{kind}"] = _address(rng)
    if rng.random() < 0.4:
        row["birthday"] = (f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-"
                           f"{rng.randint(1, 28):02d}")
    if rng.random() < 0.3:
        row["url"] = f"https://www.{_ascii(org).replace(' ', '')}.example/{local}"
    return row


def write_csv(path: Path, n: int, seed: int = 20240601) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        for i in range(n):
            writer.writerow(make_row(rng, i))


def run(env: dict[str, str], data_dir: Path, *args: str, show_stderr: bool = False) -> float:
    """Run `davcontacts ARGS` and return its wall time; stop on failure."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "davcontacts", *args, "--data-dir",
                           str(data_dir)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=None if show_stderr else subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"davcontacts {' '.join(args)} failed ({proc.returncode}):\n"
                 f"{proc.stdout}{proc.stderr or ''}")
    print(proc.stdout.strip(), file=sys.stderr)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10000, help="contacts (default 10000)")
    p.add_argument("--database-url", help="default: SQLite in the temporary data directory")
    p.add_argument("--keep", help="work in this directory and keep it (default: a temp dir)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="davcontacts-transfer-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        data_dir = work / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAVCONTACTS_")}
        env.update(DAVCONTACTS_PASSWORD="bench-password", PYTHONUNBUFFERED="1")
        if args.database_url:
            env["DAVCONTACTS_DATABASE_URL"] = args.database_url
        source = work / "contacts.csv"
        start = time.perf_counter()
        write_csv(source, args.n)
        print(f"generated {args.n} rows ({source.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
        run(env, data_dir, "user", "add", "bench")
        steps = []
        for label, path, command in (
                ("import CSV", source, ("import", str(source), "--user", "bench", "--progress")),
                ("export CSV", work / "out.csv", ("export", str(work / "out.csv"), "--user",
                                                  "bench")),
                ("export vcf", work / "out.vcf", ("export", str(work / "out.vcf"), "--user",
                                                  "bench"))):
            seconds = run(env, data_dir, *command, show_stderr=label.startswith("import"))
            steps.append((label, seconds, path.stat().st_size / 1e6))
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n{args.n} contacts, {backend}, Python {sys.version.split()[0]}\n")
    print("| step | time | rows/s | file |")
    print("|---|---:|---:|---:|")
    for label, seconds, size in steps:
        print(f"| {label} | {seconds:.1f} s | {args.n / seconds:,.0f} | {size:.1f} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
