"""Notifications of the training business (issue 17 item 5): a booking
confirmed on payment (or by staff), reminders 24 and 2 hours before the
start (setting reminder_hours_before) sent by the training.send_reminders
job, a booking cancelled, a certificate ready, a refund processed, and a
certificate expiring 90, 30 and 0 days ahead (setting
certificate_reminder_days, the training.certificate_reminders job). Each
is a notifications row the person lists and marks read (another person's
answers 404), a mail through the mail job (email_log, a template per type
with text and HTML linking to the web application's page) and, when the
person asked for it, an SMS to their E.164 phone through the provider's
endpoint (sms_url: a local fake here), retried and then in failed_jobs.
The person's preferences (type x channel) are honoured, and each reminder
is sent once even with two `carebase worker` processes racing for the
job. Runs on SQLite and PostgreSQL."""

import datetime
import json
import re
import secrets
import threading
import time
import uuid
from zoneinfo import ZoneInfo

import pytest

from conftest import (PASSWORD, FakeHttp, hdr, iso, person, problem, queue_job, smtp_env,
                      undo_migration, wait_until)
from training_helpers import (booked, course_schedule, make_catalogue, paid_booking, pay,
                              schedule, stripe_event, stripe_hook, wait_refund)

PUBLIC_URL = "https://app.example.org"
SMS_TOKEN = "sms-test-" + secrets.token_hex(8)
PHONE = "+447700900123"
HOUR = datetime.timedelta(hours=1)


class FakeSms(FakeHttp):
    """The SMS provider's endpoint: records each POST (its JSON body and
    headers) and answers script's statuses in turn, then default."""

    def __init__(self):
        self.lock = threading.Lock()
        self.log = []
        self.script = []
        self.default = 202
        super().__init__()

    def handle(self, method, path, raw, headers):
        with self.lock:
            status = self.script.pop(0) if self.script else self.default
            self.log.append({"method": method, "path": path, "status": status,
                             "body": json.loads(raw or b"{}"),
                             "headers": {k.lower(): v for k, v in headers.items()}})
        if 200 <= status < 300:
            return status, {"id": "msg_" + secrets.token_hex(6), "status": "queued"}
        return status, {"error": "refused"}

    def env(self):
        return {"CAREBASE_SMS_URL": f"http://127.0.0.1:{self.port}/v1/messages",
                "CAREBASE_SMS_TOKEN": SMS_TOKEN, "CAREBASE_SMS_SENDER": "RFTraining"}

    def sent(self):
        with self.lock:
            return list(self.log)


@pytest.fixture
def sms():
    f = FakeSms()
    yield f
    f.stop()


def notify_env(smtp_sink, sms, **extra):
    env = {**smtp_env(smtp_sink.port), **sms.env(), "CAREBASE_PUBLIC_URL": PUBLIC_URL,
           "CAREBASE_JOB_MAX_ATTEMPTS": "3", "CAREBASE_JOB_BACKOFF_BASE_MS": "50",
           "CAREBASE_JOB_BACKOFF_MAX_MS": "200"}
    env.update(extra)
    return env


@pytest.fixture
def shop(start_server, db, stripe, stripe_signer, smtp_sink, sms):
    """A server that takes payments through the fake Stripe, sends mail to
    the SMTP sink and SMS to the fake provider, with the catalogue."""
    s = start_server(db=db, env={**stripe.env(), **notify_env(smtp_sink, sms)})
    c = make_catalogue(s)
    c.update(server=s, stripe=stripe, sign=stripe_signer, db=db, sink=smtp_sink, sms=sms)
    # The member signed up: their verification mail is not what these
    # tests look at (test_mail_templates.py does).
    smtp_sink.wait_for(1)
    smtp_sink.clear()
    return c


# --------------------------------------------------------------------------
# helpers


def mine(server, who, query=""):
    r = server.get(f"/v1/me/notifications{query}", headers=hdr(who))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def rows(db, where):
    """notifications rows (as the database holds them) matching where."""
    cols = ("id", "user_id", "type", "priority", "send_email", "send_sms", "show_in_app",
            "status", "email_status", "sms_status", "booking_id", "certificate_id",
            "action_url", "email_log_id")
    return [dict(zip(cols, r)) for r in
            db.query(f"SELECT {', '.join(cols)} FROM notifications WHERE {where} ORDER BY id")]


def confirm(server, admin, b):
    r = server.post(f"/v1/training-bookings/{b['id']}/confirm", headers=hdr(admin))
    assert r.status_code == 200, r.text


def prefer(server, who, type_, channel, enabled):
    return server.post("/v1/notification-preferences", headers=hdr(who),
                       json={"notification_type": type_, "channel": channel,
                             "enabled": enabled})


def set_phone(server, who, phone):
    r = server.request("PATCH", "/v1/me", headers=hdr(who), json={"phone": phone})
    assert r.status_code == 200, r.text


def soon(server, c, hours, length=3, by="trainer"):
    """A schedule of catalogue c starting hours from now (whole minutes)."""
    start = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    start += datetime.timedelta(hours=hours)
    r = schedule(server, c["admin"], c["course"], c["venue"], c[by], iso(start),
                 iso(start + length * HOUR))
    assert r.status_code == 201, r.text
    return r.json()


def move(db, s, start_ms, hours=3):
    db.execute(f"UPDATE course_schedules SET start_time = {start_ms}, "
               f"end_time = {start_ms + hours * 3600000} WHERE id = '{s['id']}'")


def mail_to(sink, address):
    return [m for m in sink.messages() if address in str(m["To"])]


def parts(msg):
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    return text, html


def london_today():
    return datetime.datetime.now(ZoneInfo("Europe/London")).date()


