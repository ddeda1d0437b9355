"""Each serving process keeps the pages of lists it read of the resources
that say so (RESOURCE_LIST_CACHE: therapy sessions), src/resource/list_cache.c.
A page is answered again only while no write has been told since it was
read: on PostgreSQL by the NOTIFY carebase_changes that goes with every
write's COMMIT (a listener in each process), on SQLite by data_changes.n
(migration 0057), moved inside every write. A change made by hand, outside
carebase, shows after list_cache_ttl_ms at most. Every case first shows
that pages are taken from the cache (its hits grow), so none passes with
the cache off, and then that what was written shows all the same."""
import json
import re
import time
from urllib.parse import urlsplit

import pytest

from conftest import (AUDIT_CHANGES, DB_KIND, SilentRelay, at, book, hdr, person, profile,
                      relate, wait_until)

try:
    import psycopg2
except ImportError:             # pragma: no cover
    psycopg2 = None

# Another process's write shows within this on PostgreSQL (NOTIFY takes
# milliseconds); on SQLite at once.
BOUND_S = 1.0
READY = "event=db_listen_ready channel=carebase_changes"
# A TTL long enough that no case below is decided by it but the one that
# tests it, and no job worker: its writes (of the notices a booking
# queues) would move the count or clock and hide a write not told.
QUIET = {"CAREBASE_LIST_CACHE_TTL_MS": "60000", "CAREBASE_JOB_WORKERS": "0"}
LIST = "/v1/therapy-sessions"
BEFORE_0057 = "0056_partner_access_deactivated_at"   # migrate down --to= it undoes 0057


def counts(srv):
    """The list cache's numbers in srv's /metrics."""
    text = srv.metrics()

    def one(name):
        m = re.search(rf"^carebase_list_cache_{name} (\d+)$", text, re.M)
        assert m, f"carebase_list_cache_{name} not in /metrics"
        return int(m.group(1))
    return {k: one(k) for k in ("hits_total", "misses_total", "kept_total",
                                "full_total", "bytes", "usable")}


def hits(srv):
    return counts(srv)["hits_total"]


def in_use(srv, who):
    """srv's list cache started (by the first request with a token, here
    one that lists nothing) and in use: on PostgreSQL its listener said it
    listens."""
    assert srv.get("/v1/me", headers=hdr(who)).status_code == 200
    wait_until(lambda: counts(srv)["usable"] == 1, what="the list cache in use")
    if DB_KIND == "postgres":
        wait_until(lambda: READY in srv.log(), what=READY)


def clinic(srv):
    """An admin, a therapist with a profile, two clients of theirs
    (practitioner_of, consent given), a session with each."""
    c = {"admin": person(srv, "admin", "admin"),
         "therapist": person(srv, "therapist", "therapist"),
         "ann": person(srv, "ann"),
         "bea": person(srv, "bea")}
    c["therapist"]["profile"] = profile(srv, c["admin"], c["therapist"])
    c["rel_ann"] = relate(srv, c["admin"], c["therapist"], c["ann"], "practitioner_of")
    c["rel_bea"] = relate(srv, c["admin"], c["therapist"], c["bea"], "practitioner_of")
    c["s_ann"] = booked(srv, c, c["ann"], 0, shared_notes="first talk")
    c["s_bea"] = booked(srv, c, c["bea"], 2)
    return c


def booked(srv, c, client, hour, **extra):
    t = c["therapist"]
    r = book(srv, t, t, client, at(hour), at(hour + 1), **extra)
    assert r.status_code == 201, r.text
    return r.json()


def listed(srv, who, path=LIST):
    r = srv.get(path, headers=hdr(who))
    assert r.status_code == 200, r.text
    return r


def rows(srv, who, path=LIST):
    """{id: session} of who's list on srv."""
    return {s["id"]: s for s in listed(srv, who, path).json()["data"]}


def warm(srv, who, path=LIST):
    """who's list read on srv until a read is taken from its cache (so a
    stale page would be answered next if nothing told it of a write). A
    write of a job after the requests (a notice queued by a booking) may
    move the count between two reads: read again then, 5 s at most."""
    deadline = time.monotonic() + 5
    first = listed(srv, who, path)
    while True:
        before = hits(srv)
        second = listed(srv, who, path)
        if hits(srv) == before + 1:
            break
        assert time.monotonic() < deadline, "no read was taken from the cache"
        first = second
    assert second.text == first.text
    return {s["id"]: s for s in second.json()["data"]}


