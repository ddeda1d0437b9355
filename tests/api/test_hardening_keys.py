"""Issue 14, items 3 and 5: what destroying a person's data key reaches.

Item 5: each process keeps unwrapped data keys in memory for a few seconds.
A destroyed key adds one to user_key_epoch, and a cached key is used only
while the epoch read in the request's transaction is the one it was loaded
under: two `carebase serve` processes share one database, and a person
erased through one is unreadable through the other at its next request.

Item 3: data keys live in the database beside the sealed data, so a backup
holds both. Every erasure also appends the person's id to the erasure
journal (a file beside the master key, outside every database backup), and
`carebase restore`, `carebase erasures replay`, `serve` and `worker` erase
again whoever in it the database still holds: a backup taken before an
erasure, restored, does not bring the person back."""

import os
import re
import secrets
import shutil
import subprocess

import pytest

from conftest import (PASSWORD, at, book, hdr, held_data_key, person, profile, relate,
                      sign_in)


def sealed_practice(srv):
    """An admin, a therapist, and a client with a session whose shared notes
    are sealed under the client's data key."""
    admin, therapist = person(srv, "admin", "admin"), person(srv, "therapist", "therapist")
    client = person(srv, "client", first_name="Clementine" + secrets.token_hex(3))
    relate(srv, admin, therapist, client, "practitioner_of")
    therapist["profile"] = profile(srv, admin, therapist, bio="CBT.")
    note = "note-" + secrets.token_hex(6)
    r = book(srv, admin, therapist, client, at(0), at(1), shared_notes=note)
    assert r.status_code == 201, r.text
    return {"admin": admin, "client": client, "session": r.json()["id"], "note": note}


def readable(srv, w):
    """What the admin and the client can still get of the client."""
    a = hdr(w["admin"]["token"])
    r = srv.get(f"/v1/therapy-sessions/{w['session']}", headers=a)
    assert r.status_code == 200, r.text
    return {"note": r.json()["shared_notes"],
            "user": srv.get(f"/v1/users/{w['client']['id']}", headers=a).status_code,
            "export": srv.get(f"/v1/users/{w['client']['id']}/export", headers=a).status_code,
            "in_list": w["client"]["first_name"] in srv.get("/v1/users?limit=200",
                                                           headers=a).text,
            "login": sign_in(srv, w["client"]["email"]).status_code}


GONE = {"note": None, "user": 404, "export": 404, "in_list": False, "login": 401}


def erase(srv, w):
    r = srv.request("DELETE", "/v1/me", headers=hdr(w["client"]["token"]),
                    json={"password": PASSWORD})
    assert r.status_code == 204, r.text



def journal(srv):
    return (srv.tmp_path / "erasure.journal").read_text()


# --------------------------------------------------------------------------
# item 5: every process at once


@pytest.mark.dialect
def test_an_erasure_through_one_process_is_seen_by_another_at_once(start_server):
    a = start_server()
    b = start_server(db=a.db, migrate=False)      # same database and master key
    w = sealed_practice(a)
    # Process b reads the client's sealed fields: their key is in its cache.
    assert readable(b, w) == {"note": w["note"], "user": 200, "export": 200,
                              "in_list": True, "login": 200}
    erase(a, w)
    # At once, nothing of them opens through b.
    assert readable(b, w) == GONE
    assert b.get("/v1/me", headers=hdr(w["client"]["token"])).status_code == 401
    assert int(a.db.scalar("SELECT epoch FROM user_key_epoch")) >= 1


# --------------------------------------------------------------------------
# item 3: erasure reaches backups


