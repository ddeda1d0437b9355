"""Training bookings (issue 16 part 1b): a booking is a hold of one seat per
named attendee until it is paid (through Stripe: test_training_payments.py;
or offline: staff's confirm action) or its hold expires; free seats are
capacity less confirmed seats and live holds (bookings' and inquiries'), counted under
the schedule's lock; the price is the server's, less a discount code whose
uses are counted in the booking's transaction; status and payment_status
move only through actions. Learners list and cancel their own, staff see
every booking of a schedule with its attendees, trainers those of the
schedules they teach; a person's bookings are in their export and erased
with them. Runs on SQLite and PostgreSQL.

The two race tests (the last seats; a code's usage limit) show that the
50 requests really ran interleaved in the two carebase processes (their
own request log: training_helpers.calls_in_flight), so the guard kept them
apart, and each has a control that shows what that interleaving does
without the guard: the same check-then-write straight on the database
from 50 connections, without the schedule's lock or the conditional
update, oversells (conftest.direct_race). The SQL is the honest control:
carebase has no switch that turns a guard off, and must not have one, not
even in test builds (a switch in the binary is a switch in production);
the control runs the guard's statements less the lock, not a model of
carebase."""

import datetime
import time
import uuid

import pytest

from conftest import at, direct_race, hdr, person, problem, queue_job, race
from training_helpers import (attendees_of, book_training, booked, calls_in_flight,
                              course_schedule, discount_code, expire_hold, free_seats,
                              migrate_down_through, now_ms, read_booking, TRAINING_REF)

MISSING = "01a20000-0000-7000-8000-000000000000"


def ms(iso):
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def act(server, who, booking, verb):
    return server.post(f"/v1/training-bookings/{booking['id']}/{verb}", headers=hdr(who))


def usage(db, code):
    return int(db.scalar(f"SELECT usage_count FROM discount_codes WHERE id = '{code['id']}'"))


def test_schema_and_the_roles_permissions(server, db):
    tables = set(db.tables())
    assert {"training_bookings", "training_booking_attendees", "booking_inquiries",
            "discount_codes"} <= tables
    for role, perm in (("admin", "training_bookings:confirm:all"),
                       ("admin", "discount_codes:create:all"),
                       ("member", "training_bookings:create:own"),
                       ("member", "training_bookings:cancel:own"),
                       ("instructor", "training_bookings:read:related")):
        assert db.count("role_permissions", f"role = '{role}' AND permission = '{perm}'") == 1
    # The booker confirms their own booking when it costs nothing; staff any.
    assert db.count("role_permissions", "role = 'member' AND permission = "
                    "'training_bookings:confirm:own'") == 1
    assert db.count("role_permissions", "role = 'member' AND (permission LIKE "
                    "'training_bookings:%:all' OR permission LIKE 'discount_codes:%')") == 0


def test_a_booking_is_a_hold_of_named_seats_priced_by_the_server(server, catalogue, db):
    c = catalogue
    s = course_schedule(server, c)
    assert free_seats(server, s, c["admin"]) == 10
    before = now_ms()
    b = booked(server, c["member"], s, 2)
    assert b["status"] == "pending" and b["payment_status"] == "pending"
    assert b["seats"] == 2 and b["unit_price_minor"] == 7500
    assert b["subtotal_minor"] == 15000 and b["discount_minor"] == 0
    assert b["total_minor"] == 15000 and b["currency"] == "GBP"
    assert b["user_id"] == c["member"]["id"]
    assert TRAINING_REF.match(b["booking_reference"]), b["booking_reference"]
    # Held for training_hold_minutes (30).
    hold = ms(b["hold_expires_at"])
    assert before + 29 * 60000 < hold <= now_ms() + 30 * 60000
    assert [a["name"] for a in b["attendees"]] == ["Member", "Guest 1"]
    assert [a["position"] for a in b["attendees"]] == [1, 2]
    assert free_seats(server, s, c["admin"]) == 8
    # The public sees the seats go too.
    r = server.get(f"/v1/course-schedules/{s['id']}")
    assert r.status_code == 200 and r.json()["free_seats"] == 8
    # Attendees are sealed at rest; references differ and look random.
    raw = db.raw()
    assert b"Guest 1" not in raw and b["attendees"][1]["email"].encode() not in raw
    refs = {b["booking_reference"]}
    for i in range(3):
        refs.add(booked(server, person(server, f"other{i}"), s)["booking_reference"])
    assert len(refs) == 4 and all(TRAINING_REF.match(x) for x in refs)
    assert db.count("audit_log", f"action = 'training_bookings.create' AND "
                    f"entity_id = '{b['id']}'") == 1


@pytest.mark.parametrize("extra", [{"total_minor": 1}, {"price": 100}, {"unit_price_minor": 1},
                                   {"discount_minor": 7500}, {"seats": 1},
                                   {"status": "confirmed"}, {"payment_status": "paid"},
                                   {"booking_reference": "ABCDEFGHJK"}])
def test_a_price_or_state_sent_by_the_client_is_refused(server, catalogue, db, extra):
    c = catalogue
    s = course_schedule(server, c)
    r = book_training(server, c["member"], s, **extra)
    err = problem(r, 422, "VALIDATION_FAILED")
    assert [e["field"] for e in err["errors"]] == list(extra), err
    assert db.count("training_bookings") == 0
    assert free_seats(server, s, c["admin"]) == 10