def shown_within(srv, who, pred, seconds=BOUND_S, path=LIST):
    """Poll who's list on srv until pred(rows) holds, seconds at most: the
    number of reads it took (1 on SQLite, where the count moved)."""
    start = time.monotonic()
    tries = 0
    while True:
        tries += 1
        got = rows(srv, who, path)
        if pred(got):
            return tries
        assert time.monotonic() - start < seconds, (
            f"not shown {seconds}s after the write: {sorted(got)}")
        time.sleep(0.01)


def at_once(tries):
    if DB_KIND == "sqlite":
        assert tries == 1, f"SQLite: shown after {tries} reads, not the first"


def audit_rows(db, rid):
    """The read audit rows of request rid: (entity_id, ids named)."""
    out = []
    for eid, changes in db.query(f"SELECT entity_id, {AUDIT_CHANGES} FROM audit_log WHERE "
                                 f"request_id = '{rid}' AND action = 'therapy_sessions.read'"):
        out.append((eid, sorted(json.loads(changes or "{}").get("ids", []))))
    return out


# ---------------------------------------------------------------------------


@pytest.mark.dialect
def test_a_list_read_twice_is_answered_from_the_cache_and_audited_twice(start_server, db):
    """The second read of a list is the page kept (hits grow), answered as
    the first was, and audited as a read of health data all the same: one
    row a request, naming the same ids. Pages are kept per caller and
    query string."""
    srv = start_server(db=db, env=QUIET)
    c = clinic(srv)
    t = c["therapist"]
    in_use(srv, t)
    assert counts(srv)["kept_total"] == 0
    deadline = time.monotonic() + 5
    first = listed(srv, t)
    while True:             # as warm(): a job's write may come between
        before = counts(srv)
        second = listed(srv, t)
        after = counts(srv)
        if after["hits_total"] == before["hits_total"] + 1:
            break
        assert time.monotonic() < deadline, (before, after)
        first = second
    assert after["kept_total"] >= 1
    # The hit answers as the read did, headers too (but its own id).
    def same(h):
        return {k.lower(): v for k, v in h.items()
                if k.lower() not in ("date", "x-request-id", "content-length")}
    assert same(second.headers) == same(first.headers)
    assert after["bytes"] > 0
    assert second.text == first.text
    ids = sorted(s["id"] for s in first.json()["data"])
    assert ids == sorted([c["s_ann"]["id"], c["s_bea"]["id"]])
    # Each request its own audit row, naming the same ids (the hit is a
    # read of health data like the first).
    r1, r2 = first.headers["X-Request-Id"], second.headers["X-Request-Id"]
    assert r1 != r2
    for rid in (r1, r2):
        wait_until(lambda: audit_rows(db, rid), timeout=10, what=f"the audit row of {rid}")
    assert audit_rows(db, r1) == [(None, ids)]
    assert audit_rows(db, r2) == [(None, ids)]
    # Another caller's list, another query string: other pages.
    h = hits(srv)
    ann = rows(srv, c["ann"])
    assert set(ann) == {c["s_ann"]["id"]}
    one = rows(srv, t, f"{LIST}?client_id={c['bea']['id']}")
    assert set(one) == {c["s_bea"]["id"]}
    assert hits(srv) == h, "a page answered under another caller or query"


@pytest.mark.dialect
def test_writes_through_the_api_show_in_the_next_list(start_server, db):
    """A create, an update and a cancel in this process: its next list,
    answered from a page before each, shows each."""
    srv = start_server(db=db, env=QUIET)
    c = clinic(srv)
    t = c["therapist"]
    in_use(srv, t)
    warm(srv, t)
    # Created.
    new = booked(srv, c, c["ann"], 4)
    got = warm(srv, t)
    assert new["id"] in got and len(got) == 3
    # Updated.
    r = srv.request("PATCH", f"{LIST}/{c['s_ann']['id']}", headers=hdr(t),
                    json={"shared_notes": "second thoughts"})
    assert r.status_code == 200, r.text
    got = warm(srv, t)
    assert got[c["s_ann"]["id"]]["shared_notes"] == "second thoughts"
    # Cancelled (by the client), seen in the therapist's list.
    r = srv.post(f"{LIST}/{new['id']}/cancel", headers=hdr(c["ann"]))
    assert r.status_code == 200, r.text
    got = warm(srv, t)
    assert got[new["id"]]["status"] == "cancelled"
    # A filtered list kept before the cancel is not answered after it.
    sched = f"{LIST}?status=scheduled"
    assert set(warm(srv, t, sched)) == {c["s_ann"]["id"], c["s_bea"]["id"]}
    r = srv.post(f"{LIST}/{c['s_bea']['id']}/cancel", headers=hdr(t))
    assert r.status_code == 200, r.text
    assert set(rows(srv, t, sched)) == {c["s_ann"]["id"]}