def queue_jobs(db, kind, n, delay_ms=0):
    """n jobs of kind, due delay_ms from now, put in the queue in one
    transaction."""
    due = int(time.time() * 1000) + delay_ms if delay_ms else 0
    db.execute(";\n".join(
        "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, "
        f"created_at, updated_at) VALUES ('{uuid.uuid4()}', '{kind}', '{{}}', 'queued', 0, "
        f"3, {due}, 0, 0)" for _ in range(n)))


def drained(db, kind):
    return db.count("jobs", f"kind = '{kind}'") == 0


# --------------------------------------------------------------------------
# the schema


def test_schema_settings_and_permissions(server, db):
    assert {"notifications", "notification_preferences",
            "notification_reminders"} <= set(db.tables())
    got = dict(db.query("SELECT key, default_value FROM settings WHERE key IN "
                        "('reminder_hours_before', 'certificate_reminder_days')"))
    assert json.loads(got["reminder_hours_before"]) == [24, 2]
    assert json.loads(got["certificate_reminder_days"]) == [90, 30, 0]
    for role in ("member", "instructor", "therapist", "admin"):
        for perm in ("notifications:read:own", "notifications:update:own",
                     "notification_preferences:create:own"):
            assert db.count("role_permissions",
                            f"role = '{role}' AND permission = '{perm}'") == 1, (role, perm)
    assert db.count("role_permissions",
                    "role = 'admin' AND permission = 'notifications:read:all'") == 1
    assert db.count("role_permissions",
                    "role <> 'admin' AND permission LIKE 'notification%:all'") == 0


# --------------------------------------------------------------------------
# booking confirmed on payment: in-app, mail (email_log), the link


def test_a_booking_paid_through_stripe_is_confirmed_in_app_and_by_mail(shop):
    s, c, db = shop["server"], shop, shop["db"]
    m = c["member"]
    b = booked(s, m, course_schedule(s, c))
    r = pay(s, m, b)
    assert r.status_code == 201, r.text
    intent = r.json()["payment_intent_id"]
    assert mine(s, m) == []                       # nothing before the money comes
    obj = {"id": intent, "object": "payment_intent", "amount": b["total_minor"],
           "currency": "gbp", "status": "succeeded", "metadata": {"booking_id": b["id"]}}
    r = stripe_hook(s, stripe_event("payment_intent.succeeded", obj), c["sign"])
    assert r.status_code == 200 and r.json()["effect"] == "confirmed", r.text
    (n,) = mine(s, m)
    assert n["type"] == "booking_confirmed" and n["priority"] == "high"
    assert n["user_id"] == m["id"] and n["booking_id"] == b["id"]
    assert n["course_id"] == c["course"]["id"]
    assert n["action_url"] == f"/bookings/{b['id']}"
    assert n["send_email"] is True and n["send_sms"] is False and n["show_in_app"] is True
    assert "Booking confirmed" in n["title"] and b["booking_reference"] in n["message"]
    assert n["is_read"] is False and n["read_at"] is None
    # The mail: the type's template, text and HTML, linking to the page.
    (msg,) = c["sink"].wait_for(1)
    assert m["email"] in str(msg["To"])
    assert msg["Subject"] == f"Booking {b['booking_reference']} confirmed: {c['course']['name']}"
    text, html = parts(msg)
    link = f"{PUBLIC_URL}/bookings/{b['id']}"
    assert link in text and f'href="{link}"' in html
    assert b["booking_reference"] in text and "Hello Member" in text
    # email_log has it, and the notification follows its outcome: sent.
    log = wait_until(lambda: (r := db.query(
        "SELECT status, template, user_id FROM email_log WHERE template = "
        "'training_notify_booking_confirmed'")) and r[0][0] == "sent" and r[0])
    assert log[2] == m["id"]
    got = wait_until(lambda: (g := rows(db, f"id = '{n['id']}'")[0])["status"] == "sent" and g)
    assert got["email_status"] == "sent" and got["email_log_id"]
    r = s.get(f"/v1/notifications/{n['id']}", headers=hdr(m))
    assert r.status_code == 200 and r.json()["status"] == "sent" and r.json()["sent_at"]
    # Title and message are sealed at rest.
    raw = db.raw()
    assert b"Booking confirmed" not in raw


def test_staff_confirm_cancel_and_the_manual_refund_tell_the_booker(shop):
    s, c, db = shop["server"], shop, shop["db"]
    admin, m = c["admin"], c["member"]
    b = booked(s, m, course_schedule(s, c))
    confirm(s, admin, b)                          # paid offline
    r = s.post(f"/v1/training-bookings/{b['id']}/cancel", headers=hdr(admin))
    assert r.status_code == 200, r.text
    by_type = {n["type"]: n for n in mine(s, m)}
    assert set(by_type) == {"booking_confirmed", "cancelled"}
    assert "cancelled by us" in by_type["cancelled"]["message"]
    # Staff pay the manual refund back: refund_processed.
    (ref,) = s.get(f"/v1/refunds?booking_id={b['id']}", headers=hdr(admin)).json()["data"]
    r = s.post(f"/v1/refunds/{ref['id']}/complete", headers=hdr(admin),
               json={"note": "bank transfer"})
    assert r.status_code == 200, r.text
    (n,) = mine(s, m, "?type=refund_processed")
    assert "75.00 GBP" in n["title"] and n["action_url"] == f"/bookings/{b['id']}"
    msgs = wait_until(lambda: len(mail_to(c["sink"], m["email"])) >= 4 and
                      mail_to(c["sink"], m["email"]))
    subjects = sorted(str(x["Subject"]) for x in msgs)
    assert any(x.startswith("Refund of 75.00 GBP processed") for x in subjects), subjects
    assert any(" cancelled: " in x for x in subjects), subjects
    # A hold running out tells no one.
    b2 = booked(s, m, course_schedule(s, c, start=30))
    db.execute(f"UPDATE training_bookings SET hold_expires_at = 1 WHERE id = '{b2['id']}'")
    queue_job(db, "training.expire_holds")
    wait_until(lambda: db.scalar(f"SELECT status FROM training_bookings WHERE id = "
                                 f"'{b2['id']}'") == "cancelled")
    assert rows(db, f"booking_id = '{b2['id']}'") == []


