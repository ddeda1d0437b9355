"""In-app booking cancels told to the booking system (issue 6): with
booking_cancel_url set, POST /v1/therapy-bookings/{id}/cancel queues, in its
own transaction, one therapy_bookings.notify_cancel job that POSTs
{"event": "booking.cancelled", "booking_code", "cancelled_at", "cancelled_by"}
to a fake relay served here, signed with X-Carebase-Signature: sha256=<hex
HMAC-SHA256 of "<X-Carebase-Timestamp>.<body>"> under booking_cancel_secret.
No connection, 5xx and 429 are retried with backoff; 404 and other 4xx go to
failed_jobs at once (404 with a warning naming the booking code); a second
cancel (409) sends nothing more; the relay's CANCELLED_BOOKING echo gives no
session back twice; without a URL nothing is queued. Bad configuration stops
start-up. Runs on SQLite and PostgreSQL."""

import hashlib
import hmac
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import (SIMPLYBOOK_SECRET, access_counts, booking_hook, grant, hdr,
                      make_partner, person, problem, wait_until, webhook_booking)

OUT_SECRET = "out-" + secrets.token_hex(16)
KIND = "therapy_bookings.notify_cancel"


# -- the fake relay ------------------------------------------------------------------

class FakeRelay:
    """Answers POST /cancel from script (an HTTP status, or "drop": close the
    connection without an answer), 200 once the script is used up; keeps
    every request (headers lower-cased, raw body, status)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.log = []
        self.script = []
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                with relay.lock:
                    what = relay.script.pop(0) if relay.script else 200
                    relay.log.append({"path": self.path, "raw": raw, "status": what,
                                      "headers": {k.lower(): v for k, v in
                                                  self.headers.items()}})
                if what == "drop":
                    self.close_connection = True
                    return
                data = b'{"ok": true}'
                self.send_response(what)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/cancel"

    def requests(self):
        with self.lock:
            return list(self.log)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def relay():
    r = FakeRelay()
    yield r
    r.stop()


def env_for(relay=None, **extra):
    env = {"CAREBASE_SIMPLYBOOK_WEBHOOK_SECRET": SIMPLYBOOK_SECRET,
           "CAREBASE_JOB_BACKOFF_BASE_MS": "200"}
    if relay is not None:
        env.update({"CAREBASE_BOOKING_CANCEL_URL": relay.url,
                    "CAREBASE_BOOKING_CANCEL_SECRET": OUT_SECRET})
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def server(start_server, db, relay):
    return start_server(db=db, env=env_for(relay))


# -- helpers -------------------------------------------------------------------------

def granted_world(server):
    """An admin, and a member who redeemed an access of theirs (acc)."""
    w = {"admin": person(server, "admin", "admin"), "m": person(server, "member")}
    w["acc"] = grant(server, w["admin"], make_partner(server, w["admin"], "Bumble"), w["m"])
    return w


@pytest.fixture
def world(server):
    return granted_world(server)


def cancel(server, who, booking):
    return server.post(f"/v1/therapy-bookings/{booking['id']}/cancel", headers=hdr(who))


def queued(db):
    return db.count("jobs", f"kind = '{KIND}'")


def failed(db):
    return db.query(f"SELECT error, attempts, payload FROM failed_jobs WHERE kind = '{KIND}'")


def settled(db):
    """No notice left in the queue (sent, or in failed_jobs)."""
    return queued(db) == 0


def check_signature(req, secret=OUT_SECRET):
    """The request is signed as README says: returns its body, parsed."""
    h = req["headers"]
    assert h["content-type"] == "application/json"
    stamp = h["x-carebase-timestamp"]
    assert stamp.isdigit() and abs(int(stamp) - time.time()) < 120, stamp
    want = hmac.new(secret.encode(), stamp.encode() + b"." + req["raw"],
                    hashlib.sha256).hexdigest()
    assert h["x-carebase-signature"] == "sha256=" + want
    # A signature under another key, or of another body, does not match.
    assert h["x-carebase-signature"] != "sha256=" + hmac.new(
        b"another-secret-entirely", stamp.encode() + b"." + req["raw"],
        hashlib.sha256).hexdigest()
    assert h["x-carebase-signature"] != "sha256=" + hmac.new(
        secret.encode(), stamp.encode() + b"." + req["raw"] + b" ",
        hashlib.sha256).hexdigest()
    return json.loads(req["raw"])


# -- delivery ------------------------------------------------------------------------

def test_cancel_sends_one_signed_post(server, db, relay, world):
    w = world
    bk = webhook_booking(server, w["m"])
    assert access_counts(db, w["acc"]["id"]) == (5, 1)
    r = cancel(server, w["m"], bk)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "cancelled" and out["booking_system_notified"] == "queued"
    assert access_counts(db, w["acc"]["id"]) == (6, 0)
    got = wait_until(lambda: relay.requests(), what="the notice")
    wait_until(lambda: settled(db), what="the job to finish")
    time.sleep(0.5)
    got = relay.requests()
    assert len(got) == 1, got
    assert got[0]["path"] == "/cancel"
    body = check_signature(got[0])
    assert body == {"event": "booking.cancelled", "booking_code": bk["booking_code"],
                    "cancelled_at": out["cancelled_at"], "cancelled_by": "client"}
    assert got[0]["headers"]["x-carebase-delivery"]
    assert failed(db) == []
    # Nothing personal leaves or is logged: no address in the body or the log.
    assert w["m"]["email"].encode() not in got[0]["raw"]
    log = server.log()
    assert "event=booking_cancel_sent" in log and bk["booking_code"] in log
    assert w["m"]["email"] not in log


def test_staff_cancel_says_staff(server, db, relay, world):
    w = world
    bk = webhook_booking(server, w["m"])
    r = cancel(server, w["admin"], bk)
    assert r.status_code == 200, r.text
    assert r.json()["booking_system_notified"] == "queued"
    wait_until(lambda: relay.requests(), what="the notice")
    assert check_signature(relay.requests()[0])["cancelled_by"] == "staff"


def test_errors_and_dropped_connections_are_retried_then_delivered_once(server, db,
                                                                         relay, world):
    w = world
    relay.script = [500, "drop", 429, 503]
    bk = webhook_booking(server, w["m"])
    r = cancel(server, w["m"], bk)
    assert r.status_code == 200, r.text
    wait_until(lambda: [q for q in relay.requests() if q["status"] == 200], timeout=30,
               what="the delivery after retries")
    wait_until(lambda: settled(db), what="the job to finish")
    time.sleep(0.5)
    got = relay.requests()
    assert [q["status"] for q in got] == [500, "drop", 429, 503, 200]
    bodies = [check_signature(q) for q in got]
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["booking_code"] == bk["booking_code"]
    # One job: the same delivery id on every attempt.
    assert len({q["headers"]["x-carebase-delivery"] for q in got}) == 1
    assert failed(db) == []


def test_client_error_goes_to_failed_jobs_without_retry(server, db, relay, world):
    w = world
    relay.script = [400]
    bk = webhook_booking(server, w["m"])
    assert cancel(server, w["m"], bk).status_code == 200
    rows = wait_until(lambda: failed(db), what="the failed job")
    time.sleep(1.0)                  # a retry would come within the backoff
    assert len(relay.requests()) == 1
    assert len(rows) == 1
    error, attempts, payload = rows[0]
    assert "HTTP 400" in error and "not retried" in error and int(attempts) == 1
    assert json.loads(payload) == {"booking_code": bk["booking_code"],
                                   "cancelled_at": json.loads(relay.requests()[0]["raw"])
                                   ["cancelled_at"], "cancelled_by": "client"}
    assert "@" not in payload
    assert queued(db) == 0


def test_unknown_booking_404_fails_with_a_warning(server, db, relay, world):
    w = world
    relay.script = [404]
    bk = webhook_booking(server, w["m"])
    assert cancel(server, w["m"], bk).status_code == 200
    rows = wait_until(lambda: failed(db), what="the failed job")
    time.sleep(1.0)
    assert len(relay.requests()) == 1
    assert "HTTP 404" in rows[0][0] and bk["booking_code"] in rows[0][0]
    log = server.log()
    warn = [ln for ln in log.splitlines() if "event=booking_cancel_unknown" in ln]
    assert len(warn) == 1 and "level=warn" in warn[0] and bk["booking_code"] in warn[0]


def test_cancel_twice_is_409_and_one_delivery(server, db, relay, world):
    w = world
    bk = webhook_booking(server, w["m"])
    assert cancel(server, w["m"], bk).status_code == 200
    r = cancel(server, w["m"], bk)
    problem(r, 409, "ALREADY_CANCELLED")
    wait_until(lambda: relay.requests(), what="the notice")
    wait_until(lambda: settled(db), what="the job to finish")
    time.sleep(0.5)
    assert len(relay.requests()) == 1
    assert access_counts(db, w["acc"]["id"]) == (6, 0)


def test_relay_echo_gives_nothing_back_twice(server, db, relay, world):
    w = world
    bk = webhook_booking(server, w["m"])
    other = webhook_booking(server, w["m"])
    assert access_counts(db, w["acc"]["id"]) == (4, 2)
    assert cancel(server, w["m"], bk).status_code == 200
    assert access_counts(db, w["acc"]["id"]) == (5, 1)
    wait_until(lambda: relay.requests(), what="the notice")
    # The booking system cancels and its webhook tells carebase back.
    r = booking_hook(server, {"action": "CANCELLED_BOOKING", "booking_code": bk["booking_code"]})
    assert r.status_code == 200, r.text
    assert r.json()["already_cancelled"] is True
    assert access_counts(db, w["acc"]["id"]) == (5, 1)
    assert other["status"] == "booked"
    # The echo is not sent back out again.
    time.sleep(0.5)
    assert len(relay.requests()) == 1


def test_not_configured_queues_nothing(start_server, db):
    server = start_server(db=db, env=env_for(None))
    w = granted_world(server)
    bk = webhook_booking(server, w["m"])
    r = cancel(server, w["m"], bk)
    assert r.status_code == 200, r.text
    assert r.json()["booking_system_notified"] == "not_configured"
    assert access_counts(db, w["acc"]["id"]) == (6, 0)
    assert queued(db) == 0 and failed(db) == []


# -- configuration ------------------------------------------------------------------

@pytest.mark.parametrize("env,key", [
    ({"CAREBASE_BOOKING_CANCEL_URL": "ftp://relay.example.org/x",
      "CAREBASE_BOOKING_CANCEL_SECRET": OUT_SECRET}, "booking_cancel_url"),
    ({"CAREBASE_BOOKING_CANCEL_URL": "relay.example.org/cancel",
      "CAREBASE_BOOKING_CANCEL_SECRET": OUT_SECRET}, "booking_cancel_url"),
    ({"CAREBASE_BOOKING_CANCEL_URL": "https://",
      "CAREBASE_BOOKING_CANCEL_SECRET": OUT_SECRET}, "booking_cancel_url"),
    ({"CAREBASE_BOOKING_CANCEL_URL": "https://relay.example.org/a b",
      "CAREBASE_BOOKING_CANCEL_SECRET": OUT_SECRET}, "booking_cancel_url"),
    ({"CAREBASE_BOOKING_CANCEL_URL": "https://relay.example.org/cancel"},
     "booking_cancel_secret"),
    ({"CAREBASE_BOOKING_CANCEL_URL": "https://relay.example.org/cancel",
      "CAREBASE_BOOKING_CANCEL_SECRET": "short"}, "booking_cancel_secret"),
])
def test_bad_configuration_stops_start_up(start_server, env, key):
    cmd = start_server(start=False, migrate=False)
    r = cmd.cli("serve", env=env, timeout=10)
    assert r.returncode != 0, r
    lines = r.stderr.splitlines()
    assert len(lines) == 1, lines
    assert key in lines[0], lines[0]
    assert "carebase listening" not in r.stdout


def test_good_configuration_starts(start_server, db):
    env = env_for(None, CAREBASE_BOOKING_CANCEL_URL="https://relay.example.org/cancel",
                  CAREBASE_BOOKING_CANCEL_SECRET=OUT_SECRET)
    server = start_server(db=db, env=env)       # https is accepted too
    assert server.alive()
