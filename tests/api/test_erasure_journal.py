"""The erasure journal keeps to what the database did (issue 14 review).

An erasure appends "<user id> <time>" to the journal as the last step of its
transaction; a replay at start-up erases again everyone the journal names.

- An erasure whose COMMIT fails after the line was written is withdrawn
  ("<user id> <time> revoked"): the next start-up does not make it, whoever
  the person is (the last-admin rule held the failed one back only because
  it ran in the transaction that failed). A COMMIT that failed for the
  server but took effect is found out, and answered as the success it is.
  Busy retries each write the same line, which stays harmless.
- A journal renamed or replaced while carebase serves gets the next line
  at its path, not the old file.
- A journal naming anyone is not replayed into a database with migrations
  pending: replay (and so serve) refuses, saying to migrate first.

The COMMIT is made to fail for real: a deferred foreign key onto
users.audit_ref (which erasure clears) passes every statement and fails at
COMMIT on SQLite and PostgreSQL alike; on PostgreSQL a deferred constraint
trigger raises a serialization failure at COMMIT for the busy cases.
"""

import sqlite3
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from conftest import (PASSWORD, ROOT, hdr, held_data_key, login, person, problem,
                      sign_in, wait_until)

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def erase_self(srv, who):
    return srv.request("DELETE", "/v1/me", headers=hdr(who["token"]),
                       json={"password": PASSWORD}, timeout=30)


def records(path):
    """The journal's records, each split on spaces."""
    return [x.split() for x in Path(path).read_text().splitlines()
            if x.strip() and not x.startswith("#")]


def trap(db, user_id):
    """Make every COMMIT that erases user_id fail: a deferred foreign key
    onto their audit_ref, which erasure sets to NULL."""
    ref = db.scalar(f"SELECT audit_ref FROM users WHERE id = '{user_id}'")
    db.execute("CREATE TABLE IF NOT EXISTS erase_trap (ref TEXT REFERENCES users (audit_ref) "
               "DEFERRABLE INITIALLY DEFERRED)")
    db.execute(f"INSERT INTO erase_trap VALUES ('{ref}')")


def untrap(db):
    db.execute("DROP TABLE erase_trap")


def journal_path(srv):
    return srv.tmp_path / "erasure.journal"


# --------------------------------------------------------------------------
# an erasure whose COMMIT fails


@pytest.mark.dialect
def test_an_erasure_whose_commit_fails_is_withdrawn_from_the_journal(start_server):
    srv = start_server()
    who = person(srv, "member")
    trap(srv.db, who["id"])
    r = erase_self(srv, who)
    body = problem(r, 409, "CONFLICT")
    assert body["detail"] == "The erasure failed; nothing changed.", body
    # Written, then withdrawn: the same time, marked revoked.
    recs = records(journal_path(srv))
    assert [x[0] for x in recs] == [who["id"], who["id"]], recs
    assert recs[1] == recs[0] + ["revoked"], recs
    assert sign_in(srv, who["email"]).status_code == 200
    srv.stop()

    # The next start-up does not make it.
    again = start_server(db=srv.db, migrate=False)
    assert sign_in(again, who["email"]).status_code == 200
    assert held_data_key(again.db, who["id"])[0] == 1
    assert "event=erasure_replayed" not in again.log()

    # An erasure after the revocation counts again.
    untrap(again.db)
    assert erase_self(again, {**who, "token": login(again, who["email"])}).status_code == 204
    again.stop()
    r = again.cli_ok("erasures", "replay")
    assert "1 journalled, 0 held" in r.stdout and "0 erasures added" in r.stdout, r.stdout


@pytest.mark.dialect
def test_a_failed_erasure_of_an_admin_is_not_made_at_the_next_start(start_server):
    """The last-admin rule does not hold a replay back: a failed erasure of
    an admin, left in the journal, would erase them once the other admin was
    gone, leaving no admin."""
    srv = start_server()
    a, b = person(srv, "admin", role="admin"), person(srv, "admin", role="admin")
    trap(srv.db, b["id"])
    r = srv.post(f"/v1/users/{b['id']}/erase", headers=hdr(a["token"]), timeout=30)
    assert problem(r, 409, "CONFLICT")["detail"] == "The erasure failed; nothing changed."
    untrap(srv.db)
    # b is the only admin besides a: a may go now.
    r = srv.post(f"/v1/users/{a['id']}/erase", headers=hdr(b["token"]), timeout=30)
    assert r.status_code == 204, r.text
    srv.stop()
    again = start_server(db=srv.db, migrate=False)
    assert sign_in(again, b["email"]).status_code == 200
    assert again.db.count("users", "role = 'admin' AND deleted_at IS NULL") == 1


