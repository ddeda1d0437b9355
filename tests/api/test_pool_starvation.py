"""The database pool under concurrent requests (docs/BENCHMARKS.md, "Training
bookings under load", defects 1 and 2).

1. One connection a thread. A request's read transaction (the one its
   authentication reads in) ends before its handler runs, so no request
   holds a pooled connection while it waits for another: with more HTTP
   threads than pooled connections, bodyless staff actions (a training
   booking's confirm, which writes) and reads all answer, none 503 after the
   pool's wait. Before, each thread could hold one connection and wait for
   a second: 5 s stalls, then 503 BUSY for most of them.
2. SQLite: write transactions of one process queue for their turn in the
   process (woken as soon as the one before ends) instead of sleeping in
   SQLite's busy handler, so many writers at once all succeed well within
   the busy timeout. Before, a BEGIN IMMEDIATE that kept losing the lock
   answered 503 after the timeout.
3. PostgreSQL: a pooled connection whose server went silent is not waited on
   for ever by the next request that borrows it (src/store/pg.c,
   PG_END_WAIT_MS).

Both count on a timing bound (an answer well within the pool's wait), so
they run alone (serial)."""

import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

try:
    import psycopg2
except ImportError:  # scripts/install-deps installs python3-psycopg2
    psycopg2 = None

from conftest import SilentRelay, hdr, make_partner, metric_sum, person
from training_helpers import attendees_of, course_schedule, make_catalogue

pytestmark = pytest.mark.serial

BUSY_MS = 4000          # db_busy_timeout_ms: the pool's wait, SQLite's busy timeout


def burst(calls, timeout=30):
    """Run every call(session) in its own thread, released at once; returns
    [(status or the exception's name, seconds)] in order."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def go(i):
        with requests.Session() as s:
            barrier.wait(timeout=30)
            t0 = time.monotonic()
            try:
                status = calls[i](s).status_code
            except requests.RequestException as e:
                status = type(e).__name__
            out[i] = (status, time.monotonic() - t0)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert all(o is not None for o in out), out
    return out


def test_more_threads_than_connections_answer_bodyless_writes_and_reads(start_server):
    """16 HTTP threads, 2 pooled connections: 60 concurrent staff confirms of
    10 pending bookings (bodyless POSTs that write) and 40 reads, none 503,
    each answered well within the pool's wait; each booking confirmed once."""
    server = start_server(env={"CAREBASE_THREADS": "16", "CAREBASE_SLOW_THREADS": "2",
                               "CAREBASE_POOL_MIN": "1", "CAREBASE_POOL_MAX": "2",
                               "CAREBASE_DB_BUSY_TIMEOUT_MS": str(BUSY_MS)})
    c = make_catalogue(server)
    sched = course_schedule(server, c)
    bookings = []
    for i in range(10):
        who = person(server, f"learner{i}")
        r = server.post("/v1/training-bookings", headers=hdr(who),
                        json={"schedule_id": sched["id"], "attendees": attendees_of(who)})
        assert r.status_code == 201, r.text
        bookings.append(r.json())
    admin = hdr(c["admin"])

    def confirm(b):
        return lambda s: s.post(server.url(f"/v1/training-bookings/{b['id']}/confirm"),
                                headers=admin, timeout=20)

    def read(b):
        return lambda s: s.get(server.url(f"/v1/training-bookings/{b['id']}"),
                               headers=admin, timeout=20)

    calls = [confirm(bookings[i % 10]) for i in range(60)]
    calls += [read(bookings[i % 10]) for i in range(40)]
    out = burst(calls)
    confirms, reads = out[:60], out[60:]
    assert [s for s, _ in confirms if s not in (200, 409)] == [], confirms
    assert [s for s, _ in reads if s != 200] == [], reads
    assert sum(1 for s, _ in confirms if s == 200) == 10, confirms
    slowest = max(t for _, t in out)
    assert slowest < BUSY_MS / 1000 * 0.75, f"slowest answer took {slowest:.2f}s"
    for b in bookings:
        r = server.get(f"/v1/training-bookings/{b['id']}", headers=admin)
        assert r.json()["status"] == "confirmed", r.text
    m = server.metrics()
    assert metric_sum(m, "carebase_db_second_connections_total") == 0
    assert "event=db_second_connection" not in server.log()