def test_erasures_are_journalled_with_ids_and_times_only(start_server):
    srv = start_server()
    w = sealed_practice(srv)
    erase(srv, w)
    path = srv.tmp_path / "erasure.journal"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    lines = [x for x in journal(srv).splitlines() if x and not x.startswith("#")]
    assert lines == [lines[0]] and lines[0].startswith(w["client"]["id"] + " ")
    assert re.fullmatch(r"[0-9a-f-]{36} \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[0])
    for personal in (w["client"]["email"], w["client"]["first_name"]):
        assert personal not in journal(srv)


@pytest.mark.sqlite_only
def test_a_backup_restored_after_an_erasure_does_not_bring_the_person_back(start_server):
    srv = start_server()
    w = sealed_practice(srv)
    backup = srv.tmp_path / "before-erasure.db"
    srv.cli_ok("backup", str(backup))
    erase(srv, w)
    assert readable(srv, w) == GONE
    srv.stop()
    # The backup holds the person and their key.
    import sqlite3
    con = sqlite3.connect(str(backup))
    assert con.execute("SELECT count(*) FROM user_keys WHERE user_id = ?",
                       (w["client"]["id"],)).fetchone()[0] == 1
    con.close()

    # restore refuses to overwrite a database without --force ...
    r = srv.cli("restore", str(backup))
    assert r.returncode != 0 and "--force" in r.stderr, r.stdout + r.stderr
    assert held_data_key(srv.db, w["client"]["id"])[0] == 0
    # ... and with it puts the copy in, then replays the journal.
    r = srv.cli_ok("restore", str(backup), "--force")
    assert "restore: wrote" in r.stdout and "1 held by the database" in r.stdout, r.stdout
    keys, row = held_data_key(srv.db, w["client"]["id"])
    assert keys == 0 and row == (None, None, None), (keys, row)

    again = start_server(db=srv.db, migrate=False)
    assert readable(again, w) == GONE
    assert again.get("/v1/me", headers=hdr(w["client"]["token"])).status_code == 401
    # Audited as a replay; the journal names the person once more at most.
    assert again.db.count("audit_log", "action = 'users.erase' AND changes LIKE "
                          "'%\"replayed\":true%'") == 1
    assert again.cli_ok("audit", "verify").returncode == 0


@pytest.mark.sqlite_only
def test_serve_replays_the_journal_over_a_database_copied_back(start_server):
    """Any restore, not only `carebase restore`: the file copied back by hand."""
    srv = start_server()
    w = sealed_practice(srv)
    backup = srv.tmp_path / "copy.db"
    srv.cli_ok("backup", str(backup))
    erase(srv, w)
    srv.stop()
    for suffix in ("-wal", "-shm"):
        p = str(srv.db.path) + suffix
        if os.path.exists(p):
            os.unlink(p)
    shutil.copyfile(backup, srv.db.path)
    assert held_data_key(srv.db, w["client"]["id"])[0] == 1      # back in the file
    again = start_server(db=srv.db, migrate=False)
    assert held_data_key(again.db, w["client"]["id"]) == (0, (None, None, None))
    assert readable(again, w) == GONE
    assert "event=erasure_replayed" in again.log()


def pg_bin(name):
    for d in ("/usr/lib/postgresql/15/bin", "/usr/bin"):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    pytest.skip(f"{name} not found")


@pytest.mark.dialect
@pytest.mark.postgres_only
def test_a_pg_dump_restored_after_an_erasure_does_not_bring_the_person_back(start_server,
                                                                           make_db):
    srv = start_server()
    w = sealed_practice(srv)
    dump = srv.tmp_path / "before-erasure.dump"
    r = subprocess.run([pg_bin("pg_dump"), "--format=custom", f"--file={dump}", srv.db.url],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    erase(srv, w)
    srv.stop()

    # The documented step: pg_restore into a database, then `carebase
    # erasures replay` (serve and worker replay at start-up as well).
    copy = make_db()
    r = subprocess.run([pg_bin("pg_restore"), "--no-owner", f"--dbname={copy.url}", str(dump)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert held_data_key(copy, w["client"]["id"])[0] == 1
    again = start_server(db=copy, start=False, migrate=False)
    r = again.cli_ok("erasures", "replay")
    assert "1 held by the database and erased again" in r.stdout, r.stdout
    assert held_data_key(copy, w["client"]["id"]) == (0, (None, None, None))
    again.start(migrate=False)
    assert readable(again, w) == GONE

    # A second copy served directly: serve replays before it listens.
    copy2 = make_db()
    r = subprocess.run([pg_bin("pg_restore"), "--no-owner", f"--dbname={copy2.url}", str(dump)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    third = start_server(db=copy2, migrate=False)
    assert held_data_key(copy2, w["client"]["id"]) == (0, (None, None, None))
    assert readable(third, w) == GONE


# --------------------------------------------------------------------------
# item 3: the journal itself


@pytest.mark.production_password_cost
def test_production_refuses_to_start_without_a_usable_journal(start_server):
    srv = start_server(start=False)
    srv.cli_ok("migrate")                  # makes the master key (the database is a copy)
    assert (srv.tmp_path / "master.key").exists()
    prod = {"CAREBASE_ENV": "production"}
    path = srv.tmp_path / "erasure.journal"
    assert not path.exists()
    for cmd in (("serve",), ("worker",), ("erasures", "replay")):
        r = srv.cli(*cmd, env=prod, timeout=20)
        assert r.returncode != 0, (cmd, r.stdout, r.stderr)
        assert "erasure journal" in r.stderr and "is missing" in r.stderr, r.stderr
        assert "install -m 600 /dev/null" in r.stderr
    assert not path.exists()
    # Open to others: refused in any environment.
    path.write_text("")
    path.chmod(0o644)
    r = srv.cli("erasures", "replay", timeout=20)
    assert r.returncode != 0 and "chmod 600" in r.stderr, r.stderr
    # Made as the message says, it works, and journals the erasures the
    # database holds already.
    path.chmod(0o600)
    r = srv.cli("erasures", "replay", env=prod, timeout=20)
    assert r.returncode == 0, r.stderr
    assert "0 journalled" in r.stdout


def test_erasures_made_before_the_journal_are_added_to_it(start_server):
    srv = start_server()
    w = sealed_practice(srv)
    erase(srv, w)
    srv.stop()
    path = srv.tmp_path / "erasure.journal"
    path.unlink()
    r = srv.cli_ok("erasures", "replay")       # development: made again, empty
    assert "1 erasures added to the journal" in r.stdout, r.stdout
    assert w["client"]["id"] in path.read_text()
    r = srv.cli_ok("erasures", "replay")
    assert "1 journalled, 0 held" in r.stdout and "0 erasures added" in r.stdout, r.stdout


def test_a_torn_or_foreign_line_is_skipped(start_server):
    srv = start_server()
    w = sealed_practice(srv)
    srv.stop()
    path = srv.tmp_path / "erasure.journal"
    # A crash cut one write short (never committed); then a real erasure
    # appended right after it; then some junk.
    with open(path, "a") as f:
        f.write("0193abcd-0000-7")
        f.write(f"{w['client']['id']} 2026-01-01T00:00:00.000Z\n")
        f.write("not a record\n")
    r = srv.cli_ok("erasures", "replay")
    assert "1 journalled, 1 held by the database" in r.stdout, r.stdout
    assert held_data_key(srv.db, w["client"]["id"])[0] == 0
    assert "erasure_journal_torn_line" in r.stderr and "erasure_journal_bad_line" in r.stderr
