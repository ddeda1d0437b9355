"""The command line as an operator meets it (issue 19, items 3 and 4).

Help for every command (`carebase help COMMAND`, `COMMAND --help`) without
touching anything; one exit status everywhere (0 done, 1 failed, 2 the
command line is wrong); messages that say what to do; `migrate down` one
step, asking on a terminal, needing --yes elsewhere and --force in
production; files carebase makes 0600 in 0700 folders; `config` with the
values in force, where they came from, secrets masked; `backup` refusing
an existing file, checking what it wrote, gzip and encryption, progress on
a terminal; `restore` into an empty database with the same checks; a
backup taken while a client writes holds every acknowledged write; the
scheduled backup job, pruned, logged and counted."""

import gzip
import os
import pty
import re
import select
import sqlite3
import stat
import subprocess
import threading
import time

import pytest

from conftest import (BIN, PASSWORD, base_env, hdr, person, queue_job, register,
                      wait_until)

CLI_TIMEOUT = 30


def run(args, cwd, env=None):
    """carebase ARGS in cwd with the runner's environment and no carebase
    configuration but env."""
    e = base_env()
    e.update(env or {})
    return subprocess.run([BIN, *args], env=e, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, cwd=cwd)


COMMANDS = ["serve", "worker", "migrate", "seed", "backup", "restore", "erasures", "jobs",
            "mail", "schema", "user", "roles", "audit", "webhooks", "config", "routes",
            "version", "help"]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def migrations(db):
    return [r[0] for r in db.query("SELECT name FROM schema_migrations ORDER BY name")]


# --------------------------------------------------------------------------
# help, version, exit status


def test_help_lists_every_command(tmp_path):
    r = run(["help"], tmp_path)
    assert r.returncode == 0
    assert re.findall(r"^  ([a-z]+)\s", r.stdout, re.M) == COMMANDS, r.stdout
    assert "Exit status: 0 done, 1 failed, 2" in r.stdout


def test_version_flag_and_command_agree(tmp_path):
    a, b = run(["--version"], tmp_path), run(["version"], tmp_path)
    assert a.returncode == 0 and b.returncode == 0, (a, b)
    assert re.fullmatch(r"carebase \d+\.\d+\.\d+\n", a.stdout), a.stdout
    assert a.stdout == b.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_that_touches_nothing(tmp_path, name):
    """help COMMAND and COMMAND --help print the same usage and flags, exit
    0, and read no configuration, make no key and open no database (`user
    --help` once made a master key file)."""
    a = run(["help", name], tmp_path)
    b = run([name, "--help"], tmp_path)
    c = run([name, "add", "-h"] if name == "user" else [name, "-h"], tmp_path)
    for r in (a, b, c):
        assert r.returncode == 0, r
        assert r.stdout.startswith(f"usage: carebase {name}"), r.stdout
        assert "Exit status: 0 done, 1 failed, 2" in r.stdout
    assert a.stdout == b.stdout == c.stdout
    # Each flag the usage line names is explained under flags:.
    usage = a.stdout.splitlines()[0]
    for flag in re.findall(r"--([a-z-]+)", usage):
        assert re.search(rf"^  --{flag}\b", a.stdout, re.M), (flag, a.stdout)
    assert os.listdir(tmp_path) == [], os.listdir(tmp_path)


def test_help_of_config_lists_every_key(tmp_path):
    r = run(["help", "config"], tmp_path)
    assert r.returncode == 0
    for key in ("--port", "--database-url", "--backup-cron", "--backup-dir",
                "--backup-keep", "--backup-key-file", "--env"):
        assert key in r.stdout, key