@pytest.mark.sqlite_only
def test_sqlite_writers_of_one_process_queue_rather_than_fail(start_server):
    """SQLite, 8 HTTP threads, a busy timeout of 1 s: 16 clients each make 15
    venues as fast as they are answered (240 write transactions, 8 at a
    time in the server): every one is made, none waits out the timeout, and
    the writers queued in the process (the writer-turn metric counts them)."""
    server = start_server(env={"CAREBASE_THREADS": "8", "CAREBASE_POOL_MAX": "20",
                               "CAREBASE_DB_BUSY_TIMEOUT_MS": "1000"})
    admin = hdr(person(server, "admin", "admin"))
    body = {"name": "Venue", "address_line1": "1 Park Row", "city": "Leeds",
            "postcode": "LS1 5AB", "capacity": 10}

    def writer(i):
        def run(s):
            last = None
            for j in range(15):
                last = s.post(server.url("/v1/venues"), headers=admin, timeout=20,
                              json={**body, "name": f"Venue {i}-{j}"})
                if last.status_code != 201:
                    break
            return last
        return run

    out = burst([writer(i) for i in range(16)], timeout=120)
    assert [s for s, _ in out if s != 201] == [], out
    assert server.db.count("venues") == 240
    m = server.metrics()
    assert metric_sum(m, "carebase_db_writer_waits_total") > 0
    assert metric_sum(m, "carebase_db_second_connections_total") == 0


END_WAIT_S = 5          # PG_END_WAIT_MS


@pytest.mark.postgres_only
def test_a_connection_gone_silent_fails_its_borrower_in_bounded_time(start_server, db):
    """A read-only transaction's COMMIT or ROLLBACK is sent and its answer
    read by the next borrower of the connection (src/store/pg.c). The one
    pooled connection goes through a relay that falls silent just as such an
    end goes out: the server never answers it. The next request fails (503)
    within about END_WAIT_S instead of waiting on it for ever (before:
    PQgetResult with no bound; TCP keepalives do not help, the relay's end
    of the connection being alive), the connection is dropped rather than
    pooled again, and once the relay passes bytes again requests are served
    on a new one."""
    u = urlsplit(db.url)
    relay = SilentRelay(u.hostname, u.port)
    try:
        url = db.url.replace(f"@{u.hostname}:{u.port}/", f"@127.0.0.1:{relay.port}/")
        assert url != db.url
        # No job runner: its claims' COMMITs on the one connection could
        # meet the silence first and hold it (rv20g).
        srv = start_server(db=db, env={"DATABASE_URL": url, "CAREBASE_POOL_MIN": "1",
                                       "CAREBASE_POOL_MAX": "1", "CAREBASE_JOB_WORKERS": "0"})
        ann = person(srv, "ann")
        for _ in range(3):
            assert srv.get("/v1/me", headers=hdr(ann)).status_code == 200
        # A simple query message (Q) of COMMIT or ROLLBACK alone: the end
        # that is not waited for (a write's COMMIT is waited for at once).
        # The request that sends it may have a transaction after it (its
        # authentication's read, then the handler's): that one finds the
        # silence, else the next request's first.
        relay.hold_at(rb"Q\x00\x00\x00.(COMMIT|ROLLBACK)\x00")
        seen, t0 = [], time.monotonic()
        while len(seen) < 2 and 503 not in seen:
            try:
                seen.append(srv.get("/v1/me", headers=hdr(ann),
                                    timeout=END_WAIT_S + 25).status_code)
            except requests.RequestException as e:
                seen.append(type(e).__name__)
                break
        took = time.monotonic() - t0
        assert relay.hold is None and not relay.open.is_set(), "no end went out"
        assert seen[-1] == 503 and took < END_WAIT_S + 10, (seen, took)
        assert "event=db_end_timeout" in srv.log()
        relay.open.set()
        deadline = time.monotonic() + 30
        while srv.get("/v1/me", headers=hdr(ann)).status_code != 200:
            assert time.monotonic() < deadline, "no request served after the silence"
            time.sleep(0.5)
    finally:
        relay.close()


