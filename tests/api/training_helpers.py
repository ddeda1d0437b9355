"""Helpers and fixtures of the training module's API tests (issue 16): the
catalogue (courses, venues, trainers, schedules), bookings and discount
codes, the fake Stripe (FakeStripe) with Stripe's own npm library signing
its webhook bodies (StripeSigner), and the shop fixture that puts them
together. The test files import the helpers from here; conftest.py
registers the fixtures (catalogue, stripe, stripe_signer, shop)."""

import datetime
import json
import re
import secrets
import shutil
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import ROOT, FakeHttp, at, hdr, person, wait_until


# --------------------------------------------------------------------------
# the training catalogue (issue 16): courses, venues, trainers, schedules

EFAW = {"course_type": "EFAW", "duration_hours": 6, "duration_days": 1}
FAW = {"course_type": "FAW", "duration_hours": 18, "duration_days": 3}
PAEDIATRIC = {"course_type": "Paediatric", "duration_hours": 12, "duration_days": 2}


def training_course(server, admin, **fields):
    """A training course made by admin (EFAW, 12 learners, GBP 75.00 unless told)."""
    body = {"name": "Emergency First Aid at Work", **EFAW, "price_minor": 7500,
            "max_capacity": 12}
    body.update(fields)
    r = server.post("/v1/training-courses", headers=hdr(admin), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def venue(server, admin, **fields):
    """A venue made by admin (room for 10 unless told)."""
    body = {"name": "Leeds City Centre Training Venue", "address_line1": "1 Park Row",
            "city": "Leeds", "postcode": "LS1 5AB", "capacity": 10,
            "facilities": ["projector"]}
    body.update(fields)
    r = server.post("/v1/venues", headers=hdr(admin), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def trainer(server, admin, who, **fields):
    """who's trainer profile (who has the instructor role), made by admin,
    qualified until the end of 2035 unless told."""
    body = {"user_id": who["id"], "trainer_code": "T-" + secrets.token_hex(3),
            "qualification_number": "FAQ-" + secrets.token_hex(2),
            "qualification_expiry": "2035-12-31", "specializations": ["EFAW"],
            "hourly_rate_minor": 3500}
    body.update(fields)
    r = server.post("/v1/trainers", headers=hdr(admin), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def schedule(server, who, course, at_venue, by, start, end, **extra):
    """POST /v1/course-schedules as who (who may be None: no token); the
    response, unchecked. by is a trainers row."""
    body = {"course_id": course["id"], "venue_id": at_venue["id"], "trainer_id": by["id"],
            "start_time": start, "end_time": end}
    body.update(extra)
    headers = hdr(who) if who is not None else {}
    return server.post("/v1/course-schedules", headers=headers, json=body)


@pytest.fixture
def catalogue(server):
    """An admin, two instructors with trainer profiles, a member, an EFAW
    course (12 learners) and a venue for 10."""
    return make_catalogue(server)


def make_catalogue(server):
    """The catalogue fixture's people, course and venue on server."""
    c = {"admin": person(server, "admin", "admin"),
         "instructor": person(server, "instructor", "instructor"),
         "instructor2": person(server, "instructor2", "instructor"),
         "member": person(server, "member")}
    c["trainer"] = trainer(server, c["admin"], c["instructor"])
    c["trainer2"] = trainer(server, c["admin"], c["instructor2"])
    c["course"] = training_course(server, c["admin"])
    c["venue"] = venue(server, c["admin"])
    return c


# --------------------------------------------------------------------------
# training bookings (issue 16 part 1b): bookings, inquiries, discount codes

# A booking reference: 10 characters without look-alikes (no 0, 1, I, L, O).
TRAINING_REF = re.compile(r"^[2-9A-HJKMNP-Z]{10}$")


def course_schedule(server, c, start=0, hours=7, by="trainer", **extra):
    """A schedule of catalogue c's course and venue by its admin, which must
    be made: start hours after 2031-03-03 09:00 UTC, hours long."""
    r = schedule(server, c["admin"], c["course"], c["venue"], c[by], at(start),
                 at(start + hours), **extra)
    assert r.status_code == 201, r.text
    return r.json()


def attendees_of(who, n=1):
    """n attendees, the first the person who books."""
    first = who.get("first_name") or "Booker"
    return [{"name": first if i == 0 else f"Guest {i}",
             "email": who["email"] if i == 0 else f"guest{i}.{secrets.token_hex(3)}@example.org"}
            for i in range(n)]


def book_training(server, who, sched, n=1, session=None, **extra):
    """POST /v1/training-bookings as who for n attendees of sched (unless
    extra gives attendees); the response, unchecked."""
    body = {"schedule_id": sched["id"], "attendees": attendees_of(who, n)}
    body.update(extra)
    s = session or server.session
    return s.post(server.url("/v1/training-bookings"), json=body, headers=hdr(who),
                  timeout=60)


def booked(server, who, sched, n=1, **extra):
    """A booking that must be made (201)."""
    r = book_training(server, who, sched, n, **extra)
    assert r.status_code == 201, r.text
    return r.json()


def discount_code(server, admin, **fields):
    """A discount code made by admin: 10 percent, no limits unless told."""
    body = {"code": "SAVE-" + secrets.token_hex(3).upper(), "discount_type": "percentage",
            "discount_value": 10}
    body.update(fields)
    r = server.post("/v1/discount-codes", headers=hdr(admin), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def free_seats(server, sched, who):
    r = server.get(f"/v1/course-schedules/{sched['id']}", headers=hdr(who))
    assert r.status_code == 200, r.text
    return r.json()["free_seats"]


# --------------------------------------------------------------------------
# fake outside services: Stripe (issue 16 part 1c: payments and refunds)

STRIPE_KEY = "sk_test_carebase_" + "4eC39HqLyjWDarjtT1zdp7dc"
STRIPE_WHSEC = "whsec_carebase_test_secret_0123456789abcdef"
STRIPE_SIGNER = ROOT / "tests" / "stripe"


class FakeStripe(FakeHttp):
    """Enough of Stripe's REST API: POST /v1/payment_intents and
    /v1/refunds (form-encoded, Authorization: Bearer STRIPE_KEY, an
    Idempotency-Key answered as Stripe does: the same key and parameters
    get the first answer back and make nothing, other parameters 400
    idempotency_error), and GET /v1/refunds?payment_intent= a page at a
    time (limit, starting_after, has_more). Every request is in
    self.log. script[kind] ("intent", "refund", "list") holds what the
    next requests of that kind do: an HTTP status (answered with a Stripe
    error, nothing made), "hang" (answer nothing for hang_seconds), or
    "gate" (make the object, then wait for self.release before answering:
    a request the provider has done and the caller has not heard back
    from)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.log = []               # dict(method, path, form, headers, status)
        self.intents = {}           # id -> object
        self.refunds = {}           # id -> object
        self.keys = {}              # idempotency key -> (kind, params, status, body)
        self.script = {"intent": [], "refund": [], "list": []}
        self.hang_seconds = 4.0
        # What a new refund's status is: Stripe answers many card refunds
        # "succeeded" at once, others "pending" until its event.
        self.refund_status = "pending"
        self.entered = threading.Event()
        self.release = threading.Event()
        super().__init__()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra):
        e = {"CAREBASE_STRIPE_API_URL": self.url, "CAREBASE_STRIPE_SECRET_KEY": STRIPE_KEY,
             "CAREBASE_STRIPE_WEBHOOK_SECRET": STRIPE_WHSEC,
             "CAREBASE_STRIPE_TIMEOUT_S": "2"}
        e.update(extra)
        return e

    @staticmethod
    def _error(status, code, kind="invalid_request_error"):
        return status, {"error": {"type": kind, "code": code, "message": code}}

    def handle(self, method, path, raw, headers):
        path, _, query = path.partition("?")
        form = dict(urllib.parse.parse_qsl(raw.decode())) if raw else {}
        rec = {"method": method, "path": path, "query": query, "form": form,
               "headers": {k.lower(): v for k, v in headers.items()}, "status": None}
        with self.lock:
            self.log.append(rec)
            status, body = self._answer(method, path, query, form, rec)
            rec["status"] = status
        if status == "gate":
            self.entered.set()
            self.release.wait(30)
            rec["status"] = 200
            return 200, body
        if status == "hang":
            time.sleep(self.hang_seconds)
            return None, None
        return status, body

    def _answer(self, method, path, query, form, rec):
        if rec["headers"].get("authorization") != f"Bearer {STRIPE_KEY}":
            return self._error(401, "invalid_api_key")
        kind = {"/v1/payment_intents": "intent", "/v1/refunds": "refund"}.get(path)
        if method == "GET" and path == "/v1/refunds":
            if self.script["list"]:
                what = self.script["list"].pop(0)
                return ("hang", None) if what == "hang" else \
                    self._error(what, "scripted_failure", "api_error")
            return 200, self._refund_page(dict(urllib.parse.parse_qsl(query)))
        if method != "POST" or kind is None:
            return self._error(404, "resource_missing")
        key = rec["headers"].get("idempotency-key")
        if key in self.keys:
            k, params, status, body = self.keys[key]
            if (k, params) != (kind, form):
                return self._error(400, "idempotency_key_in_use", "idempotency_error")
            rec["replayed"] = True
            return status, body
        what = self.script[kind].pop(0) if self.script[kind] else None
        if isinstance(what, int):
            return self._error(what, "scripted_failure", "api_error")
        if what == "hang":
            return "hang", None
        status, body = (self._intent if kind == "intent" else self._refund)(form)
        if key is not None and status < 500:
            self.keys[key] = (kind, form, status, body)
        return ("gate" if what == "gate" else status), body

    def _refund_page(self, q):
        """One page of an intent's refunds as Stripe lists them: newest
        first, limit a page (10 unless told, 100 at most), after the id
        starting_after, has_more when more follow."""
        mine = [r for r in reversed(self.refunds.values())
                if r["payment_intent"] == q.get("payment_intent")]
        if "starting_after" in q:
            ids = [r["id"] for r in mine]
            mine = mine[ids.index(q["starting_after"]) + 1:]
        limit = min(int(q.get("limit", 10)), 100)
        return {"object": "list", "url": "/v1/refunds", "has_more": len(mine) > limit,
                "data": mine[:limit]}

    def _intent(self, form):
        if not form.get("amount", "").isdigit() or len(form.get("currency", "")) != 3:
            return self._error(400, "parameter_invalid_integer")
        pi = "pi_" + secrets.token_hex(12)
        meta = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
        obj = {"id": pi, "object": "payment_intent", "amount": int(form["amount"]),
               "currency": form["currency"], "status": "requires_payment_method",
               "client_secret": f"{pi}_secret_{secrets.token_hex(8)}", "metadata": meta,
               "description": form.get("description"), "payment_method": None,
               "last_payment_error": None, "livemode": False}
        self.intents[pi] = obj
        return 200, obj

    def _refund(self, form):
        pi = self.intents.get(form.get("payment_intent"))
        if pi is None:
            return self._error(400, "resource_missing")
        amount = int(form.get("amount", pi["amount"]))
        done = sum(r["amount"] for r in self.refunds.values()
                   if r["payment_intent"] == pi["id"] and r["status"] != "failed")
        if amount <= 0 or done + amount > pi["amount"]:
            return self._error(400, "amount_too_large")
        re_ = "re_" + secrets.token_hex(12)
        meta = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
        obj = {"id": re_, "object": "refund", "amount": amount, "currency": pi["currency"],
               "payment_intent": pi["id"], "status": self.refund_status, "metadata": meta,
               "reason": form.get("reason"), "failure_reason": None}
        self.refunds[re_] = obj
        return 200, obj

    # -- what the tests read and make ---------------------------------------
    def requests(self, path=None, method="POST"):
        with self.lock:
            return [r for r in self.log if (path is None or r["path"] == path)
                    and r["method"] == method]

    def make_intent(self, booking, amount=None, currency=None, **meta):
        """An intent made outside carebase (the dashboard, a lost row)."""
        with self.lock:
            status, obj = self._intent({
                "amount": str(amount if amount is not None else booking["total_minor"]),
                "currency": (currency or booking["currency"]).lower(),
                **{f"metadata[{k}]": v for k, v in
                   ({"booking_id": booking["id"]} | meta).items() if v is not None}})
            assert status == 200
            return dict(obj)

    def update_intent(self, intent, **changes):
        """Change an intent at Stripe (POST /v1/payment_intents/{id} by
        someone else, or the dashboard): its events carry the change."""
        with self.lock:
            self.intents[intent].update(changes)

    def add_refund(self, intent, amount, **fields):
        """A refund of intent made at Stripe by someone else (the
        dashboard): newer than every refund so far. Its id."""
        with self.lock:
            re_ = "re_" + secrets.token_hex(12)
            self.refunds[re_] = {"id": re_, "object": "refund", "amount": amount,
                                 "currency": self.intents[intent]["currency"],
                                 "payment_intent": intent, "status": "succeeded",
                                 "metadata": {}, "reason": None, "failure_reason": None,
                                 **fields}
            return re_

    def forget_keys(self):
        """Idempotency keys past their life (Stripe keeps them 24 hours):
        a request sent again with one makes a new object."""
        with self.lock:
            self.keys.clear()

    def intent_event(self, intent, type="payment_intent.succeeded", event_id=None, **changes):
        """The event Stripe sends for intent (an id or an object)."""
        with self.lock:
            obj = dict(self.intents[intent] if isinstance(intent, str) else intent)
        obj["status"] = {"payment_intent.succeeded": "succeeded",
                         "payment_intent.payment_failed": "requires_payment_method",
                         "payment_intent.processing": "processing",
                         "payment_intent.canceled": "canceled"}.get(type, obj["status"])
        if type == "payment_intent.succeeded":
            obj["payment_method"] = "pm_" + secrets.token_hex(8)
            obj["amount_received"] = obj["amount"]
        if type == "payment_intent.payment_failed":
            obj["last_payment_error"] = {"code": "card_declined", "message": "declined"}
        obj.update(changes)
        return stripe_event(type, obj, event_id)

    def refund_event(self, refund_id, type="refund.updated", event_id=None, **changes):
        """The event Stripe sends for a refund: succeeded unless told."""
        with self.lock:
            obj = dict(self.refunds[refund_id])
        obj["status"] = "succeeded"
        obj.update(changes)
        return stripe_event(type, obj, event_id)


def stripe_event(type, obj, event_id=None):
    """A Stripe event object."""
    return {"id": event_id or "evt_" + secrets.token_hex(12), "object": "event",
            "api_version": "2024-06-20", "created": int(time.time()), "livemode": False,
            "type": type, "data": {"object": obj}}


@pytest.fixture
def stripe():
    f = FakeStripe()
    yield f
    f.release.set()
    f.stop()


class StripeSigner:
    """Stripe-Signature headers made by Stripe's own npm library
    (stripe.webhooks.generateTestHeaderString), through one long-running
    `node tests/stripe/sign.mjs --lines`: our code never signs a body."""

    def __init__(self, node):
        self.lock = threading.Lock()
        self.proc = subprocess.Popen([node, str(STRIPE_SIGNER / "sign.mjs"), "--lines"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=STRIPE_SIGNER)

    def header(self, payload, secret=STRIPE_WHSEC, timestamp=None):
        if isinstance(payload, bytes):
            payload = payload.decode()
        req = {"payload": payload, "secret": secret,
               "timestamp": int(time.time()) if timestamp is None else timestamp}
        with self.lock:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        assert line.startswith("t="), f"the signer said {line!r}"
        return line.strip()

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def stripe_signer():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Stripe webhook tests sign their bodies "
                    "with Stripe's own npm library (tests/stripe)")
    if not (STRIPE_SIGNER / "node_modules" / "stripe").is_dir():
        pytest.fail("tests/stripe/node_modules is missing: run `npm ci` in tests/stripe "
                    "(scripts/test does)")
    s = StripeSigner(node)
    yield s
    s.close()


def stripe_hook(server, event, signer=None, secret=STRIPE_WHSEC, timestamp=None,
                header=None, session=None, base=None):
    """POST an event (an object, or the raw bytes) to /v1/webhooks/stripe,
    signed by Stripe's library unless header is given ("" sends none)."""
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    if header is None:
        header = signer.header(body, secret, timestamp)
    headers = {"Content-Type": "application/json"}
    if header != "":
        headers["Stripe-Signature"] = header
    s = session or server.session
    return s.post((base or server.base_url) + "/v1/webhooks/stripe", data=body,
                  headers=headers, timeout=60)


@pytest.fixture
def shop(start_server, db, stripe, stripe_signer):
    """A server that takes payments through the fake Stripe, with the
    catalogue fixture's people, course and venue, the fake ("stripe") and
    the signer ("sign")."""
    s = start_server(db=db, env=stripe.env())
    c = make_catalogue(s)
    c.update(server=s, stripe=stripe, sign=stripe_signer, db=db)
    return c


def pay(server, who, booking):
    """POST /v1/training-bookings/{id}/payment as who; the response."""
    return server.post(f"/v1/training-bookings/{booking['id']}/payment", headers=hdr(who))


def paid_booking(shop, who, sched, n=1, **extra):
    """A booking of n seats of sched by who (extra: the booking's other
    fields, attendees), paid through the fake Stripe (its
    payment_intent.succeeded webhook, signed): (booking, intent id). shop
    holds "server", "stripe" and "sign" (the shop fixture's)."""
    s = shop["server"]
    b = booked(s, who, sched, n, **extra)
    r = pay(s, who, b)
    assert r.status_code == 201, r.text
    pi = r.json()["payment_intent_id"]
    r = stripe_hook(s, shop["stripe"].intent_event(pi), shop["sign"])
    assert r.status_code == 200 and r.json()["effect"] == "confirmed", r.text
    return b, pi


def wait_refund(db, refund_id, status, timeout=15):
    """Wait until refund refund_id's status is status."""
    return wait_until(lambda: db.scalar(f"SELECT status FROM refunds WHERE id = "
                                        f"'{refund_id}'") == status,
                      timeout=timeout, what=f"refund {refund_id} {status}")


# --------------------------------------------------------------------------
# settings (issue 17 item 6)

def set_setting(server, admin, key, value):
    """PATCH setting key's value (text, or None: not set) as admin (must
    answer 200): the setting as answered."""
    r = server.get(f"/v1/settings?key={key}", headers=hdr(admin))
    assert r.status_code == 200 and r.json()["data"], r.text
    row = r.json()["data"][0]
    r = server.request("PATCH", f"/v1/settings/{row['id']}", headers=hdr(admin),
                       json={"value": value})
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------
# training bookings: time, a booking as someone reads it, a hold run out

def now_ms():
    """The time now in Unix milliseconds, as carebase stores times."""
    return int(time.time() * 1000)


def read_booking(server, who, booking):
    """GET the training booking as who (must answer 200): its JSON."""
    r = server.get(f"/v1/training-bookings/{booking['id']}", headers=hdr(who))
    assert r.status_code == 200, r.text
    return r.json()


def expire_hold(db, table, row_id):
    """Move the hold of a row of table (training_bookings or
    booking_inquiries) a second into the past, as time would."""
    db.execute(f"UPDATE {table} SET hold_expires_at = {now_ms() - 1000} "
               f"WHERE id = '{row_id}'")


# --------------------------------------------------------------------------
# races: what the servers' own request logs say about overlapping calls

REQUEST_LINE = re.compile(r"^ts=(\S+) level=\w+ event=request .*? route=(\S+) .*?"
                          r"status=(\d+) .*?dur_us=(\d+)")


def calls_in_flight(servers, route, since_ms=0):
    """How the calls of route overlapped in time, from each server's own log
    line of every request (logged when the request ends, in ms, with its
    duration in us): the most calls in flight at one moment when every
    server had one in flight; 0 when that never happened. A call's end is
    read to the millisecond, so each is taken to end 1 ms early: calls that
    only touch do not count. This is what a race test rests on: the
    guarded calls really ran interleaved, in two processes. Only calls that
    ended at since_ms (Unix ms) or later count. Each server takes as many
    calls at once as it has HTTP threads (threads, the cores here)."""
    moments = []
    for i, server in enumerate(servers):
        for line in server.log().splitlines():
            m = REQUEST_LINE.match(line)
            if m is None or m.group(2) != route:
                continue
            end = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
            end_ms = end.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000 - 1
            start_ms = end_ms + 1 - int(m.group(4)) / 1000
            if end_ms + 1 < since_ms:
                continue
            if end_ms > start_ms:
                moments += [(start_ms, 1, i), (end_ms, -1, i)]
    most, now = 0, [0] * len(servers)
    for _, step, i in sorted(moments, key=lambda x: (x[0], x[1])):
        now[i] += step
        if all(now):
            most = max(most, sum(now))
    return most


# --------------------------------------------------------------------------
# refund jobs queued, and migrations rolled back one at a time

REFUND_JOBS_SQLITE = """CREATE TABLE test_refund_jobs (n INTEGER PRIMARY KEY, payload TEXT);
CREATE TRIGGER test_refund_jobs AFTER INSERT ON jobs WHEN NEW.kind = 'training.refund'
BEGIN INSERT INTO test_refund_jobs (payload) VALUES (NEW.payload); END;"""
REFUND_JOBS_POSTGRES = """CREATE TABLE test_refund_jobs (n BIGSERIAL PRIMARY KEY, payload TEXT);
CREATE FUNCTION test_refund_jobs() RETURNS trigger AS $$ BEGIN
INSERT INTO test_refund_jobs (payload) VALUES (NEW.payload); RETURN NULL; END $$
LANGUAGE plpgsql;
CREATE TRIGGER test_refund_jobs AFTER INSERT ON jobs FOR EACH ROW
WHEN (NEW.kind = 'training.refund') EXECUTE FUNCTION test_refund_jobs();"""


def watch_refund_jobs(db):
    """From now on record, behind the server's back, every training.refund
    job queued (in the very transaction that queues it); returns a function
    that gives the refund ids of the jobs queued so far, in order. The jobs
    table cannot tell: a job is deleted once it is done, and the job of a
    refund that has nothing to send finds nothing to do."""
    db.execute(REFUND_JOBS_SQLITE if db.kind == "sqlite" else REFUND_JOBS_POSTGRES)

    def queued():
        return [json.loads(p)["refund_id"] for (p,) in
                db.query("SELECT payload FROM test_refund_jobs ORDER BY n")]
    return queued


def migrate_down_through(server, db, name):
    """With server stopped: roll back, newest first, every migration from
    the newest down to name (name included), each by its own down script
    in a transaction of its own, as carebase does: one `carebase migrate
    down --to=` the migration before name (a process start for each of the
    thirty-odd took 20-40 s of a test, most of it under a sanitizer; each
    down script runs as a lone `migrate down` would run it). Returns their
    names, newest first."""
    above = [r[0] for r in db.query("SELECT name FROM schema_migrations WHERE name >= "
                                    f"'{name}' ORDER BY name DESC")]
    assert above and above[-1] == name, above
    below = db.query("SELECT name FROM schema_migrations WHERE name < "
                     f"'{name}' ORDER BY name DESC LIMIT 1")
    r = server.cli_ok("migrate", "down", f"--to={below[0][0] if below else '0'}", "--yes")
    n = len(above)
    assert f"rolled back {n} migration{'s' if n > 1 else ''}" in r.stdout, r.stdout
    # The names it rolled back, as it lists them first: newest first.
    listed = re.findall(r"^  (\S+) \(batch -?\d+\)$", r.stderr, re.M)
    assert listed == above, (listed, above)
    for m in above:
        assert db.count("schema_migrations", f"name = '{m}'") == 0, m
    return above