def test_names_cut_between_characters_never_fail_the_step(shop):
    """A course or venue name of 200 characters, up to 800 bytes, is shortened
    for titles and messages between characters: a cut inside one made text
    that is not UTF-8 and failed the confirm (and the Stripe payment, the
    cancel, the refund) with 500."""
    s, c = shop["server"], shop
    admin, m = c["admin"], c["member"]
    odd = "a" + "\u0105" * 100                   # 201 bytes: byte 150 is inside "ą"
    for path, id_ in (("/v1/training-courses", c["course"]["id"]),
                      ("/v1/venues", c["venue"]["id"])):
        r = s.request("PATCH", f"{path}/{id_}", headers=hdr(admin), json={"name": odd})
        assert r.status_code == 200, r.text
    b = booked(s, m, course_schedule(s, c))
    r = s.post(f"/v1/training-bookings/{b['id']}/confirm", headers=hdr(admin))
    assert r.status_code == 200, s.log()[-3000:]
    r = s.post(f"/v1/training-bookings/{b['id']}/cancel", headers=hdr(admin))
    assert r.status_code == 200, r.text
    by_type = {n["type"]: n for n in mine(s, m)}
    assert set(by_type) == {"booking_confirmed", "cancelled"}
    title = by_type["booking_confirmed"]["title"]
    assert title.startswith("Booking confirmed: a\u0105") and "\ufffd" not in title
    assert len(title.encode()) <= len("Booking confirmed: ".encode()) + 150


# --------------------------------------------------------------------------
# reading: the person's own, mark read, another's is 404


