"""Black-box API tests: fixtures that run the real carebase binary.

Environment (set by scripts/api):
  CAREBASE_BIN          the binary (default build/release/carebase)
  CAREBASE_TEST_DB      sqlite | postgres (default sqlite)
  CAREBASE_TEST_PG_URL  admin URL of a PostgreSQL cluster (scripts/pg start);
                        each server gets its own database created through it.
  CAREBASE_HELPER_BIN   the binary that makes staff accounts (default
                        CAREBASE_BIN; scripts/test: the release build for
                        the sanitizer tiers, see HELPER_BIN)

Every test has its own database (a copy of the session's migrated
template unless it asks for an empty one), port and folder, so tests run
side by side on xdist workers; servers hash passwords at the cheapest cost
carebase accepts unless a test is marked production_password_cost. Every
wait is bounded; every process started here is killed at teardown.
"""

import calendar
import datetime
import email
import email.policy
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest
import requests

import openapi_contract

try:
    import psycopg2
    import psycopg2.extensions
except ImportError:                  # scripts/install-deps installs python3-psycopg2
    psycopg2 = None

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("CAREBASE_BIN") or str(ROOT / "build" / "release" / "carebase")
# The binary add_user runs `carebase user add` with to make a test's staff
# accounts (an admin in most tests): scripts/test gives the sanitizer tiers
# the release build of the same tree. Under ASan+UBSan a `user add` costs
# four times the CPU (0.23 s against 0.06 s), some 800 times a tier, and the
# same three-flag command adds nothing there that test_cli's own `user add`
# calls, which run BIN, do not.
HELPER_BIN = os.environ.get("CAREBASE_HELPER_BIN") or BIN
DB_KIND = os.environ.get("CAREBASE_TEST_DB", "sqlite") or "sqlite"
PG_URL = os.environ.get("CAREBASE_TEST_PG_URL", "")
PSQL = "psql"
for _p in ("/usr/bin/psql", "/usr/lib/postgresql/15/bin/psql"):
    if os.path.exists(_p):
        PSQL = _p
        break

# The scrape token every test server is given (config metrics_token).
METRICS_TOKEN = "test-scrape-token-" + "s" * 24
LISTEN_TIMEOUT = 15.0
CLI_TIMEOUT = 30.0
HTTP_TIMEOUT = 5.0
PSQL_NULL = "\x02NULL\x02"
# The cheapest argon2id cost carebase accepts (outside production only):
# the production default takes ~0.2 s a hash here, and the suite signs in
# thousands of times. Tests about hashing are marked production_password_cost.
CHEAPEST_PASSWORDS = {"CAREBASE_PASSWORD_OPSLIMIT": "1", "CAREBASE_PASSWORD_MEMLIMIT_KIB": "8"}
# Reports from AddressSanitizer/UndefinedBehaviorSanitizer builds.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "WARNING: ThreadSanitizer")
# Log events that are a bug whatever the test checks: a thread that held a
# database connection asked for another (store_tx_begin in store/store.h).
BUG_EVENTS = ("event=db_second_connection",)

if DB_KIND not in ("sqlite", "postgres"):
    raise pytest.UsageError(f"CAREBASE_TEST_DB must be sqlite or postgres, not {DB_KIND!r}")
if DB_KIND == "postgres" and not PG_URL:
    raise pytest.UsageError("CAREBASE_TEST_DB=postgres needs CAREBASE_TEST_PG_URL")


def pytest_report_header(config):
    return f"carebase: bin={BIN} db={DB_KIND} pg={'set' if PG_URL else 'unset'}"


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: runs only when CAREBASE_TEST_DB=sqlite")
    config.addinivalue_line("markers", "postgres_only: runs only when CAREBASE_TEST_DB=postgres")
    config.addinivalue_line("markers", "needs_pg: runs only when CAREBASE_TEST_PG_URL is set")
    config.addinivalue_line("markers", "production_password_cost: carebase hashes passwords "
                            "at its production cost, not the suite's cheapest")
    config.addinivalue_line("markers", "serial: asserts on timing (hashing, backoff windows, "
                            "queueing); with parallel workers scripts/api runs these alone, "
                            "after the rest")
    config.addinivalue_line("markers", "migrations: every database starts empty, not as a "
                            "copy of the migrated template")
    config.addinivalue_line("markers", "dialect: exercises code that differs by database "
                            "(locks, triggers, the exclusion constraint, SKIP LOCKED, bytea, "
                            "snapshots, migrations, start-up probes, concurrent writers); the "
                            "PostgreSQL ASan+UBSan tier runs these (scripts/test)")
    config.addinivalue_line("markers", "dbless: what it checks is the same on either "
                            "database (a static file, the OpenAPI document, a template, "
                            "a setting refused before any connection); what it stores or "
                            "reads there, other tests run on both: scripts/test runs it "
                            "on SQLite only")
    config.addinivalue_line("markers", "tooling: its time is a third-party tool's (a "
                            "browser, a linter, a compiler) over what the server serves, "
                            "and other tests fetch the same from the server: scripts/test "
                            "leaves it out of the sanitizer tiers")


def pytest_collection_modifyitems(config, items):
    # The tests marked tooling take tens of seconds each (a browser, tsc):
    # first, so that xdist workers start them at once and the rest fill
    # in beside them, instead of one finishing alone at the end.
    items.sort(key=lambda item: item.get_closest_marker("tooling") is None)
    for item in items:
        if item.get_closest_marker("sqlite_only") and DB_KIND != "sqlite":
            item.add_marker(pytest.mark.skip(reason="SQLite only"))
        if item.get_closest_marker("postgres_only") and DB_KIND != "postgres":
            item.add_marker(pytest.mark.skip(reason="PostgreSQL only"))
        if item.get_closest_marker("needs_pg") and not PG_URL:
            item.add_marker(pytest.mark.skip(reason="CAREBASE_TEST_PG_URL not set"))


@pytest.fixture(scope="session", autouse=True)
def _binary_exists():
    if not os.access(BIN, os.X_OK):
        pytest.exit(f"carebase binary {BIN} not found or not executable (set CAREBASE_BIN)", 2)
    if HELPER_BIN != BIN and not (os.path.isabs(HELPER_BIN) and os.access(HELPER_BIN, os.X_OK)):
        pytest.exit(f"CAREBASE_HELPER_BIN {HELPER_BIN} is not an executable's absolute path", 2)


# --------------------------------------------------------------------------
# small helpers


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_answer(sock):
    """One whole HTTP/1.x answer read from sock, for Server.check_raw: its
    head, then its body by Content-Length, to a chunked body's last chunk,
    or until the server closes; b"" when it closed without answering (a
    connection refused at accept)."""
    got = b""
    while b"\r\n\r\n" not in got:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return got
        if not chunk:
            return got
        got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    chunked = re.search(rb"\r\ntransfer-encoding:\s*chunked", head, re.I)
    while True:
        if m is not None and len(body) >= int(m.group(1)):
            break
        if chunked and (body.endswith(b"0\r\n\r\n") or body == b"0\r\n\r\n"):
            break
        if m is None and not chunked and head.startswith((b"HTTP/1.1 1", b"HTTP/1.1 204",
                                                          b"HTTP/1.1 304")):
            break
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class _SourceAdapter(requests.adapters.HTTPAdapter):
    """Connections that leave from one address of 127/8."""

    def __init__(self, source):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kw)


def session_from(source):
    """A requests Session whose connections leave from source (an address
    of 127/8: another client to the server). Its answers are checked
    against the document as any requests call's (the contract hook)."""
    s = requests.Session()
    s.mount("http://", _SourceAdapter(source))
    return s


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    """Poll pred() until it returns a truthy value; return it or fail."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def told(pred, what, seconds=1.0):
    """A change made through another carebase process, seen by this one: on
    SQLite at its next request (the permissions' and keys' epochs are read in
    each request's transaction, a list's count of writes first in its
    snapshot); on PostgreSQL once the change's NOTIFY reaches it (README,
    Lists kept read), polled for `seconds`. Start the server with a long
    list_cache_ttl_ms (CAREBASE_LIST_CACHE_TTL_MS=60000) so that only the
    NOTIFY can make pred hold in time."""
    if DB_KIND == "sqlite":
        assert pred(), what
    else:
        wait_until(pred, timeout=seconds, interval=0.01, what=what)


def sanitizer_report(text):
    """The first sanitizer report in text, or None."""
    for m in SANITIZER_MARKERS:
        i = text.find(m)
        if i >= 0:
            return text[max(0, i - 200):i + 3000]
    return None


def bug_event(text):
    """The first log line in text with a BUG_EVENTS event, or None."""
    for line in text.splitlines():
        if any(e in line for e in BUG_EVENTS):
            return line
    return None


def base_env():
    """The runner's environment without any carebase configuration in it."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CAREBASE_") and k != "DATABASE_URL"}
    env["LC_ALL"] = "C.UTF-8"
    return env


def _psql(url, sql, timeout=20):
    return subprocess.run(
        [PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-R", "\x1e",
         "-P", f"null={PSQL_NULL}", url, "-c", sql],
        capture_output=True, text=True, timeout=timeout)


