"""Black-box API tests: fixtures that run the real carebase binary.

Environment (set by scripts/api):
  CAREBASE_BIN          the binary (default build/release/carebase)
  CAREBASE_TEST_DB      sqlite | postgres (default sqlite)
  CAREBASE_TEST_PG_URL  admin URL of a PostgreSQL cluster (scripts/pg start);
                        each server gets its own database created through it.

Every wait is bounded; every process started here is killed at teardown.
"""

import email
import email.policy
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("CAREBASE_BIN") or str(ROOT / "build" / "release" / "carebase")
DB_KIND = os.environ.get("CAREBASE_TEST_DB", "sqlite") or "sqlite"
PG_URL = os.environ.get("CAREBASE_TEST_PG_URL", "")
PSQL = "psql"
for _p in ("/usr/bin/psql", "/usr/lib/postgresql/15/bin/psql"):
    if os.path.exists(_p):
        PSQL = _p
        break

LISTEN_TIMEOUT = 15.0
CLI_TIMEOUT = 30.0
HTTP_TIMEOUT = 5.0
PSQL_NULL = "\x02NULL\x02"
# Reports from AddressSanitizer/UndefinedBehaviorSanitizer builds.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "WARNING: ThreadSanitizer")

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


def pytest_collection_modifyitems(config, items):
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


# --------------------------------------------------------------------------
# small helpers


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def sanitizer_report(text):
    """The first sanitizer report in text, or None."""
    for m in SANITIZER_MARKERS:
        i = text.find(m)
        if i >= 0:
            return text[max(0, i - 200):i + 3000]
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


def _with_dbname(url, name):
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


# --------------------------------------------------------------------------
# databases


class Database:
    """One fresh database; query() returns rows of str (or None for NULL)."""

    def __init__(self, kind, url, path=None, admin_url=None, name=None):
        self.kind = kind
        self.url = url
        self.path = path
        self.admin_url = admin_url
        self.name = name

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

    def scalar(self, sql, params=()):
        rows = self.query(sql, params)
        assert rows, f"no row for {sql}"
        return rows[0][0]

    def execute(self, sql):
        """Run one statement that changes rows, committed, on either database."""
        if self.kind == "sqlite":
            import sqlite3
            con = sqlite3.connect(str(self.path), timeout=10, isolation_level=None)
            try:
                con.execute(sql)
            finally:
                con.close()
        else:
            self.query(sql)

    def count(self, table, where="1=1"):
        return int(self.scalar(f"SELECT COUNT(*) FROM {table} WHERE {where}"))

    def tables(self):
        if self.kind == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
        else:
            sql = ("SELECT table_name FROM information_schema.tables "
                   "WHERE table_schema = current_schema() ORDER BY table_name")
        return [r[0] for r in self.query(sql)]

    def drop(self):
        if self.kind == "postgres":
            _psql(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture
def make_db(tmp_path):
    """Factory: make_db(kind=None) -> a fresh, empty Database."""
    made = []

    def make(kind=None):
        kind = kind or DB_KIND
        if kind == "sqlite":
            path = tmp_path / f"cb_{secrets.token_hex(4)}.db"
            db = Database("sqlite", f"sqlite:///{path}", path=path)
        else:
            if not PG_URL:
                pytest.skip("CAREBASE_TEST_PG_URL not set")
            name = f"cb_{secrets.token_hex(6)}"
            r = _psql(PG_URL, f'CREATE DATABASE "{name}"')
            if r.returncode != 0:
                pytest.fail(f"CREATE DATABASE {name} failed: {r.stderr.strip()}")
            db = Database("postgres", _with_dbname(PG_URL, name), admin_url=PG_URL, name=name)
        made.append(db)
        return db

    yield make
    for db in made:
        db.drop()


@pytest.fixture
def db(make_db):
    """A fresh database of the kind under test."""
    return make_db()


# --------------------------------------------------------------------------
# servers and other carebase processes


class Server:
    """A running `carebase serve` (or a handle to run carebase commands)."""

    def __init__(self, tmp_path, db, env=None, tag="srv"):
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
        })
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

    # -- commands -----------------------------------------------------------
    def cli(self, *args, env=None, timeout=CLI_TIMEOUT):
        """Run `carebase ARGS` against the same database/env; CompletedProcess."""
        e = dict(self.env)
        e.update({k: str(v) for k, v in (env or {}).items()})
        try:
            r = subprocess.run([BIN, *args], env=e, capture_output=True, text=True,
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
    def start(self, migrate=True, args=()):
        if migrate:
            self.cli_ok("migrate")
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
                self._listening.set()
        proc.stdout.close()

    @property
    def port(self):
        return int(urllib.parse.urlsplit(self.base_url).port)

    def url(self, path):
        return self.base_url + path

    def request(self, method, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return self.session.request(method, self.url(path), **kw)

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

    def metrics(self):
        r = self.get("/metrics")
        assert r.status_code == 200, r.text
        return r.text

    def cleanup(self):
        """Stop everything this handle started; return the problems seen."""
        problems = []
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
            rep = sanitizer_report(p.stderr_path.read_text(errors="replace"))
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
            rep = sanitizer_report(self.log())
            if rep:
                problems.append(f"serve: {rep}")
        return problems


@pytest.fixture
def start_server(tmp_path, make_db):
    """Factory: start_server(env=None, db=None, migrate=True, start=True) -> Server.

    Without db a fresh database of the kind under test is made. With
    start=False the handle only runs commands (h.cli) against that database.
    """
    servers = []

    def start(env=None, db=None, migrate=True, start=True, args=()):
        s = Server(tmp_path, db or make_db(), env=env, tag=f"srv{len(servers)}")
        servers.append(s)
        if start:
            s.start(migrate=migrate, args=args)
        elif migrate:
            s.cli_ok("migrate")
        return s

    yield start
    problems = []
    for s in servers:
        problems += s.cleanup()
    if problems:
        pytest.fail("after the test:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def server(start_server):
    """A migrated server with the default test configuration."""
    return start_server()


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