@pytest.mark.parametrize("args,says", [
    ((), "usage: carebase COMMAND"),
    (("no-such-command",), "unknown command"),
    (("help", "no-such-command"), "no command"),
    (("serve", "--port"), "--port needs a value: --port=VALUE"),
    (("serve", "--no-such=1"), "serve has no flag --no-such"),
    (("serve", "--no-such"), "serve has no flag --no-such"),
    (("serve", "--port=99999"), "port"),
    (("serve", "--listen=127.0.0.1:47407"), "without a port (the port is --port)"),
    (("migrate", "sideways"), "migrate takes up, down or status"),
    (("migrate", "down", "--yes=1"), "--yes takes no value"),
    (("backup",), "usage: carebase backup FILE"),
    (("restore",), "usage: carebase restore FILE"),
    (("jobs",), "usage: carebase jobs"),
    (("mail", "test"), "usage: carebase mail test --to=ADDRESS"),
    (("user",), "usage: carebase user add"),
    (("user", "add", "--role=admin"), "usage: carebase user add"),
    (("user", "add", "--role=admin", "--email=not-an-address", "--password=x"),
     "--email: not a valid email address"),
    (("user", "add", "--role=nobody", "--email=a@example.org", "--password=x"),
     "--role: no such role"),
    (("roles", "sideways"), "usage: carebase roles"),
    (("audit",), "usage: carebase audit"),
    (("webhooks",), "usage: carebase webhooks"),
    (("erasures",), "usage: carebase erasures replay"),
    (("config", "extra"), "usage: carebase config"),
])
def test_a_wrong_command_line_exits_2_saying_what_to_do(start_server, args, says):
    h = start_server(start=False)
    r = h.cli(*args)
    assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
    assert says in r.stderr, r.stderr
    assert "INTERNAL" not in r.stderr
    assert "carebase listening" not in r.stdout


def test_failure_exits_1_and_success_0(start_server):
    h = start_server(start=False)
    assert h.cli("migrate", "status").returncode == 0
    r = h.cli("jobs", "retry", "00000000-0000-0000-0000-000000000000")
    assert r.returncode == 1 and "no such failed job" in r.stderr, r
    email = "taken@example.org"
    h.cli_ok("user", "add", "--role=admin", f"--email={email}", f"--password={PASSWORD}")
    r = h.cli("user", "add", "--role=admin", f"--email={email}", f"--password={PASSWORD}")
    assert r.returncode == 1 and "taken" in r.stderr, r


def test_flag_values_may_follow_the_flag(start_server):
    h = start_server(start=False)
    before = h.db.count("users")
    r = h.cli("user", "add", "--role", "admin", "--email", "spaced@example.org",
              "--password", PASSWORD, "--port", "9000")
    assert r.returncode == 0, r.stderr
    assert h.db.count("users") == before + 1


def test_commands_on_an_unmigrated_database_say_to_migrate(start_server):
    """`user add` on a database never migrated said INTERNAL."""
    h = start_server(start=False, migrate=False)
    for args in (("user", "add", "--role=admin", "--email=a@example.org",
                  f"--password={PASSWORD}"),
                 ("user", "list"), ("jobs", "stats"), ("roles", "list"), ("seed",)):
        r = h.cli(*args)
        assert r.returncode == 1, (args, r)
        assert "run `carebase migrate` first" in r.stderr, r.stderr
        assert "INTERNAL" not in r.stderr and "no such table" not in r.stderr, r.stderr


# --------------------------------------------------------------------------
# migrate down