@pytest.mark.dialect
def test_writes_through_another_process_show_in_this_ones_lists(start_server, db):
    """Two servers on one database: what b writes (a session booked,
    updated, cancelled; a relationship ended; a role's permission taken
    away) shows in a's next list on SQLite, within BOUND_S on PostgreSQL,
    though a answered that list from its cache just before."""
    # No job worker: its writes in a (of notices b's writes queue) would
    # move a's clock and hide a notification not heard.
    a = start_server(db=db, env=QUIET)
    b = start_server(db=db, migrate=False, env=QUIET)
    c = clinic(a)
    t = c["therapist"]
    for srv in (a, b):
        in_use(srv, t)
    # Created through b.
    warm(a, t)
    new = booked(b, c, c["ann"], 4)
    at_once(shown_within(a, t, lambda got: new["id"] in got))
    # Updated through b.
    warm(a, t)
    r = b.request("PATCH", f"{LIST}/{c['s_ann']['id']}", headers=hdr(t),
                  json={"shared_notes": "told by b"})
    assert r.status_code == 200, r.text
    at_once(shown_within(
        a, t, lambda got: got[c["s_ann"]["id"]].get("shared_notes") == "told by b"))
    # Cancelled through b.
    warm(a, t)
    r = b.post(f"{LIST}/{new['id']}/cancel", headers=hdr(c["ann"]))
    assert r.status_code == 200, r.text
    at_once(shown_within(a, t, lambda got: got[new["id"]]["status"] == "cancelled"))
    # The relationship with bea ended through b: her sessions leave the
    # therapist's list on a.
    assert c["s_bea"]["id"] in warm(a, t)
    r = b.post(f"/v1/relationships/{c['rel_bea']['id']}/end", headers=hdr(c["admin"]))
    assert r.status_code == 200, r.text
    at_once(shown_within(a, t, lambda got: c["s_bea"]["id"] not in got))
    # The therapist role's permission to read their clients' sessions taken
    # away through b: a stops answering the list.
    warm(a, t)
    perms = b.get("/v1/roles/therapist", headers=hdr(c["admin"])).json()["permissions"]
    kept = [p for p in perms if not p.startswith("therapy_sessions:read")]
    assert kept != perms, perms
    r = b.request("PUT", "/v1/roles/therapist/permissions", headers=hdr(c["admin"]),
                  json={"permissions": kept})
    assert r.status_code == 200, r.text
    start = time.monotonic()
    tries = 0
    while True:
        tries += 1
        r = a.get(LIST, headers=hdr(t))
        if r.status_code == 403:
            break
        assert r.status_code == 200, r.text
        assert time.monotonic() - start < BOUND_S, "still listed after the permission went"
        time.sleep(0.01)
    at_once(tries)


@pytest.mark.dialect
def test_a_change_by_hand_shows_after_the_ttl_at_most(start_server, db):
    """An UPDATE made outside carebase is told to no process: a page read
    before it is answered list_cache_ttl_ms at most (no assertion that it
    is answered at all before: timing)."""
    ttl_ms = 500
    srv = start_server(db=db, env={**QUIET, "CAREBASE_LIST_CACHE_TTL_MS": str(ttl_ms)})
    c = clinic(srv)
    t = c["therapist"]
    in_use(srv, t)
    sid = c["s_bea"]["id"]
    assert warm(srv, t)[sid]["status"] == "scheduled"
    # Told to no process: only the TTL bounds it.
    db.execute(f"UPDATE therapy_sessions SET status = 'cancelled' WHERE id = '{sid}'")
    changed = time.monotonic()
    shown_within(srv, t, lambda got: got[sid]["status"] == "cancelled",
                 seconds=ttl_ms / 1000 + 1.0)
    print(f"shown {(time.monotonic() - changed) * 1000:.0f} ms after the change")
    # Answered from the cache again once read anew.
    assert warm(srv, t)[sid]["status"] == "cancelled"


@pytest.mark.dialect
def test_with_no_pages_every_list_is_read(start_server, db):
    """list_cache_size 0: no page kept or taken, lists right."""
    srv = start_server(db=db, env={**QUIET, "CAREBASE_LIST_CACHE_SIZE": "0"})
    c = clinic(srv)
    t = c["therapist"]
    for _ in range(3):
        assert set(rows(srv, t)) == {c["s_ann"]["id"], c["s_bea"]["id"]}
    new = booked(srv, c, c["bea"], 6)
    assert new["id"] in rows(srv, t)
    r = srv.post(f"{LIST}/{new['id']}/cancel", headers=hdr(t))
    assert r.status_code == 200, r.text
    assert rows(srv, t)[new["id"]]["status"] == "cancelled"
    got = counts(srv)
    assert got["hits_total"] == 0 and got["kept_total"] == 0 and got["usable"] == 0, got
    assert got["bytes"] == 0