WAIT_S = 3              # CAREBASE_DB_WAIT_TIMEOUT_MS below


def relayed_server(start_server, db, relay, **env):
    """A server whose one pooled connection goes through relay, every wait on
    the server bounded by WAIT_S (db_wait_timeout_ms)."""
    u = urlsplit(db.url)
    url = db.url.replace(f"@{u.hostname}:{u.port}/", f"@127.0.0.1:{relay.port}/")
    assert url != db.url
    return start_server(db=db, env={"DATABASE_URL": url, "CAREBASE_POOL_MIN": "1",
                                    "CAREBASE_POOL_MAX": "1", "CAREBASE_JOB_WORKERS": "0",
                                    "CAREBASE_DB_WAIT_TIMEOUT_MS": str(WAIT_S * 1000),
                                    **env})


def silent_then_served(srv, relay, call, ann, code="UNAVAILABLE"):
    """call() meets the silence: 503 code within the bound (before: no
    answer, the request waiting on libpq for as long as the relay holds),
    the connection is dropped rather than pooled again, and once the relay
    passes bytes again requests are served on a new one."""
    t0 = time.monotonic()
    try:
        r = call()
    except requests.RequestException as e:
        pytest.fail(f"no answer within {WAIT_S + 15}s: {type(e).__name__}")
    took = time.monotonic() - t0
    assert not relay.open.is_set(), "the relay never fell silent"
    assert r.status_code == 503 and r.json()["code"] == code, r.text
    assert took < WAIT_S + 5, took
    assert "event=db_wait_timeout" in srv.log()
    relay.open.set()
    deadline = time.monotonic() + 30
    while srv.get("/v1/me", headers=hdr(ann)).status_code != 200:
        assert time.monotonic() < deadline, "no request served after the silence"
        time.sleep(0.5)
    assert srv.get("/v1/me", headers=hdr(ann)).status_code == 200


@pytest.mark.postgres_only
def test_a_write_whose_commit_meets_a_silent_server_fails_in_bounded_time(start_server, db):
    """A write transaction's COMMIT is waited for at once (pg_commit): the
    relay falls silent as the COMMIT after the venue's INSERT goes out, and
    the request answers 503 within db_wait_timeout_ms. Not UNAVAILABLE,
    which a client may retry: COMMIT_OUTCOME_UNKNOWN, no Retry-After, the
    detail saying to read the change back first (before: UNAVAILABLE, as a
    clean failure). It was applied indeed: the relay passes the COMMIT on
    once it thaws, and the venue is there, once."""
    u = urlsplit(db.url)
    relay = SilentRelay(u.hostname, u.port)
    try:
        srv = relayed_server(start_server, db, relay)
        admin = person(srv, "admin", "admin")
        assert srv.get("/v1/me", headers=hdr(admin)).status_code == 200
        # A write's COMMIT goes with the statements that tell it (pg.c
        # PG_MARKED_COMMIT): one simple query of three.
        relay.hold_at(rb"Q\x00\x00..SELECT set_config\('carebase\.wrote'.*COMMIT; ",
                      after=rb"INSERT INTO venues ")
        body = {"name": "Venue", "address_line1": "1 Park Row", "city": "Leeds",
                "postcode": "LS1 5AB", "capacity": 10}
        answers = []

        def post():
            answers.append(srv.post("/v1/venues", headers=hdr(admin), json=body,
                                    timeout=WAIT_S + 15))
            return answers[-1]
        silent_then_served(srv, relay, post, admin, code="COMMIT_OUTCOME_UNKNOWN")
        r = answers[0]
        assert "Retry-After" not in r.headers, r.headers
        assert "read it back" in r.json()["detail"].lower(), r.text
        assert "event=db_commit_outcome_unknown" in srv.log()
        names = [v["name"] for v in srv.get("/v1/venues", headers=hdr(admin)).json()["data"]]
        assert names.count("Venue") == 1, names
    finally:
        relay.close()