@pytest.mark.dialect
def test_migrate_down_refuses_without_yes_when_it_cannot_ask(start_server):
    h = start_server(start=False)
    before = migrations(h.db)
    r = h.cli("migrate", "down")
    assert r.returncode == 2, r
    assert before[-1] in r.stderr and "--yes" in r.stderr, r.stderr
    assert migrations(h.db) == before
    # With --yes: one step, the newest, not every table of every migration.
    r = h.cli_ok("migrate", "down", "--yes")
    assert "rolled back 1 migration" in r.stdout, r.stdout
    assert migrations(h.db) == before[:-1]
    # --to: every one after it.
    r = h.cli_ok("migrate", "down", f"--to={before[-4][:4]}", "--yes")
    assert "rolled back 2 migrations" in r.stdout, r.stdout
    assert migrations(h.db) == before[:-3]
    r = h.cli("migrate", "down", "--to=9999", "--yes")
    assert r.returncode == 2 and "no applied migration is 9999" in r.stderr, r.stderr
    # --batch: the newest batch, wherever its migrations sort by name.
    # (one no later migration depends on: 0051's triggers call 0050's
    # function, so 0050 alone cannot go on PostgreSQL)
    older = "0053_brand_colour_time_zone"
    assert older in before[:-3], before
    h.db.execute(f"UPDATE schema_migrations SET batch = 99 WHERE name = '{older}'")
    r = h.cli_ok("migrate", "down", "--batch", "--yes")
    assert "rolled back 1 migration" in r.stdout and older in r.stderr, (r.stdout, r.stderr)
    assert migrations(h.db) == [m for m in before[:-3] if m != older]
    h.cli_ok("migrate")
    assert migrations(h.db) == before


@pytest.mark.dialect
def test_migrate_down_in_production_needs_force(start_server):
    h = start_server(start=False)
    h.cli_ok("migrate", "status")          # makes the master key production needs
    before = migrations(h.db)
    prod = {"CAREBASE_ENV": "production", "CAREBASE_PASSWORD_OPSLIMIT": "2",
            "CAREBASE_PASSWORD_MEMLIMIT_KIB": "19456"}
    r = h.cli("migrate", "down", "--yes", env=prod)
    assert r.returncode == 2, r
    assert "production" in r.stderr and "--force" in r.stderr, r.stderr
    assert migrations(h.db) == before
    r = h.cli("migrate", "down", "--yes", "--force", env=prod)
    assert r.returncode == 0, r.stderr
    assert migrations(h.db) == before[:-1]


def test_seed_in_production_needs_force(start_server):
    """The demo accounts (an admin among them) share a published password:
    in production seed makes none without --force."""
    h = start_server(start=False)
    h.cli_ok("migrate")                    # makes the master key production needs
    prod = {"CAREBASE_ENV": "production", "CAREBASE_PASSWORD_OPSLIMIT": "2",
            "CAREBASE_PASSWORD_MEMLIMIT_KIB": "19456"}
    r = h.cli("seed", env=prod)
    assert r.returncode == 2, r
    assert "production" in r.stderr and "--force" in r.stderr, r.stderr
    assert h.db.scalar("SELECT count(*) FROM users") == "0"
    r = h.cli("seed", "--force", env=prod)
    assert r.returncode == 0, r.stderr
    assert h.db.scalar("SELECT count(*) FROM users") != "0"


