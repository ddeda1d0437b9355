"""Training rules a reviewer found bypassed (issue 17 review): no
certificate for a cancelled booking; requalification checked for every
attendee named; nothing before a schedule's start; attendance locked once
the schedule completed. Runs on SQLite and PostgreSQL."""

from conftest import hdr, person, problem
from training_helpers import book_training, booked, course_schedule, training_course
from test_training_certificates import (act, attendee_ids, certificates_of, completed_run,
                                        confirm, mark, ms, move)


def test_a_cancelled_booking_earns_no_certificate(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    s = course_schedule(server, c)
    b = booked(server, c["member"], s)
    confirm(server, admin, b)
    (a,) = attendee_ids(server, admin, b)
    move(db, s, ms(2024, 2, 29))
    assert mark(server, admin, a).status_code == 201
    r = server.post(f"/v1/training-bookings/{b['id']}/cancel", headers=hdr(admin))
    assert r.status_code == 200, r.text
    act(server, admin, s, "start")
    act(server, admin, s, "complete")
    assert certificates_of(server, admin, schedule_id=s["id"]) == []
    problem(server.post("/v1/certificates", headers=hdr(admin), json={"attendee_id": a}),
            409, "BOOKING_NOT_COMPLETED")
    assert certificates_of(server, admin, schedule_id=s["id"]) == []


def requal_schedule(server, c, start=200):
    requal = training_course(server, c["admin"], name="EFAW Requalification",
                             course_type="requalification", duration_hours=6,
                             duration_days=1, requalifies="EFAW")
    return course_schedule(server, {**c, "course": requal}, start=start)


def test_requalification_is_checked_for_every_attendee(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    rs = requal_schedule(server, c)
    # member's booking certifies member (a1) only; a2 was absent.
    s, _, (a1, a2, _) = completed_run(server, c, db)
    assert [x["attendee_id"] for x in certificates_of(server, admin, schedule_id=s["id"])] \
        == [a1]
    # The holder cannot bring four uncertified guests along.
    r = book_training(server, m, rs, 5)
    problem(r, 409, "REQUALIFICATION_NOT_ALLOWED")
    assert [e["field"] for e in r.json()["errors"]] == ["attendees[1]"]
    # Nor book for someone else alone.
    other = {"name": "Guest", "email": "someone.else@example.org"}
    r = book_training(server, m, rs, attendees=[other])
    problem(r, 409, "REQUALIFICATION_NOT_ALLOWED")
    assert [e["field"] for e in r.json()["errors"]] == ["attendees[0]"]
    # For themselves: yes.
    r = book_training(server, m, rs)
    assert r.status_code == 201, r.text


def test_one_certified_on_an_employers_booking_requalifies_on_their_own(
        server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    rs = requal_schedule(server, c)
    employer = person(server, "employer")
    worker = person(server, "worker")
    s = course_schedule(server, c)
    b = booked(server, employer, s, attendees=[
        {"name": "Worker", "email": worker["email"].upper()}])
    confirm(server, admin, b)
    (a,) = attendee_ids(server, admin, b)
    move(db, s, ms(2026, 1, 5))
    assert mark(server, admin, a).status_code == 201
    act(server, admin, s, "start")
    act(server, admin, s, "complete")
    assert len(certificates_of(server, admin, schedule_id=s["id"])) == 1
    # The employer (no certificate of their own) books for the worker; the
    # worker books for themselves; the employer not for themselves.
    problem(book_training(server, employer, rs), 409, "REQUALIFICATION_NOT_ALLOWED")
    r = book_training(server, worker, rs)
    assert r.status_code == 201, r.text
    r = book_training(server, employer, rs, attendees=[
        {"name": "Worker", "email": worker["email"]}])
    assert r.status_code == 201, r.text


def test_nothing_is_started_or_completed_before_the_schedule_starts(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    s = course_schedule(server, c)          # starts in 2031
    b = booked(server, c["member"], s)
    confirm(server, admin, b)
    path = f"/v1/course-schedules/{s['id']}"
    problem(server.post(f"{path}/start", headers=hdr(admin)), 409, "SCHEDULE_NOT_STARTED")
    # Even one marked in progress early (as before this rule) is not.
    db.execute(f"UPDATE course_schedules SET status = 'in_progress' WHERE id = '{s['id']}'")
    for verb in ("complete", "no_show"):
        problem(server.post(f"/v1/training-bookings/{b['id']}/{verb}", headers=hdr(admin)),
                409, "SCHEDULE_NOT_STARTED")
    problem(server.post(f"{path}/complete", headers=hdr(admin)), 409, "SCHEDULE_NOT_STARTED")
    r = server.get(f"/v1/training-bookings/{b['id']}", headers=hdr(admin)).json()
    assert r["status"] == "confirmed"
    # From its start: yes.
    move(db, s, ms(2026, 1, 5))
    r = server.post(f"{path}/complete", headers=hdr(admin))
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text


def patch_record(server, who, rid, **fields):
    return server.request("PATCH", f"/v1/attendance-records/{rid}", headers=hdr(who),
                          json=fields)


def records_of(server, admin, s):
    r = server.get(f"/v1/attendance-records?schedule_id={s['id']}", headers=hdr(admin))
    assert r.status_code == 200, r.text
    return {x["attendee_id"]: x for x in r.json()["data"]}


def test_attendance_is_locked_once_the_schedule_completed(server, catalogue, db):
    c = catalogue
    admin, trainer = c["admin"], c["instructor"]
    # a1 present and certified; a2 absent; a3 (member2's booking) absent:
    # no_show.
    s, (b1, b2, _), (a1, a2, a3) = completed_run(server, c, db)
    recs = records_of(server, admin, s)
    # The trainer changes nothing once completed.
    problem(patch_record(server, trainer, recs[a3]["id"], status="present"), 409,
            "ATTENDANCE_LOCKED")
    problem(patch_record(server, trainer, recs[a2]["id"], status="present"), 409,
            "ATTENDANCE_LOCKED")
    # Staff do not unmark a certified attendee: the certificate first.
    problem(patch_record(server, admin, recs[a1]["id"], status="absent"), 409,
            "CERTIFICATE_EXISTS")
    (cert,) = certificates_of(server, admin, schedule_id=s["id"])
    assert cert["status"] == "active"
    # Staff correct the no_show attendee's record; the booking stays
    # no_show and earns no certificate.
    r = patch_record(server, admin, recs[a3]["id"], status="present")
    assert r.status_code == 200, r.text
    problem(server.post("/v1/certificates", headers=hdr(admin), json={"attendee_id": a3}),
            409, "BOOKING_NOT_COMPLETED")
    # Revoked, staff may correct it.
    r = server.post(f"/v1/certificates/{cert['id']}/revoke", headers=hdr(admin),
                    json={"reason": "marked in error"})
    assert r.status_code == 200, r.text
    r = patch_record(server, admin, recs[a1]["id"], status="absent")
    assert r.status_code == 200 and r.json()["certificate_eligible"] is False, r.text


def test_no_new_record_by_the_trainer_after_completion(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    s = course_schedule(server, c)
    b = booked(server, c["member"], s, 2)
    confirm(server, admin, b)
    a1, a2 = attendee_ids(server, admin, b)
    move(db, s, ms(2026, 1, 5))
    assert mark(server, admin, a1).status_code == 201
    act(server, admin, s, "start")
    act(server, admin, s, "complete")
    problem(mark(server, c["instructor"], a2), 409, "ATTENDANCE_LOCKED")


def test_check_in_and_out_are_in_order_and_near_the_schedule(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    s = course_schedule(server, c)
    b = booked(server, c["member"], s, 2)
    confirm(server, admin, b)
    a1, a2 = attendee_ids(server, admin, b)
    move(db, s, ms(2026, 1, 5))              # 09:00 to 16:00 UTC
    # Years early: no late attendee made eligible by it.
    r = mark(server, admin, a1, "late", check_in_time="2020-01-05T09:00:00.000Z")
    err = problem(r, 422, "VALIDATION_FAILED")
    assert err["errors"][0]["field"] == "check_in_time"
    r = mark(server, admin, a1, check_in_time="2026-01-05T09:00:00.000Z",
             check_out_time="2026-01-05T08:00:00.000Z")
    err = problem(r, 422, "VALIDATION_FAILED")
    assert err["errors"][0]["field"] == "check_out_time"
    problem(mark(server, admin, a1, check_out_time="2026-01-07T16:00:01.000Z"), 422,
            "VALIDATION_FAILED")
    # Within a day either side, in order: yes; a PATCH is held to it too.
    r = mark(server, admin, a1, check_in_time="2026-01-04T09:00:00.000Z",
             check_out_time="2026-01-06T16:00:00.000Z")
    assert r.status_code == 201, r.text
    problem(patch_record(server, admin, r.json()["id"],
                         check_out_time="2026-01-04T08:00:00.000Z"),
            422, "VALIDATION_FAILED")
    assert mark(server, admin, a2, "absent").status_code == 201


def setting_row(server, admin, key):
    r = server.get(f"/v1/settings?key={key}", headers=hdr(admin))
    assert r.status_code == 200 and r.json()["data"], r.text
    return r.json()["data"][0]


def test_built_in_settings_keep_their_rules_and_numbers_are_decimal(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    row = setting_row(server, admin, "booking_buffer_days")
    path = f"/v1/settings/{row['id']}"
    for rules in ({}, None, {"integer": True, "min": -10000, "max": 365}):
        err = problem(server.request("PATCH", path, headers=hdr(admin),
                                     json={"validation_rules": rules}),
                      422, "VALIDATION_FAILED")
        assert err["errors"][0]["field"] == "validation_rules"
    # The same rules again change nothing: fine.
    r = server.request("PATCH", path, headers=hdr(admin),
                       json={"validation_rules": row["validation_rules"]})
    assert r.status_code == 200, r.text
    for bad in ("-5000", "0x10", "1e1", "2.0", " 3", "inf", "nan", "3."):
        problem(server.request("PATCH", path, headers=hdr(admin), json={"value": bad}),
                422, "VALIDATION_FAILED")
    assert server.request("PATCH", path, headers=hdr(admin),
                          json={"value": "3"}).status_code == 200
    # A setting of the admins' own keeps rules they change.
    body = {"key": "t17j_rate", "value": "2.5", "value_type": "number",
            "category": "payment", "display_name": "A rate",
            "validation_rules": {"min": 0}}
    r = server.post("/v1/settings", headers=hdr(admin), json=body)
    assert r.status_code == 201, r.text
    r = server.request("PATCH", f"/v1/settings/{r.json()['id']}", headers=hdr(admin),
                       json={"validation_rules": {"min": 1}})
    assert r.status_code == 200, r.text


def test_reads_of_the_booking_rules_keep_to_sane_bounds(server, catalogue, db):
    c = catalogue
    s = course_schedule(server, c)        # 2031: over four years ahead
    # A row out of its bounds (written before its rules held): read as 365.
    db.execute("UPDATE settings SET value = '5000' WHERE key = 'booking_buffer_days'")
    db.execute("UPDATE settings_epoch SET epoch = epoch + 1 WHERE id = 1")
    r = book_training(server, c["member"], s)
    assert r.status_code == 201, r.text
