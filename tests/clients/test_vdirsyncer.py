"""A real client: vdirsyncer (the PyPI release pinned in the `test` extra) syncs a
local vdir of 300 generated cards with a personal book both ways (CLIENTS.md: vdirsyncer
lists with PROPFIND Depth 1, fetches with addressbook-multiget without a Depth header,
writes with If-None-Match / If-Match).

vdirsyncer stores and sends a card's text unchanged (its Item wraps the raw string;
the filesystem storage reads and writes bytes), so both sides must end up holding the
very same bytes: the server stores what the client sent and returns it verbatim,
CR LF line ends included.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from tests.conftest import TEST_PASSWORD
from tests.davclient import DavClient

N_CARDS = 300
SYNC_TIMEOUT = 180
SAFE_UID = re.compile(r"^[A-Za-z0-9_.+-]+$")  # vdirsyncer's SAFE_UID_CHARS
# vdirsyncer's log line per change: "Copying (uploading|updating) item X to S",
# "Deleting item X from S".
ACTION_LINE = re.compile(r"^(?:Copying \((?P<verb>uploading|updating)\) item .* to "
                         r"|Deleting item .* from )(?P<dest>\S+)$")


# Generated cards ---------------------------------------------------------------------

GIVEN = ["Zoë", "Jürgen", "Łukasz", "Søren", "José", "Ελένη", "Анна", "Siobhán", "François",
         "Ngozi", "Hiroshi", "Ana-María", "Olivia", "Mohammed", "Björk", "Dvořák", "Ines",
         "Chloé", "Raphaël", "Ștefan", "Kai", "Émilie", "Nguyễn", "Priya", "O'Brien"]
FAMILY = ["Ångström", "Müller", "Żółć", "Kierkegaard", "Núñez", "Παπαδοπούλου", "Иванова",
          "Ní Bhraonáin", "Lefèvre", "Okafor", "Tanaka", "García López", "Smith", "Al-Farsi",
          "Guðmundsdóttir", "Novák", "van der Berg", "Dubois", "Ionescu", "Schröder", "Trần",
          "Raman", "Ó Súilleabháin", "李", "Kowalski"]
CJK_NAMES = [("小龍", "李"), ("花子", "山田"), ("민준", "김")]
ORGS = ["Müller & Söhne GmbH;Vertrieb", "ACME Corp.;R&D", "Université de Genève",
        "Kobenhavns Kommune;IT", "株式会社テスト", "Smith\\, Jones and Partners", "Ørsted A/S"]
TITLES = ["Engineer", "Geschäftsführerin", "Directeur <commercial>", "CTO", "Ingeniera"]
CITIES = [("Hauptstraße 5", "Berlin", "", "10115", "Deutschland"),
          ("12 Rue de l'Église", "Paris", "Île-de-France", "75004", "France"),
          ("Nørregade 7", "København", "", "1165", "Danmark"),
          ("1 Infinite Loop", "Cupertino", "CA", "95014", "USA"),
          ("Calle Mayor 3\\, 2º", "Madrid", "", "28013", "España")]
CATEGORIES = ["Friends", "Work", "Family", "VIP", "Football\\, Sunday", "Кино", "Ärzte"]
NOTES = ["Met at the conference in Zürich; likes ☕ & 🍰.",
         "Call back after 5 pm\\nAsk about the <invoice> ]]> & the contract.",
         "Allergic to peanuts\\, shellfish. Prefers e-mail over phone.",
         "Ünïcödé everywhere: 日本語のメモ — Ελληνικά — русский текст.",
         "A long note that goes on and on so that the line has to be folded at seventy-five "
         "octets, as RFC 6350 section 3.2 asks, with multibyte characters — ä ö ü ß é è — "
         "placed near the fold points to catch anyone splitting a UTF-8 sequence."]
APPLE_LABELS = ["_$!<Other>!$_", "_$!<HomePage>!$_", "_$!<Anniversary>!$_", "Sailing club",
                "Büro (alt)"]
PHOTO = base64.b64encode(bytes(range(256)) * 3).decode()


def fold(line: str) -> list[str]:
    """Fold a content line at 75 octets without splitting a UTF-8 sequence."""
    out, cur, size, limit = [], "", 0, 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            out.append(cur)
            cur, size, limit = " ", 1, 75
        cur += ch
        size += n
    out.append(cur)
    return out


def make_uid(rng: random.Random, i: int, version: str) -> str:
    style = i % 5
    if style == 0:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()  # Apple
    if style == 1:
        return f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"  # DAVx5, vCard 4
    if style == 2:
        return f"{rng.getrandbits(64):x}"  # Google
    if style == 3:
        return f"{2024_01_01 + i}T120000Z-{i}@phone.example.org"  # not href-safe
    return f"vdir-{i:04d}.{'äöü'[i % 3]}" if version == "4.0" else f"khard-{i:04d}"


def make_card(rng: random.Random, i: int) -> tuple[str, bytes]:
    """(UID, bytes) of one realistic card; most are 3.0 with CR LF, some 4.0, a few LF."""
    version = "4.0" if i % 7 == 3 else "3.0"
    uid = make_uid(rng, i, version)
    if i % 41 == 5:
        given, family = rng.choice(CJK_NAMES)
    else:
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    company = i % 23 == 7
    lines = ["BEGIN:VCARD", f"VERSION:{version}"]
    if version == "3.0":
        lines.append("PRODID:-//Apple Inc.//iPhone OS 17.4//EN")
    else:
        lines.append("PRODID:-//DAVx5 4.3//EN")
    org = rng.choice(ORGS)
    if company:
        lines += ["N:;;;;", f"FN:{org.split(';')[0]}", f"ORG:{org}"]
        lines.append("KIND:org" if version == "4.0" else "X-ABShowAs:COMPANY")
    else:
        lines += [f"N:{family};{given};;;", f"FN:{given} {family}"]
        if rng.random() < 0.7:
            lines.append(f"ORG:{org}")
        if rng.random() < 0.4:
            lines.append(f"TITLE:{rng.choice(TITLES)}")
    local = re.sub(r"[^a-z]", "", given.lower()) or "contact"
    for k in range(rng.randint(1, 3)):
        kind = ["work", "home", "other"][k]
        addr = f"{local}.{i}.{k}@{kind}.example.com"
        if version == "3.0":
            pref = ";TYPE=pref" if k == 0 else ""
            lines.append(f"EMAIL;TYPE=INTERNET;TYPE={kind.upper()}{pref}:{addr}")
        else:
            lines.append(f"EMAIL;TYPE={kind}{';PREF=1' if k == 0 else ''}:{addr}")
    for k in range(rng.randint(0, 3)):
        number = f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999999)}"
        kind = ["CELL", "WORK", "HOME"][k]
        if version == "3.0":
            lines.append(f"TEL;TYPE={kind};TYPE=VOICE:{number}")
        else:
            uri = "tel:" + number.replace(" ", "-")
            lines.append(f'TEL;VALUE=uri;TYPE="{kind.lower()},voice":{uri}')
    if rng.random() < 0.6:
        street, city, region, code, country = rng.choice(CITIES)
        lines.append(f"ADR;TYPE={'HOME' if version == '3.0' else 'home'}:;;{street};{city};"
                     f"{region};{code};{country}")
    if rng.random() < 0.5:
        cats = rng.sample(CATEGORIES, rng.randint(1, 3))
        lines.append("CATEGORIES:" + ",".join(cats))
    if rng.random() < 0.3:
        lines.append(f"BDAY:{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-"
                     f"{rng.randint(1, 28):02d}")
    if i % 3 == 0:  # Apple item groups with their labels
        for g in range(1, rng.randint(2, 3) + 1):
            label = APPLE_LABELS[(i + g) % len(APPLE_LABELS)]
            if label == "_$!<HomePage>!$_":
                lines.append(f"item{g}.URL;type=pref:https://{local}.example.net/~{i}")
            elif label == "_$!<Anniversary>!$_":
                lines.append(f"item{g}.X-ABDATE;type=pref:2010-06-{g:02d}")
            else:
                lines.append(f"item{g}.EMAIL;type=INTERNET:{local}+{g}@item.example.org")
            lines.append(f"item{g}.X-ABLabel:{label}")
    if rng.random() < 0.6:
        lines.append(f"NOTE:{rng.choice(NOTES)}")
    if i % 50 == 11:
        lines.append(f"PHOTO;ENCODING=b;TYPE=JPEG:{PHOTO}")
    lines.append(f"UID:{uid}")
    lines.append(f"REV:2024-05-{1 + i % 28:02d}T10:{i % 60:02d}:00Z")
    lines.append("END:VCARD")
    eol = "\n" if i % 37 == 17 else "\r\n"
    folded = [part for line in lines for part in fold(line)]
    return uid, (eol.join(folded) + eol).encode("utf-8")


def edit_card(data: bytes, note: str) -> bytes:
    """The same card with one more NOTE and TEL, before END:VCARD (line ends kept)."""
    eol = b"\r\n" if b"\r\n" in data else b"\n"
    end = data.rindex(b"END:VCARD")
    extra = f"NOTE:{note}".encode() + eol + b"TEL;TYPE=CELL:+44 20 7946 0958" + eol
    return data[:end] + extra + data[end:]


# Both sides as {UID: bytes} ----------------------------------------------------------

def uid_of(data: bytes) -> str:
    text = re.sub(r"\r?\n[ \t]", "", data.decode("utf-8"))
    m = re.search(r"^UID:(.*?)\r?$", text, re.M)
    assert m, data
    return m.group(1)


def local_cards(vdir: Path) -> dict[str, tuple[Path, bytes]]:
    out = {}
    for path in sorted(vdir.glob("*.vcf")):
        data = path.read_bytes()
        uid = uid_of(data)
        assert uid not in out, f"UID {uid} twice in the vdir"
        out[uid] = (path, data)
    return out


def server_cards(dav: DavClient, book: str) -> dict[str, tuple[str, str, bytes]]:
    """{UID: (href, etag, bytes)} read as a plain client would: PROPFIND Depth 1, GET."""
    r = dav.propfind(book, ["D:getetag", "D:getcontenttype", "D:resourcetype"], depth="1")
    assert r.status == 207, r.text
    out = {}
    for href in r.responses():
        if href == book:
            continue
        etag = r.prop(href, "D:getetag").text
        assert r.prop(href, "D:getcontenttype").text.startswith("text/vcard")
        g = dav.request("GET", quote(href))  # responses() decodes hrefs
        assert g.status == 200, (href, g.status)
        assert g.header("ETag") == etag, href
        uid = uid_of(g.body)
        assert uid not in out, f"UID {uid} twice on the server"
        out[uid] = (href, etag, g.body)
    return out


def sync_token(dav: DavClient, book: str) -> str:
    r = dav.propfind(book, ["D:sync-token"])
    return r.prop(book, "D:sync-token").text


def assert_same(local: dict, remote: dict) -> None:
    assert set(local) == set(remote), (
        f"only local: {sorted(set(local) - set(remote))[:5]}, "
        f"only on the server: {sorted(set(remote) - set(local))[:5]}")
    differ = [uid for uid in local if local[uid][1] != remote[uid][2]]
    assert not differ, (f"{len(differ)} cards differ, e.g. {differ[0]}:\n"
                        f"local  {local[differ[0]][1]!r}\nserver {remote[differ[0]][2]!r}")


# vdirsyncer ---------------------------------------------------------------------------

def vdirsyncer_command() -> list[str]:
    import vdirsyncer  # noqa: F401  (the `test` extra installs it: fail loudly, don't skip)
    script = Path(sysconfig.get_path("scripts")) / "vdirsyncer"
    if script.exists():
        return [str(script)]
    found = shutil.which("vdirsyncer")
    return [found] if found else [sys.executable, "-m", "vdirsyncer"]


def write_config(tmp: Path, vdir: Path, url: str, user: str) -> Path:
    """One pair, no collection discovery: the vdir is the personal book itself."""
    conf = tmp / "vdirsyncer.conf"
    q = json.dumps  # vdirsyncer reads each value as JSON
    conf.write_text(f"""\