def test_a_person_reads_and_marks_their_own_and_never_anothers(shop):
    s, c = shop["server"], shop
    admin, m = c["admin"], c["member"]
    other = person(s, "other")
    sched = course_schedule(s, c)
    b1, b2 = booked(s, m, sched), booked(s, other, sched)
    confirm(s, admin, b1)
    confirm(s, admin, b2)
    (mn,) = mine(s, m)
    (on,) = mine(s, other)
    # Another's: 404 to read and to mark, in the list never.
    problem(s.get(f"/v1/notifications/{on['id']}", headers=hdr(m)), 404, "NOT_FOUND")
    problem(s.request("PATCH", f"/v1/notifications/{on['id']}", headers=hdr(m),
                      json={"status": "read"}), 404, "NOT_FOUND")
    assert [n["id"] for n in s.get("/v1/notifications", headers=hdr(m)).json()["data"]] == \
        [mn["id"]]
    # Staff list and read all, and do not mark a person's read.
    ids = {n["id"] for n in s.get("/v1/notifications", headers=hdr(admin)).json()["data"]}
    assert {mn["id"], on["id"]} <= ids
    problem(s.request("PATCH", f"/v1/notifications/{mn['id']}", headers=hdr(admin),
                      json={"status": "read"}), 403, "FORBIDDEN")
    # Only read is theirs to set, and nothing else of it.
    r = s.request("PATCH", f"/v1/notifications/{mn['id']}", headers=hdr(m),
                  json={"status": "sent"})
    assert problem(r, 422, "VALIDATION_FAILED")["errors"][0]["field"] == "status"
    problem(s.request("PATCH", f"/v1/notifications/{mn['id']}", headers=hdr(m),
                      json={"title": "mine now"}), 422, "VALIDATION_FAILED")
    assert len(mine(s, m, "?is_read=false")) == 1
    r = s.request("PATCH", f"/v1/notifications/{mn['id']}", headers=hdr(m),
                  json={"status": "read"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "read" and r.json()["is_read"] is True
    read_at = r.json()["read_at"]
    assert read_at
    # Read again: it stays as it was read.
    r = s.request("PATCH", f"/v1/notifications/{mn['id']}", headers=hdr(m),
                  json={"status": "read"})
    assert r.status_code == 200 and r.json()["read_at"] == read_at
    assert mine(s, m, "?is_read=false") == []
    assert mine(s, other, "?is_read=false") != []      # theirs untouched
    # Read all: the caller's only.
    r = s.post("/v1/me/notifications/read-all", headers=hdr(other))
    assert r.status_code == 200 and r.json() == {"marked": 1}, r.text
    assert mine(s, other, "?is_read=false") == []
    problem(s.get("/v1/me/notifications"), 401, "UNAUTHORIZED")


def test_gdpr_export_has_them_and_erasure_deletes_them(shop):
    s, c, db = shop["server"], shop, shop["db"]
    m = person(s, "leaver")
    b = booked(s, m, course_schedule(s, c))
    assert prefer(s, m, "reminder", "email", False).status_code == 201
    confirm(s, c["admin"], b)
    doc = s.get("/v1/me/export", headers=hdr(m)).json()
    (n,) = doc["records"]["notifications"]
    assert n["type"] == "booking_confirmed" and "Booking confirmed" in n["title"]
    (p,) = doc["records"]["notification_preferences"]
    assert (p["notification_type"], p["channel"], p["enabled"]) == ("reminder", "email", False)
    assert "email_log_id" not in n
    r = s.request("DELETE", "/v1/me", headers=hdr(m), json={"password": PASSWORD})
    assert r.status_code in (202, 204), r.text
    assert db.count("notifications", f"user_id = '{m['id']}'") == 0
    assert db.count("notification_preferences", f"user_id = '{m['id']}'") == 0


# --------------------------------------------------------------------------
# preferences


def test_preferences_turn_each_channel_off(shop):
    s, c, db = shop["server"], shop, shop["db"]
    admin, m = c["admin"], c["member"]
    assert prefer(s, m, "booking_confirmed", "email", False).status_code == 201
    assert prefer(s, m, "cancelled", "in_app", False).status_code == 201
    problem(prefer(s, m, "cancelled", "in_app", True), 409, "CONFLICT")
    b = booked(s, m, course_schedule(s, c))
    confirm(s, admin, b)
    (n,) = rows(db, f"user_id = '{m['id']}' AND type = 'booking_confirmed'")
    assert n["send_email"] == "0" and n["show_in_app"] == "1" and n["status"] == "delivered"
    assert n["email_log_id"] is None
    r = s.post(f"/v1/training-bookings/{b['id']}/cancel", headers=hdr(m))
    assert r.status_code == 200, r.text
    # In-app off: kept as the record of the mail, never in the list.
    (cn,) = rows(db, f"user_id = '{m['id']}' AND type = 'cancelled'")
    assert cn["show_in_app"] == "0" and cn["send_email"] == "1"
    assert [x["type"] for x in mine(s, m)] == ["booking_confirmed"]
    problem(s.get(f"/v1/notifications/{cn['id']}", headers=hdr(m)), 404, "NOT_FOUND")
    msgs = c["sink"].wait_for(1)
    assert [str(x["Subject"]).split(":")[0] for x in msgs] == \
        [f"Booking {b['booking_reference']} cancelled"]
    assert db.count("email_log", "template = 'training_notify_booking_confirmed'") == 0
    # Every channel off: nothing at all.
    for ch in ("email", "in_app"):
        assert prefer(s, m, "booking_confirmed", ch, False).status_code in (201, 409)
    r = s.get("/v1/notification-preferences?notification_type=booking_confirmed&"
              "channel=in_app", headers=hdr(m))
    (p,) = r.json()["data"]
    assert p["enabled"] is False and p["user_id"] == m["id"]
    b2 = booked(s, m, course_schedule(s, c, start=30))
    confirm(s, admin, b2)
    assert rows(db, f"booking_id = '{b2['id']}'") == []
    # Back on by PATCH; another's preferences are not theirs.
    r = s.request("PATCH", f"/v1/notification-preferences/{p['id']}", headers=hdr(m),
                  json={"enabled": True})
    assert r.status_code == 200 and r.json()["enabled"] is True, r.text
    other = person(s, "nosy")
    r = s.request("PATCH", f"/v1/notification-preferences/{p['id']}", headers=hdr(other),
                  json={"enabled": False})
    assert r.status_code == 404, r.text
    r = s.post("/v1/notification-preferences", headers=hdr(other),
               json={"user_id": m["id"], "notification_type": "reminder",
                     "channel": "email", "enabled": False})
    assert r.status_code == 403, r.text


# --------------------------------------------------------------------------
# SMS: E.164, the provider, retries, failed_jobs


def test_sms_needs_an_e164_phone(shop):
    s, c = shop["server"], shop
    m = c["member"]
    problem(prefer(s, m, "reminder", "sms", True), 422, "PHONE_NOT_E164")
    for bad in ("07700 900123", "+44 7700 900123", "+0447700900123", "447700900123",
                "+4477009001234567"):
        set_phone(s, m, bad)
        body = problem(prefer(s, m, "reminder", "sms", True), 422, "PHONE_NOT_E164")
        assert body["errors"][0]["code"] == "phone_not_e164", body
    # Off needs no phone; on with an E.164 number is taken.
    assert prefer(s, m, "cancelled", "sms", False).status_code == 201
    set_phone(s, m, PHONE)
    r = prefer(s, m, "reminder", "sms", True)
    assert r.status_code == 201, r.text
    set_phone(s, m, "07700 900123")
    r = s.request("PATCH", f"/v1/notification-preferences/{r.json()['id']}",
                  headers=hdr(m), json={"enabled": True})
    problem(r, 422, "PHONE_NOT_E164")


def test_an_sms_goes_to_the_provider_once(shop):
    s, c, db, fake = shop["server"], shop, shop["db"], shop["sms"]
    m = c["member"]
    set_phone(s, m, PHONE)
    assert prefer(s, m, "booking_confirmed", "sms", True).status_code == 201
    b = booked(s, m, course_schedule(s, c))
    confirm(s, c["admin"], b)
    (n,) = mine(s, m)
    assert n["send_sms"] is True
    wait_until(lambda: fake.sent(), what="an SMS")
    got = wait_until(lambda: (g := rows(db, f"id = '{n['id']}'")[0])["status"] == "sent" and g)
    assert got["sms_status"] == "sent" and got["email_status"] == "sent"
    (req,) = fake.sent()
    assert req["method"] == "POST" and req["path"] == "/v1/messages"
    assert req["headers"]["authorization"] == f"Bearer {SMS_TOKEN}"
    assert req["headers"]["idempotency-key"] == n["id"]
    assert req["body"]["to"] == PHONE and req["body"]["from"] == "RFTraining"
    assert req["body"]["reference"] == n["id"]
    assert b["booking_reference"] in req["body"]["body"] and len(req["body"]["body"].encode()) <= 480
    # The number is in no log line and no job.
    assert PHONE not in s.log()
    assert db.count("failed_jobs") == 0


def test_an_sms_the_provider_fails_is_retried_then_in_failed_jobs(shop):
    s, c, db, fake = shop["server"], shop, shop["db"], shop["sms"]
    m = c["member"]
    set_phone(s, m, PHONE)
    assert prefer(s, m, "booking_confirmed", "sms", True).status_code == 201
    # Two failures, then it goes: one SMS, three attempts.
    fake.script = [503, 500]
    b = booked(s, m, course_schedule(s, c))
    confirm(s, c["admin"], b)
    (n,) = mine(s, m)
    wait_until(lambda: rows(db, f"id = '{n['id']}'")[0]["sms_status"] == "sent", timeout=15)
    assert [x["status"] for x in fake.sent()] == [503, 500, 202]
    assert len({x["headers"]["idempotency-key"] for x in fake.sent()}) == 1
    # Failing every time: job_max_attempts (3), then failed_jobs.
    fake.default = 500
    b2 = booked(s, m, course_schedule(s, c, start=30))
    confirm(s, c["admin"], b2)
    (n2,) = [x for x in mine(s, m) if x["booking_id"] == b2["id"]]
    wait_until(lambda: db.count("failed_jobs", "kind = 'training.notify_sms'") == 1,
               timeout=20, what="the SMS job in failed_jobs")
    assert len(fake.sent()) == 6
    got = rows(db, f"id = '{n2['id']}'")[0]
    assert got["sms_status"] == "failed" and got["status"] == "failed"
    err = db.scalar("SELECT error FROM failed_jobs WHERE kind = 'training.notify_sms'")
    assert "HTTP 500" in err and PHONE not in err
    r = s.get(f"/v1/notifications/{n2['id']}", headers=hdr(c["admin"]))
    assert r.json()["status"] == "failed" and "HTTP 500" in r.json()["sms_error"]
    # A refusal is not retried.
    fake.default = 400
    b3 = booked(s, m, course_schedule(s, c, start=60))
    confirm(s, c["admin"], b3)
    wait_until(lambda: db.count("failed_jobs", "kind = 'training.notify_sms'") == 2,
               timeout=20)
    assert len(fake.sent()) == 7


# --------------------------------------------------------------------------
# reminders before the start, once, with two workers


@pytest.mark.dialect
def test_reminders_24_and_2_hours_before_are_sent_once_by_two_workers(
        start_server, db, smtp_sink, sms):
    env = notify_env(smtp_sink, sms, CAREBASE_JOB_WORKERS="0")
    s = start_server(db=db, env=env)
    c = make_catalogue(s)
    admin = c["admin"]
    day = soon(s, c, 23)                          # in the 24-hour window
    near = soon(s, c, 1, by="trainer2")           # in the 2-hour window
    far = soon(s, c, 40)                          # in neither
    members = [person(s, f"learner{i}") for i in range(16)]
    plan = {day["id"]: members[:8], near["id"]: members[8:14], far["id"]: members[14:]}
    bookings = {}
    for sched in (day, near, far):
        for who in plan[sched["id"]]:
            b = booked(s, who, sched)
            confirm(s, admin, b)
            bookings[b["id"]] = (sched, who)
    # Two workers up and polling often, then many runs due at one
    # moment for both to take.
    workers = [s.spawn("worker", env={"CAREBASE_JOB_WORKERS": "1",
                                      "CAREBASE_JOB_POLL_MS": "10"}) for _ in range(2)]
    for w in workers:
        wait_until(lambda: "event=worker_started" in open(w.stderr_path).read(),
                   what="a worker to start")
    wait_until(lambda: drained(db, "mail.send"), timeout=30, what="the confirmations' mail")
    queue_jobs(db, "training.send_reminders", 12, delay_ms=500)
    wait_until(lambda: drained(db, "training.send_reminders") and
               db.count("notifications", "type = 'reminder'") >= 14, timeout=30,
               what="the reminder runs")
    queue_jobs(db, "training.send_reminders", 6)
    wait_until(lambda: drained(db, "training.send_reminders"), timeout=30)
    wait_until(lambda: drained(db, "mail.send"), timeout=30)
    got = rows(db, "type = 'reminder'")
    per = {}
    for n in got:
        per.setdefault(n["booking_id"], []).append(n)
    assert sorted(per) == sorted(b for b, (sc, _) in bookings.items() if sc is not far)
    for bid, ns in per.items():
        assert len(ns) == 1, (bid, ns)
    titles = {bid: [x["title"] for x in mine(s, bookings[bid][1], "?type=reminder")]
              for bid in per}
    # Each worded from the time left when it was made (23 hours, about
    # an hour), not from the offset that made it due.
    for bid, (sched, _) in bookings.items():
        if sched is day:
            assert titles[bid] == [f"Reminder: {c['course']['name']} starts in 23 hours"]
        elif sched is near:
            (t,) = titles[bid]
            assert re.fullmatch(re.escape(f"Reminder: {c['course']['name']} starts in ")
                                + r"(5\d minutes|1 hour)", t), t
    # One mail each, the link to the booking.
    reminders = [x for x in smtp_sink.messages() if str(x["Subject"]).startswith("Reminder:")]
    assert len(reminders) == 14
    # On PostgreSQL both workers ran reminder jobs side by side (the queue
    # claims with SKIP LOCKED). SQLite lets one writer in at a time, across
    # processes too: a worker may take every run while the other waits for
    # its turn, and the reminders are still sent once.
    # (A run's line is written after its job row is gone: wait for it.)
    def runs():
        return [len(re.findall(r'kind="training\.send_reminders" attempt=\d+ status=ok',
                               open(w.stderr_path).read())) for w in workers]
    wait_until(lambda: sum(runs()) >= 18, timeout=10, what="the 18 runs' log lines")
    ran = runs()
    if db.kind == "postgres":
        assert all(ran), ran
    # The day's start comes within 2 hours: its 2-hour reminder, once.
    soon_ms = int((datetime.datetime.now(datetime.timezone.utc) + 90 *
                   datetime.timedelta(minutes=1)).timestamp() * 1000)
    move(db, day, soon_ms)
    queue_jobs(db, "training.send_reminders", 8)
    wait_until(lambda: drained(db, "training.send_reminders") and
               db.count("notifications", "type = 'reminder'") >= 22, timeout=30)
    queue_jobs(db, "training.send_reminders", 4)
    wait_until(lambda: drained(db, "training.send_reminders"), timeout=30)
    assert db.count("notifications", "type = 'reminder'") == 22
    for b, (sched, who) in bookings.items():
        if sched is day:
            assert sorted(x["title"].rsplit(" in ", 1)[1] for x in
                          mine(s, who, "?type=reminder")) == ["1 hour 30 minutes", "23 hours"]
    assert db.count("notification_reminders") == 22
    # A reminder expires at the start: it leaves the list then.
    bid = next(b for b, (sc, _) in bookings.items() if sc is near)
    (n,) = rows(db, f"booking_id = '{bid}' AND type = 'reminder'")
    db.execute(f"UPDATE notifications SET expires_at = 1000 WHERE id = '{n['id']}'")
    assert mine(s, bookings[bid][1], "?type=reminder") == []


def test_reminders_already_sent_never_hide_the_ones_after_them(
        start_server, db, smtp_sink, sms):
    """A run reads its candidates page after page (reminders_page each) to
    the end: a first page of bookings reminded already does not keep the
    later ones from their reminder (each run read the same first page)."""
    s = start_server(db=db, env=notify_env(smtp_sink, sms, CAREBASE_REMINDERS_PAGE="1"))
    c = make_catalogue(s)
    day = soon(s, c, 23)
    members = [person(s, f"paged{i}") for i in range(3)]
    for who in members:
        confirm(s, c["admin"], booked(s, who, day))
    for _ in range(2):
        queue_jobs(db, "training.send_reminders", 1)
        wait_until(lambda: drained(db, "training.send_reminders"), timeout=30)
    wait_until(lambda: db.count("notifications", "type = 'reminder'") >= 3, timeout=10,
               what="a reminder for each of the three bookings")
    assert db.count("notifications", "type = 'reminder'") == 3
    assert db.count("notification_reminders") == 3


# --------------------------------------------------------------------------
# certificates: ready, and expiring in 90, 30 and 0 days


def certificate(s, c, db, day=datetime.date(2025, 6, 2)):
    """A certificate of the member's, issued by completing a schedule held
    on day."""
    admin = c["admin"]
    sched = course_schedule(s, c)
    b = booked(s, c["member"], sched)
    confirm(s, admin, b)
    (att,) = s.get(f"/v1/training-booking-attendees?booking_id={b['id']}",
                   headers=hdr(admin)).json()["data"]
    move(db, sched, int(datetime.datetime(day.year, day.month, day.day, 9,
                                          tzinfo=datetime.timezone.utc).timestamp() * 1000))
    r = s.post("/v1/attendance-records", headers=hdr(admin),
               json={"attendee_id": att["id"], "status": "present",
                     "passed_assessment": True})
    assert r.status_code == 201, r.text
    for verb in ("start", "complete"):
        r = s.post(f"/v1/course-schedules/{sched['id']}/{verb}", headers=hdr(admin))
        assert r.status_code == 200, r.text
    (cert,) = s.get(f"/v1/certificates?booking_id={b['id']}", headers=hdr(admin)).json()["data"]
    return cert


def test_certificate_ready_and_expiring_in_90_30_and_0_days(shop):
    s, c, db = shop["server"], shop, shop["db"]
    m = c["member"]
    cert = certificate(s, c, db)
    (ready,) = mine(s, m, "?type=certificate_ready")
    assert ready["certificate_id"] == cert["id"]
    assert ready["action_url"] == f"/certificates/{cert['id']}"
    assert cert["certificate_number"] in ready["message"]

    def expiring():
        return sorted((x["title"], x["priority"]) for x in
                      mine(s, m, "?type=certificate_expiring"))

    def run_on(days):
        when = (london_today() + datetime.timedelta(days=days)).isoformat()
        db.execute(f"UPDATE certificates SET expiry_date = '{when}' WHERE id = '{cert['id']}'")
        before = db.count("notification_reminders")
        queue_job(db, "training.certificate_reminders")
        queue_job(db, "training.certificate_reminders")
        wait_until(lambda: drained(db, "training.certificate_reminders"))
        return db.count("notification_reminders") - before

    assert run_on(120) == 0 and expiring() == []
    assert run_on(90) == 1
    assert expiring() == [("Your EFAW certificate expires in 90 days", "medium")]
    assert run_on(45) == 0                      # 90 sent, 30 not yet come
    assert run_on(30) == 1
    assert run_on(29) == 0
    assert run_on(0) == 1
    assert expiring() == [("Your EFAW certificate expires in 30 days", "high"),
                          ("Your EFAW certificate expires in 90 days", "medium"),
                          ("Your EFAW certificate expires today", "urgent")]
    assert run_on(0) == 0
    assert run_on(-1) == 0                      # expired: nothing more
    msgs = wait_until(lambda: len([x for x in mail_to(c["sink"], m["email"])
                                   if "certificate expires" in str(x["Subject"])]) == 3
                      and mail_to(c["sink"], m["email"]))
    text, html = parts(next(x for x in msgs if "today" in str(x["Subject"])))
    assert cert["certificate_number"] in text
    assert f'href="{PUBLIC_URL}/certificates/{cert["id"]}"' in html
    # A revoked one is not reminded.
    db.execute(f"DELETE FROM notification_reminders WHERE subject_id = '{cert['id']}'")
    r = s.post(f"/v1/certificates/{cert['id']}/revoke", headers=hdr(c["admin"]),
               json={"reason": "issued in error"})
    assert r.status_code == 200, r.text
    assert run_on(30) == 0


def test_no_expiry_reminder_once_the_holder_requalified(shop):
    s, c, db = shop["server"], shop, shop["db"]
    old = certificate(s, c, db)
    # A later one (a requalification); the old one expiring.
    new = certificate(s, c, db, datetime.date(2026, 6, 1))
    when = (london_today() + datetime.timedelta(days=30)).isoformat()
    db.execute(f"UPDATE certificates SET expiry_date = '{when}' WHERE id = '{old['id']}'")

    def run():
        before = db.count("notification_reminders")
        queue_job(db, "training.certificate_reminders")
        wait_until(lambda: drained(db, "training.certificate_reminders"))
        return db.count("notification_reminders") - before

    assert run() == 0
    # The newer one revoked: the old one is the holder's again.
    r = s.post(f"/v1/certificates/{new['id']}/revoke", headers=hdr(c["admin"]),
               json={"reason": "issued in error"})
    assert r.status_code == 200, r.text
    assert run() == 1


# --------------------------------------------------------------------------
# migration 0038 pending or undone


def test_with_0038_undone_bookings_and_mail_go_on_without_notifications(
        start_server, db, smtp_sink, sms):
    s = start_server(db=db, env=notify_env(smtp_sink, sms))
    c = make_catalogue(s)
    s.stop()
    undo_migration(db, "0038_notifications")
    assert "notifications" not in db.tables()
    s.start(migrate=False)
    b = booked(s, c["member"], course_schedule(s, c))
    confirm(s, c["admin"], b)                     # notified by nobody, and no 500
    r = s.post(f"/v1/training-bookings/{b['id']}/cancel", headers=hdr(c["admin"]))
    assert r.status_code == 200, r.text
    queue_jobs(db, "training.send_reminders", 1)
    queue_jobs(db, "training.certificate_reminders", 1)
    wait_until(lambda: drained(db, "training.send_reminders") and
               drained(db, "training.certificate_reminders"))
    # Other mail still goes, its outcome recorded (the listener asks the
    # catalog first: no statement fails).
    r = s.post("/v1/auth/password-reset", json={"email": c["member"]["email"]})
    assert r.status_code in (200, 202), r.text
    wait_until(lambda: db.count("email_log", "status = 'sent'") >= 1)
    assert db.count("failed_jobs") == 0
    assert "migrations_pending" in s.log()


# --------------------------------------------------------------------------
# review points: reminders worded from the time left; a cancel that refunds
# is one message; service_emails_permission


def test_reminders_are_worded_from_the_time_left_not_the_offset(shop):
    """A booking made 20 hours ahead gets the 24-hour reminder at once: it
    says 20 hours (it said "24 hours"). A certificate whose 30-day reminder
    is made with 29 days left says 29 days (it said 30), one with a day
    left says tomorrow."""
    s, c, db = shop["server"], shop, shop["db"]
    admin, m = c["admin"], c["member"]
    other = person(s, "early")
    confirm(s, admin, booked(s, m, soon(s, c, 20)))
    confirm(s, admin, booked(s, other, soon(s, c, 0.75, by="trainer2")))
    queue_job(db, "training.send_reminders")
    wait_until(lambda: drained(db, "training.send_reminders") and
               db.count("notifications", "type = 'reminder'") == 2, timeout=15)
    name = c["course"]["name"]
    assert [x["title"] for x in mine(s, m, "?type=reminder")] == \
        [f"Reminder: {name} starts in 20 hours"]
    (t,) = [x["title"] for x in mine(s, other, "?type=reminder")]
    assert re.fullmatch(re.escape(f"Reminder: {name} starts in ") + r"4[45] minutes", t), t
    # Certificates: London days left when it is made.
    cert = certificate(s, c, db)

    def run_on(days):
        when = (london_today() + datetime.timedelta(days=days)).isoformat()
        db.execute(f"UPDATE certificates SET expiry_date = '{when}' WHERE id = '{cert['id']}'")
        queue_job(db, "training.certificate_reminders")
        wait_until(lambda: drained(db, "training.certificate_reminders"))
        return [(x["title"], x["priority"]) for x in
                mine(s, m, "?type=certificate_expiring&sort=created_at")]

    assert run_on(29) == [("Your EFAW certificate expires in 29 days", "high")]
    db.execute(f"DELETE FROM notification_reminders WHERE subject_id = '{cert['id']}'")
    assert run_on(1)[-1] == ("Your EFAW certificate expires tomorrow", "high")
    msgs = wait_until(lambda: [x for x in mail_to(c["sink"], m["email"])
                               if "certificate expires" in str(x["Subject"])])
    assert "Your EFAW certificate expires in 29 days" in {str(x["Subject"]) for x in msgs}


def test_a_cancel_that_refunds_is_one_message_not_two(shop):
    """The booker cancels a booking paid through Stripe: one cancelled
    notification (and mail) saying how much comes back and how; the refund
    Stripe completes at once makes no refund_processed beside it (there
    were two mails at the same moment). A refund that is no part of a
    cancellation, staff's partial one, is still told when it completes."""
    s, c, db, st = shop["server"], shop, shop["db"], shop["stripe"]
    admin, m = c["admin"], c["member"]
    st.refund_status = "succeeded"               # most card refunds: at once
    b, _ = paid_booking(c, m, course_schedule(s, c))
    r = s.post(f"/v1/training-bookings/{b['id']}/cancel", headers=hdr(m))
    assert r.status_code == 200, r.text
    (ref,) = s.get(f"/v1/refunds?booking_id={b['id']}", headers=hdr(admin)).json()["data"]
    assert ref["cause"] == "booker_cancelled"
    wait_refund(db, ref["id"], "completed")
    wait_until(lambda: drained(db, "mail.send"), timeout=15)
    assert sorted(x["type"] for x in mine(s, m)) == ["booking_confirmed", "cancelled"]
    (cn,) = mine(s, m, "?type=cancelled")
    assert "cancelled as you asked" in cn["message"], cn["message"]
    assert "A refund of 75.00 GBP is on its way to the card you paid with" in cn["message"]
    assert db.count("email_log", f"user_id = '{m['id']}' AND template = "
                    "'training_notify_refund_processed'") == 0
    subjects = sorted(str(x["Subject"]) for x in mail_to(c["sink"], m["email"]))
    assert len(subjects) == 2 and any(" cancelled: " in x for x in subjects), subjects
    text, _ = parts(next(x for x in mail_to(c["sink"], m["email"])
                         if " cancelled: " in str(x["Subject"])))
    assert "75.00 GBP is on its way" in text
    # Staff refund part of another paid booking: refund_processed when done.
    b2, _ = paid_booking(c, m, course_schedule(s, c, start=30))
    r = s.post("/v1/refunds", headers=hdr(admin), json={"booking_id": b2["id"],
                                                       "amount_minor": 2000})
    assert r.status_code == 201, r.text
    r = s.post(f"/v1/refunds/{r.json()['id']}/approve", headers=hdr(admin))
    assert r.status_code == 200, r.text
    (n,) = wait_until(lambda: mine(s, m, "?type=refund_processed"), timeout=15,
                      what="refund_processed of the partial refund")
    assert n["booking_id"] == b2["id"] and "20.00 GBP" in n["title"]
    assert read_one(s, m, b2)["status"] == "confirmed"


def read_one(server, who, booking):
    r = server.get(f"/v1/training-bookings/{booking['id']}", headers=hdr(who))
    assert r.status_code == 200, r.text
    return r.json()


def test_service_emails_declined_stop_optional_mail_only(shop):
    """users.service_emails_permission false: the reminders before a course
    and before a certificate expires are made in-app but not mailed; what
    the person must be told (booking confirmed, cancelled, certificate
    ready, password reset) is mailed still. Another person, who did not
    decline, is mailed their reminder."""
    s, c, db = shop["server"], shop, shop["db"]
    admin, m = c["admin"], c["member"]
    other = person(s, "willing")
    r = s.request("PATCH", "/v1/me", headers=hdr(m), json={"service_emails_permission": False})
    assert r.status_code == 200, r.text
    near = soon(s, c, 1)
    b = booked(s, m, near)
    confirm(s, admin, b)
    confirm(s, admin, booked(s, other, near))
    queue_job(db, "training.send_reminders")
    wait_until(lambda: drained(db, "training.send_reminders") and
               db.count("notifications", "type = 'reminder'") == 2, timeout=15)
    (rn,) = rows(db, f"user_id = '{m['id']}' AND type = 'reminder'")
    assert rn["send_email"] == "0" and rn["show_in_app"] == "1" and rn["email_log_id"] is None
    assert rn["status"] == "delivered"
    assert [x["type"] for x in mine(s, m, "?type=reminder")] == ["reminder"]
    (on,) = rows(db, f"user_id = '{other['id']}' AND type = 'reminder'")
    assert on["send_email"] == "1"
    cert = certificate(s, c, db)
    when = (london_today() + datetime.timedelta(days=30)).isoformat()
    db.execute(f"UPDATE certificates SET expiry_date = '{when}' WHERE id = '{cert['id']}'")
    queue_job(db, "training.certificate_reminders")
    wait_until(lambda: drained(db, "training.certificate_reminders") and
               db.count("notifications", "type = 'certificate_expiring'") == 1)
    (xn,) = rows(db, f"user_id = '{m['id']}' AND type = 'certificate_expiring'")
    assert xn["send_email"] == "0" and xn["show_in_app"] == "1"
    r = s.post(f"/v1/training-bookings/{b['id']}/cancel", headers=hdr(admin))
    assert r.status_code == 200, r.text
    r = s.post("/v1/auth/password-reset", json={"email": m["email"]})
    assert r.status_code in (200, 202), r.text
    wait_until(lambda: db.count("email_log", f"user_id = '{m['id']}' AND template = "
                                "'password_reset'") == 1, what="the reset mail")
    wait_until(lambda: drained(db, "mail.send"), timeout=20)
    templates = sorted(t for (t,) in db.query(
        f"SELECT template FROM email_log WHERE user_id = '{m['id']}'"))
    assert "training_notify_reminder" not in templates, templates
    assert "training_notify_certificate_expiring" not in templates, templates
    assert templates.count("training_notify_booking_confirmed") == 2, templates
    for t in ("training_notify_cancelled", "training_notify_certificate_ready"):
        assert t in templates, templates
    subjects = [str(x["Subject"]) for x in mail_to(c["sink"], m["email"])]
    assert not any(x.startswith("Reminder:") or "certificate expires" in x
                   for x in subjects), subjects
    assert any(x.startswith("Reminder:") for x in
               (str(y["Subject"]) for y in mail_to(c["sink"], other["email"])))
