"""Migrations, schema parity between dialects, and online backup."""

import re
import sqlite3
import threading

import pytest
import requests

# Every test here migrates an empty database itself, and each is about
# the dialects' DDL and migration lock.
pytestmark = [pytest.mark.migrations, pytest.mark.dialect]

FOUNDATION = "0001_foundation"
FOUNDATION_TABLES = {"jobs", "failed_jobs", "job_schedules", "email_log", "schema_migrations"}


def status_line(out, name=FOUNDATION):
    lines = [l for l in out.splitlines() if name in l]
    assert len(lines) == 1, f"want one status line for {name}:\n{out}"
    return lines[0]


def test_migrate_applies_foundation_as_batch_1(start_server):
    h = start_server(start=False, migrate=False)
    r = h.cli_ok("migrate")
    assert "applied 1 migration" in r.stdout or re.search(r"applied [1-9]", r.stdout), r.stdout
    line = status_line(h.cli_ok("migrate", "status").stdout)
    assert "pending" not in line.lower(), line
    rest = line.split(FOUNDATION, 1)[1]
    assert re.search(r"(^|[\s=:])1(\s|$)", rest), f"batch 1 not shown: {line!r}"
    rows = h.db.query("SELECT name, batch, applied_at FROM schema_migrations ORDER BY name")
    assert rows[0][0] == FOUNDATION
    assert int(rows[0][1]) == 1
    assert rows[0][2] is not None and int(rows[0][2]) > 1_600_000_000_000  # ms since epoch
    assert FOUNDATION_TABLES <= set(h.db.tables())


def test_migrate_again_applies_nothing(start_server):
    h = start_server(start=False)
    r = h.cli_ok("migrate")
    assert "applied 0" in r.stdout, r.stdout
    assert h.db.count("schema_migrations") >= 1


def test_migrate_down_then_up_round_trip(start_server):
    h = start_server(start=False)
    r = h.cli_ok("migrate", "down", "--to=0", "--yes")
    assert re.search(r"rolled back [1-9]", r.stdout), r.stdout
    assert "pending" in status_line(h.cli_ok("migrate", "status").stdout).lower()
    assert h.db.count("schema_migrations", f"name = '{FOUNDATION}'") == 0
    assert not ({"jobs", "failed_jobs", "job_schedules", "email_log", "audit_pages"}
                & set(h.db.tables()))
    h.cli_ok("migrate")
    line = status_line(h.cli_ok("migrate", "status").stdout)
    assert "pending" not in line.lower(), line
    rows = h.db.query(f"SELECT name, batch, applied_at FROM schema_migrations "
                      f"WHERE name = '{FOUNDATION}'")
    assert len(rows) == 1 and rows[0][1] is not None and rows[0][2] is not None
    assert FOUNDATION_TABLES <= set(h.db.tables())


def test_status_on_fresh_database_shows_pending(start_server):
    h = start_server(start=False, migrate=False)
    r = h.cli("migrate", "status")
    assert r.returncode == 0, r.stderr
    assert "pending" in status_line(r.stdout).lower()


def test_migrate_unknown_subcommand_fails(start_server):
    h = start_server(start=False, migrate=False)
    r = h.cli("migrate", "sideways")
    assert r.returncode != 0
    assert r.stderr.strip()


def test_migrating_writes_nothing_keyed_by_the_master_key(start_server, tmp_path):
    """The suite copies one migrated database into every other test, each
    with its own master key (conftest's migrated_template): right only while
    migrating seals and keys nothing. Two databases migrated under two
    master keys hold the same rows but for when each migration ran (and
    data_changes.n, which 0057 starts at the time: list_cache.c)."""
    held = []
    for n in (1, 2):
        h = start_server(start=False, migrate=False,
                         env={"CAREBASE_MASTER_KEY_FILE": str(tmp_path / f"master{n}.key")})
        h.cli_ok("migrate")
        rows = {t: sorted(h.db.query(f"SELECT * FROM {t}"), key=repr)
                for t in h.db.tables() if t not in ("schema_migrations", "data_changes")}
        rows["data_changes"] = h.db.query("SELECT id FROM data_changes")
        rows["schema_migrations"] = h.db.query("SELECT name, batch FROM schema_migrations "
                                               "ORDER BY name")
        held.append(rows)
    assert (tmp_path / "master1.key").read_text() != (tmp_path / "master2.key").read_text()
    assert sum(len(v) for v in held[0].values()) > 100, "the migrations insert their fixed rows"
    for t in held[0]:
        assert held[0][t] == held[1][t], t


@pytest.mark.needs_pg
def test_schema_is_the_same_on_sqlite_and_postgres(start_server, make_db):
    out = {}
    for kind in ("sqlite", "postgres"):
        h = start_server(start=False, db=make_db(kind))
        out[kind] = h.cli_ok("schema").stdout
    assert out["sqlite"].strip(), "schema printed nothing"
    assert "email_log" in out["sqlite"]
    if out["sqlite"] != out["postgres"]:
        a, b = set(out["sqlite"].splitlines()), set(out["postgres"].splitlines())
        pytest.fail(f"only in sqlite: {sorted(a - b)}\nonly in postgres: {sorted(b - a)}")


def test_schema_lists_foundation_columns(start_server):
    h = start_server(start=False)
    lines = set(h.cli_ok("schema").stdout.splitlines())
    for want in ("jobs id text", "jobs run_at integer", "email_log status text",
                 "failed_jobs attempts integer", "schema_migrations name text"):
        assert want in lines, f"{want!r} not in schema output:\n" + "\n".join(sorted(lines))


@pytest.mark.sqlite_only
def test_backup_copies_sqlite_while_serving(server, tmp_path):
    stop = threading.Event()
    statuses = []

    def load():
        sess = requests.Session()
        while not stop.is_set():
            try:
                statuses.append(sess.get(server.url("/readyz"), timeout=5).status_code)
            except requests.RequestException as e:
                statuses.append(repr(e))
        sess.close()

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        # a write during the backup too
        server.cli_ok("mail", "test", "--to=backup@example.org")
        copy = tmp_path / "copy.db"
        r = server.cli("backup", str(copy))
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert r.returncode == 0, r.stderr
    assert copy.exists()
    con = sqlite3.connect(str(copy))
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert FOUNDATION_TABLES <= names, names
        migrations = [n for (n,) in con.execute("SELECT name FROM schema_migrations")]
        assert FOUNDATION in migrations
    finally:
        con.close()
    assert statuses and all(s == 200 for s in statuses), statuses[:20]


@pytest.mark.postgres_only
def test_backup_on_postgres_points_to_pg_dump(server, tmp_path):
    r = server.cli("backup", str(tmp_path / "copy.db"))
    assert r.returncode != 0
    assert "pg_dump" in r.stderr, r.stderr
    assert not (tmp_path / "copy.db").exists()


def test_backup_without_a_file_fails(start_server):
    h = start_server(start=False)
    r = h.cli("backup")
    assert r.returncode != 0
    assert "usage" in r.stderr.lower()