[general]
status_path = {q(str(tmp / "status"))}

[pair contacts]
a = "contacts_local"
b = "contacts_remote"
collections = null
conflict_resolution = "a wins"

[storage contacts_local]
type = "filesystem"
path = {q(str(vdir))}
fileext = ".vcf"

[storage contacts_remote]
type = "carddav"
url = {q(url)}
username = {q(user)}
password = {q(TEST_PASSWORD)}
""", encoding="utf-8")
    return conf


def run_vdirsyncer(conf: Path, *args: str) -> str:
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    for proxy in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(proxy, None)  # aiohttp honours proxies (trust_env); loopback needs none
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    proc = subprocess.run([*vdirsyncer_command(), "-c", str(conf), *args], env=env,
                          capture_output=True, text=True, timeout=SYNC_TIMEOUT,
                          stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    print(f"--- vdirsyncer {' '.join(args)}\n{output}")  # shown when the test fails
    assert proc.returncode == 0, f"vdirsyncer {' '.join(args)} failed:\n{output}"
    # vdirsyncer 0.19 warns "Deleting an item with no etag." on every DELETE that does
    # carry If-Match (an inverted test in its storage/dav.py): that one is expected.
    unexpected = [line for line in output.splitlines()
                  if line.startswith(("warning:", "error:", "critical:"))
                  and "Deleting an item with no etag." not in line]
    assert not unexpected, output
    return output


def actions(output: str) -> Counter:
    """vdirsyncer's log of what it did, as {(verb, destination storage): count}."""
    out: Counter = Counter()
    for line in output.splitlines():
        m = ACTION_LINE.match(line)
        if m:
            out[(m["verb"] or "delete", m["dest"])] += 1
    return out