def test_an_erasure_counts_unless_a_later_revocation_of_its_time_withdraws_it(start_server):
    """Revocations pair with the erasure line of the same id and time, so
    journals concatenated in any order read alike, and lines written
    before revocations existed read as erasures."""
    srv = start_server(start=False)
    a, b, c, d, e, f = (str(uuid.uuid4()) for _ in range(6))
    t1, t2 = "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"
    machine1 = [f"{c} {t1}", f"{e} {t1}"]
    machine2 = [f"{c} {t2}", f"{c} {t2} revoked"]
    this = [f"{a} {t1}", f"{a} {t1} revoked",                     # withdrawn
            f"{b} {t1}", f"{b} {t1} revoked", f"{b} {t2}",        # made later
            f"{d} {t1}", f"{d} {t1} revoked", f"{d} {t1}",        # again, same time
            f"{f} {t1} revoked"]                                  # nothing to withdraw
    path = journal_path(srv)
    for order in ((machine1, machine2), (machine2, machine1)):
        path.write_text("\n".join(this + order[0] + order[1]) + "\n")
        path.chmod(0o600)
        r = srv.cli_ok("erasures", "replay")
        assert "4 journalled, 0 held" in r.stdout, r.stdout   # b, c, d, e
        assert "erasure_journal_bad_line" not in r.stderr, r.stderr


def test_journals_merged_as_the_readme_says_are_read_as_one(start_server):
    """README: `cat other.journal >> erasure.journal` (the mode stays 0600;
    `cat a b > erasure.journal` would empty it first and make it 0644)."""
    srv = start_server(start=False)
    srv.cli_ok("erasures", "replay")                # development: made
    path, other = journal_path(srv), srv.tmp_path / "other.journal"
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    with open(path, "a") as f:
        f.write(f"{a} 2026-01-01T00:00:00.000Z\n")
    other.write_text(f"{b} 2026-01-02T00:00:00.000Z\n{a} 2026-01-03T00:00:00.000Z\n")
    subprocess.run(f"cat '{other}' >> '{path}'", shell=True, check=True)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    r = srv.cli_ok("erasures", "replay")
    assert "2 journalled" in r.stdout, r.stdout


@pytest.mark.dialect
@pytest.mark.postgres_only
def test_busy_retries_write_one_line_that_stays(start_server):
    """A serialization failure at the first COMMIT: store_run runs the
    erasure again, which writes the same line again; it stands."""
    srv = start_server()
    who = person(srv, "member")
    srv.db.query("""
        CREATE SEQUENCE erase_busy_seq;
        CREATE FUNCTION erase_busy() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('erase_busy_seq') = 1 THEN
                RAISE EXCEPTION 'busy once' USING ERRCODE = '40001';
            END IF;
            RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER erase_busy AFTER UPDATE ON users
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
            WHEN (OLD.audit_ref IS NOT NULL AND NEW.audit_ref IS NULL)
            EXECUTE FUNCTION erase_busy();""")
    assert erase_self(srv, who).status_code == 204
    assert int(srv.db.scalar("SELECT last_value FROM erase_busy_seq")) == 2
    recs = records(journal_path(srv))
    assert recs == [recs[0], recs[0]] and recs[0][0] == who["id"], recs
    assert held_data_key(srv.db, who["id"]) == (0, (None, None, None))
    srv.stop()
    r = srv.cli_ok("erasures", "replay")
    assert "1 journalled, 0 held" in r.stdout, r.stdout


@pytest.mark.dialect
@pytest.mark.postgres_only
def test_a_failed_erasure_found_made_meanwhile_answers_as_made(start_server):
    """Two servers on one database and one journal. Through the first,
    every COMMIT that erases anyone fails busy, so its erasure retries; the
    second erases the same person meanwhile. The first then finds them
    erased: it answers 204 and withdraws nothing."""
    srv = start_server()
    admin, who = person(srv, "admin", role="admin"), person(srv, "member")
    srv.db.query("""
        CREATE FUNCTION erase_busy() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('application_name') = 'trapped' THEN
                RAISE EXCEPTION 'always busy' USING ERRCODE = '40001';
            END IF;
            RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER erase_busy AFTER UPDATE ON users
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
            WHEN (OLD.audit_ref IS NOT NULL AND NEW.audit_ref IS NULL)
            EXECUTE FUNCTION erase_busy();""")
    trapped = start_server(db=srv.db, migrate=False, env={
        "DATABASE_URL": srv.db.url + "?application_name=trapped",
        "CAREBASE_DB_BUSY_TIMEOUT_MS": "20000"})
    out = {}
    t = threading.Thread(target=lambda: out.update(r=erase_self(trapped, who)))
    t.start()
    try:
        wait_until(lambda: any(x[0] == who["id"] for x in records(journal_path(srv))),
                   timeout=10, what="the trapped erasure's line")
        r = srv.post(f"/v1/users/{who['id']}/erase", headers=hdr(admin["token"]), timeout=30)
        assert r.status_code == 204, r.text
    finally:
        t.join(40)
    assert out["r"].status_code == 204, out["r"].text
    recs = records(journal_path(srv))
    assert all(x[0] == who["id"] and len(x) == 2 for x in recs), recs
    assert held_data_key(srv.db, who["id"]) == (0, (None, None, None))