def test_attendees_are_named_people_one_seat_each(server, catalogue, db):
    c = catalogue
    m = c["member"]
    s = course_schedule(server, c)
    cases = [
        ([], "attendees", "count"),
        (attendees_of(m, 13), "attendees", "count"),
        ("two", "attendees", "required"),
        ([{"name": "Ann"}], "attendees[0].email", "invalid_format"),
        ([{"name": " ", "email": "a@example.org"}], "attendees[0].name", "invalid"),
        # 200 characters at most, counted as characters (201 ASCII
        # letters were taken: the bound was 800 bytes).
        ([{"name": "A" * 201, "email": "a@example.org"}], "attendees[0].name", "invalid"),
        ([{"name": "A", "email": "a@example.org"}, {"name": "B", "email": "A@example.org"}],
         "attendees[1].email", "duplicate"),
        ([{"name": "A", "email": "a@example.org", "seats": 3}], "attendees[0].seats",
         "unknown"),
    ]
    for attendees, field, code in cases:
        err = problem(book_training(server, m, s, attendees=attendees), 422,
                      "VALIDATION_FAILED")
        assert {"field": field, "code": code} in [
            {"field": e["field"], "code": e["code"]} for e in err["errors"]], (attendees, err)
    body = {"schedule_id": s["id"]}
    r = server.post("/v1/training-bookings", headers=hdr(m), json=body)
    problem(r, 422, "VALIDATION_FAILED")
    assert db.count("training_bookings") == 0
    # Twelve people are twelve seats, on a schedule that has them.
    big = course_schedule(server, c, 24, capacity=10)
    problem(book_training(server, m, big, 11), 409, "SCHEDULE_FULL")
    assert booked(server, m, big, 10)["seats"] == 10


def test_one_live_booking_a_person_a_schedule(server, catalogue, db):
    c = catalogue
    m = c["member"]
    s = course_schedule(server, c)
    b = booked(server, m, s)
    err = problem(book_training(server, m, s), 409, "ALREADY_BOOKED")
    assert err["errors"][0]["field"] == "schedule_id"
    assert db.count("training_bookings") == 1
    # Another schedule is fine; once cancelled, the same one again too.
    booked(server, m, course_schedule(server, c, 24))
    assert act(server, m, b, "cancel").status_code == 200
    assert booked(server, m, s)["status"] == "pending"
    # The database backs the rule up.
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        db.execute(f"UPDATE training_bookings SET status = 'pending' WHERE id = '{b['id']}'")


def test_a_full_schedule_refuses_and_changes_nothing(server, catalogue, db):
    c = catalogue
    s = course_schedule(server, c, capacity=3)
    booked(server, c["member"], s, 2)
    other = person(server, "other")
    err = problem(book_training(server, other, s, 2), 409, "SCHEDULE_FULL")
    assert err["free_seats"] == 1
    assert db.count("training_bookings") == 1
    assert db.count("training_booking_attendees") == 2
    assert booked(server, other, s, 1)["seats"] == 1
    problem(book_training(server, person(server, "third"), s), 409, "SCHEDULE_FULL")
    # Not bookable: cancelled, or started.
    gone = course_schedule(server, c, 48)
    assert server.post(f"/v1/course-schedules/{gone['id']}/cancel",
                       headers=hdr(c["admin"])).status_code == 200
    problem(book_training(server, other, gone), 409, "SCHEDULE_NOT_BOOKABLE")
    problem(server.post("/v1/training-bookings", headers=hdr(other),
                        json={"schedule_id": MISSING, "attendees": attendees_of(other)}),
            422, "VALIDATION_FAILED")


def test_a_capacity_never_falls_below_the_seats_taken(server, catalogue):
    c = catalogue
    s = course_schedule(server, c, capacity=6)
    booked(server, c["member"], s, 4)
    err = problem(server.request("PATCH", f"/v1/course-schedules/{s['id']}",
                                 headers=hdr(c["admin"]), json={"capacity": 3}),
                  409, "SCHEDULE_CAPACITY_EXCEEDED")
    assert err["errors"][0]["code"] == "below_booked"
    r = server.request("PATCH", f"/v1/course-schedules/{s['id']}", headers=hdr(c["admin"]),
                       json={"capacity": 4})
    assert r.status_code == 200 and r.json()["free_seats"] == 0


@pytest.mark.serial
def test_seats_are_counted_by_the_application_clock_to_the_millisecond(server, catalogue, db):
    """A hold set to end 1 ms into a second (the application's clock, in
    ms) no longer counts once that moment has passed, though the database's
    clock in whole seconds (unixepoch()) still reads the second before: a
    capacity may then be lowered below it. Timing-bound (serial): an attempt
    whose request did not fall wholly inside that second is made again."""
    c = catalogue
    for attempt in range(6):
        s = course_schedule(server, c, 24 * attempt, capacity=2)
        b = booked(server, c["member"], s, 1)
        r = server.post("/v1/booking-inquiries", headers=hdr(c["member"]), json={
            "schedule_id": s["id"], "first_name": "Mem", "last_name": "Ber",
            "email": c["member"]["email"], "number_of_people": 1})
        assert r.status_code == 201, r.text
        inq = r.json()
        # Both holds ahead: both count.
        problem(server.request("PATCH", f"/v1/course-schedules/{s['id']}",
                               headers=hdr(c["admin"]), json={"capacity": 1}),
                409, "SCHEDULE_CAPACITY_EXCEEDED")
        second = now_ms() // 1000 + 2
        end = second * 1000 + 1
        db.execute(f"UPDATE training_bookings SET hold_expires_at = {end} "
                   f"WHERE id = '{b['id']}'; UPDATE booking_inquiries SET "
                   f"hold_expires_at = {end} WHERE id = '{inq['id']}'")
        while now_ms() < end + 50:
            time.sleep(0.005)
        t0 = now_ms()
        r = server.request("PATCH", f"/v1/course-schedules/{s['id']}",
                           headers=hdr(c["admin"]), json={"capacity": 1})
        t1 = now_ms()
        if t0 > end and t1 < (second + 1) * 1000:
            break                       # wholly inside the second: it counts
    else:
        pytest.fail("no request fell inside the second after the holds ended")
    assert r.status_code == 200, r.text
    assert r.json()["capacity"] == 1