class _Pg:
    """Statements on one PostgreSQL database over one autocommit connection,
    opened on first use (with psycopg2; without it a psql process each).
    run(sql) -> rows of str, each value the text PostgreSQL writes for it
    (what psql shows), None for NULL; an error raises AssertionError."""

    def __init__(self, url):
        self.url = url
        self.con = None

    def run(self, sql):
        if psycopg2 is None:
            return self._run_psql(sql)
        for attempt in (1, 2):
            if self.con is None:
                self.con = self._connect()
            try:
                with self.con.cursor() as cur:
                    cur.execute(sql)
                    return [tuple(r) for r in cur.fetchall()] if cur.description else []
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
                self.close()                    # the connection went: once more
                if attempt == 2 or self._is_statement_error(e):
                    raise AssertionError(f"PostgreSQL: {str(e).strip()}\nSQL: {sql}") from None
            except psycopg2.Error as e:
                raise AssertionError(f"PostgreSQL: {str(e).strip()}\nSQL: {sql}") from None

    def _connect(self):
        con = psycopg2.connect(self.url, connect_timeout=10,
                               options="-c statement_timeout=20000")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("SELECT oid FROM pg_type")
            oids = tuple(r[0] for r in cur.fetchall())
        as_text = psycopg2.extensions.new_type(oids, "CAREBASE_TEXT", lambda v, cur: v)
        psycopg2.extensions.register_type(as_text, con)
        return con

    @staticmethod
    def _is_statement_error(e):
        return getattr(e, "pgcode", None) is not None

    def _run_psql(self, sql):
        r = _psql(self.url, sql)
        if r.returncode != 0:
            raise AssertionError(f"psql failed: {r.stderr.strip()}\nSQL: {sql}")
        out = r.stdout
        if out.endswith("\n"):
            out = out[:-1]
        if out == "":
            return []
        return [tuple(None if f == PSQL_NULL else f for f in rec.split("\x1f"))
                for rec in out.split("\x1e")]

    def close(self):
        if self.con is not None:
            try:
                self.con.close()
            except psycopg2.Error:
                pass
            self.con = None


_pg_admin = {}


def _admin(url):
    """The session's connection to the cluster's admin database."""
    if url not in _pg_admin:
        _pg_admin[url] = _Pg(url)
    return _pg_admin[url]


def _with_dbname(url, name):
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


# --------------------------------------------------------------------------
# databases


# Changes migration 0050's (and 0051's) triggers tell the serving
# processes: any deletion or truncation of these tables, any update of
# roles, and updates of users and auth_sessions that name a column the
# triggers watch (a verified address or a last-activity change is not
# told, and needs no wait: 50 made people waited 25 s for nothing).
_AUTH_TABLES = re.compile(r"\b(UPDATE|DELETE\s+FROM|TRUNCATE)\s+(auth_sessions|users|roles)\b",
                          re.IGNORECASE)
_AUTH_WATCHED = {
    "users": re.compile(r"\b(role|is_active|deleted_at|password_hash|audit_ref)\b", re.IGNORECASE),
    "auth_sessions": re.compile(r"\b(ended_at|expires_at|idle_timeout_ms|user_id|token_hash|id|"
                                r"last_activity_at)\s*=", re.IGNORECASE),
}
AUTH_NOTIFY_WAIT_S = 0.5


def _told_to_servers(sql):
    """Whether sql changes what the triggers tell the servers of."""
    for m in _AUTH_TABLES.finditer(sql):
        verb, table = m.group(1).upper(), m.group(2).lower()
        if not verb.startswith("UPDATE") or table == "roles":
            return True
        # The statement's SET list: up to its WHERE, or the statement's end.
        rest = sql[m.end():].split(";", 1)[0]
        setlist = re.split(r"\bWHERE\b", rest, 1, flags=re.IGNORECASE)[0]
        if _AUTH_WATCHED[table].search(setlist):
            return True
    return False


class Database:
    """One fresh database; query() returns rows of str (or None for NULL).
    from_template: a copy of the session's migrated template (see below),
    which `carebase serve` may use without running `carebase migrate`."""

    def __init__(self, kind, url, path=None, admin_url=None, name=None, from_template=False):
        self.kind = kind
        self.url = url
        self.path = path
        self.admin_url = admin_url
        self.name = name
        self.from_template = from_template
        self._pg = _Pg(url) if kind == "postgres" else None

    def query(self, sql, params=()):
        if self.kind == "sqlite":
            import sqlite3
            con = sqlite3.connect(str(self.path), timeout=10)
            try:
                rows = con.execute(sql, params).fetchall()
            finally:
                con.close()
            return [tuple(None if v is None else str(v) for v in r) for r in rows]
        assert not params, "postgres queries take no parameters here"
        return self._pg.run(sql)

    def scalar(self, sql, params=()):
        rows = self.query(sql, params)
        assert rows, f"no row for {sql}"
        return rows[0][0]

    def execute(self, sql):
        """Run statements that change rows (one, or several separated by
        semicolons), committed, on either database, behind the server's back."""
        if self.kind == "sqlite":
            import sqlite3
            con = sqlite3.connect(str(self.path), timeout=10, isolation_level=None)
            try:
                con.executescript(sql)
            finally:
                con.close()
        else:
            self.query(sql)
            if _told_to_servers(sql):
                # The servers keep sessions read a few seconds and hear of a
                # change made behind their backs through migration 0050's
                # NOTIFY, on a thread of their own: milliseconds, later
                # under a sanitizer on a loaded machine (README, "Sessions
                # kept read"). A test that changes a session or a person by
                # hand and then expects the change honoured waits for it.
                time.sleep(AUTH_NOTIFY_WAIT_S)

    def raw(self):
        """Every byte the database holds as stored: the SQLite file with its
        -wal and -shm, or a data-only dump of the PostgreSQL database."""
        if self.kind == "sqlite":
            data = b""
            for suffix in ("", "-wal", "-shm"):
                p = Path(str(self.path) + suffix)
                if p.exists():
                    data += p.read_bytes()
            return data
        exe = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
        r = subprocess.run([exe, "--no-owner", "--data-only", self.url], capture_output=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr.decode()[:2000]
        return r.stdout

    def count(self, table, where="1=1"):
        return int(self.scalar(f"SELECT COUNT(*) FROM {table} WHERE {where}"))

    def tables(self):
        if self.kind == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
        else:
            sql = ("SELECT table_name FROM information_schema.tables "
                   "WHERE table_schema = current_schema() ORDER BY table_name")
        return [r[0] for r in self.query(sql)]

    def drop(self, now=False):
        """Drop a PostgreSQL database: with now, at once; otherwise by the
        worker's dropper thread, with its next batch (see PG_DROP_BATCH)."""
        if self.kind == "postgres":
            self._pg.close()
            if now:
                _drop_pg(_admin(self.admin_url), self.name)
            else:
                _pg_dropper.put(self.admin_url, self.name)


def _drop_pg(admin, name):
    try:
        admin.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except (AssertionError, subprocess.TimeoutExpired):
        pass                            # the cluster is thrown away at the end anyway


# A worker's finished PostgreSQL databases are dropped by a thread of its
# own, PG_DROP_BATCH at a time (and the rest at the end of its session):
# a DROP DATABASE between two CREATE DATABASE ... TEMPLATE makes the next
# copy cost more (30 copies each dropped before the next took 2.5 to 3.5
# times the CPU of the same 30 dropped ten at a time), and a batch of drops
# waits on checkpoints while the other workers write: 10-14 s when a test's
# teardown made them (docs/BENCHMARKS.md, "Test suite"). A test finishing
# waits only when PG_DROP_HELD databases are still to drop (12 MB each: the
# cluster's disk stays bounded).
PG_DROP_BATCH = 16
PG_DROP_HELD = 32


class _PgDropper:
    def __init__(self):
        self._cond = threading.Condition()
        self._names = []                # (admin url, name) still to drop
        self._dropping = 0              # of a batch taken, not yet dropped
        self._closing = False
        self._thread = None

    def put(self, admin_url, name):
        with self._cond:
            while len(self._names) + self._dropping >= PG_DROP_HELD:
                self._cond.wait()
            self._names.append((admin_url, name))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pg-dropper",
                                                daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self):
        admins = {}                     # its own connections: the tests use _admin's
        while True:
            with self._cond:
                while len(self._names) < PG_DROP_BATCH and not self._closing:
                    self._cond.wait()
                if not self._names:
                    break
                batch, self._names = self._names, []
                self._dropping = len(batch)
            for url, name in batch:
                try:
                    if url not in admins:
                        admins[url] = _Pg(url)
                    _drop_pg(admins[url], name)
                except Exception:       # noqa: BLE001 - the thread goes on: a test
                    pass                # waiting for room is not left waiting
                finally:
                    with self._cond:
                        self._dropping -= 1
                        self._cond.notify_all()
        for admin in admins.values():
            admin.close()

    def finish(self):
        """Every database put here dropped; the thread gone."""
        with self._cond:
            thread = self._thread
            self._closing = True
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=300)
        with self._cond:
            self._thread = None
            self._closing = False


_pg_dropper = _PgDropper()


@functools.lru_cache(maxsize=None)
def _pg_version():
    return int(_admin(PG_URL).run("SHOW server_version_num")[0][0])


def _new_db(kind, folder, name, template=None):
    """A new database of kind: the file name.db in folder, or the PostgreSQL
    database name; empty, or a copy of template."""
    if kind == "sqlite":
        path = folder / f"{name}.db"
        if template is not None:
            shutil.copyfile(template.path, path)
        return Database("sqlite", f"sqlite:///{path}", path=path,
                        from_template=template is not None)
    if not PG_URL:
        pytest.skip("CAREBASE_TEST_PG_URL not set")
    sql = f'CREATE DATABASE "{name}"'
    if template is not None:
        sql += f' TEMPLATE "{template.name}"'
        # PostgreSQL 15's file copy (a checkpoint, cheap with fsync off, then
        # whole files) is faster here than its default, WAL-logging each block.
        if _pg_version() >= 150000:
            sql += " STRATEGY FILE_COPY"
    try:
        _admin(PG_URL).run(sql)
    except AssertionError as e:
        pytest.fail(f"{sql} failed: {e}")
    return Database("postgres", _with_dbname(PG_URL, name), admin_url=PG_URL, name=name,
                    from_template=template is not None)


def _migrated_template(kind, folder):
    """An empty database of kind migrated by `carebase migrate`, ready to
    copy. Migrating writes nothing sealed or keyed by the master key (the
    migrations only create tables and insert fixed rows; the modules' start-up
    work finds no rows to seal or fold), so copies serve under any test's own
    master key; test_migrate checks that this stays so."""
    db = _new_db(kind, folder, f"cb_template_{secrets.token_hex(4)}")
    _template_command(db, folder, "migrate", {})
    return db


