"""Attendance, certificates and their public verification (issue 17 items
1, 2 and 4): attendance is marked by the schedule's trainer or staff once
the schedule has started, one record an attendee; completing the schedule
moves its bookings to completed or no_show from it and, with
auto_issue_certificates on, issues the certificates of those present (or
late within certificate_late_minutes) who passed. A certificate's
issue_date is the London day the schedule ends and its expiry the
course's certification_validity_years later (29 February: 28 February).
The nightly job expires them; requalification courses are booked only by
holders of a certificate of that family valid or expired at most a month
ago. GET /v1/certificate-verifications/{token} answers without a token,
shows revocation at once, discloses nothing else, is throttled, and
answers 404 once the holder is erased. GET /v1/certificates/{id}/pdf
(item 3) gives the holder and staff the certificate as a PDF, read back
here by poppler's pdftotext and pdftoppm and zbar's zbarimg, which are
not ours. Runs on SQLite and PostgreSQL."""

import base64
import datetime
import re
import secrets
import shutil
import struct
import subprocess
import uuid
import zlib
from zoneinfo import ZoneInfo

import pytest

from conftest import hdr, person, problem, queue_job, wait_until
from training_helpers import (book_training, booked, course_schedule, make_catalogue,
                              set_setting, training_course)

VERIFY_KEYS = {"certificate_number", "holder_name", "course", "course_family", "issue_date",
               "expiry_date", "status", "revoked_at"}


def ms(y, mo, d, h=9):
    return int(datetime.datetime(y, mo, d, h, tzinfo=datetime.timezone.utc).timestamp() * 1000)


def confirm(server, admin, b):
    r = server.post(f"/v1/training-bookings/{b['id']}/confirm", headers=hdr(admin))
    assert r.status_code == 200, r.text


def attendee_ids(server, admin, b):
    r = server.get(f"/v1/training-booking-attendees?booking_id={b['id']}", headers=hdr(admin))
    assert r.status_code == 200, r.text
    return [a["id"] for a in sorted(r.json()["data"], key=lambda a: a["position"])]


def mark(server, who, attendee, status="present", passed=True, **extra):
    body = {"attendee_id": attendee, "status": status, "passed_assessment": passed}
    body.update(extra)
    return server.post("/v1/attendance-records", headers=hdr(who), json=body)


def move(db, s, start, hours=7):
    """Move schedule s to start at start (Unix ms), as time passing would."""
    db.execute(f"UPDATE course_schedules SET start_time = {start}, "
               f"end_time = {start + hours * 3600000} WHERE id = '{s['id']}'")


def act(server, admin, s, verb):
    r = server.post(f"/v1/course-schedules/{s['id']}/{verb}", headers=hdr(admin))
    assert r.status_code == 200, r.text
    return r.json()


def certificates_of(server, who, **filters):
    q = "&".join(f"{k}={v}" for k, v in filters.items())
    r = server.get(f"/v1/certificates?{q}", headers=hdr(who))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def verify(server, token):
    return server.get(f"/v1/certificate-verifications/{token}")


def completed_run(server, c, db, start=None, auto=True):
    """A schedule with two bookings: the member's (two attendees: present
    and passed; absent) and member2's (one attendee, absent); moved to
    start at start and completed. Returns (schedule, bookings, attendees)."""
    admin = c["admin"]
    s = course_schedule(server, c)
    m2 = person(server, "second")
    b1 = booked(server, c["member"], s, 2)
    b2 = booked(server, m2, s)
    for b in (b1, b2):
        confirm(server, admin, b)
    a1, a2 = attendee_ids(server, admin, b1)
    (a3,) = attendee_ids(server, admin, b2)
    move(db, s, start or ms(2024, 2, 29))
    r = mark(server, c["instructor"], a1)
    assert r.status_code == 201, r.text
    assert mark(server, admin, a2, "absent").status_code == 201
    assert mark(server, admin, a3, "absent", False).status_code == 201
    if not auto:
        set_setting(server, admin, "auto_issue_certificates", "false")
    act(server, admin, s, "start")
    act(server, admin, s, "complete")
    return s, (b1, b2, m2), (a1, a2, a3)