def pty_run(args, env, cwd, answer):
    """carebase ARGS with standard input and error on a terminal; answer
    is typed once it asks. (returncode, what the terminal showed, stdout)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([BIN, *args], env=env, cwd=cwd, stdin=slave, stdout=subprocess.PIPE,
                         stderr=slave, start_new_session=True)
    os.close(slave)
    shown, typed = b"", False
    deadline = time.monotonic() + CLI_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        chunk = b""
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:             # EIO: the other end is closed
                pass
            shown += chunk
        if answer is not None and not typed and b"Type yes" in shown:
            os.write(master, answer.encode() + b"\n")
            typed = True
        if p.poll() is not None and not chunk:
            break
    try:
        out = p.communicate(timeout=CLI_TIMEOUT)[0]
    finally:
        os.close(master)
    return p.returncode, shown.decode(errors="replace"), out.decode(errors="replace")


@pytest.mark.dialect
def test_migrate_down_asks_on_a_terminal(start_server):
    h = start_server(start=False)
    before = migrations(h.db)
    rc, shown, _ = pty_run(["migrate", "down"], h.env, h.tmp_path, "no")
    assert rc == 1 and "Type yes" in shown and before[-1] in shown, shown
    assert migrations(h.db) == before
    rc, shown, out = pty_run(["migrate", "down"], h.env, h.tmp_path, "yes")
    assert rc == 0 and "rolled back 1 migration" in out, (shown, out)
    assert migrations(h.db) == before[:-1]


# --------------------------------------------------------------------------
# files and folders


@pytest.mark.sqlite_only
def test_files_carebase_makes_are_private(start_server, make_db, tmp_path):
    """Database, -wal, -shm, master key, erasure journal and backups 0600;
    the folders made for them 0700 (the database and backups were 0644)."""
    data = tmp_path / "data" / "deep"
    keys = tmp_path / "keys"
    db = make_db()
    db.path = data / "carebase.db"
    db.url = f"sqlite:///{db.path}"
    s = start_server(db=db, env={"CAREBASE_MASTER_KEY_FILE": str(keys / "master.key")},
                     migrate=False, start=False)
    s.cli_ok("migrate")
    s.start(migrate=False)
    admin = person(s, "admin", "admin")
    assert s.get("/v1/me", headers=hdr(admin)).status_code == 200
    for p in (db.path, str(db.path) + "-wal", str(db.path) + "-shm", keys / "master.key",
              keys / "erasure.journal"):
        assert os.path.exists(p), p
        assert mode(p) == 0o600, (p, oct(mode(p)))
    for d in (tmp_path / "data", data, keys):
        assert mode(d) == 0o700, (d, oct(mode(d)))
    out = tmp_path / "b.db"
    s.cli_ok("backup", str(out))
    assert mode(out) == 0o600
    s.cli_ok("backup", str(tmp_path / "b.gz"), "--compress")
    assert mode(tmp_path / "b.gz") == 0o600
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")], os.listdir(tmp_path)


@pytest.mark.sqlite_only
def test_a_database_open_to_others_is_made_private(start_server, db):
    os.chmod(db.path, 0o644)
    s = start_server(db=db, start=False, migrate=False)
    s.cli_ok("migrate", "status")
    assert mode(db.path) == 0o600


# --------------------------------------------------------------------------
# config


def test_config_shows_values_in_force_and_where_they_came_from(start_server):
    h = start_server(start=False, migrate=False)
    env = {"CAREBASE_SMTP_PASSWORD": "hunter2-not-shown", "CAREBASE_LOG_LEVEL": "warn",
           "CAREBASE_STRIPE_SECRET_KEY": "sk_test_not_shown"}
    r = h.cli("config", "--port=9123", "--job-workers", "3", env=env)
    assert r.returncode == 0, r.stderr
    rows = {m.group(1): (m.group(2), m.group(3)) for m in
            re.finditer(r"^(\w+) +(.+?)  +(default|environment \S+|flag \S+)$",
                        r.stdout, re.M)}
    assert rows["port"] == ("9123", "flag --port")
    assert rows["job_workers"] == ("3", "flag --job-workers")
    assert rows["log_level"] == ("warn", "environment CAREBASE_LOG_LEVEL")
    assert rows["rate_burst"] == ("200", "default")
    assert rows["smtp_password"][1] == "environment CAREBASE_SMTP_PASSWORD"
    assert rows["database_url"][1] == "environment DATABASE_URL"
    for secret in ("hunter2", "sk_test_not_shown"):
        assert secret not in r.stdout, r.stdout
    # A database URL shows which database, not its password.
    r = h.cli("config", env={"DATABASE_URL": "postgres://app:s3cr3t-pw@db.internal:5432/"
                                            "carebase?sslmode=require&password=two"})
    assert r.returncode == 0, r.stderr
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("database_url")][0]
    assert "s3cr3t" not in line and "two" not in line, line
    assert "postgres://app:********@db.internal:5432/carebase?sslmode=require" in line, line


# --------------------------------------------------------------------------
# backup and restore


@pytest.mark.postgres_only
def test_backup_on_postgresql_names_pg_dump(start_server, tmp_path):
    h = start_server(start=False)
    r = h.cli("backup", str(tmp_path / "x.db"))
    assert r.returncode == 2 and "pg_dump" in r.stderr, r
    assert not (tmp_path / "x.db").exists()
    r = h.cli("serve", env={"CAREBASE_BACKUP_CRON": "30 2 * * *"}, timeout=10)
    assert r.returncode == 2 and "pg_dump" in r.stderr, r


@pytest.mark.sqlite_only
def test_backup_refuses_an_existing_file_without_force(start_server, tmp_path):
    h = start_server(start=False)
    out = tmp_path / "kept.db"
    out.write_bytes(b"what was there")
    r = h.cli("backup", str(out))
    assert r.returncode == 2 and "exists" in r.stderr and "--force" in r.stderr, r
    assert out.read_bytes() == b"what was there"
    r = h.cli_ok("backup", str(out), "--force")
    assert out.read_bytes()[:16] == b"SQLite format 3\x00"
    assert "integrity ok" in r.stdout and migrations(h.db)[-1] in r.stdout, r.stdout
    # A plain backup is one self-contained SQLite file.
    con = sqlite3.connect(f"file:{out}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    assert not [n for n in os.listdir(tmp_path) if ".tmp" in n or n.startswith(".")]


@pytest.mark.sqlite_only
def test_backup_shows_progress_on_a_terminal_only(start_server, tmp_path):
    h = start_server(start=False)
    rc, shown, out = pty_run(["backup", str(tmp_path / "p.db")], h.env, h.tmp_path, None)
    assert rc == 0 and re.search(r"backup: 100% \(\d+ of \d+ pages\)", shown), shown
    r = h.cli_ok("backup", str(tmp_path / "q.db"))
    assert "%" not in r.stderr and "\r" not in r.stderr, r.stderr


def backup_key(path):
    path.write_text(os.urandom(32).hex() + "\n")
    os.chmod(path, 0o600)
    return path


@pytest.mark.sqlite_only
def test_compressed_and_encrypted_backups_restore_into_an_empty_database(
        start_server, make_db, tmp_path):
    s = start_server()
    person(s, "admin", "admin")
    ids = [register(s, f"m{i}@example.org").json()["id"] for i in range(3)]
    s.stop()
    key = backup_key(tmp_path / "backup.key")
    gz, enc = tmp_path / "b.db.gz", tmp_path / "b.db.enc"
    r = s.cli_ok("backup", str(gz), "--compress")
    assert "gzip" in r.stdout, r.stdout
    assert gzip.decompress(gz.read_bytes())[:16] == b"SQLite format 3\x00"
    r = s.cli_ok("backup", str(enc), "--compress", f"--key-file={key}")
    assert "gzip, encrypted" in r.stdout, r.stdout
    raw = enc.read_bytes()
    assert raw[:8] == b"CBBACKUP" and b"SQLite format" not in raw
    users = s.db.count("users")

    for src, extra in ((gz, ()), (enc, (f"--key-file={key}",))):
        fresh = start_server(db=make_db(), start=False, migrate=False)
        r = fresh.cli_ok("restore", str(src), *extra)
        assert "restore: wrote the database" in r.stdout, r.stdout
        assert fresh.db.count("users") == users
        assert migrations(fresh.db) == migrations(s.db)
        for i in ids:
            assert fresh.db.count("users", f"id = '{i}'") == 1
        fresh.cli_ok("audit", "verify")
    # Without the key, under another key, or changed: refused, nothing written.
    for extra, says in (((), "it is encrypted"),
                        ((f"--key-file={backup_key(tmp_path / 'other.key')}",),
                         "does not open under this key")):
        fresh = start_server(db=make_db(), start=False, migrate=False)
        r = fresh.cli("restore", str(enc), *extra)
        assert r.returncode in (1, 2) and says in r.stderr, r.stderr
        assert fresh.db.tables() == []
    bad = tmp_path / "changed.enc"
    bad.write_bytes(raw[:len(raw) // 2] + bytes([raw[len(raw) // 2] ^ 1]) + raw[len(raw) // 2 + 1:])
    fresh = start_server(db=make_db(), start=False, migrate=False)
    r = fresh.cli("restore", str(bad), f"--key-file={key}")
    assert r.returncode == 1 and "does not open under this key" in r.stderr, r.stderr
    assert fresh.db.tables() == []
    # A key open to others is refused.
    os.chmod(key, 0o644)
    r = s.cli("backup", str(tmp_path / "x.enc"), f"--key-file={key}")
    assert r.returncode == 2 and "chmod 600" in r.stderr, r.stderr


@pytest.mark.sqlite_only
def test_restore_checks_the_backup_before_writing_anything(start_server, make_db, tmp_path):
    s = start_server(start=False)
    good = tmp_path / "good.db"
    s.cli_ok("backup", str(good))
    raw = bytearray(good.read_bytes())
    # A damaged page: the integrity check fails and nothing is loaded.
    for i in range(8192, 8192 + 200):
        raw[i] ^= 0x5A
    bad = tmp_path / "bad.db"
    bad.write_bytes(bytes(raw))
    fresh = start_server(db=make_db(), start=False, migrate=False)
    r = fresh.cli("restore", str(bad))
    assert r.returncode == 1, r
    assert "integrity" in r.stderr or "cannot be read" in r.stderr, r.stderr
    assert fresh.db.tables() == []
    # A backup from a newer carebase (a migration this one does not know).
    newer = tmp_path / "newer.db"
    newer.write_bytes(good.read_bytes())
    con = sqlite3.connect(str(newer))
    con.execute("INSERT INTO schema_migrations (name, batch, applied_at) "
                "VALUES ('9999_from_the_future', 9, 0)")
    con.commit()
    con.close()
    r = fresh.cli("restore", str(newer))
    assert r.returncode == 1 and "newer carebase" in r.stderr, r.stderr
    assert fresh.db.tables() == []
    # Not a backup at all.
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello" * 100)
    r = fresh.cli("restore", str(junk))
    assert r.returncode == 1 and "not a backup carebase wrote" in r.stderr, r.stderr
    # Into a database holding tables: only with --force.
    r = s.cli("restore", str(good))
    assert r.returncode == 2 and "--force" in r.stderr, r.stderr
    r = fresh.cli_ok("restore", str(good))
    assert migrations(fresh.db) == migrations(s.db)


@pytest.mark.sqlite_only
def test_a_backup_taken_while_writes_go_on_holds_every_acknowledged_write(
        start_server, make_db, tmp_path):
    """One client registers people one after another. "Acknowledged" is
    precise: a write whose 2xx answer was received before the backup
    command started. Every one of those is in the backup. Of the writes
    during the backup, the backup holds a prefix (one snapshot: with one
    writer, holding write i+1 means holding write i), and every table
    agrees (the audit chain verifies, each person has their data key)."""
    s = start_server()
    # Enough pages that the copy takes many steps while writes go on.
    s.db.execute("CREATE TABLE ballast (b BLOB); " +
                 "; ".join(["INSERT INTO ballast VALUES (randomblob(1000000))"] * 80))
    done, acked, lock = threading.Event(), [], threading.Lock()

    def writer():
        i = 0
        while not done.is_set() and i < 5000:
            r = register(s, f"w{i}@example.org")
            if r.status_code == 201:
                with lock:
                    acked.append((time.monotonic(), r.json()["id"]))
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        wait_until(lambda: len(acked) >= 20, timeout=20, what="writes before the backup")
        start = time.monotonic()
        out = tmp_path / "during.db"
        r = s.cli_ok("backup", str(out))
        end = time.monotonic()
        wait_until(lambda: sum(1 for a, _ in acked if a > end) >= 5, timeout=20,
                   what="writes after the backup")
    finally:
        done.set()
        t.join(30)
    with lock:
        order = [i for _, i in acked]
        before = [i for a, i in acked if a < start]
        during = [i for a, i in acked if start <= a <= end]
    s.stop()
    fresh = start_server(db=make_db(), start=False, migrate=False)
    fresh.cli_ok("restore", str(out))
    held = {r[0] for r in fresh.db.query("SELECT id FROM users")}
    missing = [i for i in before if i not in held]
    assert not missing, f"{len(missing)} of {len(before)} acknowledged writes missing"
    k = sum(1 for i in order if i in held)
    assert all(i in held for i in order[:k]) and not any(i in held for i in order[k:]), \
        "the backup is not one snapshot: it holds a write without an earlier one"
    assert k >= len(before)
    for i in order[:k]:
        assert fresh.db.count("user_keys", f"user_id = '{i}'") == 1, i
    fresh.cli_ok("audit", "verify")
    print(f"acknowledged before: {len(before)}, during: {len(during)}, held: {k}")


# --------------------------------------------------------------------------
# scheduled backups


def metric(text, name):
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


@pytest.mark.sqlite_only
def test_scheduled_backups_are_kept_pruned_logged_and_counted(start_server, make_db, tmp_path):
    folder = tmp_path / "backups" / "nightly"
    key = backup_key(tmp_path / "backup.key")
    s = start_server(env={"CAREBASE_BACKUP_CRON": "30 2 * * *",
                          "CAREBASE_BACKUP_DIR": str(folder),
                          "CAREBASE_BACKUP_KEEP": "2",
                          "CAREBASE_BACKUP_KEY_FILE": str(key)})
    wait_until(lambda: s.db.count("job_schedules", "name = 'backup'") == 1, timeout=15,
               what="the backup schedule")
    assert s.db.scalar("SELECT cron FROM job_schedules WHERE name = 'backup'") == "30 2 * * *"
    names = []
    for n in range(3):
        queue_job(s.db, "backup.run")      # due now, as the schedule would
        wait_until(lambda: s.log().count("event=backup_done") == n + 1, timeout=30,
                   what=f"backup run {n + 1}")
        names.append(re.findall(r"event=backup_done file=(\S+)", s.log())[-1])
        time.sleep(0.01)
    kept = sorted(os.listdir(folder))
    assert len(kept) == 2 and [str(folder / k) for k in kept] == names[1:], (kept, names)
    assert mode(folder) == 0o700 and all(mode(folder / k) == 0o600 for k in kept)
    assert all(k.startswith("carebase-") and k.endswith(".db.enc") for k in kept)
    m = s.metrics()
    assert metric(m, "carebase_backup_runs_total") == 3
    assert metric(m, "carebase_backup_failures_total") == 0
    assert 0 <= metric(m, "carebase_backup_last_success_age_seconds") < 120
    assert s.db.count("failed_jobs", "kind = 'backup.run'") == 0
    fresh = start_server(db=make_db(), start=False, migrate=False)
    fresh.cli_ok("restore", names[-1], f"--key-file={key}")
    assert migrations(fresh.db) == migrations(s.db)
    # A run that fails (its key gone) is logged, counted and not retried.
    os.unlink(key)
    queue_job(s.db, "backup.run")
    wait_until(lambda: "event=backup_failed" in s.log(), timeout=30, what="the failed run")
    wait_until(lambda: metric(s.metrics(), "carebase_backup_failures_total") == 1,
               timeout=10, what="the failure counted")
    assert metric(s.metrics(), "carebase_backup_runs_total") == 4
    assert s.db.count("failed_jobs", "kind = 'backup.run'") == 1   # not retried
    assert len(os.listdir(folder)) == 2


@pytest.mark.sqlite_only
def test_a_bad_backup_cron_stops_serve_with_one_line(start_server):
    h = start_server(start=False)
    r = h.cli("serve", env={"CAREBASE_BACKUP_CRON": "every night"}, timeout=10)
    assert r.returncode == 2 and "backup_cron \"every night\" is not a schedule" in r.stderr, r