def shown_uncached(srv, who, session, notes):
    """Three lists through srv, each read from the database (no page taken,
    the cache not in use), each showing session's shared notes as notes."""
    h = hits(srv)
    for _ in range(3):
        assert rows(srv, who)[session["id"]]["shared_notes"] == notes
    assert hits(srv) == h, "a page taken while the cache was not in use"
    assert counts(srv)["usable"] == 0


def terminate_listener(db):
    """pg_terminate_backend of every backend LISTENing on carebase_changes
    (their last query; the heartbeat is long enough not to replace it)."""
    con = psycopg2.connect(db.url, connect_timeout=10)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND query ILIKE 'LISTEN%carebase_changes%'")
            return cur.rowcount
    finally:
        con.close()


@pytest.mark.postgres_only
@pytest.mark.dialect
def test_a_listener_terminated_takes_no_page_until_it_listens_again(start_server, db):
    """a's listener (through a relay that can refuse new connections) ended
    by pg_terminate_backend: while it cannot listen again a takes no page,
    and a write b made meanwhile (a heard nothing of it) shows in a's list
    once it listens again, though a kept that list before the loss."""
    if psycopg2 is None:
        pytest.skip("python3-psycopg2 is not installed")
    u = urlsplit(db.url)
    relay = SilentRelay(u.hostname, u.port)  # refusing: see conftest
    try:
        listen_url = db.url.replace(f"@{u.hostname}:{u.port}/", f"@127.0.0.1:{relay.port}/")
        assert listen_url != db.url
        a = start_server(db=db, env={**QUIET,
                                     "CAREBASE_SESSION_CACHE_LISTEN_URL": listen_url,
                                     "CAREBASE_SESSION_CACHE_HEARTBEAT_MS": "600000"})
        b = start_server(db=db, migrate=False, env=QUIET)
        c = clinic(a)
        t = c["therapist"]
        for srv in (a, b):
            in_use(srv, t)
        assert c["s_ann"]["id"] in warm(a, t)
        relay.refusing.set()
        assert terminate_listener(db) >= 1
        wait_until(lambda: "event=db_listen_lost channel=carebase_changes" in a.log(),
                   timeout=5, what="the listener lost")
        assert counts(a)["usable"] == 0
        # Meanwhile a write through b, which a does not hear of.
        r = b.request("PATCH", f"{LIST}/{c['s_ann']['id']}", headers=hdr(t),
                      json={"shared_notes": "while a was deaf"})
        assert r.status_code == 200, r.text
        shown_uncached(a, t, c["s_ann"], "while a was deaf")
        # Listening again: the page kept before the loss is not answered.
        relay.refusing.clear()
        wait_until(lambda: a.log().count(READY) >= 2, timeout=15, what="listening again")
        wait_until(lambda: counts(a)["usable"] == 1, what="the cache in use again")
        got = rows(a, t)
        assert got[c["s_ann"]["id"]]["shared_notes"] == "while a was deaf"
        # And pages are taken again, and told of b's writes.
        warm(a, t)
        r = b.request("PATCH", f"{LIST}/{c['s_ann']['id']}", headers=hdr(t),
                      json={"shared_notes": "heard again"})
        assert r.status_code == 200, r.text
        shown_within(a, t, lambda got: got[c["s_ann"]["id"]]["shared_notes"] == "heard again")
    finally:
        relay.close()


@pytest.mark.sqlite_only
def test_migration_0057_undone_while_serving_leaves_lists_right(start_server, db):
    """`carebase migrate down` of 0057 while a serves: no count to read, so
    no page is taken; lists answer 200 and show the writes made since."""
    a = start_server(db=db, env=QUIET)
    c = clinic(a)
    t = c["therapist"]
    in_use(a, t)
    warm(a, t)
    r = a.cli("migrate", "down", f"--to={BEFORE_0057}", "--yes")
    assert r.returncode == 0, r.stderr
    assert "data_changes" not in db.tables()
    # A write the count can no longer tell.
    r = a.request("PATCH", f"{LIST}/{c['s_ann']['id']}", headers=hdr(t),
                  json={"shared_notes": "after the undo"})
    assert r.status_code == 200, r.text
    shown_uncached(a, t, c["s_ann"], "after the undo")
    assert "event=list_cache_off reason=no_count" in a.log()
    new = booked(a, c, c["bea"], 6)
    assert new["id"] in rows(a, t)
    assert "status=500" not in a.log()