def test_attendance_is_marked_by_the_trainer_or_staff_from_the_start(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    s = course_schedule(server, c)
    b = booked(server, m, s, 2)
    a1, a2 = attendee_ids(server, admin, b)
    # A pending booking is not attended.
    problem(mark(server, admin, a1), 409, "BOOKING_NOT_CONFIRMED")
    confirm(server, admin, b)
    # Not before the schedule starts, by anyone.
    problem(mark(server, admin, a1), 409, "SCHEDULE_NOT_STARTED")
    problem(mark(server, c["instructor"], a1), 409, "SCHEDULE_NOT_STARTED")
    move(db, s, ms(2026, 1, 5))
    # Not by another trainer nor by the member; by the schedule's trainer.
    r = mark(server, c["instructor2"], a1)
    assert r.status_code in (403, 404), r.text
    problem(mark(server, m, a1), 403, "FORBIDDEN")
    r = mark(server, c["instructor"], a1, check_in_time="2026-01-05T09:05:00.000Z",
             participation_score=90, trainer_feedback="confident with CPR")
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["certificate_eligible"] is True and rec["marked_by"] == c["instructor"]["id"]
    assert rec["booking_id"] == b["id"] and rec["schedule_id"] == s["id"]
    assert rec["user_id"] == m["id"]
    # One record an attendee and schedule.
    problem(mark(server, admin, a1, "absent"), 409, "ATTENDANCE_EXISTS")
    # Late: eligible within certificate_late_minutes (15) of the start only.
    r = mark(server, admin, a2, "late", check_in_time="2026-01-05T09:20:00.000Z")
    assert r.status_code == 201 and r.json()["certificate_eligible"] is False
    r2 = server.request("PATCH", f"/v1/attendance-records/{r.json()['id']}",
                        headers=hdr(c["instructor"]),
                        json={"check_in_time": "2026-01-05T09:15:00.000Z"})
    assert r2.status_code == 200 and r2.json()["certificate_eligible"] is True, r2.text
    set_setting(server, admin, "certificate_late_minutes", "10")
    r2 = server.request("PATCH", f"/v1/attendance-records/{r.json()['id']}",
                        headers=hdr(admin), json={"passed_assessment": True})
    assert r2.json()["certificate_eligible"] is False
    # Failing the assessment is never eligible.
    r2 = server.request("PATCH", f"/v1/attendance-records/{rec['id']}", headers=hdr(admin),
                        json={"passed_assessment": False})
    assert r2.json()["certificate_eligible"] is False
    # The member reads their own, the other trainer none; marked_by is
    # read-only.
    mine = server.get("/v1/attendance-records", headers=hdr(m)).json()["data"]
    assert {x["attendee_id"] for x in mine} == {a1, a2}
    assert mine[0]["trainer_feedback"] in ("confident with CPR", None)
    assert server.get("/v1/attendance-records",
                      headers=hdr(c["instructor2"])).json()["data"] == []
    problem(server.request("PATCH", f"/v1/attendance-records/{rec['id']}", headers=hdr(admin),
                           json={"marked_by": admin["id"]}), 422, "VALIDATION_FAILED")
    assert db.count("audit_log", f"action = 'attendance_records.create'") == 2


def test_completion_moves_bookings_and_issues_certificates(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    s, (b1, b2, m2), (a1, a2, a3) = completed_run(server, c, db)
    # The bookings by their attendance.
    r = server.get(f"/v1/training-bookings/{b1['id']}", headers=hdr(admin)).json()
    assert r["status"] == "completed"
    r = server.get(f"/v1/training-bookings/{b2['id']}", headers=hdr(admin)).json()
    assert r["status"] == "no_show"
    assert db.count("audit_log", f"action = 'training_bookings.no_show' AND "
                    f"entity_id = '{b2['id']}'") == 1
    # One certificate, the eligible attendee's: issued on the London day
    # the course ended, 29 February 2024, valid three years: 28 February.
    certs = certificates_of(server, admin, schedule_id=s["id"])
    assert len(certs) == 1
    cert = certs[0]
    assert cert["attendee_id"] == a1 and cert["user_id"] == m["id"]
    assert cert["issue_date"] == "2024-02-29" and cert["expiry_date"] == "2027-02-28"
    assert cert["status"] == "active" and cert["course_family"] == "EFAW"
    assert cert["holder_name"] == m["first_name"]
    assert cert["certificate_number"].startswith("RFT-2024-")
    assert len(cert["verification_token"]) == 32
    # The booker reads theirs; the other member none.
    assert [x["id"] for x in certificates_of(server, m)] == [cert["id"]]
    assert certificates_of(server, m2) == []
    # Staff issue no second one, nor one to those not eligible.
    problem(server.post("/v1/certificates", headers=hdr(admin), json={"attendee_id": a1}),
            409, "CERTIFICATE_EXISTS")
    problem(server.post("/v1/certificates", headers=hdr(admin), json={"attendee_id": a2}),
            409, "NOT_ELIGIBLE")
    problem(server.post("/v1/certificates", headers=hdr(m), json={"attendee_id": a1}),
            403, "FORBIDDEN")
    # A certificate number is unique (the index backs it).
    assert db.count("certificates", f"certificate_number = '{cert['certificate_number']}'") == 1


def test_staff_issue_when_auto_issue_is_off(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    # A course valid two years, ending 2024-03-01 in London.
    s, (b1, _, _), (a1, a2, _) = completed_run(server, c, db, start=ms(2024, 3, 1), auto=False)
    assert certificates_of(server, admin, schedule_id=s["id"]) == []
    r = server.post("/v1/certificates", headers=hdr(admin), json={"attendee_id": a1})
    assert r.status_code == 201, r.text
    cert = r.json()
    assert cert["issue_date"] == "2024-03-01" and cert["expiry_date"] == "2027-03-01"
    assert db.count("audit_log", f"action = 'certificates.create' AND "
                    f"entity_id = '{cert['id']}'") == 1
    # Not before completion.
    s2 = course_schedule(server, c, start=72)
    b = booked(server, c["member"], s2)
    confirm(server, admin, b)
    (x,) = attendee_ids(server, admin, b)
    move(db, s2, ms(2026, 6, 1))
    assert mark(server, admin, x).status_code == 201
    problem(server.post("/v1/certificates", headers=hdr(admin), json={"attendee_id": x}),
            409, "SCHEDULE_NOT_COMPLETED")


def test_verification_revocation_expiry_and_no_disclosure(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    s, _, (a1, _, _) = completed_run(server, c, db)
    cert = certificates_of(server, admin, schedule_id=s["id"])[0]
    r = verify(server, cert["verification_token"])
    assert r.status_code == 200, r.text
    v = r.json()
    assert set(v) == VERIFY_KEYS
    assert v["holder_name"] == m["first_name"] and v["course"] == c["course"]["name"]
    assert v["status"] == "active" and v["issue_date"] == "2024-02-29"
    assert m["email"] not in r.text and m["id"] not in r.text
    problem(verify(server, "A" * 32), 404, "CERTIFICATE_NOT_FOUND")
    problem(verify(server, "not-a-token"), 404, "CERTIFICATE_NOT_FOUND")
    # Expired: the verification says so from the day after expiry; the
    # nightly job marks the row.
    db.execute(f"UPDATE certificates SET expiry_date = '2026-01-01' WHERE id = '{cert['id']}'")
    assert verify(server, cert["verification_token"]).json()["status"] == "expired"
    queue_job(db, "training.expire_certificates")
    wait_until(lambda: db.scalar(f"SELECT status FROM certificates WHERE id = "
                                 f"'{cert['id']}'") == "expired", timeout=15,
               what="certificate expired by the job")
    # Revoked at once, by staff only, with a reason.
    path = f"/v1/certificates/{cert['id']}/revoke"
    problem(server.post(path, headers=hdr(m), json={"reason": "x"}), 403, "FORBIDDEN")
    problem(server.post(path, headers=hdr(admin), json={}), 422, "VALIDATION_FAILED")
    r = server.post(path, headers=hdr(admin), json={"reason": "assessment irregularity"})
    assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
    v = verify(server, cert["verification_token"]).json()
    assert v["status"] == "revoked" and v["revoked_at"]
    assert "irregularity" not in str(v)
    problem(server.post(path, headers=hdr(admin), json={"reason": "again"}), 409,
            "INVALID_TRANSITION")


def test_nightly_job_expires_only_past_ones(server, catalogue, db):
    c = catalogue
    s, _, _ = completed_run(server, c, db)
    cert = certificates_of(server, c["admin"], schedule_id=s["id"])[0]
    queue_job(db, "training.expire_certificates")
    wait_until(lambda: db.count("jobs", "kind = 'training.expire_certificates'") == 0,
               timeout=15, what="the job ran")
    assert db.scalar(f"SELECT status FROM certificates WHERE id = '{cert['id']}'") == "active"
    assert db.count("job_schedules", "name = 'training.expire_certificates'") in (0, 1)


def test_erasure_hides_the_certificate_and_export_holds_it(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    s, _, (a1, _, _) = completed_run(server, c, db)
    cert = certificates_of(server, admin, schedule_id=s["id"])[0]
    doc = server.get("/v1/me/export", headers=hdr(m)).json()
    rec = doc["records"]
    assert [x["id"] for x in rec["certificates"]] == [cert["id"]]
    assert rec["certificates"][0]["holder_name"] == m["first_name"]
    assert {x["attendee_id"] for x in rec["attendance_records"]} >= {a1}
    r = server.post(f"/v1/users/{m['id']}/erase", headers=hdr(admin))
    assert r.status_code in (200, 204), r.text
    problem(verify(server, cert["verification_token"]), 404, "CERTIFICATE_NOT_FOUND")


def test_verification_is_throttled(server, catalogue, db):
    c = catalogue
    s, _, _ = completed_run(server, c, db)
    cert = certificates_of(server, c["admin"], schedule_id=s["id"])[0]
    seen = []
    for i in range(40):
        r = verify(server, f"{i:0>32}".replace("0", "Z"))
        seen.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
            break
    assert 429 in seen and set(seen) <= {404, 429}, seen
    # Throttled, even the right token tells nothing.
    problem(verify(server, cert["verification_token"]), 429, "RATE_LIMITED")


def test_requalification_needs_a_recent_certificate_of_its_family(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    requal = training_course(server, admin, name="EFAW Requalification",
                             course_type="requalification", duration_hours=6,
                             duration_days=1, requalifies="EFAW")
    rs = course_schedule(server, {**c, "course": requal}, start=200)
    problem(book_training(server, m, rs), 409, "REQUALIFICATION_NOT_ALLOWED")
    s, _, _ = completed_run(server, c, db)
    cert = certificates_of(server, admin, schedule_id=s["id"])[0]
    # Valid: books. Expired over a month ago: refused. Expired within the
    # month: books. Revoked: refused.
    r = book_training(server, m, rs)
    assert r.status_code == 201, r.text
    r = server.post(f"/v1/training-bookings/{r.json()['id']}/cancel", headers=hdr(m))
    assert r.status_code == 200, r.text
    today = datetime.date.today()
    long_ago = (today - datetime.timedelta(days=40)).isoformat()
    recent = (today - datetime.timedelta(days=20)).isoformat()
    db.execute(f"UPDATE certificates SET expiry_date = '{long_ago}', status = 'expired' "
               f"WHERE id = '{cert['id']}'")
    problem(book_training(server, m, rs), 409, "REQUALIFICATION_NOT_ALLOWED")
    db.execute(f"UPDATE certificates SET expiry_date = '{recent}' WHERE id = '{cert['id']}'")
    r = book_training(server, m, rs)
    assert r.status_code == 201, r.text
    server.post(f"/v1/training-bookings/{r.json()['id']}/cancel", headers=hdr(m))
    db.execute(f"UPDATE certificates SET status = 'revoked' WHERE id = '{cert['id']}'")
    problem(book_training(server, m, rs), 409, "REQUALIFICATION_NOT_ALLOWED")
    # Another family's certificate does not count.
    faw = training_course(server, admin, name="FAW Requalification",
                          course_type="requalification", duration_hours=12,
                          duration_days=2, requalifies="FAW")
    fs = course_schedule(server, {**c, "course": faw}, start=300, hours=30)
    db.execute(f"UPDATE certificates SET status = 'active', expiry_date = '2030-01-01' "
               f"WHERE id = '{cert['id']}'")
    problem(book_training(server, m, fs), 409, "REQUALIFICATION_NOT_ALLOWED")
    assert book_training(server, m, rs).status_code == 201


# --------------------------------------------------------------------------
# the certificate PDF: GET /v1/certificates/{id}/pdf (issue 17 item 3)

POLISH = "Zażółć Gęślą Jaźń"
GREEK = "Αλέξανδρος Παπαδόπουλος"
PUBLIC = "https://certs.example.org/"        # the trailing "/" is not doubled


def tools(*names):
    """Skip, saying why, unless every tool is installed (poppler-utils,
    zbar-tools: scripts/install-deps)."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/install-deps)")


def pdf_text(tmp_path, body, name="cert"):
    """pdftotext's text of the PDF bytes, blanks squeezed to one space."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(body)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode("utf-8").split())


def pdf_qr(tmp_path, body, name="cert"):
    """The QR code on the page, as zbarimg reads it from pdftoppm's 150 dpi PNG."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(body)
    subprocess.run(["pdftoppm", "-png", "-r", "150", str(path), str(tmp_path / name)],
                   capture_output=True, check=True)
    out = subprocess.run(["zbarimg", "--raw", "-q", str(tmp_path / f"{name}-1.png")],
                         capture_output=True, check=True)
    return out.stdout.decode().strip()


def png(width=40, height=20):
    """A small RGB PNG, written here (zlib) so as to depend on nothing."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    rows = b"".join(b"\0" + bytes([200, 30, 30]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def pdf_of(server, who, cert, **headers):
    return server.get(f"/v1/certificates/{cert['id']}/pdf", headers={**hdr(who), **headers})


@pytest.fixture
def printed(start_server, db):
    """A server whose public_url is PUBLIC, its catalogue, a trainer with a
    name, and a completed course (29 February 2024, London) whose two
    attendees, booked by the member, one named in Polish and one in Greek,
    were certified: (server, catalogue, {name: certificate})."""
    s = start_server(db=db, env={"CAREBASE_PUBLIC_URL": PUBLIC})
    c = make_catalogue(s)
    admin, m = c["admin"], c["member"]
    r = s.request("PATCH", f"/v1/users/{c['instructor']['id']}", headers=hdr(admin),
                  json={"first_name": "Grace", "last_name": "Ó Súilleabháin"})
    assert r.status_code == 200, r.text
    sched = course_schedule(s, c)
    b = booked(s, m, sched, attendees=[
        {"name": POLISH, "email": m["email"]},
        {"name": GREEK, "email": f"alexandros.{secrets.token_hex(3)}@example.org"}])
    confirm(s, admin, b)
    move(db, sched, ms(2024, 2, 29))
    for a in attendee_ids(s, admin, b):
        assert mark(s, admin, a).status_code == 201
    act(s, admin, sched, "start")
    act(s, admin, sched, "complete")
    certs = {x["holder_name"]: x for x in certificates_of(s, admin, schedule_id=sched["id"])}
    assert set(certs) == {POLISH, GREEK}
    return s, c, certs


def test_the_holder_and_staff_get_the_certificate_pdf(printed, db, tmp_path):
    """The booker (its holder) and staff get the PDF: every field read back
    by pdftotext (a Polish and a Greek name exactly), the QR code read by
    zbarimg from pdftoppm's PNG to the verification URL, which verifies;
    as an attachment named from the number, with an ETag (304 for it) and
    private caching; every PDF sent audited. Another learner, an
    instructor, an unknown id: 404 CERTIFICATE_NOT_FOUND."""
    tools("pdftotext", "pdftoppm", "zbarimg")
    s, c, certs = printed
    admin, m = c["admin"], c["member"]
    cert = certs[POLISH]
    r = pdf_of(s, m, cert)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    number = cert["certificate_number"]
    assert r.headers["Content-Disposition"] == (
        f'attachment; filename="certificate-{number}.pdf"')
    assert "private" in r.headers["Cache-Control"] and r.headers["ETag"].startswith('W/"')
    url = f"https://certs.example.org/v1/certificate-verifications/{cert['verification_token']}"
    text = pdf_text(tmp_path, r.content)
    for want in (POLISH, number, c["course"]["name"], "React Fast Training",
                 "Certificate of Competence",
                 "attended the course and was assessed as competent in",
                 "Course date: 29 February 2024 (6 hours of training)",
                 "This certificate is valid for 3 years from the date of issue.",
                 "Date of issue: 29 February 2024", "Expiry date: 28 February 2027",
                 "Trainer: Grace Ó Súilleabháin", f"Verify this certificate at {url}"):
        assert want in text, (want, text)
    assert GREEK not in text
    assert "accredit" not in text.lower() and "REVOKED" not in text
    assert pdf_qr(tmp_path, r.content) == url
    v = s.get(url.replace("https://certs.example.org", ""))
    assert v.status_code == 200 and v.json()["holder_name"] == POLISH

    # The Greek one, by staff, exactly.
    r = pdf_of(s, admin, certs[GREEK])
    assert r.status_code == 200, r.text
    text = pdf_text(tmp_path, r.content, "greek")
    assert GREEK in text and certs[GREEK]["certificate_number"] in text
    assert pdf_qr(tmp_path, r.content, "greek").endswith(certs[GREEK]["verification_token"])

    # Unchanged: 304 for its ETag, nothing sent.
    etag = pdf_of(s, m, cert).headers["ETag"]
    r = pdf_of(s, m, cert, **{"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["ETag"] == etag

    # Not the holder's, nor staff's: as if there were none.
    other = person(s, "other")
    for who in (other, c["instructor"]):
        problem(pdf_of(s, who, cert), 404, "CERTIFICATE_NOT_FOUND")
    problem(pdf_of(s, admin, {"id": str(uuid.uuid4())}), 404, "CERTIFICATE_NOT_FOUND")
    problem(pdf_of(s, admin, {"id": "not-an-id"}), 404, "CERTIFICATE_NOT_FOUND")
    problem(s.get(f"/v1/certificates/{cert['id']}/pdf"), 401, "UNAUTHORIZED")
    # Each PDF sent is audited, with who read it; a 304 or a 404 is not.
    refs = {who["id"]: db.scalar(f"SELECT audit_ref FROM users WHERE id = '{who['id']}'")
            for who in (m, admin)}
    sql = ("SELECT entity_id, actor_ref FROM audit_log WHERE action = "
           "'certificates.pdf.read' ORDER BY seq")
    # (written by the audit writer, within audit_flush_ms)
    wait_until(lambda: len(db.query(sql)) >= 3, timeout=5, what="the PDFs' audit rows")
    rows = db.query(sql)
    assert [tuple(x) for x in rows] == [(cert["id"], refs[m["id"]]),
                                        (certs[GREEK]["id"], refs[admin["id"]]),
                                        (cert["id"], refs[m["id"]])]


def test_the_pdf_follows_the_settings_and_revocation(printed, db, tmp_path):
    """No accreditation line until certificate_accreditation is set, then
    its text; the logo (certificate_logo_png, a PNG in base64, checked when
    set) drawn; each change a new ETag. Revoked: still served to its
    holder, saying REVOKED and when; its holder erased: 404."""
    tools("pdftotext", "pdfimages")
    s, c, certs = printed
    admin, m = c["admin"], c["member"]
    cert = certs[POLISH]
    first = pdf_of(s, m, cert)
    assert first.status_code == 200, first.text
    line = "Approved centre no. 12345 of Example Awards"
    set_setting(s, admin, "certificate_accreditation", line)
    set_setting(s, admin, "business_name", "Northern First Aid Ltd")
    r = pdf_of(s, m, cert, **{"If-None-Match": first.headers["ETag"]})
    assert r.status_code == 200 and r.headers["ETag"] != first.headers["ETag"]
    text = pdf_text(tmp_path, r.content)
    assert line in text and "Northern First Aid Ltd" in text
    assert "React Fast Training" not in text

    # A logo: only a PNG, in base64, is taken.
    for bad in ("not base64!", base64.b64encode(b"GIF89a not a png").decode(),
                base64.b64encode(png()[:30]).decode()):
        row = s.get("/v1/settings?key=certificate_logo_png", headers=hdr(admin)).json()["data"][0]
        problem(s.request("PATCH", f"/v1/settings/{row['id']}", headers=hdr(admin),
                          json={"value": bad}), 422, "VALIDATION_FAILED")
    set_setting(s, admin, "certificate_logo_png", base64.b64encode(png()).decode())
    r = pdf_of(s, m, cert)
    assert r.status_code == 200, r.text
    path = tmp_path / "logo.pdf"
    path.write_bytes(r.content)
    listed = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True,
                            check=True).stdout.decode()
    assert re.search(r"image\s+40\s+20\s+rgb", listed), listed

    # Revoked: still the holder's to read, marked so.
    before = r.headers["ETag"]
    r = s.post(f"/v1/certificates/{cert['id']}/revoke", headers=hdr(admin),
               json={"reason": "assessment irregularity"})
    assert r.status_code == 200, r.text
    today = datetime.datetime.now(ZoneInfo("Europe/London")).date()
    r = pdf_of(s, m, cert)
    assert r.status_code == 200 and r.headers["ETag"] != before
    text = pdf_text(tmp_path, r.content, "revoked")
    shown = f"{today.day} {today.strftime('%B')} {today.year}"
    assert f"REVOKED on {shown}: this certificate is not valid" in text, text
    assert POLISH in text and "irregularity" not in text

    # Erased: the name is gone, and so is the certificate.
    r = s.post(f"/v1/users/{m['id']}/erase", headers=hdr(admin))
    assert r.status_code in (200, 204), r.text
    problem(pdf_of(s, admin, certs[GREEK]), 404, "CERTIFICATE_NOT_FOUND")


# Wide capitals, two bytes each in UTF-8: a name made of them is wider than
# its place on the page at the smallest size the place allows.
GREEK_WIDE = "ΜΩ"
POLISH_WIDE = "ŃĆ"


def wide(letters, n):
    return (letters * n)[:n]


@pytest.mark.dialect
def test_names_too_long_for_the_page_are_shrunk_then_cut_at_a_character(
        start_server, db, tmp_path):
    """A trainer whose given and family names are the longest the accounts
    take (100 characters each) and a learner named with 200 characters (the most a booking takes),
    all Greek and Polish capitals of two bytes: the PDF is served (200, not
    409 CERTIFICATE_NOT_PRINTABLE), pdftotext reads it as well-formed UTF-8
    with each name's start, smaller and cut at a character with an
    ellipsis; the course's title, as long as a course's name may be, too."""
    tools("pdftotext")
    s = start_server(db=db, env={"CAREBASE_PUBLIC_URL": PUBLIC})
    c = make_catalogue(s)
    admin, m = c["admin"], c["member"]
    first, last = wide(GREEK_WIDE, 100), wide(POLISH_WIDE, 100)
    r = s.request("PATCH", f"/v1/users/{c['instructor']['id']}", headers=hdr(admin),
                  json={"first_name": first, "last_name": last})
    assert r.status_code == 200, r.text
    learner = wide("ΜŃ", 200)
    title = wide("ΑΒΓΔΕ ŁĄĘŚĆ ", 200)
    r = s.request("PATCH", f"/v1/training-courses/{c['course']['id']}", headers=hdr(admin),
                  json={"name": title})
    assert r.status_code == 200, r.text
    sched = course_schedule(s, c)
    b = booked(s, m, sched, attendees=[{"name": learner, "email": m["email"]}])
    confirm(s, admin, b)
    move(db, sched, ms(2024, 2, 29))
    for a in attendee_ids(s, admin, b):
        assert mark(s, admin, a).status_code == 201
    act(s, admin, sched, "start")
    act(s, admin, sched, "complete")
    (cert,) = certificates_of(s, admin, schedule_id=sched["id"])
    assert cert["holder_name"] == learner

    r = pdf_of(s, m, cert)
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"%PDF-")
    # pdf_text decodes strictly: a character cut in two would raise here.
    text = pdf_text(tmp_path, r.content, "long")
    assert learner[:40] in text, text
    assert f"Trainer: {first[:40]}" in text, text
    assert title.strip()[:40] in text, text
    assert "\N{HORIZONTAL ELLIPSIS}" in text and "\ufffd" not in text
    # The learner's 200 characters (the most a booking takes) fit once
    # shrunk; the trainer's line does not: cut, not drawn past the page.
    assert learner in text.replace(" ", "") and last not in text
    assert cert["certificate_number"] in text and "Certificate of Competence" in text


def test_the_uk_first_aid_statements(printed, db, tmp_path):
    """The HSE's annual refresher advice on every certificate that
    expires; the Health and Safety (First-Aid) Regulations 1981 claimed
    for a workplace course only once certificate_hse_statement is true
    (none by default); the EYFS line for paediatric courses only."""
    tools("pdftotext")
    s, c, certs = printed
    admin, m = c["admin"], c["member"]
    cert = certs[POLISH]

    def words(name):
        r = pdf_of(s, m, cert)
        assert r.status_code == 200, r.text
        return " ".join(pdf_text(tmp_path, r.content, name).split())

    text = words("plain")
    assert "The HSE recommends annual refresher training." in text
    assert "1981" not in text and "EYFS" not in text
    for key in ("certificate_hse_statement", "certificate_eyfs_statement"):
        r = s.post("/v1/settings", headers=hdr(admin), json={
            "key": key, "value": "true", "value_type": "boolean",
            "category": "certificates", "display_name": key})
        assert r.status_code == 201, r.text
    text = words("hse")
    assert ("This course meets the requirements of the Health and Safety (First-Aid) "
            "Regulations 1981.") in text, text
    assert "The HSE recommends annual refresher training." in text
    assert "EYFS" not in text                   # an EFAW course
