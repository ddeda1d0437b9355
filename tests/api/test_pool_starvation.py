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

Both count on a timing bound (an answer well within the pool's wait), so
they run alone (serial)."""

import threading
import time

import pytest
import requests

from conftest import hdr, metric_sum, person
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