@pytest.mark.dialect
def test_an_idle_process_keeps_no_page_past_its_time(start_server, db):
    """A page kept is wiped list_cache_ttl_ms after it was read (and a
    sweep's second) even while no list is asked for: only /metrics is
    read meanwhile, which sweeps nothing (before, the pages of health
    data stayed in memory until the next list)."""
    a = start_server(db=db, env={**QUIET, "CAREBASE_LIST_CACHE_TTL_MS": "2000"})
    c = clinic(a)
    t = c["therapist"]
    in_use(a, t)
    listed(a, t)
    assert counts(a)["bytes"] > 0
    wait_until(lambda: counts(a)["bytes"] == 0, timeout=8,
               what="the page wiped with no list asked for")


@pytest.mark.dialect
def test_a_page_read_before_a_write_goes_at_the_next_list_a_second_on(start_server, db):
    """The requests' own sweep (of pages read before a write told) still
    runs at the next list a second after the last: the sweeper's, by age
    only, does not hold it off (with a minute's TTL, age wipes nothing)."""
    a = start_server(db=db, env=QUIET)
    c = clinic(a)
    t, admin = c["therapist"], c["admin"]
    in_use(a, t)
    listed(a, admin)
    mine = counts(a)["bytes"]
    listed(a, t)
    theirs = counts(a)["bytes"] - mine
    assert mine > 0 and theirs > 0
    r = a.request("PATCH", f"{LIST}/{c['s_ann']['id']}", headers=hdr(t),
                  json={"shared_notes": "a write told"})
    assert r.status_code == 200, r.text
    # Past the once-a-second gate of the requests' sweep, and long enough
    # for the sweeper to have run twice (before, each of its runs closed
    # that gate for a second: a request rarely swept).
    time.sleep(2.5)
    listed(a, admin)    # both pages swept, the admin's kept again
    assert counts(a)["bytes"] < mine + theirs // 2, (
        "the therapist's page, read before the write, is still held")


def count(db):
    return int(db.scalar("SELECT n FROM data_changes WHERE id = 1"))


def started(srv, who):
    """srv's list cache in use again, started by a request that lists
    nothing (a list would replace the page kept)."""
    def on():
        assert srv.get("/v1/me", headers=hdr(who)).status_code == 200
        return counts(srv)["usable"] == 1
    wait_until(on, timeout=5, what="the cache back in use")


@pytest.mark.sqlite_only
def test_migration_0057_undone_and_redone_while_serving_answers_no_old_page(
        start_server, db):
    """0057 done again starts data_changes.n past any count before (the
    microseconds since 1970), and the cache going off and on again keeps
    no page: a page kept before the undo is not answered after the redo.
    No job worker: each write below is the count's only move."""
    a = start_server(db=db, env=QUIET)
    c = clinic(a)
    t = c["therapist"]
    in_use(a, t)
    warm(a, t)
    kept_at = count(db)
    a.cli_ok("migrate", "down", f"--to={BEFORE_0057}", "--yes")
    r = a.request("PATCH", f"{LIST}/{c['s_ann']['id']}", headers=hdr(t),
                  json={"shared_notes": "while undone"})
    assert r.status_code == 200, r.text
    assert rows(a, t)[c["s_ann"]["id"]]["shared_notes"] == "while undone"
    a.cli_ok("migrate")
    started(a, t)
    assert count(db) > kept_at, "0057 redone started its count at one used before"
    got = rows(a, t)
    assert got[c["s_ann"]["id"]]["shared_notes"] == "while undone", (
        "a page kept before 0057 was undone answered after it was redone")


@pytest.mark.sqlite_only
def test_a_restore_while_serving_answers_no_page_of_rows_it_removed(
        start_server, db, tmp_path):
    """A restore sets data_changes.n past both the copy's and the one it
    replaced (as test_session_cache's restore case, for auth_changes): a
    page read after the copy is not answered."""
    a = start_server(db=db, env=QUIET)
    c = clinic(a)
    t = c["therapist"]
    in_use(a, t)
    copy = tmp_path / "copy.db"
    a.cli_ok("backup", str(copy))
    new = booked(a, c, c["ann"], 4)          # not in the copy
    assert new["id"] in warm(a, t)
    kept_at = count(db)
    r = a.cli("restore", str(copy), "--force")
    assert r.returncode == 0, r.stderr
    assert db.count("therapy_sessions", f"id = '{new['id']}'") == 0
    assert count(db) > kept_at, "the restore brought back the copy's count"
    got = rows(a, t)
    assert new["id"] not in got, "a page of a session the restore removed answered"