@pytest.mark.postgres_only
def test_a_read_statement_meeting_a_silent_server_fails_in_bounded_time(start_server, db):
    """A plain read: the relay falls silent as the first execution of a
    prepared statement (a Bind naming one of carebase's s<N>) goes out,
    whether alone (pg_send) or in a flight with its BEGIN (pg_flight)."""
    u = urlsplit(db.url)
    relay = SilentRelay(u.hostname, u.port)
    try:
        srv = relayed_server(start_server, db, relay, CAREBASE_SESSION_CACHE_SIZE="0")
        ann = person(srv, "ann")
        for _ in range(3):
            assert srv.get("/v1/me", headers=hdr(ann)).status_code == 200
        relay.hold_at(rb"B....\x00s[0-9]+\x00")
        silent_then_served(srv, relay, lambda: srv.get(
            "/v1/me", headers=hdr(ann), timeout=WAIT_S + 15), ann)
    finally:
        relay.close()


@pytest.mark.postgres_only
@pytest.mark.parametrize("path", ["/v1/venues", "/v1/me"])
def test_a_read_whose_session_touch_commit_meets_a_silent_server_is_no_unknown_outcome(
        start_server, db, path):
    """Authentication's side write (the session's last_activity_at, at most
    once a step) is a transaction of its own: the relay falls silent as its
    COMMIT goes out, the touch fails after the wait, and the GET's own read
    then cannot have a connection (the relay still silent, connect_timeout
    2 s). GET /v1/venues, a public read, authenticates in its handler;
    GET /v1/me is checked right before its handler (hreq_dispatch, the
    check put off from the head): either way the touch and the read are
    of one request. It answers 503 UNAVAILABLE: it changed nothing the
    client asked for, so never COMMIT_OUTCOME_UNKNOWN (before: the touch's
    unanswered COMMIT raised the request's mark, and a read was told its
    change may have been applied)."""
    u = urlsplit(db.url)
    relay = SilentRelay(u.hostname, u.port)
    try:
        srv = relayed_server(start_server, db, relay, CAREBASE_SESSION_CACHE_SIZE="0",
                             PGCONNECT_TIMEOUT="2")
        ann = person(srv, "ann")
        assert srv.get("/v1/me", headers=hdr(ann)).status_code == 200
        # Last used two minutes ago: this request touches it (a step is
        # a minute at most).
        db.execute("UPDATE auth_sessions SET last_activity_at = last_activity_at - 120000 "
                   f"WHERE user_id = '{ann['id']}'")
        relay.hold_at(rb"Q\x00\x00\x00.COMMIT\x00", after=rb"UPDATE auth_sessions ")
        r = srv.get(path, headers=hdr(ann), timeout=WAIT_S + 30)
        assert not relay.open.is_set(), "the relay never fell silent"
        assert "event=db_commit_outcome_unknown" in srv.log(), "not the touch's COMMIT"
        assert (r.status_code, r.json()["code"]) == (503, "UNAVAILABLE"), r.text
    finally:
        relay.close()


@pytest.mark.postgres_only
@pytest.mark.parametrize("given_by", ["PGCONNECT_TIMEOUT", "service file"])
def test_a_connect_timeout_from_the_environment_or_a_service_file_is_kept(
        start_server, db, tmp_path, given_by):
    """carebase's connect_timeout of 10 s (pg_conn_params) is a default: the
    environment's PGCONNECT_TIMEOUT, or the PGSERVICE service file's
    connect_timeout, wins over it as libpq's own order has it (before: the
    explicit 10 overrode both). A server that never answers the connection
    (the relay silent from the start) is given up after those 2 s, not 10."""
    u = urlsplit(db.url)
    relay = SilentRelay(u.hostname, u.port)
    relay.open.clear()
    if given_by == "service file":
        conf = tmp_path / "pg_service.conf"
        conf.write_text("[carebase_test]\nconnect_timeout=2\n")
        env = {"PGSERVICEFILE": str(conf), "PGSERVICE": "carebase_test"}
    else:
        env = {"PGCONNECT_TIMEOUT": "2"}
    try:
        srv = start_server(db=db, start=False, migrate=False)
        url = db.url.replace(f"@{u.hostname}:{u.port}/", f"@127.0.0.1:{relay.port}/")
        t0 = time.monotonic()
        r = srv.cli("migrate", "status", env={"DATABASE_URL": url, "CAREBASE_POOL_MIN": "1",
                                              **env}, timeout=60)
        took = time.monotonic() - t0
        assert r.returncode != 0, r.stdout
        assert "timeout expired" in r.stderr, r.stderr
        assert took < 7, f"gave up after {took:.1f}s: the 10 s default won"
    finally:
        relay.close()


