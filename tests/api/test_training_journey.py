"""A learner's whole journey through the training business (issue 17), in
one test on SQLite and PostgreSQL: a member books a schedule and pays
through Stripe (the fake Stripe's signed webhook), is told the booking is
confirmed (in-app, and by mail: the email log and the SMTP sink), is
marked present and passed by the schedule's trainer once it has started
(not before), the schedule is completed and the certificate issued
(auto_issue_certificates), the holder downloads its PDF (their name read
back by poppler's pdftotext), a stranger verifies it by its public token,
and, the clock moved as the other tests move it (the certificate's expiry
date set against today's London date), the expiry reminders come 90 and
30 days before and on the day, each once, until the nightly job marks it
expired and verification says so."""

import datetime
import shutil
import subprocess
from zoneinfo import ZoneInfo

import pytest

from conftest import hdr, problem, queue_job, smtp_env, wait_until
from training_helpers import course_schedule, make_catalogue, paid_booking

PUBLIC_URL = "https://learn.example.org"
NAME = "Zofia Łukasiewicz-Journey"


@pytest.fixture
def journey(start_server, db, stripe, stripe_signer, smtp_sink):
    """A server that takes payments through the fake Stripe and mails to
    the SMTP sink, with the catalogue's people, course and venue."""
    s = start_server(db=db, env={**stripe.env(), **smtp_env(smtp_sink.port),
                                 "CAREBASE_PUBLIC_URL": PUBLIC_URL})
    c = make_catalogue(s)
    c.update(server=s, stripe=stripe, sign=stripe_signer, db=db, sink=smtp_sink)
    return c


def mine(server, who, query=""):
    r = server.get(f"/v1/me/notifications{query}", headers=hdr(who))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def logged(db, who, template):
    """The email_log rows of template to who: [status, ...]."""
    return [st for (st,) in db.query(f"SELECT status FROM email_log WHERE user_id = "
                                     f"'{who['id']}' AND template = '{template}'")]


def london_today():
    return datetime.datetime.now(ZoneInfo("Europe/London")).date()


def drained(db, kind):
    return db.count("jobs", f"kind = '{kind}'") == 0


