"""A read of many rows keeps their ids once (migration 0058, audit.c
"Pages"): its audit row's changes name the page, {"$ids":"<digest>"}, the
page is in audit_pages under its SHA-256, and the log's readers show the
ids in the row's place as before. `carebase audit verify` checks that each
page a row names is there and hashes to its name."""
import hashlib
import json

import pytest

from conftest import at, book, hdr, person, profile, relate, tamper, wait_until

QUIET = {"CAREBASE_JOB_WORKERS": "0"}
LIST = "/v1/therapy-sessions"
READ = "therapy_sessions.read"


def practice(srv, n=10):
    """An admin, a therapist with a profile, a client of theirs, and n
    sessions of hers (n ids make a page: 39 bytes an id, 256 at least)."""
    admin = person(srv, "ada", "admin")
    t = person(srv, "tess", "therapist")
    ann = person(srv, "ann")
    t["profile"] = profile(srv, admin, t)
    relate(srv, admin, t, ann, "practitioner_of")
    for i in range(n):
        r = book(srv, t, t, ann, at(2 * i), at(2 * i + 1))
        assert r.status_code == 201, r.text
    return admin, t, ann


def listed(srv, who, query=""):
    r = srv.get(LIST + query, headers=hdr(who))
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()["data"]]


def reads(db):
    return int(db.scalar(f"SELECT COUNT(*) FROM audit_log WHERE action = '{READ}'"))


def read_rows(db):
    return db.query(f"SELECT seq, changes FROM audit_log WHERE action = '{READ}' "
                    "ORDER BY seq")


def page_text(ids):
    """The page's text as the log keeps changes: compact, keys sorted."""
    return json.dumps({"ids": ids}, separators=(",", ":"), sort_keys=True)


def verify(srv):
    r = srv.cli("audit", "verify")
    return r.returncode, r.stdout


@pytest.mark.dialect
def test_a_list_read_names_its_page_once_and_the_log_shows_the_ids(start_server, db):
    srv = start_server(db=db, env=QUIET)
    admin, t, _ = practice(srv)
    ids = listed(srv, t)
    assert len(ids) == 10
    for _ in range(20):
        assert listed(srv, t) == ids
    wait_until(lambda: reads(db) >= 21, what="the reads' audit rows written")
    body = page_text(ids)
    digest = hashlib.sha256(body.encode()).hexdigest()
    rows = read_rows(db)
    assert len(rows) == 21
    for _, changes in rows:
        assert changes == '{"$ids":"%s"}' % digest, changes
    # Kept once, whatever the number of reads.
    pages = db.query("SELECT digest, body FROM audit_pages")
    assert pages == [(digest, body)], pages
    # The log, read back, shows the ids (the newest row first).
    r = srv.get(f"/v1/audit-log?action={READ}&limit=3", headers=hdr(admin))
    assert r.status_code == 200, r.text
    got = r.json()["data"]
    assert len(got) == 3
    for e in got:
        assert e["changes"] == {"ids": ids}, e
    rc, out = verify(srv)
    assert rc == 0 and "chain intact" in out, out


@pytest.mark.dialect
def test_a_short_list_keeps_its_ids_in_its_row(start_server, db):
    """Fewer ids than a page (under 256 bytes): in the row, as before."""
    srv = start_server(db=db, env=QUIET)
    _, t, _ = practice(srv, n=3)
    ids = listed(srv, t)
    assert len(ids) == 3
    wait_until(lambda: reads(db) >= 1, what="the read's audit row written")
    assert read_rows(db)[-1][1] == page_text(ids)
    assert int(db.scalar("SELECT COUNT(*) FROM audit_pages")) == 0