@pytest.mark.postgres_only
def test_a_connection_lost_under_the_pool_is_no_pending_migration(start_server, db):
    """The one pooled connection is cut and no new one can be made (the
    relay gone: connections refused). A role PUT then fails 503 UNAVAILABLE,
    never 503 MIGRATIONS_PENDING; /readyz says DATABASE_UNREACHABLE. A guard
    only: here the request's authentication meets the loss before the role
    change does, so it passed before too; the pool's own answer (ERR_DB, not
    ERR_UNAVAILABLE, which the role change read as migration 0023 pending)
    is tests/unit/test_store.c's a_connection_not_had_is_a_failed_statement."""
    u = urlsplit(db.url)
    relay = SilentRelay(u.hostname, u.port)
    try:
        srv = relayed_server(start_server, db, relay)
        admin = person(srv, "admin", "admin")
        assert srv.get("/v1/roles/member", headers=hdr(admin)).status_code == 200
        relay.close()
        seen = []
        for _ in range(4):
            r = srv.request("PUT", "/v1/roles/member/permissions", headers=hdr(admin),
                            json={"permissions": ["users:read:own"]}, timeout=WAIT_S + 15)
            seen.append((r.status_code, r.json().get("code")))
        # Every one (before: the first met the cut under its statement
        # and answered 500, the connection marked broken and not the
        # server lost).
        assert seen == [(503, "UNAVAILABLE")] * 4, seen
        r = srv.get("/readyz", timeout=WAIT_S + 15)
        assert (r.status_code, r.json()["code"]) == (503, "DATABASE_UNREACHABLE"), r.text
    finally:
        relay.close()


@pytest.mark.postgres_only
def test_readyz_whose_read_meets_a_silent_server_is_no_pending_migration(start_server, db):
    """/readyz's read of the applied migrations meets the silence (the wait
    runs out), then the server answers again: the database could not be
    read, DATABASE_UNREACHABLE, not MIGRATIONS_PENDING (before: a failed read
    followed by a good ping was taken for a database never migrated)."""
    u = urlsplit(db.url)
    relay = SilentRelay(u.hostname, u.port)
    try:
        srv = relayed_server(start_server, db, relay)
        assert srv.get("/readyz").status_code == 200
        # /readyz is public: no authentication's read before its own. The
        # first execution of a prepared statement is its read's.
        relay.hold_at(rb"B....\x00s[0-9]+\x00")
        out = []
        t = threading.Thread(target=lambda: out.append(srv.get("/readyz", timeout=WAIT_S + 20)))
        t.start()
        time.sleep(WAIT_S + 1.5)       # the wait ran out: the server answers again
        relay.open.set()
        t.join()
        assert not relay.hold, "the relay never fell silent"
        r = out[0]
        assert (r.status_code, r.json()["code"]) == (503, "DATABASE_UNREACHABLE"), r.text
        assert "event=db_wait_timeout" in srv.log()
        deadline = time.monotonic() + 30
        while srv.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "not ready after the silence"
            time.sleep(0.5)
    finally:
        relay.close()