def test_a_learner_books_pays_attends_is_certified_and_reminded(journey, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed (poppler-utils: scripts/install-deps)")
    s, c, db, sink = journey["server"], journey, journey["db"], journey["sink"]
    admin, m = c["admin"], c["member"]

    # Books and pays: confirmed by Stripe's webhook, and told so.
    sched = course_schedule(s, c)
    b, _ = paid_booking(c, m, sched, attendees=[{"name": NAME, "email": m["email"]}])
    r = s.get(f"/v1/training-bookings/{b['id']}", headers=hdr(m))
    assert r.json()["status"] == "confirmed" and r.json()["payment_status"] == "paid"
    (n,) = mine(s, m)
    assert (n["type"], n["booking_id"]) == ("booking_confirmed", b["id"])
    wait_until(lambda: logged(db, m, "training_notify_booking_confirmed") == ["sent"],
               what="the confirmation mail sent")
    # (The sink also holds the mail that asked the member, on signing
    # up, to verify their address.)
    (msg,) = wait_until(lambda: [x for x in sink.messages() if str(
        x["Subject"]).startswith(f"Booking {b['booking_reference']} confirmed")],
        what="the confirmation mail received")

    # Attendance: by the schedule's trainer, once it has started.
    (att,) = s.get(f"/v1/training-booking-attendees?booking_id={b['id']}",
                   headers=hdr(admin)).json()["data"]
    body = {"attendee_id": att["id"], "status": "present", "passed_assessment": True}
    problem(s.post("/v1/attendance-records", headers=hdr(c["instructor"]), json=body),
            409, "SCHEDULE_NOT_STARTED")
    start = datetime.datetime.now(datetime.timezone.utc).replace(
        hour=9, minute=0, second=0, microsecond=0) - datetime.timedelta(days=2)
    start_ms = int(start.timestamp() * 1000)
    db.execute(f"UPDATE course_schedules SET start_time = {start_ms}, end_time = "
               f"{start_ms + 7 * 3600000} WHERE id = '{sched['id']}'")
    r = s.post("/v1/attendance-records", headers=hdr(c["instructor"]), json=body)
    assert r.status_code == 201, r.text
    assert r.json()["certificate_eligible"] is True

    # Completed: the booking with it, the certificate issued and told of.
    for verb in ("start", "complete"):
        r = s.post(f"/v1/course-schedules/{sched['id']}/{verb}", headers=hdr(admin))
        assert r.status_code == 200, r.text
    r = s.get(f"/v1/training-bookings/{b['id']}", headers=hdr(m))
    assert r.json()["status"] == "completed"
    r = s.get(f"/v1/certificates?booking_id={b['id']}", headers=hdr(m))
    assert r.status_code == 200, r.text
    (cert,) = r.json()["data"]
    assert cert["holder_name"] == NAME and cert["status"] == "active"
    (ready,) = mine(s, m, "?type=certificate_ready")
    assert ready["certificate_id"] == cert["id"]
    wait_until(lambda: logged(db, m, "training_notify_certificate_ready") == ["sent"],
               what="the certificate mail sent")

    # The holder downloads the PDF; their name is on it.
    r = s.get(f"/v1/certificates/{cert['id']}/pdf", headers=hdr(m))
    assert r.status_code == 200 and r.content.startswith(b"%PDF-"), r.text[:200]
    path = tmp_path / "certificate.pdf"
    path.write_bytes(r.content)
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True,
                                   check=True).stdout.decode().split())
    assert NAME in text and cert["certificate_number"] in text, text

    # A stranger verifies it: no token, nothing else of the person.
    r = s.get(f"/v1/certificate-verifications/{cert['verification_token']}")
    assert r.status_code == 200, r.text
    v = r.json()
    assert (v["holder_name"], v["status"], v["certificate_number"]) == (
        NAME, "active", cert["certificate_number"])
    assert m["email"] not in r.text and m["id"] not in r.text

    # The clock moved: 120, 90, 45, 30, 29 and 0 days before the expiry
    # date, the reminders job run twice on each day.
    def on_day(days):
        when = (london_today() + datetime.timedelta(days=days)).isoformat()
        db.execute(f"UPDATE certificates SET expiry_date = '{when}' WHERE id = '{cert['id']}'")
        for _ in range(2):
            queue_job(db, "training.certificate_reminders")
            wait_until(lambda: drained(db, "training.certificate_reminders"))
        return sorted(x["title"] for x in mine(s, m, "?type=certificate_expiring"))

    family = cert["course_family"]
    ninety = f"Your {family} certificate expires in 90 days"
    thirty = f"Your {family} certificate expires in 30 days"
    today = f"Your {family} certificate expires today"
    assert on_day(120) == []
    assert on_day(90) == [ninety]
    assert on_day(45) == [ninety]
    assert on_day(30) == sorted([ninety, thirty])
    assert on_day(29) == sorted([ninety, thirty])
    assert on_day(0) == sorted([ninety, thirty, today])
    wait_until(lambda: logged(db, m, "training_notify_certificate_expiring") ==
               ["sent"] * 3, timeout=15, what="three expiry mails sent")
    subjects = sorted(str(x["Subject"]) for x in sink.messages()
                      if "certificate expires" in str(x["Subject"]))
    assert subjects == sorted([ninety, thirty, today]), subjects
    # Valid on its last day still.
    assert s.get(f"/v1/certificate-verifications/{cert['verification_token']}"
                 ).json()["status"] == "active"

    # The day after: the nightly job marks it expired, verification says
    # so, and no more reminders come.
    assert on_day(-1) == sorted([ninety, thirty, today])
    queue_job(db, "training.expire_certificates")
    wait_until(lambda: db.scalar(f"SELECT status FROM certificates WHERE id = "
                                 f"'{cert['id']}'") == "expired", timeout=15,
               what="the certificate expired by the nightly job")
    r = s.get(f"/v1/certificates/{cert['id']}", headers=hdr(m))
    assert r.json()["status"] == "expired"
    v = s.get(f"/v1/certificate-verifications/{cert['verification_token']}").json()
    assert v["status"] == "expired" and v["holder_name"] == NAME
    assert db.count("notifications", f"user_id = '{m['id']}'") == 5