@pytest.mark.dialect
def test_verify_names_the_first_row_whose_page_was_changed_or_removed(start_server, db):
    srv = start_server(db=db, env=QUIET)
    _, t, _ = practice(srv)
    ids = listed(srv, t)
    other = listed(srv, t, "?limit=8")     # a second page
    assert other == ids[:8]
    listed(srv, t)                         # the first again
    wait_until(lambda: reads(db) >= 3, what="the reads' audit rows written")
    (first, _), (second, _), (third, _) = read_rows(db)[-3:]
    assert int(db.scalar("SELECT COUNT(*) FROM audit_pages")) == 2
    rc, out = verify(srv)
    assert rc == 0, out
    digest = hashlib.sha256(page_text(ids).encode()).hexdigest()
    # One id of the first page changed: the rows still hash, the page not.
    forged = page_text([ids[1]] + ids[1:])
    tamper(db, f"UPDATE audit_pages SET body = '{forged}' WHERE digest = '{digest}'")
    rc, out = verify(srv)
    assert rc != 0
    assert (f"audit: chain broken at seq {first} (the page of ids it names was changed)"
            in out), out
    # Gone: the first row naming it is reported, as missing.
    db.execute(f"DELETE FROM audit_pages WHERE digest = '{digest}'")
    rc, out = verify(srv)
    assert rc != 0
    assert (f"audit: chain broken at seq {first} (the page of ids it names is missing)"
            in out), out
    assert second < third


@pytest.mark.dialect
def test_the_database_refuses_changes_to_a_page(start_server, db):
    srv = start_server(db=db, env=QUIET)
    _, t, _ = practice(srv)
    listed(srv, t)
    wait_until(lambda: int(db.scalar("SELECT COUNT(*) FROM audit_pages")) == 1,
               what="the page kept")
    for sql in ("UPDATE audit_pages SET body = '{}'", "DELETE FROM audit_pages"):
        with pytest.raises(Exception):
            db.execute(sql)
    assert int(db.scalar("SELECT COUNT(*) FROM audit_pages")) == 1


@pytest.mark.dialect
def test_a_members_export_shows_the_ids_of_her_own_list_reads(start_server, db):
    """The export's audit rows are read as the log's: a page in its row's place."""
    srv = start_server(db=db, env=QUIET)
    _, _, ann = practice(srv)
    ids = listed(srv, ann)
    assert len(ids) == 10
    wait_until(lambda: reads(db) >= 1, what="the read's audit row written")
    assert read_rows(db)[-1][1].startswith('{"$ids":"')
    r = srv.get("/v1/me/export", headers=hdr(ann))
    assert r.status_code == 200, r.text
    mine = [e for e in r.json()["audit_log"] if e["action"] == READ]
    assert mine and mine[-1]["changes"] == {"ids": ids}, mine


@pytest.mark.dialect
def test_undoing_0058_keeps_the_pages_the_log_names(start_server, db):
    """Down to 0057 keeps audit_pages (rows name its pages); up again
    makes nothing twice, and the log verifies after."""
    srv = start_server(db=db, env=QUIET)
    _, t, _ = practice(srv)
    listed(srv, t)
    wait_until(lambda: int(db.scalar("SELECT COUNT(*) FROM audit_pages")) == 1,
               what="the page kept")
    srv.stop()
    r = srv.cli_ok("migrate", "down", "--to=0057_list_cache", "--yes")
    assert "rolled back 1 migration" in r.stdout, r.stdout
    assert int(db.scalar("SELECT COUNT(*) FROM audit_pages")) == 1
    srv.cli_ok("migrate")
    assert int(db.scalar("SELECT COUNT(*) FROM audit_pages")) == 1
    with pytest.raises(Exception):
        db.execute("DELETE FROM audit_pages")
    rc, out = verify(srv)
    assert rc == 0 and "chain intact" in out, out


@pytest.mark.dialect
def test_many_pages_in_one_batch_each_row_names_its_own(start_server, db):
    """Twelve distinct pages, pairs of the same length, appended in one
    batch (the writer gathers for a second): each row names the page its
    read showed, more pages than an append remembers (8)."""
    srv = start_server(db=db, env={**QUIET, "CAREBASE_AUDIT_FLUSH_MS": "1000"})
    admin, t, _ = practice(srv, n=12)
    shown = []
    for limit in range(7, 13):
        for sort in ("start_time", "-start_time"):
            shown.append(listed(srv, t, f"?limit={limit}&sort={sort}"))
    assert len({tuple(ids) for ids in shown}) == 12
    wait_until(lambda: reads(db) >= 12, what="the reads' audit rows written")
    assert int(db.scalar("SELECT COUNT(*) FROM audit_pages")) == 12
    r = srv.get(f"/v1/audit-log?action={READ}&limit=12", headers=hdr(admin))
    assert r.status_code == 200, r.text
    logged = [e["changes"]["ids"] for e in reversed(r.json()["data"])]
    assert logged == shown
    rc, out = verify(srv)
    assert rc == 0 and "chain intact" in out, out