@pytest.mark.dialect
@pytest.mark.postgres_only
def test_a_failed_erasure_that_cannot_be_withdrawn_is_answered_pending(start_server):
    """The COMMIT fails (slowly), and meanwhile the journal is replaced by a
    copy that others may read, so the revocation cannot be written: the
    line stays, the answer says the erasure will be completed at the next
    start, and it is."""
    srv = start_server()
    who = person(srv, "member")
    srv.db.query("""
        CREATE FUNCTION erase_fail() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_sleep(2);
            RAISE EXCEPTION 'refused at commit';
        END $$;
        CREATE CONSTRAINT TRIGGER erase_fail AFTER UPDATE ON users
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
            WHEN (OLD.audit_ref IS NOT NULL AND NEW.audit_ref IS NULL)
            EXECUTE FUNCTION erase_fail();""")
    path = journal_path(srv)
    out = {}
    t = threading.Thread(target=lambda: out.update(r=erase_self(srv, who)))
    t.start()
    try:
        wait_until(lambda: any(x[0] == who["id"] for x in records(path)),
                   timeout=10, what="the erasure's line")
        kept = path.read_text()
        path.rename(srv.tmp_path / "erasure.journal.old")
        path.write_text(kept)
        path.chmod(0o644)
    finally:
        t.join(30)
    r = out["r"]
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending" and "next starts" in r.json()["detail"], r.text
    assert "event=erasure_pending" in srv.log()
    assert sign_in(srv, who["email"]).status_code == 200     # not yet
    srv.stop()
    path.chmod(0o600)
    srv.db.query("DROP TRIGGER erase_fail ON users")
    again = start_server(db=srv.db, migrate=False)
    assert sign_in(again, who["email"]).status_code == 401
    assert held_data_key(again.db, who["id"]) == (0, (None, None, None))


# --------------------------------------------------------------------------
# a journal renamed or replaced while serving


def test_a_journal_moved_away_while_serving_is_followed_to_its_path(start_server):
    srv = start_server()
    path = journal_path(srv)
    one, two, three = person(srv, "member"), person(srv, "member"), person(srv, "member")

    # Renamed away (development: a new one is made at the path).
    path.rename(srv.tmp_path / "erasure.journal.1")
    assert erase_self(srv, one).status_code == 204
    assert [x[0] for x in records(path)] == [one["id"]]
    assert records(srv.tmp_path / "erasure.journal.1") == []

    # Replaced by the operator's own copy.
    kept = path.read_text()
    path.rename(srv.tmp_path / "erasure.journal.2")
    path.write_text(kept)
    path.chmod(0o600)
    assert erase_self(srv, two).status_code == 204
    assert [x[0] for x in records(path)] == [one["id"], two["id"]]
    assert [x[0] for x in records(srv.tmp_path / "erasure.journal.2")] == [one["id"]]

    # Replaced by one that others may read: refused as at start-up, and
    # the erasure with it.
    path.rename(srv.tmp_path / "erasure.journal.3")
    path.write_text(kept)
    path.chmod(0o644)
    r = erase_self(srv, three)
    problem(r, 500, "INTERNAL")
    assert sign_in(srv, three["email"]).status_code == 200
    assert "chmod 600" in srv.log()
    path.chmod(0o600)
    assert erase_self(srv, three).status_code == 204
    assert [x[0] for x in records(path)] == [one["id"], three["id"]]


# --------------------------------------------------------------------------
# replay with migrations pending


def unmigrate_last(db):
    """Take the database back one migration, as a backup taken before it."""
    d = ROOT / "migrations" / db.kind
    last = sorted(p.name[:-len(".up.sql")] for p in d.glob("*.up.sql"))[-1]
    down = (d / f"{last}.down.sql").read_text()
    if db.kind == "sqlite":
        con = sqlite3.connect(str(db.path), isolation_level=None)
        try:
            con.executescript(down)
            con.execute("DELETE FROM schema_migrations WHERE name = ?", (last,))
        finally:
            con.close()
    else:
        db.query(down + f"; DELETE FROM schema_migrations WHERE name = '{last}'")
    return last


@pytest.mark.dialect
def test_a_journal_naming_anyone_is_not_replayed_with_migrations_pending(start_server):
    srv = start_server()
    who = person(srv, "member")
    srv.stop()
    # An empty journal replays with migrations pending: nothing to do.
    unmigrate_last(srv.db)
    r = srv.cli_ok("erasures", "replay")
    assert "0 journalled" in r.stdout, r.stdout
    srv.cli_ok("migrate")

    srv.start(migrate=False)
    assert erase_self(srv, who).status_code == 204
    srv.stop()
    unmigrate_last(srv.db)
    for cmd in (("erasures", "replay"), ("serve",), ("worker",)):
        r = srv.cli(*cmd, timeout=20)
        assert r.returncode != 0, (cmd, r.stdout, r.stderr)
        assert "migrations pending" in r.stderr and "carebase migrate" in r.stderr, r.stderr
    srv.cli_ok("migrate")
    r = srv.cli_ok("erasures", "replay")
    assert "1 journalled, 0 held" in r.stdout, r.stdout
