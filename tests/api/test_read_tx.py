"""A GET's caller is checked right before its handler runs, on the same
thread, and on SQLite the check's read transaction is kept for the handler
(http_read_tx_keep, src/http/request.c): one BEGIN and one ROLLBACK a
request, not two. A handler that begins a transaction of its own first
ends the one kept (store_tx_park): a thread never holds two connections.
And the audit log's hash chain, now hashed by libcrypto, is the chain the
format says (recomputed here from the rows)."""
import hashlib
import re

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
    admin = person(srv, "ada", "admin")
    t = person(srv, "tess", "therapist")
    ann = person(srv, "ann")
    t["profile"] = profile(srv, admin, t)
    relate(srv, admin, t, ann, "practitioner_of")
    r = book(srv, t, t, ann, at(0), at(1))
    assert r.status_code == 201, r.text
    for who, path in ((admin, "/v1/audit-log?limit=5"),
                      (t, "/v1/therapy-sessions"),
                      (t, "/v1/therapy-sessions"),
                      (ann, "/v1/therapy-sessions/" + r.json()["id"]),
                      (admin, "/v1/me")):
        g = srv.get(path, headers=hdr(who))
        assert g.status_code == 200, (path, g.text)
    m = srv.metrics()
    assert metric_sum(m, "carebase_db_second_connections_total") == 0
    assert re.search(r"^carebase_db_pool_connections\{state=\"in_use\"\} 0$", m, re.M), \
        "a connection is still held after every request ended"


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
    srv = start_server(db=db, env=QUIET)
    admin = person(srv, "ada", "admin")
    t = person(srv, "tess", "therapist")
    ann = person(srv, "ann")
    t["profile"] = profile(srv, admin, t)
    relate(srv, admin, t, ann, "practitioner_of")
    assert book(srv, t, t, ann, at(0), at(1)).status_code == 201
    for _ in range(2):
        assert srv.get("/v1/therapy-sessions", headers=hdr(t)).status_code == 200
    wait_until(lambda: int(db.scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'therapy_sessions.read'")) >= 2,
        what="the reads' audit rows written")
    rows = db.query(
        "SELECT seq, id, at, actor_ref, actor_role, action, entity_type, entity_id, "
        "changes, ip, user_agent, request_id, prev_hash, hash FROM audit_log ORDER BY seq")
    assert len(rows) >= 5
    prev = None
    for r in rows:
        *fields, prev_hash, h = r
        if prev is not None:
            assert prev_hash == prev, r[0]
        d = hashlib.sha256(field(prev_hash) + b"".join(field(f) for f in fields))
        assert d.hexdigest() == h, f"row {r[0]} ({r[5]}) does not hash as documented"
        prev = h