@pytest.mark.postgres_only
def test_a_slow_statement_is_ended_by_the_server_before_the_wait_runs_out(start_server, db):
    """db_wait_timeout_ms below 35 s: the statement_timeout carebase sets on
    its connections follows it (6/7 of it), so a statement held up on the
    server (here by a lock another connection holds) is cancelled by the
    server, and answered, before carebase's own wait runs out: the request
    fails alone and its connection stays in the pool (before: the 30 s
    statement_timeout stood, the 3 s wait ran out first and the good
    connection was given up as silent, event=db_wait_timeout)."""
    if psycopg2 is None:
        pytest.skip("python3-psycopg2 is not installed")
    srv = start_server(db=db, env={"CAREBASE_POOL_MIN": "1", "CAREBASE_POOL_MAX": "1",
                                   "CAREBASE_JOB_WORKERS": "0",
                                   "CAREBASE_DB_WAIT_TIMEOUT_MS": str(WAIT_S * 1000)})
    admin = person(srv, "admin", "admin")
    assert srv.get("/v1/venues", headers=hdr(admin)).status_code == 200
    con = psycopg2.connect(db.url, connect_timeout=10)
    try:
        with con.cursor() as cur:
            cur.execute("LOCK TABLE venues IN ACCESS EXCLUSIVE MODE")
        t0 = time.monotonic()
        r = srv.get("/v1/venues", headers=hdr(admin), timeout=WAIT_S + 15)
        took = time.monotonic() - t0
    finally:
        con.rollback()
        con.close()
    # The server too slow for the wait: 503 as when carebase's own wait
    # runs out (before: 500, a failed statement).
    assert (r.status_code, r.json()["code"]) == (503, "UNAVAILABLE"), r.text
    assert took < WAIT_S + 2, took
    log = srv.log()
    assert "event=db_wait_timeout" not in log, "the wait ran out before the server's timeout"
    assert "sqlstate=57014" in log, "not cancelled by the server's statement_timeout"
    assert srv.get("/v1/venues", headers=hdr(admin)).status_code == 200
    assert "event=db_reconnect" not in srv.log()


@pytest.mark.postgres_only
@pytest.mark.parametrize("read", ["venues", "partner"])
def test_backends_terminated_in_the_pool_answer_503_or_serve_never_500(start_server, db, read):
    """The pool's connections are ended on the server while they wait idle
    (pg_terminate_backend, as an administrator or a failover does): the
    next requests meet the closed connections under their statements.
    Each answers 503 UNAVAILABLE, which says to try again, or is served
    on a connection made anew; never 500 (before: a connection closed
    under a statement marked it broken and not the server lost, and on
    a public read such as GET /v1/venues the session's read failing
    answered 401, as if the token were refused: src/resource/handlers.c's
    begin; GET /v1/partners/{id}, which authenticates by itself, did so
    still: partners_public_get)."""
    if psycopg2 is None:
        pytest.skip("python3-psycopg2 is not installed")
    # No cache of sessions or of list pages: their listeners' connections,
    # made again every second, would keep the backends from all ending.
    srv = start_server(db=db, env={"CAREBASE_POOL_MIN": "2", "CAREBASE_POOL_MAX": "2",
                                   "CAREBASE_JOB_WORKERS": "0",
                                   "CAREBASE_SESSION_CACHE_SIZE": "0",
                                   "CAREBASE_LIST_CACHE_SIZE": "0"})
    admin = person(srv, "admin", "admin")
    path = "/v1/venues"
    if read == "partner":
        path = "/v1/partners/" + make_partner(srv, admin, "Relay Partner")["id"]
    for _ in range(3):
        assert srv.get(path, headers=hdr(admin)).status_code == 200
    con = psycopg2.connect(db.url, connect_timeout=10)
    con.autocommit = True
    seen = []
    try:
        for _ in range(3):
            with con.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                            "AND backend_type = 'client backend'")
                ended = cur.rowcount
                deadline = time.monotonic() + 10
                while True:
                    cur.execute("SELECT count(*) FROM pg_stat_activity "
                                "WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid() "
                                "AND backend_type = 'client backend'")
                    if cur.fetchone()[0] == 0:
                        break
                    assert time.monotonic() < deadline, "the backends did not end"
                    time.sleep(0.05)
            assert ended >= 1
            for _ in range(3):
                r = srv.get(path, headers=hdr(admin), timeout=30)
                seen.append((r.status_code, r.json()["code"] if r.status_code != 200 else None))
    finally:
        con.close()
    assert all(s in ((200, None), (503, "UNAVAILABLE")) for s in seen), seen
    assert (503, "UNAVAILABLE") in seen, seen
    assert srv.get(path, headers=hdr(admin)).status_code == 200