def test_an_expired_hold_frees_its_seats(server, catalogue, db):
    c = catalogue
    s = course_schedule(server, c, capacity=2)
    a = booked(server, c["member"], s, 2)
    other = person(server, "other")
    problem(book_training(server, other, s), 409, "SCHEDULE_FULL")
    expire_hold(db, "training_bookings", a["id"])
    # Past its time the hold no longer counts...
    assert free_seats(server, s, c["admin"]) == 2
    problem(act(server, c["admin"], a, "confirm"), 409, "HOLD_EXPIRED")
    assert read_booking(server, c["admin"], a)["status"] == "pending"
    # ...and the next booking of the schedule ends it first.
    b = booked(server, other, s, 2)
    assert b["status"] == "pending"
    gone = read_booking(server, c["admin"], a)
    assert gone["status"] == "cancelled" and gone["cancel_reason"] == "hold_expired"


def test_the_recurring_job_expires_holds_and_gives_codes_back(server, catalogue, db):
    c = catalogue
    code = discount_code(server, c["admin"], usage_limit=5)
    s = course_schedule(server, c)
    b = booked(server, c["member"], s, 3, discount_code=code["code"])
    inq = server.post("/v1/booking-inquiries", headers=hdr(c["member"]), json={
        "schedule_id": s["id"], "first_name": "Mem", "last_name": "Ber",
        "email": c["member"]["email"], "number_of_people": 2})
    assert inq.status_code == 201, inq.text
    assert usage(db, code) == 1 and free_seats(server, s, c["admin"]) == 5
    wait = 0
    while db.count("job_schedules", "name = 'training.expire_holds'") == 0 and wait < 100:
        time.sleep(0.1)
        wait += 1
    assert db.scalar("SELECT cron FROM job_schedules WHERE name = "
                     "'training.expire_holds'") == "* * * * *"
    expire_hold(db, "training_bookings", b["id"])
    expire_hold(db, "booking_inquiries", inq.json()["id"])
    queue_job(db, "training.expire_holds")
    deadline = time.monotonic() + 15
    while read_booking(server, c["admin"], b)["status"] == "pending":
        assert time.monotonic() < deadline, "the hold was not expired"
        time.sleep(0.1)
    gone = read_booking(server, c["admin"], b)
    assert gone["cancel_reason"] == "hold_expired" and gone["discount_released_at"]
    assert usage(db, code) == 0
    assert db.scalar(f"SELECT status FROM booking_inquiries WHERE id = "
                     f"'{inq.json()['id']}'") == "expired"
    assert free_seats(server, s, c["admin"]) == 10
    assert db.count("failed_jobs", "kind = 'training.expire_holds'") == 0