class ServerLog:
    """The requests the server logged for one user's paths since the last call."""

    def __init__(self, path: Path, user: str):
        self.path, self.needle = path, f" /dav/addressbooks/{user}/"
        self.offset = path.stat().st_size

    def methods(self) -> Counter:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        return Counter(line.split(self.needle)[0].rsplit(" ", 1)[1]
                       for line in data.decode("utf-8", "replace").splitlines()
                       if self.needle in line)


# The test -----------------------------------------------------------------------------

def test_two_way_sync_of_300_cards(server, tmp_path):
    user = server.add_user()
    book = f"/dav/addressbooks/{user}/personal/"
    dav = server.client(user)
    rng = random.Random(20240501)
    vdir = tmp_path / "vdir"
    vdir.mkdir()
    generated: dict[str, bytes] = {}
    for i in range(N_CARDS):
        uid, data = make_card(rng, i)
        name = uid if SAFE_UID.match(uid) else str(uuid.UUID(int=rng.getrandbits(128)))
        (vdir / f"{name}.vcf").write_bytes(data)
        generated[uid] = data
    assert len(generated) == N_CARDS
    conf = write_config(tmp_path, vdir, server.base_url + book, user)
    log = ServerLog(server.log, user)
    started = time.monotonic()

    # 1. Discover, then the first sync uploads everything (PUT with If-None-Match: *)
    # and downloads nothing: it keeps the ETag each PUT answered.
    run_vdirsyncer(conf, "discover")
    out = run_vdirsyncer(conf, "sync")
    assert actions(out) == {("uploading", "contacts_remote"): N_CARDS}, out
    methods = log.methods()
    assert methods["PUT"] == N_CARDS and "REPORT" not in methods, methods
    local, remote = local_cards(vdir), server_cards(dav, book)
    assert len(remote) == N_CARDS
    assert_same(local, remote)
    assert {uid: data for uid, (_, data) in local.items()} == generated
    for uid, (href, _, _) in remote.items():  # href-safe UIDs keep their name
        if SAFE_UID.match(uid):
            assert href == f"{book}{uid}.vcf"

    # 2. Change both sides: edits and deletes on disjoint cards, two cards edited on
    # both sides (a conflict: "a wins", the local version), and three cards another
    # client creates on the server under names vdirsyncer would never choose.
    uids = sorted(generated)
    rng.shuffle(uids)
    local_edit, local_del = uids[0:10], uids[10:15]
    server_edit, server_del = uids[15:25], uids[25:30]
    conflict = uids[30:32]
    expected = dict(generated)
    for uid in local_edit + conflict:
        path, data = local[uid]
        expected[uid] = edit_card(data, f"Edited locally — {uid} ✓")
        path.write_bytes(expected[uid])
    for uid in local_del:
        local[uid][0].unlink()
        del expected[uid]
    for uid in server_edit + conflict:
        href, etag, data = remote[uid]
        edited = edit_card(data, f"Edited on the server — {uid} & co")
        if uid in server_edit:
            expected[uid] = edited
        r = dav.put_card(quote(href), edited, {"If-Match": etag})
        assert r.status == 204, (r.status, r.text)
    for uid in server_del:
        href, etag, _ = remote[uid]
        r = dav.request("DELETE", quote(href), headers={"If-Match": etag})
        assert r.status == 204, (r.status, r.text)
        del expected[uid]
    for k, name in enumerate(["Jürgen Müller (Büro).vcf", "tb+list@example.org.vcf",
                              f"{uuid.UUID(int=rng.getrandbits(128))}".upper() + ".vcf"]):
        uid, data = make_card(rng, N_CARDS + k)
        r = dav.put_card(book + quote(name), data, {"If-None-Match": "*"})
        assert r.status == 201, (r.status, r.text)
        expected[uid] = data
    log.methods()

    out = run_vdirsyncer(conf, "sync")
    assert actions(out) == {("updating", "contacts_remote"): 10 + len(conflict),
                            ("updating", "contacts_local"): 10,
                            ("uploading", "contacts_local"): 3,
                            ("delete", "contacts_remote"): 5,
                            ("delete", "contacts_local"): 5}, out
    assert log.methods() == {"PROPFIND": 1, "REPORT": 1, "PUT": 10 + len(conflict),
                             "DELETE": 5}
    local, remote = local_cards(vdir), server_cards(dav, book)
    assert len(local) == N_CARDS - 10 + 3
    assert_same(local, remote)
    assert {uid: data for uid, (_, data) in local.items()} == expected

    # 3. Nothing changed: vdirsyncer does nothing, and the server sees one listing:
    # no write, and no download (the ETags it keeps from the PUT answers still hold).
    token = sync_token(dav, book)
    etags = {uid: etag for uid, (_, etag, _) in remote.items()}
    log.methods()
    out = run_vdirsyncer(conf, "sync")
    assert actions(out) == {}, out
    assert log.methods() == {"PROPFIND": 1}
    assert sync_token(dav, book) == token
    assert {uid: etag for uid, (_, etag, _) in server_cards(dav, book).items()} == etags
    assert local_cards(vdir) == local
    dav.close()
    print(f"{server.backend}: three vdirsyncer syncs of {N_CARDS} cards in "
          f"{time.monotonic() - started:.1f} s")