def _template_command(db, folder, command, env_extra):
    """`carebase COMMAND` on the template db (its master key folder/master.key);
    a SQLite template is then one self-contained file to copy: the log
    checkpointed into it and no -wal or -shm left once the last
    connection closes."""
    env = base_env()
    env.update(env_extra)
    env.update({"DATABASE_URL": db.url, "CAREBASE_MASTER_KEY_FILE": str(folder / "master.key")})
    try:
        r = subprocess.run([BIN, command], env=env, capture_output=True, text=True,
                           timeout=CLI_TIMEOUT, cwd=folder)
    except subprocess.TimeoutExpired as exc:
        db.drop(now=True)
        pytest.fail(f"{command} of the template did not finish in {CLI_TIMEOUT}s: "
                    f"{exc.stderr!r}")
    rep = sanitizer_report(r.stderr)
    if r.returncode != 0 or rep:
        db.drop(now=True)
        pytest.fail(f"{command} of the template failed ({r.returncode}):\n{rep or r.stderr}")
    if db.kind == "sqlite":
        import sqlite3
        con = sqlite3.connect(str(db.path), timeout=10)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
        for suffix in ("-wal", "-shm"):
            assert not Path(str(db.path) + suffix).exists(), f"template left {suffix}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    """migrated_template(kind) -> the session's migrated database of kind,
    made on first use, once per session (so once per xdist worker)."""
    made = {}

    def get(kind):
        if kind not in made:
            made[kind] = _migrated_template(kind, tmp_path_factory.mktemp(f"template-{kind}"))
        return made[kind]

    yield get
    _pg_dropper.finish()                # the tests' databases still to drop
    for db in made.values():
        db.drop(now=True)


@pytest.fixture
def make_db(request, tmp_path, migrated_template):
    """Factory: make_db(kind=None, migrated=False) -> a fresh Database, empty
    or, with migrated=True, a copy of the migrated template (a file copy on
    SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL). In a test marked
    migrations every database starts empty and is migrated by the test."""
    made = []
    from_empty = request.node.get_closest_marker("migrations") is not None

    def make(kind=None, migrated=False, template=None):
        kind = kind or DB_KIND
        name = f"cb_{secrets.token_hex(6)}"
        if template is None and migrated and not from_empty:
            template = migrated_template(kind)
        db = _new_db(kind, tmp_path, name, template)
        made.append(db)
        return db

    yield make
    for db in made:
        db.drop()


def _seeded_template(kind, folder, migrated):
    """A copy of the migrated template with `carebase seed`'s demo data,
    sealed under a master key of its own (folder/master.key), which a
    server on a copy of it must use."""
    db = _new_db(kind, folder, f"cb_seeded_{secrets.token_hex(4)}", migrated)
    _template_command(db, folder, "seed", CHEAPEST_PASSWORDS)
    return db, folder / "master.key"


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory, migrated_template):
    """seeded_template(kind) -> (database, master key file): the demo seed
    made once per session (per xdist worker), to copy."""
    made = {}

    def get(kind):
        if kind not in made:
            made[kind] = _seeded_template(kind, tmp_path_factory.mktemp(f"seeded-{kind}"),
                                          migrated_template(kind))
        return made[kind]

    yield get
    for db, _ in made.values():
        db.drop(now=True)


@pytest.fixture
def start_seeded(start_server, make_db, seeded_template, tmp_path):
    """Factory: start_seeded(env=None, start=True) -> a Server on a copy of
    the demo seed's database (the same as `carebase seed` on a migrated
    one, seeded when the worker first needed it, so its times are minutes
    old), under the seed's master key, with an erasure journal of its own
    (by default the journal is beside the key: one test's erasures would
    be replayed into the next one's copy)."""
    def start(env=None, start=True):
        template, key = seeded_template(DB_KIND)
        e = {"CAREBASE_MASTER_KEY_FILE": str(key),
             "CAREBASE_ERASURE_JOURNAL_FILE": str(tmp_path / "erasure.journal")}
        e.update(env or {})
        return start_server(db=make_db(template=template), env=e, start=start)
    return start


@pytest.fixture(scope="module")
def module_server(tmp_path_factory, migrated_template, seeded_template):
    """Factory: module_server(env=None, seeded=False) -> a Server on a fresh
    migrated database (with seeded, a copy of the demo seed's, as
    start_seeded) shared by the tests of one module (of one xdist worker:
    mark them with one xdist_group to build it once). For tests that only
    read what it holds once set up, or whose changes do not meet."""
    servers = []

    def start(env=None, seeded=False):
        folder = tmp_path_factory.mktemp("module-server")
        e = {}
        if seeded:
            template, key = seeded_template(DB_KIND)
            e = {"CAREBASE_MASTER_KEY_FILE": str(key),
                 "CAREBASE_ERASURE_JOURNAL_FILE": str(folder / "erasure.journal")}
        else:
            template = migrated_template(DB_KIND)
        e.update(env or {})
        db = _new_db(DB_KIND, folder, f"cb_{secrets.token_hex(6)}", template)
        s = Server(folder, db, env=e, tag=f"msrv{len(servers)}")
        servers.append(s)
        return s.start()

    yield start
    problems = []
    for s in servers:
        problems += s.cleanup()
        s.db.drop()
    if problems:
        pytest.fail("after the module's tests:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def db(make_db):
    """A fresh, migrated database of the kind under test (empty in a test
    marked migrations)."""
    return make_db(migrated=True)


# --------------------------------------------------------------------------
# servers and other carebase processes


# Every answer from a carebase server a test started is checked against its
# OpenAPI document, whichever requests call asked for it: Server.request
# checks its own (it may be told contract=False), and any other requests
# call (requests.get, a Session of the test's own) to a live server's
# address is checked here. http.client connections and sockets go round
# it: the tests that send bytes requests would not (a malformed head, a
# body cut short, a pipelined pair) hand the answer they read to
# check_raw (read_answer) or check_answer; a test that leaves an answer
# unchecked says why (a head read alone, no answer awaited).
_LIVE_SERVERS = {}
_LIVE_LOCK = threading.Lock()
_UNHOOKED = threading.local()
_session_request = requests.Session.request


def _hooked_session_request(self, method, url, *args, **kw):
    r = _session_request(self, method, url, *args, **kw)
    if getattr(_UNHOOKED, "depth", 0):
        return r
    with _LIVE_LOCK:
        servers = [srv for base, srv in _LIVE_SERVERS.items()
                   if r.request.url.startswith(base + "/")]
    if servers:
        servers[0]._check_contract(method, r, kw.get("stream", False))
    return r


requests.Session.request = _hooked_session_request


class _Unhooked:
    """Within it, requests calls on this thread are not checked here."""

    def __enter__(self):
        _UNHOOKED.depth = getattr(_UNHOOKED, "depth", 0) + 1

    def __exit__(self, *exc):
        _UNHOOKED.depth -= 1


class Server:
    """A running `carebase serve` (or a handle to run carebase commands)."""

    def __init__(self, tmp_path, db, env=None, tag="srv", production_passwords=False):
        self.tmp_path = tmp_path
        self.db = db
        self.tag = tag
        self.env = base_env()
        self.env.update({
            "CAREBASE_PORT": str(free_port()),
            "CAREBASE_LISTEN": "127.0.0.1",
            "DATABASE_URL": db.url,
            "CAREBASE_MASTER_KEY_FILE": str(tmp_path / "master.key"),
            "CAREBASE_JOB_POLL_MS": "50",
            "CAREBASE_RATE_LIMIT": "0",
            "CAREBASE_SHUTDOWN_TIMEOUT_S": "5",
            # /metrics takes a token: metrics() sends this scrape token.
            "CAREBASE_METRICS_TOKEN": METRICS_TOKEN,
        })
        if not production_passwords:
            self.env.update(CHEAPEST_PASSWORDS)
        for k, v in (env or {}).items():
            if v is None:
                self.env.pop(k, None)
            else:
                self.env[k] = str(v)
        self.proc = None
        self.base_url = None
        self.stdout_lines = []
        self._listening = threading.Event()
        self._stderr_path = tmp_path / f"{tag}.stderr"
        self.session = requests.Session()
        self.children = []
        # Every answer is checked against the server's own OpenAPI document
        # (openapi_contract); mismatches seen on other threads are reported
        # at cleanup.
        self.contract = None
        self.contract_problems = []

    # -- commands -----------------------------------------------------------
    def cli(self, *args, env=None, timeout=CLI_TIMEOUT, binary=None):
        """Run `carebase ARGS` (binary: another build of it, HELPER_BIN)
        against the same database/env; CompletedProcess."""
        e = dict(self.env)
        e.update({k: str(v) for k, v in (env or {}).items()})
        try:
            r = subprocess.run([binary or BIN, *args], env=e, capture_output=True, text=True,
                               timeout=timeout, cwd=self.tmp_path)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"carebase {' '.join(args)} did not finish in {timeout}s: "
                        f"stderr={exc.stderr!r}")
        rep = sanitizer_report(r.stderr)
        if rep:
            pytest.fail(f"carebase {' '.join(args)}: sanitizer report:\n{rep}")
        return r

    def cli_ok(self, *args, **kw):
        r = self.cli(*args, **kw)
        assert r.returncode == 0, (f"carebase {' '.join(args)} exited {r.returncode}\n"
                                   f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def spawn(self, *args, env=None, name=None):
        """Start another long-running carebase process (e.g. `worker`)."""
        e = dict(self.env)
        e.update({k: str(v) for k, v in (env or {}).items()})
        name = name or f"{self.tag}-{args[0]}-{len(self.children)}"
        errf = open(self.tmp_path / f"{name}.stderr", "wb")
        p = subprocess.Popen([BIN, *args], env=e, stdout=subprocess.DEVNULL, stderr=errf,
                             cwd=self.tmp_path, start_new_session=True)
        errf.close()
        p.stderr_path = self.tmp_path / f"{name}.stderr"
        self.children.append(p)
        return p

    # -- serve --------------------------------------------------------------
    def migrate(self):
        """`carebase migrate`, unless the database is a copy of the migrated
        template already."""
        if not self.db.from_template:
            self.cli_ok("migrate")

    def start(self, migrate=True, args=()):
        if migrate:
            self.migrate()
        for attempt in range(3):
            log_before = len(self.log())
            if self._start_once(args):
                return self
            # The port picked may have been taken since: pick another.
            if "cannot serve" in self.log()[log_before:] and attempt < 2:
                self.env["CAREBASE_PORT"] = str(free_port())
                continue
            break
        why = (f"serve exited with {self.proc.returncode}" if self.proc.poll() is not None
               else f"no 'carebase listening on' line within {LISTEN_TIMEOUT}s")
        self.kill()
        pytest.fail(f"{why}\nstdout: {''.join(self.stdout_lines)}\nstderr:\n{self.log()}")

    def _start_once(self, args):
        self._listening.clear()
        errf = open(self._stderr_path, "ab")
        self.proc = subprocess.Popen([BIN, "serve", *args], env=self.env,
                                     stdout=subprocess.PIPE, stderr=errf,
                                     cwd=self.tmp_path, start_new_session=True)
        errf.close()
        threading.Thread(target=self._read_stdout, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + LISTEN_TIMEOUT
        while not self._listening.wait(0.02):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return False
        return True

    def _read_stdout(self, proc):
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace")
            self.stdout_lines.append(line)
            m = re.match(r"carebase listening on (\S+)", line)
            if m and not self._listening.is_set():
                self.base_url = m.group(1).rstrip("/")
                with _LIVE_LOCK:
                    _LIVE_SERVERS[self.base_url] = self
                self._listening.set()
        proc.stdout.close()

    @property
    def port(self):
        return int(urllib.parse.urlsplit(self.base_url).port)

    def url(self, path):
        return self.base_url + path

    def request(self, method, path, contract=True, **kw):
        """contract=False: an answer the test made carebase give from data
        it planted (openapi_contract is not asked)."""
        kw.setdefault("timeout", HTTP_TIMEOUT)
        with _Unhooked():
            r = self.session.request(method, self.url(path), **kw)
        if contract:
            self._check_contract(method, r, kw.get("stream", False))
        return r

    def check_raw(self, method, path, raw):
        """The contract check of an answer read raw (http.client, a
        socket): raw is the whole answer's bytes (read_answer). Returns the
        Response."""
        r = openapi_contract.response_from_raw(method, self.url(path), raw)
        self._check_contract(method, r, False)
        return r

    def check_answer(self, method, path, answer, body):
        """The same for an http.client answer (an HTTPResponse) whose body
        the caller read. Returns the Response."""
        r = openapi_contract.response_from_parts(
            method, self.url(path), answer.status, answer.getheaders(), body)
        self._check_contract(method, r, False)
        return r

    def _check_contract(self, method, r, streamed):
        """Fail the test when r is not the answer the document declares."""
        why = self.contract_problem(method, r, streamed)
        if why is None:
            return
        if threading.current_thread() is not threading.main_thread():
            self.contract_problems.append(why)
        pytest.fail(why, pytrace=False)

    def contract_problem(self, method, r, streamed=False, unread=False):
        """Why r is not the answer the document declares (the operation,
        status and the checker's message, and the body's first bytes), or
        None. The document of this binary is fetched once a session; a
        mismatch is checked again against this server's own (a route its
        configuration adds) before it counts. unread: the body is not at
        hand (a browser's answer whose body went with its page,
        web_browser.py), so the rest is checked without it."""
        if openapi_contract.jsonschema is None:
            pytest.fail("python3-jsonschema is needed (scripts/install-deps)")

        def fetch():
            with _Unhooked():
                return self.session.get(self.url("/v1/openapi.json"), timeout=30)

        try:
            openapi_contract.check(openapi_contract.contract_for(BIN, fetch), method,
                                   r.request.url, r, streamed, unread)
            return None
        except openapi_contract.ContractError:
            if self.contract is None:
                self.contract = openapi_contract.Contract(fetch().json())
        try:
            openapi_contract.check(self.contract, method, r.request.url, r, streamed, unread)
        except openapi_contract.ContractError as e:
            return f"{e}\nbody: {r.content[:800]!r}"
        return None

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def log(self):
        """Everything the server wrote to stderr so far. A running server
        writes info lines in batches (log_flush_ms, 100 by default): wait
        out one batch so a line logged just before the call is in."""
        if self.alive():
            time.sleep(0.25)
        try:
            return self._stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal the server and return its exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def metrics_headers(self):
        """The scrape token's Authorization header, as the server has it."""
        return {"Authorization": "Bearer " + self.env.get("CAREBASE_METRICS_TOKEN", "")}

    def metrics(self):
        r = self.get("/metrics", headers=self.metrics_headers())
        assert r.status_code == 200, r.text
        return r.text

    def cleanup(self):
        """Stop everything this handle started; return the problems seen."""
        with _LIVE_LOCK:
            if _LIVE_SERVERS.get(self.base_url) is self:
                del _LIVE_SERVERS[self.base_url]
        problems = list(dict.fromkeys(self.contract_problems))
        self.session.close()
        for p in self.children:
            if p.poll() is None:
                p.terminate()
        for p in self.children:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
                problems.append(f"{p.args} ignored SIGTERM for 5s")
            text = p.stderr_path.read_text(errors="replace")
            rep = sanitizer_report(text) or bug_event(text)
            if rep:
                problems.append(f"{p.args}: {rep}")
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(7)
                except subprocess.TimeoutExpired:
                    self.kill()
                    problems.append("serve ignored SIGTERM for 7s")
            text = self.log()
            rep = sanitizer_report(text) or bug_event(text)
            if rep:
                problems.append(f"serve: {rep}")
        return problems


@pytest.fixture
def start_server(request, tmp_path, make_db):
    """Factory: start_server(env=None, db=None, migrate=True, start=True) -> Server.

    Without db a fresh database of the kind under test is made: a copy of the
    migrated template, or empty with migrate=False. With start=False the
    handle only runs commands (h.cli) against that database.
    Passwords are hashed at the cheapest cost carebase accepts unless the
    test is marked production_password_cost.
    """
    servers = []
    production = request.node.get_closest_marker("production_password_cost") is not None

    def start(env=None, db=None, migrate=True, start=True, args=()):
        s = Server(tmp_path, db or make_db(migrated=migrate), env=env,
                   tag=f"srv{len(servers)}", production_passwords=production)
        servers.append(s)
        if start:
            s.start(migrate=migrate, args=args)
        elif migrate:
            s.migrate()
        return s

    yield start
    problems = []
    for s in servers:
        problems += s.cleanup()
    if problems:
        pytest.fail("after the test:\n" + "\n".join(problems), pytrace=False)


def undo_migration(db, name):
    """Take migration name back out of db, as `carebase migrate down` would
    take its batch (its down SQL, in one transaction, and its
    schema_migrations row), with the server stopped: a database as it was
    before the migration, for a test of what migrating it does."""
    down = (ROOT / "migrations" / db.kind / f"{name}.down.sql").read_text()
    if db.kind == "sqlite":
        down = f"BEGIN IMMEDIATE;\n{down}\nCOMMIT;"
    db.execute(down)
    db.execute(f"DELETE FROM schema_migrations WHERE name = '{name}'")


@pytest.fixture
def server(start_server, db):
    """A migrated server with the default test configuration, on db."""
    return start_server(db=db)


# --------------------------------------------------------------------------
# people: accounts, signing in, and the header that carries a token

PASSWORD = "pale orange kettle 1987 drums"


def hdr(who, **extra):
    """The Authorization header of who (a person() or a bare token), and extra."""
    token = who["token"] if isinstance(who, dict) else who
    return {"Authorization": f"Bearer {token}", **extra}


def years_ago(n):
    """Today's date n years ago (28 February for 29 February), ISO 8601."""
    t = datetime.date.today()
    try:
        return t.replace(year=t.year - n).isoformat()
    except ValueError:                      # 29 February
        return t.replace(year=t.year - n, day=28).isoformat()


def register(server, email, password=PASSWORD, **fields):
    """POST /v1/auth/register with the terms accepted; the response, unchecked."""
    body = {"email": email, "password": password, "accept_terms": True}
    body.update(fields)
    return server.post("/v1/auth/register", json=body)


def sign_in(server, email, password=PASSWORD, **kw):
    """POST /v1/auth/login; the response, unchecked."""
    return server.post("/v1/auth/login", json={"email": email, "password": password}, **kw)


def text_index(server, value):
    """The keyed blind index carebase keeps of value (keyring_text_index):
    BLAKE2b keyed with the index key, which is derived from the server's
    master key as libsodium's crypto_kdf derives it (context "cbindex_",
    subkey 2: keyring_init)."""
    master = bytes.fromhex(open(server.env["CAREBASE_MASTER_KEY_FILE"]).read().strip())
    key = hashlib.blake2b(b"", digest_size=32, key=master,
                          salt=(2).to_bytes(8, "little") + bytes(8),
                          person=b"cbindex_" + bytes(8)).digest()
    return hashlib.blake2b(value.encode(), digest_size=32, key=key).hexdigest()


def ip_subject(server, client):
    """login_failures' subject of a client address (its limit key)."""
    return "ip:" + text_index(server, "ip:" + client)


def login(server, email, password=PASSWORD, headers=None):
    """The token of a sign-in that must succeed."""
    r = sign_in(server, email, password, headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def me(server, who):
    """GET /v1/me as who (a person() or a token), which must succeed."""
    r = server.get("/v1/me", headers=hdr(who))
    assert r.status_code == 200, r.text
    return r.json()


def add_user(server, role, email, password=PASSWORD):
    """An account made on the command line, as staff are (by HELPER_BIN)."""
    server.cli_ok("user", "add", f"--role={role}", f"--email={email}",
                  f"--password={password}", binary=HELPER_BIN)


def verify_address(server, user_id):
    """Mark user_id's address verified, as opening the link of the
    verification mail does (POST /v1/auth/verify-email, which
    test_mail_templates.py goes through): an unverified address gets no
    mail but that link and password resets, so a test about other mail to
    a member who registered verifies them first."""
    server.db.execute(f"UPDATE users SET email_verified_at = created_at "
                      f"WHERE id = '{user_id}' AND email_verified_at IS NULL")


def person(server, name, role=None, email=None, password=PASSWORD, headers=None,
           verified=True, **fields):
    """A signed-in account: {"email", "token", "id"}, and "first_name" for a
    member. With a role it is made by `carebase user add`; without, it
    registers through the API as an adult in GB called name.capitalize(),
    and fields change that (a field given as None is left out); its address
    is verified (verify_address) unless verified is False. headers go with
    the sign-in."""
    email = email or f"{name.lower()}.{secrets.token_hex(3)}@example.org"
    out = {"email": email}
    if role is None:
        body = {"first_name": name.capitalize(), "date_of_birth": "1990-01-01",
                "country": "GB"}
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not None}
        r = register(server, email, password, **body)
        assert r.status_code == 201, r.text
        out["first_name"] = body.get("first_name")
    else:
        add_user(server, role, email, password)
    out["token"] = login(server, email, password, headers=headers)
    out["id"] = me(server, out["token"])["id"]
    if role is None and verified:
        verify_address(server, out["id"])
    return out


@pytest.fixture
def admin(server):
    """An admin of server, signed in: a person()."""
    return person(server, "admin", "admin")


def held_data_key(db, user_id):
    """(rows of user_keys, (email, first_name, audit_ref) of users or None):
    a person's data key and sealed columns as the database holds them."""
    keys = db.count("user_keys", f"user_id = '{user_id}'")
    sealed = db.query(f"SELECT email, first_name, audit_ref FROM users WHERE id = '{user_id}'")
    return keys, sealed[0] if sealed else None


def relate(server, admin, lead, follower, kind, consent=True):
    """A relationship made by admin, with consent recorded unless consent=False."""
    r = server.post("/v1/relationships", headers=hdr(admin),
                    json={"lead_id": lead["id"], "follower_id": follower["id"], "kind": kind})
    assert r.status_code == 201, r.text
    rel = r.json()
    if consent:
        r = server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(admin),
                        json={"method": "signed_form"})
        assert r.status_code == 200, r.text
    return rel


# --------------------------------------------------------------------------
# partners and the booking webhook (SimplyBook)

SIMPLYBOOK_SECRET = "sb-" + secrets.token_hex(16)
SIMPLYBOOK_HOOK = "/v1/webhooks/simplybook"


def iso(dt):
    """A datetime as the API writes times: UTC, milliseconds, Z."""
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def make_partner(server, admin, name, **fields):
    r = server.post("/v1/partners", headers=hdr(admin), json={"name": name, **fields})
    assert r.status_code == 201, r.text
    return r.json()


def new_code(server, who, partner=None, **body):
    """An access code made by who (an admin or a partner admin): the access.
    Live chat and therapy with 6 sessions unless body says otherwise; with
    partner, for that partner (or give partner_id in body)."""
    body.setdefault("feature_live_chat", True)
    body.setdefault("feature_therapy", True)
    body.setdefault("therapy_sessions_remaining", 6)
    if partner is not None:
        body["partner_id"] = partner["id"]
    r = server.post("/v1/partner-access", headers=hdr(who), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def assign(server, who, code, **extra):
    """POST /v1/partner-access/assign of code as who; the response, unchecked."""
    return server.post("/v1/partner-access/assign", headers=hdr(who),
                       json={"code": code, **extra})


def redeem(server, who, code, **extra):
    """code assigned to who, which must succeed; the answer's body."""
    r = assign(server, who, code, **extra)
    assert r.status_code == 200, r.text
    return r.json()


def grant(server, admin, partner, member, sessions=6, therapy=True):
    """An access of partner with sessions, redeemed by member."""
    acc = new_code(server, admin, partner, feature_therapy=therapy,
                   therapy_sessions_remaining=sessions)
    redeem(server, member, acc["code"])
    return acc


def access_counts(db, access_id):
    """(therapy_sessions_remaining, therapy_sessions_redeemed) of an access."""
    row = db.query(f"SELECT therapy_sessions_remaining, therapy_sessions_redeemed "
                   f"FROM partner_access WHERE id = '{access_id}'")[0]
    return int(row[0]), int(row[1])


def booking_payload(email, code=None, action="NEW_BOOKING", start=None, hours=1, **extra):
    """A booking webhook body for email, two days ahead unless start is given."""
    start = start or (datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
                      + datetime.timedelta(days=2))
    body = {"action": action, "client_email": email, "client_timezone": "Europe/London",
            "booking_code": code or secrets.token_hex(5), "service_name": "Therapy session",
            "service_provider_name": "Dr Ada Lovelace",
            "service_provider_email": "ada@therapists.example.org",
            "start_date_time": iso(start),
            "end_date_time": iso(start + datetime.timedelta(hours=hours))}
    body.update(extra)
    return body


def booking_hook(server, body, token=SIMPLYBOOK_SECRET, headers=None, raw=None, session=None):
    """POST body (or raw bytes) to the booking webhook with token."""
    h = {"Content-Type": "application/json"}
    if token is not None:
        h["X-Simplybook-Token"] = token
    h.update(headers or {})
    data = raw if raw is not None else json.dumps(body)
    s = session or server.session
    return s.post(server.url(SIMPLYBOOK_HOOK), data=data, headers=h, timeout=60)


def post_booking(server, email, **fields):
    """A NEW_BOOKING for email (two days ahead unless fields say otherwise)
    posted to the booking webhook with the right token; the response,
    unchecked."""
    return booking_hook(server, booking_payload(email, **fields))


def webhook_booking(server, who, **fields):
    """A booking for who made by the booking webhook, which must succeed:
    the booking as the webhook answers it."""
    fields.setdefault("code", "SB-" + secrets.token_hex(5))
    r = post_booking(server, who["email"], **fields)
    assert r.status_code == 200, r.text
    return r.json()["booking"]


# The audit log that cannot be written (test_audit_batching, test_ops_routes):
# every INSERT into audit_log refused, until FAIL_DROP.
FAIL_TRIGGER = {
    "sqlite": ("CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log "
               "BEGIN SELECT RAISE(ABORT, 'audit refused by the test'); END;"),
    "postgres": ("CREATE FUNCTION audit_refused() RETURNS trigger LANGUAGE plpgsql AS "
                 "$$ BEGIN RAISE EXCEPTION 'audit refused by the test'; END $$; "
                 "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log "
                 "FOR EACH ROW EXECUTE FUNCTION audit_refused();"),
}
FAIL_DROP = {
    "sqlite": "DROP TRIGGER audit_refused;",
    "postgres": "DROP TRIGGER audit_refused ON audit_log; DROP FUNCTION audit_refused();",
}


def chain_hash(prev, row):
    """A row's hash as resource/audit.c computes it: SHA-256 over the
    previous hash and the fields, each a tag byte (0 NULL, 1 a value), then
    the value's length (8 bytes, big-endian) and bytes; seq and at decimal."""
    h = hashlib.sha256()
    for name in ("prev", "seq", "id", "at", "actor_ref", "actor_role", "action",
                 "entity_type", "entity_id", "changes", "ip", "user_agent", "request_id"):
        v = prev if name == "prev" else row[name]
        if v is None:
            h.update(b"\0")
            continue
        b = str(v).encode()
        h.update(b"\1" + len(b).to_bytes(8, "big") + b)
    return h.hexdigest()


def grow_audit_log(db, n, batch=2000):
    """Append n rows to the audit log, chained as the server chains them
    (rows of a test's own action, audit.filler); the last seq. Nothing else
    may write the log meanwhile."""
    last = db.query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    seq, prev = (int(last[0][0]), last[0][1]) if last else (0, "0" * 64)
    now = int(time.time() * 1000)
    while n > 0:
        values = []
        for _ in range(min(n, batch)):
            seq += 1
            row = {"seq": seq, "id": str(uuid.uuid4()), "at": now, "actor_ref": None,
                   "actor_role": "system", "action": "audit.filler", "entity_type": "tests",
                   "entity_id": None, "changes": "{}", "ip": None, "user_agent": None,
                   "request_id": None}
            h = chain_hash(prev, row)
            values.append(f"({seq}, '{row['id']}', {now}, 'system', 'audit.filler', "
                          f"'tests', '{{}}', '{prev}', '{h}')")
            prev = h
        db.execute("INSERT INTO audit_log (seq, id, at, actor_role, action, entity_type, "
                   "changes, prev_hash, hash) VALUES " + ", ".join(values))
        n -= len(values)
    return seq


# audit_log's changes as the log's readers show them: a read's page of ids
# (migration 0058, kept once in audit_pages) in the place of the row's
# {"$ids":"<digest>"}. For SQL reading the log directly.
AUDIT_CHANGES = ("COALESCE((SELECT body FROM audit_pages WHERE "
                 "'{\"$ids\":\"' || digest || '\"}' = audit_log.changes), "
                 "audit_log.changes)")


def tamper(db, sql):
    """Write to the audit log (or its pages) as the database owner could: drop the
    append-only triggers, then run sql, committed, on either database."""
    for table in ("audit_log", "audit_pages"):     # a read's ids (0058)
        if db.kind == "sqlite":
            db.execute(f"DROP TRIGGER IF EXISTS {table}_no_update; "
                       f"DROP TRIGGER IF EXISTS {table}_no_delete")
        else:
            db.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    db.execute(sql)


def inbox_row(db, inbox_id):
    """The webhook_inbox row of a booking webhook call, by name."""
    rows = db.query(f"SELECT source, outcome, http_status, signature_ok, attempts, error, "
                    f"headers FROM webhook_inbox WHERE id = '{inbox_id}'")
    assert rows, f"no inbox row {inbox_id}"
    r = rows[0]
    return {"source": r[0], "outcome": r[1], "http_status": int(r[2] or 0),
            "signature_ok": int(r[3]), "attempts": int(r[4]), "error": r[5],
            "headers": json.loads(r[6])}


# --------------------------------------------------------------------------
# the therapy practice

PHQ9 = "00000000-0000-7000-8000-000000000009"
GAD7 = "00000000-0000-7000-8000-000000000007"
PHQ_OPTS = ["Not at all", "Several days", "More than half the days", "Nearly every day"]


def profile(server, admin, who, **extra):
    """who's therapist profile, made by admin."""
    body = {"user_id": who["id"], "bio": "CBT and ACT.", "specialties": ["anxiety"],
            "credentials": ["BACP"], "calendar_integration":
            {"provider": "google", "calendar_id": "cal-1"}, "meta": {"room": 3}}
    body.update(extra)
    r = server.post("/v1/therapists", headers=hdr(admin), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def at(hours, minutes=0):
    """A time that many hours after 2031-03-03 09:00 UTC, as the API writes it."""
    when = datetime.datetime(2031, 3, 3, 9, 0, tzinfo=datetime.timezone.utc)
    when += datetime.timedelta(hours=hours, minutes=minutes)
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ago(hours, minutes=0):
    """A time that many hours before now (whole minutes), as the API writes
    it: a session there has started, so it may be completed or marked a
    no-show."""
    when = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    when -= datetime.timedelta(hours=hours, minutes=minutes)
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def book(server, who, therapist, client, start, end, **extra):
    """POST /v1/therapy-sessions as who; the response, unchecked."""
    body = {"therapist_id": therapist["profile"]["id"], "client_id": client["id"],
            "start_time": start, "end_time": end, "type": "regular", "format": "video"}
    body.update(extra)
    return server.post("/v1/therapy-sessions", headers=hdr(who), json=body)


@pytest.fixture
def practice(server):
    """An admin, three therapists with profiles, a client with two
    practitioners and a guardian, and another client."""
    p = {"admin": person(server, "admin", "admin"),
         "therapist": person(server, "therapist", "therapist"),
         "therapist2": person(server, "therapist2", "therapist"),
         "colleague": person(server, "colleague", "therapist"),
         "client": person(server, "client"),
         "guardian": person(server, "guardian"),
         "other": person(server, "other")}
    p["therapist"]["profile"] = profile(server, p["admin"], p["therapist"])
    p["therapist2"]["profile"] = profile(server, p["admin"], p["therapist2"])
    p["colleague"]["profile"] = profile(server, p["admin"], p["colleague"])
    relate(server, p["admin"], p["therapist"], p["client"], "practitioner_of")
    # A second practitioner of the same client: sees their own sessions
    # with the client, never a colleague's.
    relate(server, p["admin"], p["colleague"], p["client"], "practitioner_of")
    relate(server, p["admin"], p["guardian"], p["client"], "guardian_of")
    relate(server, p["admin"], p["therapist2"], p["other"], "practitioner_of")
    return p


# --------------------------------------------------------------------------
# jobs and races

def queue_job(db, kind):
    """A job of kind, due now, put in the queue as its schedule would."""
    db.execute("INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, "
               f"run_at, created_at, updated_at) VALUES ('{uuid.uuid4()}', '{kind}', "
               "'{}', 'queued', 0, 3, 0, 0, 0)")


def direct_race(db, n, read_sql, write_sql):
    """The control of a race test: the same check-then-write done without
    the guard, straight on the database. n threads, each on its own
    autocommit connection, read read_sql's one value, all wait until every
    one has read, then each whose value write_sql(i, value) turns into SQL
    (not None) runs it. Returns how many wrote."""
    barrier = threading.Barrier(n)
    wrote = [0] * n
    errors = []

    def connect():
        if db.kind == "sqlite":
            import sqlite3
            return sqlite3.connect(str(db.path), timeout=60, isolation_level=None,
                                   check_same_thread=False)
        con = psycopg2.connect(db.url, connect_timeout=10)
        con.autocommit = True
        return con

    def go(i):
        con = connect()
        try:
            cur = con.cursor()
            cur.execute(read_sql)
            value = cur.fetchone()[0]
            barrier.wait(timeout=60)
            sql = write_sql(i, int(value))
            if sql is not None:
                cur.execute(sql)
                wrote[i] = 1
        except Exception as e:              # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            con.close()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    return sum(wrote)


def race(urls, n, call):
    """n threads, each with its own session signed in already, released at
    once; thread i calls call(i, session, base_url) with base_url taken in
    turn from urls (one server each: two processes share the database).
    Returns the results in order."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def go(i):
        with requests.Session() as s:
            barrier.wait(timeout=60)
            results[i] = call(i, s, urls[i % len(urls)])

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None for r in results), results
    return results


# --------------------------------------------------------------------------
# reports: rows with known times

BETA = "=Beta, \"Quoted\", Inc"
RANGE = "from=2025-01-01&to=2025-03-01"
BAD_QUERIES = [
    ("no from", "to=2025-03-01", "from"),
    ("no to", "from=2025-01-01", "to"),
    ("bad from", "from=last-week&to=2025-03-01", "from"),
    ("bad to", "from=2025-01-01&to=2025-02-30", "to"),
    ("to before from", "from=2025-03-01&to=2025-01-01", "to"),
    ("empty range", "from=2025-03-01&to=2025-03-01", "to"),
    ("over five years", "from=2019-01-01&to=2025-01-02", "to"),
    ("bad period", RANGE + "&period=year", "period"),
    ("bad format", RANGE + "&format=xml", "format"),
    ("before 1970", "from=1969-12-01&to=1970-01-02", "from"),
]


def t(s):
    """'2025-01-06' or '2025-01-06T10:00' (UTC) -> ms."""
    fmt = "%Y-%m-%dT%H:%M" if "T" in s else "%Y-%m-%d"
    return calendar.timegm(time.strptime(s, fmt)) * 1000


def q(v):
    """v as an SQL literal."""
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def insert(table, **cols):
    return (f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
            f"({', '.join(q(v) for v in cols.values())});\n")


@pytest.fixture
def seeded(server, db):
    """Rows with known times; the ids are returned by name."""
    ids = {k: str(uuid.uuid4()) for k in (
        "alpha", "beta", "gamma", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "staff",
        "a1", "a2", "a3", "a4", "a5", "a6", "a7", "b1", "b2", "b3", "b4", "b5",
        "c1", "c2", "s1a", "s1b", "s2a", "e1", "e2", "e3", "p1", "p2", "p3", "p4")}
    sql = ""
    for key, name in (("alpha", "Alpha"), ("beta", BETA), ("gamma", "Gamma")):
        sql += insert("partners", id=ids[key], name=name, created_at=t("2024-06-01"),
                      updated_at=t("2024-06-01"))
    users = {"u1": "2025-01-06T09:00", "u2": "2025-01-07T23:59", "u3": "2025-01-12T12:00",
             "u4": "2025-02-01T00:00", "u5": "2025-02-03T08:00", "u6": "2024-12-31T23:59",
             "u7": "2025-03-01T00:00"}
    for key, when in users.items():
        sql += insert("users", id=ids[key], role="member", created_at=t(when),
                      updated_at=t(when))
    sql += insert("users", id=ids["staff"], role="admin", created_at=t("2025-01-08"),
                  updated_at=t("2025-01-08"))
    # partner, user, code hash, created, activated
    accesses = {"a1": ("alpha", "u1", "h1", "2024-12-20", "2025-01-06T09:05"),
                "a2": ("alpha", "u2", "h2", "2025-01-02", "2025-01-07T23:59"),
                "a3": ("beta", "u3", "h3", "2025-01-02", "2025-01-12T12:00"),
                "a4": ("alpha", "u5", None, "2025-02-03T08:00", "2025-02-03T08:00"),
                "a5": ("beta", "u5", "h5", "2025-01-15", "2025-02-03T09:00"),
                "a6": ("alpha", None, "h6", "2025-02-10", None),
                "a7": ("gamma", None, "h7", "2025-03-05", None)}
    for key, (p, u, h, created, activated) in accesses.items():
        sql += insert("partner_access", id=ids[key], partner_id=ids[p],
                      user_id=ids[u] if u else None,
                      code_hash=(h + secrets.token_hex(8)) if h else None,
                      feature_therapy=1, therapy_sessions_remaining=6,
                      created_at=t(created), updated_at=t(created),
                      activated_at=t(activated) if activated else None)
    # user, partner, access, created, cancelled
    bookings = {"b1": ("u1", "alpha", "a1", "2025-01-10", "2025-01-11"),
                "b2": ("u2", "alpha", "a2", "2025-01-20", None),
                "b3": ("u3", "beta", "a3", "2025-02-05", "2025-03-02"),
                "b4": ("u5", "beta", "a5", "2024-12-30", "2025-01-03"),
                "b5": ("u4", None, None, "2025-02-07", None)}
    for key, (u, p, a, created, cancelled) in bookings.items():
        sql += insert("therapy_bookings", id=ids[key], action="NEW_BOOKING", user_id=ids[u],
                      partner_id=ids[p] if p else None, partner_access_id=ids[a] if a else None,
                      booking_code=f"code-{key}-{secrets.token_hex(3)}",
                      service_name="Therapy", service_provider_name="Dr A",
                      service_provider_email="a@example.org",
                      start_date_time=t("2025-04-01"), end_date_time=t("2025-04-01T01:00"),
                      cancelled_at=t(cancelled) if cancelled else None,
                      created_at=t(created), updated_at=t(created))
    for key, name in (("c1", "Healing"), ("c2", "Boundaries")):
        sql += insert("courses", id=ids[key], name=name, slug=name.lower(), status="published",
                      created_at=t("2024-01-01"), updated_at=t("2024-01-01"))
    for n, (key, course) in enumerate((("s1a", "c1"), ("s1b", "c1"), ("s2a", "c2"))):
        sql += insert("course_sessions", id=ids[key], storyblok_id=100 + n,
                      storyblok_uuid=str(uuid.uuid4()), course_id=ids[course], name=key,
                      slug=key, status="published", created_at=t("2024-01-01"),
                      updated_at=t("2024-01-01"))
    enrolments = {"e1": ("u1", "c1", "2025-01-05", "2025-02-10"),
                  "e2": ("u2", "c1", "2025-01-20", None),
                  "e3": ("u3", "c2", "2025-02-01", "2025-02-02")}
    for key, (u, c, started, done) in enrolments.items():
        sql += insert("course_enrolments", id=ids[key], user_id=ids[u], course_id=ids[c],
                      completed=1 if done else 0, started_at=t(started),
                      completed_at=t(done) if done else None, created_at=t(started),
                      updated_at=t(started))
    progress = {"p1": ("u1", "s1a", "2025-01-05", "2025-01-06"),
                "p2": ("u1", "s1b", "2025-01-07", "2025-02-10"),
                "p3": ("u2", "s1a", "2025-01-20", None),
                "p4": ("u3", "s2a", "2025-02-01", "2025-02-02")}
    for key, (u, s, started, done) in progress.items():
        sql += insert("course_session_progress", id=ids[key], user_id=ids[u],
                      session_id=ids[s], completed=1 if done else 0, started_at=t(started),
                      completed_at=t(done) if done else None, created_at=t(started),
                      updated_at=t(started))
    db.execute(sql)
    ids["admin"] = person(server, "admin", "admin")
    return ids


# --------------------------------------------------------------------------
# metrics


def metric_samples(text, name):
    """[(labels dict, value)] for every sample of metric name."""
    out = []
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out.append((labels, float(m.group(4))))
    return out


def metric_sum(text, name, **labels):
    return sum(v for lab, v in metric_samples(text, name)
               if all(lab.get(k) == want for k, want in labels.items()))


# --------------------------------------------------------------------------
# the SMTP sink


class SmtpSink:
    """Receives mail on 127.0.0.1:port and keeps each message as a file in dir."""

    def __init__(self, out_dir, tls_cert=None, tls_key=None):
        self.tls = (tls_cert, tls_key) if tls_cert else None
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = None
        self._proc = None
        self._controller = None

    def start(self):
        script = ROOT / "tests" / "smtp_sink.py"
        self.port = free_port()
        if script.exists():
            self._start_script(script)
        else:
            self._start_inline()
        return self

    def _start_script(self, script):
        self._proc = subprocess.Popen(
            ["/usr/bin/python3", str(script), "--port", str(self.port), "--out", str(self.dir)]
            + (["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])] if self.tls else []),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        ready = threading.Event()
        seen = []

        def read():
            for raw in iter(self._proc.stdout.readline, b""):
                seen.append(raw)
                if b"ready" in raw:
                    ready.set()
            self._proc.stdout.close()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(10):
            self.stop()
            pytest.fail(f"smtp_sink.py did not print ready: {b''.join(seen)!r}")

    def _start_inline(self):
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                data = envelope.original_content or envelope.content
                if isinstance(data, str):
                    data = data.encode("utf-8", "surrogateescape")
                name = f"{time.time_ns()}-{secrets.token_hex(4)}.eml"
                tmp = sink.dir / (name + ".tmp")
                tmp.write_bytes(data)
                tmp.rename(sink.dir / name)
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                      ready_timeout=10)
        self._controller.start()

    def files(self):
        """Complete messages (NNNN.eml; smtp_sink.py also writes NNNN.env)."""
        return sorted(p for p in self.dir.iterdir() if p.is_file() and p.suffix == ".eml")

    def messages(self):
        """Every message received so far, as email.message.EmailMessage."""
        out = []
        for p in self.files():
            try:
                data = p.read_bytes()
            except FileNotFoundError:
                continue
            out.append(email.message_from_bytes(data, policy=email.policy.default))
        return out

    def clear(self):
        """Forget the messages received so far (a fixture's own mail, such
        as the verification a member who signs up is sent)."""
        for p in self.dir.iterdir():
            if p.is_file():
                p.unlink()

    def wait_for(self, n, timeout=10.0):
        wait_until(lambda: len(self.files()) >= n, timeout=timeout,
                   what=f"{n} message(s) in the SMTP sink")
        # a file appears once a message is complete; give a writer a moment
        time.sleep(0.05)
        return self.messages()

    def stop(self):
        if self._controller is not None:
            try:
                self._controller.stop()
            except Exception:
                pass
            self._controller = None
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)


@pytest.fixture
def smtp_sink(tmp_path):
    s = SmtpSink(tmp_path / "mail").start()
    yield s
    s.stop()


# --------------------------------------------------------------------------
# mail: `carebase mail test` and the email_log row it makes

SUBJECT = "carebase test message"


def with_mail(env, sink):
    """env with mail to the SMTP sink, so that a changed address can be
    proven by its verification link (prove_address)."""
    env = dict(env)
    env.update({"CAREBASE_SMTP_URL": f"smtp://127.0.0.1:{sink.port}",
                "CAREBASE_SMTP_TLS": "none",
                "CAREBASE_PUBLIC_URL": "https://care.example.org"})
    return env


def prove_address(server, address):
    """Follow the verification link mailed to address (server.sink)."""
    found = []

    def link():
        for m in server.sink.messages():
            if address in str(m["To"]) and "Confirm your address" in str(m["Subject"]):
                g = re.search(r"/verify-email\?token=([A-Za-z0-9_-]{43})",
                              m.get_body(("plain",)).get_content())
                if g:
                    found[:] = [g.group(1)]
                    return True
        return False
    wait_until(link, what=f"the verification mail to {address}")
    r = server.post("/v1/auth/verify-email", json={"token": found[0]})
    assert r.status_code == 204, r.text


def smtp_env(port):
    """Settings that send mail to an SMTP sink on port, in clear."""
    return {
        "CAREBASE_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "CAREBASE_SMTP_TLS": "none",
        "CAREBASE_SMTP_TIMEOUT_S": "5",
    }


def queue_test_mail(h, to):
    """Queue `carebase mail test` to to; the id of its email_log row."""
    r = h.cli_ok("mail", "test", f"--to={to}")
    m = re.search(r"email_log ([0-9a-fA-F-]{36})", r.stdout)
    assert m, f"mail test did not name its email_log row: {r.stdout!r}"
    return m.group(1)


def email_log(h, log_id):
    """The email_log row log_id of h's database, by column name."""
    rows = h.db.query(f"SELECT status, sent_at, error, attempts, recipient FROM email_log "
                      f"WHERE id = '{log_id}'")
    assert len(rows) == 1, rows
    return dict(zip(("status", "sent_at", "error", "attempts", "recipient"), rows[0]))


def wait_log_status(h, log_id, status, timeout=10):
    """Wait until email_log row log_id has status; the row."""
    return wait_until(lambda: (row := email_log(h, log_id))["status"] == status and row,
                      timeout=timeout, what=f"email_log {log_id} to be {status!r}")


# --------------------------------------------------------------------------
# fake outside services: the chat provider

CHAT_WEBSITE = "8c842203-7ed8-4e29-a608-7cf78a7d2fcc"


class FakeHttp:
    """A local HTTP server; handle(method, path, body, headers) -> (status, obj)."""

    def __init__(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                status, body = fake.handle(self.command, self.path, raw, self.headers)
                if status is None:
                    return          # hung up on purpose
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeChat(FakeHttp):
    """Crisp's people API, enough of it: data PUTs of people it knows are
    stored, unknown people answer 404 people_not_found, POST people/profile
    makes one. script holds the answers of the next data PUTs: an HTTP
    status, "hang" (answer nothing for 2.5 s), "big" (200 with 200 kB) or
    "gate" (wait for self.release, then as usual). DELETE people/profile/
    {email} removes a person (404 people_not_found for one it does not
    know); delete_script holds the statuses of the next DELETEs."""

    def __init__(self):
        self.lock = threading.Lock()
        self.log = []          # every request: dict(method, path, people, body, headers, status)
        self.people = {}       # email -> data
        self.script = []
        self.delete_script = []
        self.entered = threading.Event()    # a "gate" request arrived
        self.release = threading.Event()    # let it go on
        super().__init__()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/v1"

    def handle(self, method, path, raw, headers):
        body = json.loads(raw) if raw else None
        rec = {"method": method, "path": path, "body": body,
               "headers": {k.lower(): v for k, v in headers.items()}, "status": None}
        data_prefix = f"/v1/website/{CHAT_WEBSITE}/people/data/"
        profile_prefix = f"/v1/website/{CHAT_WEBSITE}/people/profile/"
        with self.lock:
            self.log.append(rec)
            if method == "DELETE" and path.startswith(profile_prefix):
                rec["people"] = unquote(path[len(profile_prefix):])
                if self.delete_script:
                    rec["status"] = self.delete_script.pop(0)
                    return rec["status"], {"error": True, "reason": "scripted_failure",
                                           "data": {}}
                if self.people.pop(rec["people"], None) is None:
                    rec["status"] = 404
                    return 404, {"error": True, "reason": "people_not_found", "data": {}}
                rec["status"] = 200
                return 200, {"error": False, "reason": "deleted", "data": {}}
            if method == "PUT" and path.startswith(data_prefix):
                rec["people"] = unquote(path[len(data_prefix):])
                if self.script:
                    what = self.script.pop(0)
                    if what == "hang":
                        self.lock.release()
                        try:
                            time.sleep(2.5)
                        finally:
                            self.lock.acquire()
                        return None, None
                    if what == "gate":
                        self.entered.set()
                        self.lock.release()
                        try:
                            self.release.wait(10)
                        finally:
                            self.lock.acquire()
                        what = None
                    elif what == "big":
                        rec["status"] = 200
                        return 200, b"{" + b" " * 200000 + b"}"
                    if what is not None:
                        rec["status"] = what
                        return what, {"error": True, "reason": "scripted_failure",
                                      "data": {}}
                if rec["people"] not in self.people:
                    rec["status"] = 404
                    return 404, {"error": True, "reason": "people_not_found", "data": {}}
                self.people[rec["people"]] = body["data"]
                rec["status"] = 200
                return 200, {"error": False, "reason": "updated", "data": {}}
            if method == "POST" and path == f"/v1/website/{CHAT_WEBSITE}/people/profile":
                if body["email"] in self.people:
                    rec["status"] = 409
                    return 409, {"error": True, "reason": "people_exists", "data": {}}
                self.people[body["email"]] = {}
                rec["status"] = 201
                return 201, {"error": False, "reason": "added",
                             "data": {"people_id": str(uuid.uuid4())}}
            rec["status"] = 404
            return 404, {"error": True, "reason": "not_found", "data": {}}

    def requests(self, email=None):
        with self.lock:
            return [r for r in self.log if email is None or r.get("people") == email
                    or (r["body"] or {}).get("email") == email]

    def deletes(self, email):
        """The statuses of every profile DELETE for email, in order."""
        return [r["status"] for r in self.requests(email) if r["method"] == "DELETE"]

    def pushes(self, email):
        """The data of every data PUT for email that was stored, in order."""
        return [r["body"]["data"] for r in self.requests(email)
                if r["method"] == "PUT" and r["status"] == 200]


@pytest.fixture
def chat():
    f = FakeChat()
    yield f
    f.stop()


CHAT_IDENT = "plugin-ident"
CHAT_KEY = "k3y:with/odd+chars"


def chat_env(chat, **extra):
    """A server's settings for the chat sync to the fake provider chat:
    short timeouts, a 300 ms push delay, a fast backoff; extra overrides."""
    env = {"CAREBASE_CHAT_SYNC_URL": chat.url,
           "CAREBASE_CHAT_SYNC_WEBSITE_ID": CHAT_WEBSITE,
           "CAREBASE_CHAT_SYNC_IDENTIFIER": CHAT_IDENT,
           "CAREBASE_CHAT_SYNC_KEY": CHAT_KEY,
           "CAREBASE_CHAT_SYNC_TIMEOUT_S": "1",
           "CAREBASE_CHAT_SYNC_DELAY_MS": "300",
           "CAREBASE_JOB_BACKOFF_BASE_MS": "200"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def chat_jobs(db):
    """chat.profile_sync jobs queued or running."""
    return db.count("jobs", "kind = 'chat.profile_sync'")


def chat_settle(db, timeout=15.0):
    """Wait until no chat.profile_sync job is queued or running."""
    wait_until(lambda: chat_jobs(db) == 0, timeout=timeout, what="chat jobs to finish")


def wait_pushes(chat, email, n, timeout=15.0):
    """Wait for n stored profile pushes for email; all of them, in order."""
    wait_until(lambda: len(chat.pushes(email)) >= n, timeout=timeout,
               what=f"{n} profile push(es)")
    return chat.pushes(email)


def patch_access(server, who, access, **body):
    """PATCH a partner access as who, with If-Match (the ETag just read:
    therapy_sessions_remaining needs it); the answer's body."""
    etag = server.get(f"/v1/partner-access/{access['id']}", headers=hdr(who)).headers["ETag"]
    r = server.request("PATCH", f"/v1/partner-access/{access['id']}",
                       headers={**hdr(who), "If-Match": etag}, json=body)
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------
# fake outside services: the CMS (Storyblok's content delivery API)

CMS_TOKEN = "cms token/with+odd&chars"


class FakeCms(FakeHttp):
    """GET /v2/cdn/stories/<id>?token=CMS_TOKEN answers {"story": ...} from
    self.stories (by id as a string), 404 for an id it does not hold, 401
    for another token, 503 while self.down is set; self.fetches lists the
    path of every GET. With self.gate (a threading.Barrier) set, each GET
    waits on it first: n fetches answered together. The next
    self.fail_slowly GETs (after the gate) answer 503 a second late."""

    def __init__(self):
        self.stories = {}
        self.fetches = []
        self.down = False
        self.gate = None
        self.fail_slowly = 0
        self._lock = threading.Lock()
        super().__init__()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/v2"

    def handle(self, method, path, raw, headers):
        if method != "GET":
            return 405, {"error": "method not allowed"}
        path, _, query = path.partition("?")
        self.fetches.append(path)
        if self.gate is not None:
            self.gate.wait(timeout=10)
        with self._lock:
            slow = self.fail_slowly > 0
            self.fail_slowly -= slow
        if slow:
            time.sleep(1)
            return 503, {"error": "maintenance"}
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        if self.down:
            return 503, {"error": "maintenance"}
        if unquote(params.get("token", "")) != CMS_TOKEN:
            return 401, {"error": "bad token"}
        prefix = "/v2/cdn/stories/"
        story = self.stories.get(path[len(prefix):] if path.startswith(prefix) else "")
        if story is None:
            return 404, {"error": "not found"}
        return 200, {"story": story}


@pytest.fixture
def cms():
    c = FakeCms()
    yield c
    c.stop()


def course_story(cms, name="Healing from trauma", partners=None, **content):
    """A Course story in the fake CMS (included for "Public" unless
    partners says otherwise; content adds to or replaces its content)."""
    sid = 100000 + len(cms.stories) + secrets.randbelow(1000) * 1000
    story = {"id": sid, "uuid": str(uuid.uuid4()), "name": name,
             "full_slug": "courses/" + name.lower().replace(" ", "-"),
             "tag_list": ["healing"],
             "content": {"component": "Course", "name": name,
                         "description": "A course about " + name,
                         "included_for_partners": partners if partners is not None
                         else ["Public"], **content}}
    cms.stories[str(sid)] = story
    return story


def session_story(cms, course, name, partners=None, component="session"):
    """A session story of course in the fake CMS."""
    sid = 500000 + len(cms.stories) + secrets.randbelow(1000) * 1000
    story = {"id": sid, "uuid": str(uuid.uuid4()), "name": name,
             "full_slug": course["full_slug"] + "/" + name.lower().replace(" ", "-"),
             "content": {"component": component, "name": name, "course": course["uuid"],
                         **({"included_for_partners": partners} if partners else {})}}
    cms.stories[str(sid)] = story
    return story


def cms_webhook(server, story, secret, action="published"):
    """POST the CMS webhook for story's action, signed with secret; the
    response, unchecked."""
    body = json.dumps({"text": action, "action": action, "space_id": 1,
                       "story_id": story["id"], "full_slug": story["full_slug"]}).encode()
    sig = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return server.post("/v1/webhooks/storyblok", data=body, headers={
        "Content-Type": "application/json", "webhook-signature": sig})


def cms_publish(server, story, secret, action="published"):
    """cms_webhook, which must be processed; the answer's body."""
    r = cms_webhook(server, story, secret, action)
    assert r.status_code == 200 and r.json()["outcome"] == "processed", r.text
    return r.json()


# --------------------------------------------------------------------------
# answers


def problem(r, status, code):
    """Assert r is an RFC 9457 problem document with status and code; return it."""
    assert r.status_code == status, f"want {status}, got {r.status_code}: {r.text[:500]}"
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == "application/problem+json", ctype
    body = r.json()
    for member in ("type", "title", "status", "detail", "instance", "code", "request_id"):
        assert member in body, f"problem lacks {member!r}: {body}"
    assert body["status"] == status, body
    assert body["code"] == code, body
    assert body["request_id"] == r.headers.get("X-Request-Id"), (body, dict(r.headers))
    return body


# --------------------------------------------------------------------------
# the training module: its catalogue, bookings, the fake Stripe and its
# signer live in training_helpers.py; its fixtures are registered here, so
# every test file sees them as it sees this file's.

pytest.register_assert_rewrite("training_helpers")
from training_helpers import catalogue, shop, stripe, stripe_signer  # noqa: E402,F401


class SilentRelay:
    """A TCP relay to PostgreSQL that can go silent: while frozen it
    passes no byte either way and closes nothing, as a dropped network or a
    server gone without a reset looks to a client; thawed, it passes on
    what it held. hold_at(pattern): it goes silent by itself when bytes from
    the client match pattern (a regular expression of bytes), before
    passing them on (the server never
    sees them), for a silence at an exact point of the protocol;
    hold_at(pattern, after=other): the first match of pattern in bytes that
    come after a match of other. While refusing is set, each new connection
    is closed at once (a server that cannot be reached)."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.open = threading.Event()
        self.open.set()
        self.refusing = threading.Event()
        self.socks = []
        self.hold = None
        self.after = None
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.refusing.is_set():
                c.close()
                continue
            u = socket.create_connection(self.target)
            self.socks += [c, u]
            for src, dst, up in ((c, u, True), (u, c, False)):
                threading.Thread(target=self._pipe, args=(src, dst, up), daemon=True).start()

    def hold_at(self, pattern, after=None):
        self.after = re.compile(after, re.S) if after is not None else None
        self.hold = re.compile(pattern, re.S)

    def _holds(self, data):
        """Whether data from the client is where the relay falls silent."""
        if self.hold is None:
            return False
        if self.after is not None:
            m = self.after.search(data)
            if m is None:
                return False
            self.after = None
            data = data[m.end():]
        return self.hold.search(data) is not None

    def _pipe(self, src, dst, up):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if up and self._holds(data):
                    self.hold = None
                    self.open.clear()
                self.open.wait()
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.open.set()
        # shutdown first: a close alone does not wake the thread blocked
        # in accept, which went on taking connections (and relaying them)
        # after the relay was "gone".
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        for s in self.socks:
            # shutdown, not close alone: a thread blocked in recv on the
            # socket keeps it open (and the client waiting) past a close.
            for end in (lambda: s.shutdown(socket.SHUT_RDWR), s.close):
                try:
                    end()
                except OSError:
                    pass