@pytest.mark.dialect
def test_a_database_without_0058_keeps_ids_in_rows_until_it_is_migrated(start_server, db):
    """A process serving a database where 0058 is not applied (an older
    backup restored, a database not migrated yet) keeps a read's ids in
    its row, as before 0058, and reads the log so; once `carebase migrate`
    makes the table, reads name pages again (asked again within a
    second). The table gone under a process that used it: the batch that
    meets its absence is tried again at once (no failed write) with ids in
    rows (and verify misses the pages that went with it)."""
    srv = start_server(db=db, env=QUIET)
    admin, t, ann = practice(srv)

    def unmigrated():
        db.execute("DROP TABLE audit_pages")
        db.execute("DELETE FROM schema_migrations WHERE name = '0058_audit_pages'")

    def read_inline():
        n = reads(db)
        ids = listed(srv, t)
        wait_until(lambda: reads(db) > n, what="the read's audit row written")
        assert read_rows(db)[-1][1] == page_text(ids)
        return ids

    unmigrated()
    ids = read_inline()
    r = srv.get(f"/v1/audit-log?action={READ}&limit=1", headers=hdr(admin))
    assert r.status_code == 200, r.text
    assert r.json()["data"][0]["changes"] == {"ids": ids}
    assert srv.get("/v1/me/export", headers=hdr(ann)).status_code == 200
    rc, out = verify(srv)
    assert rc != 0 and "pending" in (out + srv.cli("audit", "verify").stderr)
    srv.cli_ok("migrate")
    digest = hashlib.sha256(page_text(ids).encode()).hexdigest()

    def paged():
        n = reads(db)
        listed(srv, t)
        wait_until(lambda: reads(db) > n, what="the read's audit row written")
        return read_rows(db)[-1][1] == '{"$ids":"%s"}' % digest
    wait_until(paged, timeout=5, interval=0.2, what="a read naming its page after 0058")
    rc, out = verify(srv)
    assert rc == 0 and "chain intact" in out, out
    # The table gone again, under a process that has used it.
    unmigrated()
    read_inline()
    assert "event=audit_flush_failed" not in srv.log()
    r = srv.get(f"/v1/audit-log?action={READ}&limit=1", headers=hdr(admin))
    assert r.status_code == 200, r.text
    assert r.json()["data"][0]["changes"] == {"ids": ids}
    # The pages dropped with it are missed by the rows naming them.
    srv.cli_ok("migrate")
    rc, out = verify(srv)
    assert rc != 0 and "(the page of ids it names is missing)" in out, out


@pytest.mark.sqlite_only
def test_verify_sees_bytes_hidden_after_a_nul_in_a_page(start_server, db):
    """SQLite text may hold a NUL, and what follows it is not in the text
    readers see: verify counts the page's bytes, not only its text."""
    srv = start_server(db=db, env=QUIET)
    _, t, _ = practice(srv)
    listed(srv, t)
    wait_until(lambda: reads(db) >= 1, what="the read's audit row written")
    (first, _), = read_rows(db)[-1:]
    tamper(db, "UPDATE audit_pages SET body = body || char(0) || 'hidden'")
    rc, out = verify(srv)
    assert rc != 0
    assert (f"audit: chain broken at seq {first} (the page of ids it names was changed)"
            in out), out


@pytest.mark.sqlite_only
@pytest.mark.parametrize("column", ["changes", "action", "hash"])
def test_verify_sees_bytes_hidden_after_a_nul_in_a_row(start_server, db, column):
    """The same of a row's own text (its hash covers what strlen sees),
    the hashes it keeps too."""
    srv = start_server(db=db, env=QUIET)
    practice(srv, n=1)
    seq = int(db.scalar("SELECT MAX(seq) FROM audit_log")) // 2 + 1
    rc, out = verify(srv)
    assert rc == 0, out
    tamper(db, f"UPDATE audit_log SET {column} = {column} || char(0) || 'hidden' "
               f"WHERE seq = {seq}")
    rc, out = verify(srv)
    assert rc != 0
    assert f"audit: chain broken at seq {seq} (row changed)" in out, out
