"""A GET's caller is checked right before its handler runs, on the same
thread, and on SQLite the check's read transaction is kept for the handler
(http_read_tx_keep, src/http/request.c): one BEGIN and one ROLLBACK a
request, not two. A handler that begins a transaction of its own first
ends the one kept (store_tx_park): a thread never holds two connections.
And the audit log's hash chain, now hashed by libcrypto, is the chain the
format says (recomputed here from the rows)."""
import hashlib
import re
import time

from conftest import DB_KIND, at, book, hdr, metric_sum, person, profile, relate, wait_until

QUIET = {"CAREBASE_JOB_WORKERS": "0"}


def transactions(srv):
    return metric_sum(srv.metrics(), "carebase_db_transactions_total")


def begun_by(srv, n, do):
    """Transactions begun by do() run n times, less what reading /metrics
    itself begins (measured just before)."""
    t0 = transactions(srv)
    t1 = transactions(srv)
    own = t1 - t0
    for _ in range(n):
        do()
    return transactions(srv) - t1 - own


def practice(srv):
    """An admin, a therapist with a profile, a client of theirs and a
    session booked with her (the answer)."""
    admin = person(srv, "ada", "admin")
    t = person(srv, "tess", "therapist")
    ann = person(srv, "ann")
    t["profile"] = profile(srv, admin, t)
    relate(srv, admin, t, ann, "practitioner_of")
    r = book(srv, t, t, ann, at(0), at(1))
    assert r.status_code == 201, r.text
    return admin, t, ann, r


def test_a_get_reads_in_the_transaction_its_caller_was_checked_in(start_server, db):
    """GET /v1/me: on SQLite the session's read and the account's are one
    transaction (was two); on PostgreSQL authentication reads outside one
    (autocommit) and the handler in its own, as before."""
    srv = start_server(db=db, env=QUIET)
    m = person(srv, "mia")
    me = srv.get("/v1/me", headers=hdr(m))   # the caches started, warm
    assert me.status_code == 200, me.text

    def get_me():
        r = srv.get("/v1/me", headers=hdr(m))
        assert r.status_code == 200, r.text
        assert r.json()["id"] == me.json()["id"]
    n = 10
    begun = begun_by(srv, n, get_me)
    assert begun == (n if DB_KIND == "sqlite" else 2 * n), begun


def test_a_get_whose_handler_begins_its_own_transaction_holds_one_connection(
        start_server, db):
    """Handlers that begin a transaction of their own (the audit log, a
    list of therapy sessions, the therapists) answer as before, and the
    transaction kept for them is ended first: no thread asks for a second
    connection."""
    srv = start_server(db=db, env=QUIET)
    admin, t, ann, r = practice(srv)
    for who, path in ((admin, "/v1/audit-log?limit=5"),
                      (t, "/v1/therapy-sessions"),
                      (t, "/v1/therapy-sessions"),
                      (ann, "/v1/therapy-sessions/" + r.json()["id"]),
                      (admin, "/v1/me")):
        g = srv.get(path, headers=hdr(who))
        assert g.status_code == 200, (path, g.text)
    assert metric_sum(srv.metrics(), "carebase_db_second_connections_total") == 0
    # None held once the requests ended (the audit writer's flush of the
    # reads' rows may hold one for a moment).
    wait_until(lambda: re.search(r"^carebase_db_pool_connections\{state=\"in_use\"\} 0$",
                                 srv.metrics(), re.M),
               timeout=5, what="every pooled connection given back")


def test_the_audit_log_read_waits_for_the_writer_holding_no_connection(start_server, db):
    """GET /v1/audit-log first waits for the audit writer to write what is
    queued (audit_queue_sync): with one pooled connection, the transaction
    kept for the handler must be given back before that wait, or the
    writer cannot write and the read fails after the busy timeout (and
    the writer's failures then refuse every audited read)."""
    srv = start_server(db=db, env={**QUIET, "CAREBASE_POOL_MAX": "1", "CAREBASE_POOL_MIN": "1",
                                   "CAREBASE_AUDIT_FLUSH_MS": "1000",
                                   "CAREBASE_DB_BUSY_TIMEOUT_MS": "3000"})
    admin, t, _, _ = practice(srv)
    for _ in range(3):
        assert srv.get("/v1/therapy-sessions", headers=hdr(t)).status_code == 200
        t0 = time.monotonic()
        r = srv.get("/v1/audit-log?limit=5", headers=hdr(admin))
        took = time.monotonic() - t0
        assert r.status_code == 200, r.text
        assert took < 2.8, took     # the failure waits the busy timeout, 3 s
        assert any(e["action"] == "therapy_sessions.read" for e in r.json()["data"])


def field(v):
    """One field as the chain hashes it (src/resource/audit.c hash_field):
    0 for NULL, else 1, the length as 8 bytes big-endian, the bytes."""
    if v is None:
        return b"\x00"
    b = v.encode()
    return b"\x01" + len(b).to_bytes(8, "big") + b


def test_the_audit_chain_is_sha256_of_the_documented_fields(start_server, db):
    """Every row's hash is SHA-256 over the previous row's hash and the
    row's fields, each framed by field(); recomputed here for rows of
    writes and of a list's read (whose changes name ids)."""
    # Reads' rows gathered for a second: one batch of about a hundred,
    # appended in statements of 64, 32, 4... rows (audit.c chain_insert).
    srv = start_server(db=db, env={**QUIET, "CAREBASE_AUDIT_FLUSH_MS": "1000"})
    _, t, _, _ = practice(srv)
    n = 101
    for _ in range(n):
        assert srv.get("/v1/therapy-sessions", headers=hdr(t)).status_code == 200
    wait_until(lambda: int(db.scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'therapy_sessions.read'")) >= n,
        what="the reads' audit rows written")
    rows = db.query(
        "SELECT seq, id, at, actor_ref, actor_role, action, entity_type, entity_id, "
        "changes, ip, user_agent, request_id, prev_hash, hash FROM audit_log ORDER BY seq")
    assert len(rows) >= n + 5
    assert [int(r[0]) for r in rows] == list(range(1, len(rows) + 1))
    prev = None
    for r in rows:
        *fields, prev_hash, h = r
        if prev is not None:
            assert prev_hash == prev, r[0]
        d = hashlib.sha256(field(prev_hash) + b"".join(field(f) for f in fields))
        assert d.hexdigest() == h, f"row {r[0]} ({r[5]}) does not hash as documented"
        prev = h
