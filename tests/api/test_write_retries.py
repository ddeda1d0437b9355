"""A write of the caller's own rows that meets a concurrent writer is run
again, not answered 503. On PostgreSQL two transactions that lock the same
rows in opposite orders deadlock and one of them is refused (40P01); the
server retries the whole transaction, as it does for every other write.

The concurrent writer here is a transaction opened behind the server's
back: it takes the audit chain's lock (which every audited write takes
after writing its row), lets the request lock its row and wait for the
audit lock, then updates that row too. The request waited first, so its
deadlock check runs first and it is the one refused; the retry then
succeeds. (On SQLite there is one writer at a time and no deadlock: the
tests run there as a check of the same answers.)"""

import threading
import time

import pytest

from conftest import hdr, person

try:
    import psycopg2
except ImportError:  # scripts/install-deps installs python3-psycopg2
    psycopg2 = None

AUDIT_LOCK_KEY = 0x63626175646974  # src/resource/audit.c


def deadlock(db, sql, request):
    """Run request() against a transaction that holds the audit lock and
    then updates the rows sql names; return request()'s answer."""
    if db.kind != "postgres":
        return request()
    con = psycopg2.connect(db.url, connect_timeout=10)
    try:
        cur = con.cursor()
        cur.execute(f"SELECT pg_advisory_xact_lock({AUDIT_LOCK_KEY})")
        out = {}
        t = threading.Thread(target=lambda: out.update(r=request()))
        t.start()
        time.sleep(0.5)  # the request holds its row and waits for the lock
        cur.execute(sql)  # waits for the request's row: a deadlock
        con.commit()
        t.join(30)
        assert not t.is_alive(), "the request did not end"
        return out["r"]
    finally:
        con.close()


@pytest.mark.dialect
def test_a_profile_change_meeting_a_deadlock_is_retried(server, db):
    who = person(server, "ruth")
    r = deadlock(
        db, f"UPDATE users SET updated_at = updated_at + 1 WHERE id = '{who['id']}'",
        lambda: server.request("PATCH", "/v1/me", headers=hdr(who["token"]),
                               json={"first_name": "Rhoda"}))
    assert r.status_code == 200, r.text
    assert r.json()["first_name"] == "Rhoda"