def test_status_and_payment_move_only_through_actions(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    s = course_schedule(server, c)
    b = booked(server, m, s)
    path = f"/v1/training-bookings/{b['id']}"
    for member in ({"status": "confirmed"}, {"payment_status": "paid"},
                   {"total_minor": 0}, {"seats": 4}):
        for who in (admin, m):
            problem(server.request("PATCH", path, headers=hdr(who), json=member),
                    422, "VALIDATION_FAILED")
    r = server.request("PATCH", path, headers=hdr(m), json={"notes": "vegetarian lunch"})
    assert r.status_code == 200 and r.json()["notes"] == "vegetarian lunch"
    # Confirm is the offline payment path: staff only, but for a booking
    # that costs nothing (test_training_payments.py).
    problem(act(server, m, b, "confirm"), 409, "PAYMENT_REQUIRED")
    problem(act(server, c["instructor"], b, "confirm"), 403, "FORBIDDEN")
    r = act(server, admin, b, "confirm")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "confirmed" and done["payment_status"] == "paid"
    assert done["hold_expires_at"] is None and done["confirmed_at"]
    problem(act(server, admin, b, "confirm"), 409, "INVALID_TRANSITION")
    # Confirmed seats stay taken whatever the clock says.
    assert free_seats(server, s, admin) == 9
    # Attendance once the schedule has started.
    problem(act(server, admin, b, "complete"), 409, "SCHEDULE_NOT_STARTED")
    problem(act(server, m, b, "complete"), 403, "FORBIDDEN")
    # Others do not cancel it; its booker's cancel of a confirmed booking goes
    # by the cancellation policy (test_training_refunds.py).
    problem(act(server, c["instructor"], b, "cancel"), 403, "FORBIDDEN")
    db.execute(f"UPDATE course_schedules SET status = 'in_progress' WHERE id = '{s['id']}'")
    # Started early is not started: from its start only.
    problem(act(server, admin, b, "complete"), 409, "SCHEDULE_NOT_STARTED")
    db.execute(f"UPDATE course_schedules SET start_time = start_time - 189216000000, "
               f"end_time = end_time - 189216000000 WHERE id = '{s['id']}'")
    r = act(server, admin, b, "complete")
    assert r.status_code == 200 and r.json()["status"] == "completed"
    problem(act(server, admin, b, "no_show"), 409, "INVALID_TRANSITION")
    problem(server.request("PATCH", path, headers=hdr(m), json={"notes": "x"}),
            409, "BOOKING_CLOSED")
    for verb in ("confirm", "complete"):
        assert db.count("audit_log", f"action = 'training_bookings.{verb}' AND "
                        f"entity_id = '{b['id']}'") == 1
    problem(server.post(f"/v1/training-bookings/{MISSING}/confirm", headers=hdr(admin)),
            404, "NOT_FOUND")


def test_learners_list_and_cancel_their_own_pending_bookings(server, catalogue, db):
    c = catalogue
    m = c["member"]
    other = person(server, "other")
    s = course_schedule(server, c)
    mine = booked(server, m, s, 2)
    theirs = booked(server, other, s)
    r = server.get("/v1/me/training-bookings", headers=hdr(m))
    assert r.status_code == 200
    assert [x["id"] for x in r.json()["data"]] == [mine["id"]]
    r = server.get("/v1/training-bookings", headers=hdr(m))
    assert [x["id"] for x in r.json()["data"]] == [mine["id"]]
    assert server.get(f"/v1/training-bookings/{theirs['id']}",
                      headers=hdr(m)).status_code == 404
    problem(act(server, m, theirs, "cancel"), 404, "NOT_FOUND")
    assert read_booking(server, c["admin"], theirs)["status"] == "pending"
    r = act(server, m, mine, "cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["cancel_reason"] == "booker"
    assert free_seats(server, s, c["admin"]) == 9
    # One spelling across the API; "canceled" is still read until the
    # release after 2026-12 (README, Deprecated).
    for spelt in ("cancelled", "canceled"):
        r = server.get(f"/v1/training-bookings?status={spelt}", headers=hdr(m))
        assert r.status_code == 200, r.text
        assert [(x["id"], x["status"]) for x in r.json()["data"]] == \
            [(mine["id"], "cancelled")]
    problem(act(server, m, mine, "cancel"), 409, "INVALID_TRANSITION")
    # Staff cancel a confirmed one paid offline: it stays paid (refunded offline).
    assert act(server, c["admin"], theirs, "confirm").status_code == 200
    r = act(server, c["admin"], theirs, "cancel")
    assert r.json()["status"] == "cancelled" and r.json()["cancel_reason"] == "staff"
    assert r.json()["payment_status"] == "paid"


def test_staff_and_trainers_see_a_schedules_bookings_with_attendees(server, catalogue):
    c = catalogue
    s = course_schedule(server, c)
    b1 = booked(server, c["member"], s, 2, notes="needs step-free access")
    b2 = booked(server, person(server, "other"), s, 1)
    r = server.get(f"/v1/course-schedules/{s['id']}/bookings", headers=hdr(c["admin"]))
    assert r.status_code == 200, r.text
    rows = {x["id"]: x for x in r.json()["data"]}
    assert set(rows) == {b1["id"], b2["id"]}
    assert [a["name"] for a in rows[b1["id"]]["attendees"]] == ["Member", "Guest 1"]
    assert rows[b1["id"]]["total_minor"] == 15000
    assert rows[b1["id"]]["notes"] == "needs step-free access"
    # The schedule's trainer: the people, not the money or the notes.
    r = server.get(f"/v1/course-schedules/{s['id']}/bookings", headers=hdr(c["instructor"]))
    assert r.status_code == 200, r.text
    rows = {x["id"]: x for x in r.json()["data"]}
    assert set(rows) == {b1["id"], b2["id"]}
    assert len(rows[b1["id"]]["attendees"]) == 2
    assert "total_minor" not in rows[b1["id"]] and "notes" not in rows[b1["id"]]
    assert read_booking(server, c["instructor"], b2)["seats"] == 1
    # Another trainer sees none of them.
    r = server.get(f"/v1/course-schedules/{s['id']}/bookings", headers=hdr(c["instructor2"]))
    assert r.status_code == 200 and r.json()["data"] == []
    assert server.get(f"/v1/training-bookings/{b1['id']}",
                      headers=hdr(c["instructor2"])).status_code == 404
    # A learner sees their own only.
    r = server.get(f"/v1/course-schedules/{s['id']}/bookings", headers=hdr(c["member"]))
    assert [x["id"] for x in r.json()["data"]] == [b1["id"]]
    problem(server.get(f"/v1/course-schedules/{MISSING}/bookings", headers=hdr(c["admin"])),
            404, "NOT_FOUND")


def test_a_cancelled_schedule_cancels_its_bookings(server, catalogue, db):
    c = catalogue
    code = discount_code(server, c["admin"])
    s = course_schedule(server, c)
    unpaid = booked(server, c["member"], s, 1, discount_code=code["code"])
    paid = booked(server, person(server, "other"), s, 2)
    assert act(server, c["admin"], paid, "confirm").status_code == 200
    inq = server.post("/v1/booking-inquiries", headers=hdr(c["instructor"]), json={
        "schedule_id": s["id"], "first_name": "I", "last_name": "N",
        "email": "in@example.org", "number_of_people": 1})
    assert usage(db, code) == 1
    r = server.post(f"/v1/course-schedules/{s['id']}/cancel", headers=hdr(c["admin"]))
    assert r.status_code == 200, r.text
    for b in (unpaid, paid):
        row = read_booking(server, c["admin"], b)
        assert row["status"] == "cancelled"
        assert row["cancel_reason"] == "schedule_cancelled"
    # The unpaid one's code is given back; the paid one awaits its refund.
    assert usage(db, code) == 0
    assert read_booking(server, c["admin"], paid)["payment_status"] == "paid"
    if inq.status_code == 201:
        assert db.scalar(f"SELECT status FROM booking_inquiries WHERE id = "
                         f"'{inq.json()['id']}'") == "expired"
    assert db.count("audit_log", "action = 'training_bookings.schedule_cancel'") == 2


def test_discount_codes_are_staff_written_and_checked(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    problem(server.post("/v1/discount-codes", headers=hdr(c["member"]),
                        json={"code": "FREE", "discount_type": "fixed",
                              "discount_value": 1}), 403, "FORBIDDEN")
    code = discount_code(server, admin, code=" spring-10 ")
    assert code["code"] == "SPRING-10" and code["usage_count"] == 0
    r = server.post("/v1/discount-codes", headers=hdr(admin),
                    json={"code": "Spring-10", "discount_type": "fixed", "discount_value": 5})
    problem(r, 409, "DISCOUNT_CODE_TAKEN")
    for body, field in (({"discount_value": 150}, "discount_value"),
                        ({"code": "no spaces"}, "code"),
                        ({"valid_from": at(5), "valid_until": at(1)}, "valid_until"),
                        ({"usage_count": 3}, "usage_count")):
        full = {"code": "X-" + uuid.uuid4().hex[:6], "discount_type": "percentage",
                "discount_value": 10}
        full.update(body)
        err = problem(server.post("/v1/discount-codes", headers=hdr(admin), json=full),
                      422, "VALIDATION_FAILED")
        assert err["errors"][0]["field"] == field, err
    r = server.request("PATCH", f"/v1/discount-codes/{code['id']}", headers=hdr(admin),
                       json={"usage_count": 0})
    problem(r, 422, "VALIDATION_FAILED")


def test_the_discount_is_taken_off_on_the_server(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    s = course_schedule(server, c)
    pct = discount_code(server, admin, discount_value=15)
    b = booked(server, c["member"], s, 3, discount_code=pct["code"].lower())
    # 3 x 75.00 = 225.00, less 15% = 33.75.
    assert (b["subtotal_minor"], b["discount_minor"], b["total_minor"]) == (22500, 3375, 19125)
    assert b["discount_code"] == pct["code"] and b["discount_code_id"] == pct["id"]
    big = discount_code(server, admin, discount_type="fixed", discount_value=100000)
    b2 = booked(server, person(server, "other"), s, 1, discount_code=big["code"])
    assert (b2["subtotal_minor"], b2["discount_minor"], b2["total_minor"]) == (7500, 7500, 0)
    whole = discount_code(server, admin, discount_value=100)
    b3 = booked(server, person(server, "third"), s, 2, discount_code=whole["code"])
    assert b3["total_minor"] == 0


def test_a_code_outside_its_terms_is_refused_and_changes_nothing(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    s = course_schedule(server, c)
    hour = 3600 * 1000
    iso = lambda t: datetime.datetime.fromtimestamp(  # noqa: E731
        t / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    cases = [
        ("NO-SUCH-CODE", "not_found"),
        (discount_code(server, admin, is_active=False)["code"], "inactive"),
        (discount_code(server, admin, valid_from=iso(now_ms() + hour))["code"],
         "not_yet_valid"),
        (discount_code(server, admin, valid_from=iso(now_ms() - 2 * hour),
                       valid_until=iso(now_ms() - hour))["code"], "expired"),
        (discount_code(server, admin, course_type="FAW")["code"], "course_type"),
        (discount_code(server, admin, min_price_minor=20000)["code"], "below_minimum"),
        (discount_code(server, admin, discount_type="fixed", discount_value=500,
                       currency="EUR")["code"], "currency"),
        ("bad code!", "not_found"),
    ]
    for code, why in cases:
        err = problem(book_training(server, m, s, 2, discount_code=code), 422,
                      "DISCOUNT_CODE_INVALID")
        assert err["errors"][0] == {"field": "discount_code", "code": why,
                                    "detail": err["errors"][0]["detail"]}, (code, err)
    assert db.count("training_bookings") == 0
    assert db.count("discount_codes", "usage_count <> 0") == 0
    # The minimum is met by three seats (225.00), and the course type by
    # an EFAW code.
    assert booked(server, m, s, 3, discount_code=cases[5][0])["discount_minor"] == 2250
    efaw = discount_code(server, admin, course_type="EFAW")
    booked(server, person(server, "other"), s, 1, discount_code=efaw["code"])


def test_a_code_is_used_once_a_person_and_at_most_its_limit(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    s1, s2, s3 = (course_schedule(server, c, h) for h in (0, 24, 48))
    code = discount_code(server, admin, usage_limit=2)
    first = booked(server, m, s1, discount_code=code["code"])
    problem(book_training(server, m, s2, discount_code=code["code"]), 409,
            "DISCOUNT_CODE_ALREADY_USED")
    assert usage(db, code) == 1
    other = person(server, "other")
    booked(server, other, s1, discount_code=code["code"])
    third = person(server, "third")
    problem(book_training(server, third, s1, discount_code=code["code"]), 409,
            "DISCOUNT_CODE_USED_UP")
    assert usage(db, code) == 2 and db.count("training_bookings") == 2
    # Cancelled before payment: the use is given back, to anyone.
    assert act(server, m, first, "cancel").status_code == 200
    assert usage(db, code) == 1
    booked(server, third, s1, discount_code=code["code"])
    problem(book_training(server, m, s3, discount_code=code["code"]), 409,
            "DISCOUNT_CODE_USED_UP")
    # Paid, then cancelled: the use stays spent.
    paid = [b for b in server.get(f"/v1/training-bookings?schedule_id={s1['id']}",
                                  headers=hdr(admin)).json()["data"]
            if b["user_id"] == other["id"]][0]
    assert act(server, admin, paid, "confirm").status_code == 200
    assert act(server, admin, paid, "cancel").status_code == 200
    assert usage(db, code) == 2
    # The limit never falls below the uses spent.
    r = server.request("PATCH", f"/v1/discount-codes/{code['id']}", headers=hdr(admin),
                       json={"usage_limit": 1})
    err = problem(r, 422, "VALIDATION_FAILED")
    assert err["errors"][0]["code"] == "below_usage"


def test_inquiries_hold_seats_until_answered_or_expired(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    s = course_schedule(server, c, capacity=4)
    body = {"schedule_id": s["id"], "first_name": "Mary", "last_name": "Quant",
            "email": "mary.quant@example.org", "phone": "+44 113 496 0000",
            "number_of_people": 3, "questions": "Is there parking for a minibus?"}
    r = server.post("/v1/booking-inquiries", headers=hdr(m), json=body)
    assert r.status_code == 201, r.text
    inq = r.json()
    assert inq["status"] == "pending" and inq["user_id"] == m["id"]
    assert TRAINING_REF.match(inq["inquiry_reference"])
    assert ms(inq["hold_expires_at"]) > now_ms() + 23 * 3600 * 1000
    assert free_seats(server, s, admin) == 1
    raw = db.raw()
    assert b"mary.quant@example.org" not in raw and b"minibus" not in raw
    problem(server.post("/v1/booking-inquiries", headers=hdr(m), json=body), 409,
            "INQUIRY_EXISTS")
    other = person(server, "other")
    problem(book_training(server, other, s, 2), 409, "SCHEDULE_FULL")
    problem(server.post("/v1/booking-inquiries", headers=hdr(other),
                        json={**body, "number_of_people": 2}), 409, "SCHEDULE_FULL")
    for who in (m, c["instructor"]):
        problem(server.post(f"/v1/booking-inquiries/{inq['id']}/respond", headers=hdr(who)),
                403, "FORBIDDEN")
    r = server.post(f"/v1/booking-inquiries/{inq['id']}/respond", headers=hdr(admin))
    assert r.status_code == 200 and r.json()["status"] == "responded", r.text
    problem(server.post(f"/v1/booking-inquiries/{inq['id']}/respond", headers=hdr(admin)),
            409, "INVALID_TRANSITION")
    assert free_seats(server, s, admin) == 1
    # Another person's inquiry is not theirs to book with.
    problem(book_training(server, other, s, 1, inquiry_id=inq["id"]), 422,
            "VALIDATION_FAILED")
    # Booked with it: the inquiry's seats pass to the booking.
    b = booked(server, m, s, 4, inquiry_id=inq["id"])
    assert b["seats"] == 4 and b["inquiry_id"] == inq["id"]
    assert db.scalar(f"SELECT status FROM booking_inquiries WHERE id = '{inq['id']}'") \
        == "converted"
    assert free_seats(server, s, admin) == 0
    # An expired inquiry holds nothing and converts nothing.
    s2 = course_schedule(server, c, 24, capacity=4)
    r = server.post("/v1/booking-inquiries", headers=hdr(other),
                    json={**body, "schedule_id": s2["id"]})
    assert r.status_code == 201, r.text
    expire_hold(db, "booking_inquiries", r.json()["id"])
    assert free_seats(server, s2, admin) == 4
    problem(book_training(server, other, s2, 1, inquiry_id=r.json()["id"]), 409,
            "HOLD_EXPIRED")
    # Members see their own inquiries only.
    listed = server.get("/v1/booking-inquiries", headers=hdr(other)).json()["data"]
    assert [x["id"] for x in listed] == [r.json()["id"]]


def test_bookings_are_exported_and_erased_with_the_person(server, catalogue, db):
    c = catalogue
    m = person(server, "leaver")
    s = course_schedule(server, c)
    b = booked(server, m, s, 2, notes="allergic to latex")
    r = server.post("/v1/booking-inquiries", headers=hdr(m), json={
        "schedule_id": course_schedule(server, c, 24)["id"], "first_name": "Lea",
        "last_name": "Ver", "email": m["email"], "number_of_people": 1})
    assert r.status_code == 201, r.text
    doc = server.get("/v1/me/export", headers=hdr(m)).json()
    rec = doc["records"]
    assert [x["id"] for x in rec["training_bookings"]] == [b["id"]]
    assert rec["training_bookings"][0]["notes"] == "allergic to latex"
    assert sorted(x["name"] for x in rec["training_booking_attendees"]) == \
        ["Guest 1", "Leaver"]
    assert rec["booking_inquiries"][0]["email"] == m["email"]
    r = server.post(f"/v1/users/{m['id']}/erase", headers=hdr(c["admin"]))
    assert r.status_code in (200, 204), r.text
    # The booking stays, anonymous: its seats and money still count.
    row = read_booking(server, c["admin"], b)
    assert row["status"] == "pending" and row["total_minor"] == 15000
    assert row["notes"] is None
    assert [a["name"] for a in row["attendees"]] == [None, None]
    assert [a["email"] for a in row["attendees"]] == [None, None]
    inq = server.get(f"/v1/booking-inquiries?user_id={m['id']}",
                     headers=hdr(c["admin"])).json()["data"]
    assert len(inq) == 1 and inq[0]["email"] is None and inq[0]["first_name"] is None
    assert b"allergic to latex" not in db.raw()


def test_special_requirements_of_a_booking(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    s = course_schedule(server, c)
    b = booked(server, m, s, 2)

    def add(who, **body):
        full = {"booking_id": b["id"], "requirement_type": "dietary",
                "details": "no nuts for Guest 1"}
        full.update(body)
        return server.post("/v1/special-requirements", headers=hdr(who), json=full)

    # By default a requirement is confidential and not shared with the trainer.
    r = add(m)
    assert r.status_code == 201, r.text
    kept = r.json()
    assert kept["user_id"] == m["id"] and kept["severity"] == "low"
    assert kept["is_confidential"] is True and kept["share_with_trainer"] is False
    assert kept["action_completed"] is False
    # Shared with the trainer, confidential or not.
    shared = add(m, requirement_type="medical", details="epilepsy: no strobe video",
                 share_with_trainer=True, severity="high", requires_action=True).json()
    assert shared["is_confidential"] is True and shared["share_with_trainer"] is True
    open_shared = add(m, requirement_type="accessibility", details="step-free access",
                      is_confidential=False, share_with_trainer=True).json()
    private = add(m, requirement_type="language", details="British Sign Language",
                  is_confidential=False).json()
    assert private["share_with_trainer"] is False
    assert b"no strobe" not in db.raw() and b"no nuts" not in db.raw()
    # Not another's booking; only staff mark one arranged.
    other = person(server, "other")
    problem(add(other), 422, "VALIDATION_FAILED")
    problem(server.request("PATCH", f"/v1/special-requirements/{shared['id']}",
                           headers=hdr(m), json={"action_completed": True}),
            422, "VALIDATION_FAILED")
    r = server.request("PATCH", f"/v1/special-requirements/{shared['id']}",
                       headers=hdr(admin), json={"action_completed": True})
    assert r.status_code == 200, r.text
    assert r.json()["action_completed"] is True and r.json()["handled_by"] == admin["id"]

    def trainer_sees():
        r = server.get(f"/v1/special-requirements?booking_id={b['id']}",
                       headers=hdr(c["instructor"]))
        assert r.status_code == 200, r.text
        return {x["id"] for x in r.json()["data"]}

    # The trainer sees what is shared with them, whether confidential or not.
    assert trainer_sees() == {shared["id"], open_shared["id"]}
    r = server.get(f"/v1/special-requirements/{shared['id']}", headers=hdr(c["instructor"]))
    assert r.status_code == 200 and r.json()["details"] == "epilepsy: no strobe video"
    for x in (kept, private):
        assert server.get(f"/v1/special-requirements/{x['id']}",
                          headers=hdr(c["instructor"])).status_code == 404
    # The booker decides: sharing on or off is all that counts.
    for x, share in ((kept, True), (shared, False)):
        r = server.request("PATCH", f"/v1/special-requirements/{x['id']}", headers=hdr(m),
                           json={"share_with_trainer": share})
        assert r.status_code == 200, r.text
    assert trainer_sees() == {kept["id"], open_shared["id"]}
    r = server.request("PATCH", f"/v1/special-requirements/{open_shared['id']}",
                       headers=hdr(m), json={"is_confidential": True})
    assert r.status_code == 200, r.text
    assert trainer_sees() == {kept["id"], open_shared["id"]}
    r = server.get("/v1/special-requirements", headers=hdr(c["instructor2"]))
    assert r.json()["data"] == []
    r = server.get(f"/v1/special-requirements?booking_id={b['id']}", headers=hdr(admin))
    assert {x["id"] for x in r.json()["data"]} == {
        kept["id"], shared["id"], open_shared["id"], private["id"]}
    assert server.get("/v1/special-requirements", headers=hdr(other)).json()["data"] == []
    # In the booker's export; none on a closed booking.
    doc = server.get("/v1/me/export", headers=hdr(m)).json()
    assert {x["details"] for x in doc["records"]["special_requirements"]} == {
        "no nuts for Guest 1", "epilepsy: no strobe video", "step-free access",
        "British Sign Language"}
    assert act(server, m, b, "cancel").status_code == 200
    problem(add(m), 409, "BOOKING_CLOSED")


MIGRATION_0021 = "0021_training_review"


def requirement_flags(db, rid):
    row = db.query("SELECT is_confidential, share_with_trainer FROM special_requirements "
                   f"WHERE id = '{rid}'")[0]
    return (int(row[0]), int(row[1]))


def requirement_insert(db, booking, user_id):
    """A requirement written without the two flags: the columns' defaults."""
    rid = str(uuid.uuid4())
    db.execute("INSERT INTO special_requirements (id, booking_id, user_id, requirement_type, "
               f"created_at, updated_at) VALUES ('{rid}', '{booking['id']}', '{user_id}', "
               f"'other', {now_ms()}, {now_ms()})")
    return rid


@pytest.mark.dialect
def test_migration_0021_turns_the_requirement_defaults_and_keeps_the_rows(server, catalogue,
                                                                        db):
    """A database from before 0021, as an older carebase left it: every
    migration from the newest down to 0021 rolled back in turn, each by its
    own down script (training_helpers.migrate_down_through), so 0021's down
    runs on the schema it was written for. Its requirements keep their
    flags through 0021 up and down; a requirement written without the flags
    is confidential and not shared after 0021, shared and not confidential
    before. Refunds keep their rows too."""
    c = catalogue
    b = booked(server, c["member"], course_schedule(server, c))
    r = server.post("/v1/special-requirements", headers=hdr(c["member"]),
                    json={"booking_id": b["id"], "requirement_type": "dietary",
                          "details": "vegan", "is_confidential": False,
                          "share_with_trainer": True})
    assert r.status_code == 201, r.text
    api = r.json()["id"]
    server.stop()
    above = migrate_down_through(server, db, MIGRATION_0021)
    assert len(above) > 1 and above[-1] == MIGRATION_0021  # 0022 and on came down first
    before = requirement_insert(db, b, c["member"]["id"])
    assert requirement_flags(db, before) == (0, 1)
    server.cli_ok("migrate")
    assert db.count("schema_migrations", f"name >= '{MIGRATION_0021}'") == len(above)
    after = requirement_insert(db, b, c["member"]["id"])
    assert requirement_flags(db, after) == (1, 0)
    assert requirement_flags(db, api) == (0, 1) and requirement_flags(db, before) == (0, 1)
    # A refund of a booker's cancel (0021's cause) is kept by its down
    # migration as asked for by the booker.
    txn, ref = str(uuid.uuid4()), str(uuid.uuid4())
    uid, t = c["member"]["id"], now_ms()
    db.execute("INSERT INTO payment_transactions (id, booking_id, user_id, "
               "stripe_payment_intent_id, amount_minor, currency, status, created_at, "
               f"updated_at) VALUES ('{txn}', '{b['id']}', '{uid}', 'pi_0021', 7500, 'GBP', "
               f"'succeeded', {t}, {t}); INSERT INTO refunds (id, booking_id, user_id, "
               "payment_transaction_id, refund_reference, amount_minor, currency, cause, "
               f"policy, status, requested_at, created_at, updated_at) VALUES ('{ref}', "
               f"'{b['id']}', '{uid}', '{txn}', 'REF0021XYZ', 7500, 'GBP', "
               f"'booker_cancelled', 'full', 'approved', {t}, {t}, {t})")
    assert migrate_down_through(server, db, MIGRATION_0021) == above
    assert requirement_flags(db, after) == (1, 0) and requirement_flags(db, api) == (0, 1)
    assert requirement_flags(db, requirement_insert(db, b, c["member"]["id"])) == (0, 1)
    assert db.scalar(f"SELECT cause FROM refunds WHERE id = '{ref}'") == "request"
    server.cli_ok("migrate")
    assert db.count("special_requirements") == 4 and db.count("refunds") == 1


# -- races ----------------------------------------------------------------------


def racers(server, n):
    return [person(server, f"racer{i}") for i in range(n)]


@pytest.mark.dialect
@pytest.mark.serial
def test_fifty_attempts_for_the_last_three_seats_get_exactly_three(server, start_server,
                                                                    catalogue, db):
    """Two carebase processes share the database; 50 people at once try
    for the last 3 seats of a schedule: exactly 3 are booked. Control: the
    same read-then-insert straight on the database, without the schedule's
    lock, sells far more than 3."""
    c = catalogue
    other = start_server(db=db)
    s = course_schedule(server, c, capacity=10)
    booked(server, c["admin"], s, 7)
    people = racers(server, 50)

    def attempt(i, session, base):
        r = session.post(base + "/v1/training-bookings", headers=hdr(people[i]), timeout=60,
                         json={"schedule_id": s["id"], "attendees": attendees_of(people[i])})
        return r.status_code, r.json().get("code")

    results = race([server.base_url, other.base_url], 50, attempt)
    assert sorted(results, key=str).count((201, None)) == 3, results
    assert calls_in_flight([server, other], "/v1/training-bookings") >= 2, \
        "the requests never overlapped: the race did not happen"
    assert sorted(r for r in results if r[0] != 201) == [(409, "SCHEDULE_FULL")] * 47
    assert int(db.scalar(f"SELECT SUM(seats) FROM training_bookings WHERE "
                         f"schedule_id = '{s['id']}'")) == 10
    assert db.count("training_booking_attendees") == 10
    assert free_seats(server, s, c["admin"]) == 0

    # Control: without the guard, the race oversells.
    s2 = course_schedule(server, c, 24, capacity=3)
    free_sql = ("SELECT capacity - (SELECT COALESCE(SUM(seats), 0) FROM training_bookings "
                f"WHERE schedule_id = '{s2['id']}' AND status IN ('pending', 'confirmed')) "
                f"FROM course_schedules WHERE id = '{s2['id']}'")
    hold = now_ms() + 30 * 60000

    def insert(i, free):
        if free < 1:
            return None
        return ("INSERT INTO training_bookings (id, user_id, schedule_id, booking_reference, "
                "status, payment_status, seats, unit_price_minor, subtotal_minor, "
                "discount_minor, total_minor, currency, hold_expires_at, created_at, "
                f"updated_at) VALUES ('{uuid.uuid4()}', '{people[i]['id']}', '{s2['id']}', "
                f"'CTRL{i:06d}', 'pending', 'pending', 1, 7500, 7500, 0, 7500, 'GBP', "
                f"{hold}, 0, 0)")

    sold = direct_race(db, 50, free_sql, insert)
    assert sold > 3, sold
    assert free_seats(server, s2, c["admin"]) < 0


@pytest.mark.dialect
@pytest.mark.serial
def test_fifty_bookings_at_once_never_use_a_code_past_its_limit(server, start_server,
                                                                catalogue, db):
    """50 people book five schedules (room for all) at once with one code
    of usage_limit 3, through two carebase processes: exactly 3 are booked
    and the code's usage_count is 3. The code's lock, not the schedule's,
    serialises them. Control: the same check-and-count straight on the
    database, without the lock or the conditional update, grants far more
    than 3 uses."""
    c = catalogue
    other = start_server(db=db)
    scheds = [course_schedule(server, c, 24 * k, capacity=10) for k in range(5)]
    code = discount_code(server, c["admin"], usage_limit=3)
    people = racers(server, 50)

    def attempt(i, session, base):
        r = session.post(base + "/v1/training-bookings", headers=hdr(people[i]), timeout=60,
                         json={"schedule_id": scheds[i % 5]["id"],
                               "attendees": attendees_of(people[i]),
                               "discount_code": code["code"]})
        return r.status_code, r.json().get("code")

    results = race([server.base_url, other.base_url], 50, attempt)
    assert [r for r in results if r[0] == 201] == [(201, None)] * 3, results
    assert calls_in_flight([server, other], "/v1/training-bookings") >= 2, \
        "the requests never overlapped: the race did not happen"
    assert sorted(r for r in results if r[0] != 201) == [(409, "DISCOUNT_CODE_USED_UP")] * 47
    assert usage(db, code) == 3
    assert db.count("training_bookings", f"discount_code_id = '{code['id']}'") == 3
    assert db.count("training_bookings") == 3

    # Control: read the count, then write count + 1, unguarded.
    ctl = discount_code(server, c["admin"], usage_limit=3)
    granted = direct_race(
        db, 50, f"SELECT usage_count FROM discount_codes WHERE id = '{ctl['id']}'",
        lambda i, n: (f"UPDATE discount_codes SET usage_count = {n + 1} "
                      f"WHERE id = '{ctl['id']}'") if n < 3 else None)
    assert granted > 3, granted


def test_the_booking_routes_are_in_the_openapi_document(server):
    doc = server.get("/v1/openapi.json").json()
    paths = doc["paths"]
    for p in ("/v1/training-bookings", "/v1/training-bookings/{id}/confirm",
              "/v1/training-bookings/{id}/cancel", "/v1/me/training-bookings",
              "/v1/course-schedules/{id}/bookings", "/v1/discount-codes",
              "/v1/booking-inquiries", "/v1/booking-inquiries/{id}/respond"):
        assert p in paths, p
    assert "training_bookings" in doc["components"]["schemas"]


def test_a_course_price_change_leaves_bookings_as_priced(server, catalogue):
    c = catalogue
    s = course_schedule(server, c)
    b = booked(server, c["member"], s, 2)
    r = server.request("PATCH", f"/v1/training-courses/{c['course']['id']}",
                       headers=hdr(c["admin"]), json={"price_minor": 9900})
    assert r.status_code == 200, r.text
    assert read_booking(server, c["admin"], b)["total_minor"] == 15000
    assert booked(server, person(server, "later"), s)["unit_price_minor"] == 9900
