"""Refunds of training payments (issue 16 part 1c, item 5), and a schedule
cancelled by staff refunding its paid bookings in full, against a fake
Stripe (training_helpers.FakeStripe) with webhook bodies signed by Stripe's own
npm library.

A refund is asked for (POST /v1/refunds) by the booker or staff, in part
or in whole, never past what was paid (counted under the booking's lock),
under the cancellation policy (the settings refund_full_days,
refund_fee_percent, refund_none_hours, config training_refund_* while not
set: in full until that many days before the start, less that percentage
after, none inside those hours; staff may set it aside with a reason); staff
approve or reject it; an approved refund is sent to Stripe by the
training.refund job, outside any transaction, with an idempotency key,
and completed by Stripe's webhook. A rejected request leaves the booking
and its seats as they were. A crash between Stripe's answer and the
commit leaves Stripe and the database agreeing: the job runs again and
the refund completes once. Runs on SQLite and PostgreSQL.

The race test (many partial refunds at once) shows that the requests
really ran interleaved in the two carebase processes (their own request
log: training_helpers.calls_in_flight), so the guard kept them apart, and
has a control that shows what that interleaving does without the guard:
the same check-then-write straight on the database from many connections
(conftest.direct_race), which refunds more than was paid. The SQL is the
honest control: carebase has no switch that turns the guard off, and
must not have one, not even in test builds (a switch in the binary is a
switch in production); the control runs the guard's statements less the
lock and the conditional update, not a model of carebase."""

import datetime
import time
import uuid
from zoneinfo import ZoneInfo

import pytest

from conftest import direct_race, hdr, person, problem, race, smtp_env, wait_until
from training_helpers import (booked, calls_in_flight, course_schedule, discount_code,
                              free_seats, make_catalogue, migrate_down_through, pay,
                              read_booking, schedule, set_setting, stripe_event,
                              stripe_hook, training_course, wait_refund, watch_refund_jobs)


def iso_in(days, hours=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days,
                                                                          hours=hours)
    return t.strftime("%Y-%m-%dT%H:%M:00Z")


def soon(shop, days, by="trainer"):
    """A schedule starting days from now (7 hours long)."""
    r = schedule(shop["server"], shop["admin"], shop["course"], shop["venue"], shop[by],
                 iso_in(days), iso_in(days, 7))
    assert r.status_code == 201, r.text
    return r.json()


def paid(shop, who, sched, n=1):
    """A booking of n seats of sched by who, paid through Stripe: (booking,
    intent id)."""
    s, st = shop["server"], shop["stripe"]
    b = booked(s, who, sched, n)
    r = pay(s, who, b)
    assert r.status_code == 201, r.text
    pi = r.json()["payment_intent_id"]
    r = stripe_hook(s, st.intent_event(pi), shop["sign"])
    assert r.status_code == 200 and r.json()["effect"] == "confirmed", r.text
    return b, pi


def ask(shop, who, booking, **body):
    return shop["server"].post("/v1/refunds", headers=hdr(who),
                               json={"booking_id": booking["id"], **body})


def asked(shop, who, booking, **body):
    r = ask(shop, who, booking, **body)
    assert r.status_code == 201, r.text
    return r.json()


def decide(shop, who, refund, verb, **body):
    s = shop["server"]
    if verb == "reject":
        return s.post(f"/v1/refunds/{refund['id']}/reject", headers=hdr(who), json=body)
    return s.post(f"/v1/refunds/{refund['id']}/approve", headers=hdr(who))


def refund_row(shop, refund):
    r = shop["server"].get(f"/v1/refunds/{refund['id']}", headers=hdr(shop["admin"]))
    assert r.status_code == 200, r.text
    return r.json()


def sent(shop, refund):
    """Wait until the job has sent refund to Stripe: its Stripe id."""
    db = shop["db"]
    return wait_until(lambda: db.scalar(f"SELECT stripe_refund_id FROM refunds WHERE "
                                        f"id = '{refund['id']}'"),
                      timeout=20, what="the refund sent to Stripe")


def complete(shop, refund, type="refund.updated", **changes):
    re_id = sent(shop, refund)
    r = stripe_hook(shop["server"], shop["stripe"].refund_event(re_id, type, **changes),
                    shop["sign"])
    assert r.status_code == 200, r.text
    return r.json()


def money(db, intent):
    row = db.query("SELECT amount_minor, refund_committed_minor, refunded_minor FROM "
                   f"payment_transactions WHERE stripe_payment_intent_id = '{intent}'")[0]
    return tuple(int(x) for x in row)


def test_a_booker_asks_and_staff_approve_a_refund_in_full(shop, db):
    s, st, m, admin = shop["server"], shop["stripe"], shop["member"], shop["admin"]
    sched = course_schedule(s, shop)              # years ahead: the policy refunds in full
    b, pi = paid(shop, m, sched, 2)
    assert free_seats(s, sched, admin) == 8
    ref = asked(shop, m, b, reason="I broke my wrist skiing")
    assert ref["status"] == "pending" and ref["cause"] == "request"
    assert (ref["amount_minor"], ref["processing_fee_minor"], ref["net_refund_minor"]) == (
        15000, 0, 15000)
    assert ref["policy"] == "full" and ref["cancels_booking"] is True
    assert ref["reason"] == "I broke my wrist skiing" and ref["user_id"] == m["id"]
    assert ref["requested_at"] and ref["approved_at"] is None
    assert b"broke my wrist" not in db.raw()
    # Asked for, nothing has moved yet.
    assert read_booking(shop["server"], m, b)["status"] == "confirmed"
    assert free_seats(s, sched, admin) == 8
    assert st.requests("/v1/refunds") == []
    assert money(db, pi) == (15000, 15000, 0)
    # Staff approve: the booking ends, its seats are free, the job sends it.
    r = decide(shop, admin, ref, "approve")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved" and r.json()["processed_by"] == admin["id"]
    row = read_booking(shop["server"], admin, b)
    assert row["status"] == "cancelled" and row["cancel_reason"] == "booker"
    assert row["payment_status"] == "paid"
    assert free_seats(s, sched, admin) == 10
    re_id = sent(shop, ref)
    (req,) = st.requests("/v1/refunds")
    assert req["form"]["payment_intent"] == pi and req["form"]["amount"] == "15000"
    assert req["form"]["metadata[refund_id]"] == ref["id"]
    assert req["headers"]["idempotency-key"] == f"training-refund-{ref['id']}"
    now = refund_row(shop, ref)
    assert now["status"] == "processing" and now["processed_at"]
    assert now["stripe_refund_id"] == re_id
    # Stripe's webhook completes it.
    assert complete(shop, ref)["effect"] == "refund_completed"
    done = refund_row(shop, ref)
    assert done["status"] == "completed" and done["completed_at"]
    assert read_booking(shop["server"], m, b)["payment_status"] == "refunded"
    assert money(db, pi) == (15000, 15000, 15000)
    for action in ("create", "approve", "process", "complete"):
        assert db.count("audit_log", f"action = 'refunds.{action}' AND "
                        f"entity_id = '{ref['id']}'") == 1, action
    # The booker sees it, another member does not.
    assert s.get(f"/v1/refunds/{ref['id']}", headers=hdr(m)).status_code == 200
    assert s.get(f"/v1/refunds/{ref['id']}",
                 headers=hdr(person(s, "other"))).status_code == 404


def test_the_cancellation_policy(shop, db):
    s, m, admin = shop["server"], shop["member"], shop["admin"]
    # Five days ahead: the fee (25 percent) is kept.
    b5, pi5 = paid(shop, m, soon(shop, 5))
    ref = asked(shop, m, b5)
    assert ref["policy"] == "fee" and ref["processing_fee_minor"] == 1875
    assert ref["net_refund_minor"] == 5625 and ref["amount_minor"] == 7500
    assert decide(shop, admin, ref, "approve").status_code == 200
    assert sent(shop, ref) and shop["stripe"].requests("/v1/refunds")[0]["form"][
        "amount"] == "5625"
    complete(shop, ref)
    assert read_booking(shop["server"], m, b5)["payment_status"] == "partially_refunded"
    assert money(db, pi5) == (7500, 7500, 5625)
    # A day ahead: none, for the booker and for staff keeping to it.
    b1, pi1 = paid(shop, m, soon(shop, 1, by="trainer2"))
    problem(ask(shop, m, b1), 409, "REFUND_NOT_ALLOWED")
    problem(ask(shop, admin, b1), 409, "REFUND_NOT_ALLOWED")
    # Staff set it aside, with a reason; the booker may not.
    err = problem(ask(shop, m, b1, policy_override=True, override_reason="ill"), 422,
                  "VALIDATION_FAILED")
    assert [e["code"] for e in err["errors"]] == ["staff_only"]
    err = problem(ask(shop, admin, b1, policy_override=True), 422, "VALIDATION_FAILED")
    assert [(e["field"], e["code"]) for e in err["errors"]] == [
        ("override_reason", "required")]
    problem(ask(shop, admin, b1, override_reason="no"), 422, "VALIDATION_FAILED")
    assert money(db, pi1) == (7500, 0, 0) and db.count("refunds", "status = 'pending'") == 0
    ref = asked(shop, admin, b1, policy_override=True,
                override_reason="trainer's illness moved the learner")
    assert ref["policy"] == "override" and ref["processing_fee_minor"] == 0
    assert ref["net_refund_minor"] == 7500
    assert ref["override_reason"] == "trainer's illness moved the learner"
    assert ref["requested_by"] == admin["id"]
    assert decide(shop, admin, ref, "approve").status_code == 200
    assert read_booking(shop["server"], admin, b1)["cancel_reason"] == "staff"


LONDON = ZoneInfo("Europe/London")


def london_midnight(days):
    """The instant the London day that many days after today begins, never
    within two minutes of a London midnight now (waited out), so that the
    test and the server agree on today."""
    now = datetime.datetime.now(LONDON)
    tonight = datetime.datetime.combine(now.date() + datetime.timedelta(days=1),
                                        datetime.time(), LONDON)
    if (tonight - now).total_seconds() < 120:
        time.sleep((tonight - now).total_seconds() + 1)
    d = datetime.datetime.now(LONDON).date() + datetime.timedelta(days=days)
    return datetime.datetime.combine(d, datetime.time(), LONDON)


def summer_day(today):
    """The first day at least 3 days after today whose London midnight is in
    British Summer Time (UTC+1), so that a London day begins an hour before
    the UTC day of the same date: within a year, as
    training_refund_full_days goes up to 365."""
    for n in range(3, 366):
        d = today + datetime.timedelta(days=n)
        if datetime.datetime.combine(d, datetime.time(), LONDON).utcoffset():
            return d
    raise AssertionError("no summer time within a year")


def test_the_policy_counts_london_days_before_the_start(start_server, db, stripe,
                                                       stripe_signer):
    """training_refund_full_days counts calendar days in Europe/London, not
    UTC: with it set to the days from today to a summer (BST) day D, a
    course starting 00:01 London time on D (23:01 UTC the day before: one
    day fewer in UTC) is refunded in full all of today, though fewer than
    that many x 24 hours may be left; one starting 23:59 London time the
    day before is not. (Now, in winter, London's today is UTC's.)"""
    today = london_midnight(0)
    day = summer_day(today.date())
    days = (day - today.date()).days
    s = start_server(db=db, env=stripe.env(CAREBASE_TRAINING_REFUND_FULL_DAYS=str(days)))
    shop = make_catalogue(s)
    shop.update(server=s, stripe=stripe, sign=stripe_signer, db=db)
    m = shop["member"]

    def starting(when, by):
        utc = when.astimezone(datetime.timezone.utc)
        r = schedule(s, shop["admin"], shop["course"], shop["venue"], shop[by],
                     utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     (utc + datetime.timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert r.status_code == 201, r.text
        return r.json()

    midnight = datetime.datetime.combine(day, datetime.time(), LONDON)
    first = midnight + datetime.timedelta(minutes=1)
    assert first.astimezone(datetime.timezone.utc).date() == day - datetime.timedelta(days=1)
    b, _ = paid(shop, m, starting(first, "trainer"))
    ref = asked(shop, m, b, amount_minor=1000)
    assert ref["policy"] == "full" and ref["processing_fee_minor"] == 0, ref
    b, _ = paid(shop, m, starting(midnight - datetime.timedelta(minutes=1), "trainer2"))
    ref = asked(shop, m, b, amount_minor=1000)
    assert ref["policy"] == "fee" and ref["processing_fee_minor"] == 250, ref


def test_what_cannot_be_refunded(shop, db):
    s, m, admin = shop["server"], shop["member"], shop["admin"]
    sched = course_schedule(s, shop)
    pending = booked(s, m, sched)
    problem(ask(shop, m, pending), 409, "NOT_REFUNDABLE")
    problem(ask(shop, admin, pending), 409, "NOT_REFUNDABLE")
    offline = booked(s, person(s, "cash"), sched)
    assert s.post(f"/v1/training-bookings/{offline['id']}/confirm",
                  headers=hdr(admin)).status_code == 200
    free = booked(s, person(s, "free"), sched,
                  discount_code=discount_code(s, admin, discount_value=100)["code"])
    assert s.post(f"/v1/training-bookings/{free['id']}/confirm",
                  headers=hdr(admin)).status_code == 200
    problem(ask(shop, admin, free), 409, "BOOKING_NOT_PAID")
    other = person(s, "other")
    problem(ask(shop, other, offline), 404, "NOT_FOUND")
    problem(s.post("/v1/refunds", headers=hdr(m), json={"booking_id": str(uuid.uuid4())}),
            404, "NOT_FOUND")
    for body, field in (({}, "booking_id"), ({"booking_id": "x"}, "booking_id"),
                        ({"booking_id": pending["id"], "amount_minor": 0}, "amount_minor"),
                        ({"booking_id": pending["id"], "amount_minor": "5"}, "amount_minor"),
                        ({"booking_id": pending["id"], "reason": ""}, "reason"),
                        ({"booking_id": pending["id"], "status": "approved"}, "")):
        err = problem(s.post("/v1/refunds", headers=hdr(m), json=body), 422,
                      "VALIDATION_FAILED")
        assert field in [e["field"] for e in err["errors"]], (body, err)
    # Instructors neither ask nor read.
    problem(ask(shop, shop["instructor"], offline), 403, "FORBIDDEN")
    assert db.count("refunds") == 0


def test_whether_a_refund_cancels_the_booking_is_decided_when_it_is_approved(shop, db):
    """A request for "all that is left" asked beside another pending one is
    not all once the other is rejected: approving it refunds part of the
    payment and the booking stays; the one that, approved, leaves nothing
    (no other pending) cancels it, whatever it was flagged when asked."""
    s, m, admin = shop["server"], shop["member"], shop["admin"]
    sched = course_schedule(s, shop)
    b, pi = paid(shop, m, sched)
    big = asked(shop, m, b, amount_minor=5500)
    rest = asked(shop, m, b)
    assert (big["cancels_booking"], rest["amount_minor"], rest["cancels_booking"]) == (
        False, 2000, True)
    assert decide(shop, admin, big, "reject").status_code == 200
    assert decide(shop, admin, rest, "approve").status_code == 200
    row = read_booking(s, m, b)
    assert row["status"] == "confirmed", row
    assert free_seats(s, sched, admin) == 9
    complete(shop, rest)
    assert read_booking(s, m, b)["payment_status"] == "partially_refunded"
    # Now the last 5500: approved, nothing is left, the booking ends.
    last = asked(shop, m, b, amount_minor=5500)
    assert decide(shop, admin, last, "approve").status_code == 200
    row = read_booking(s, m, b)
    assert (row["status"], row["cancel_reason"]) == ("cancelled", "booker"), row
    assert free_seats(s, sched, admin) == 10


def test_partial_refunds_never_come_to_more_than_was_paid(shop, db):
    s, m, admin = shop["server"], shop["member"], shop["admin"]
    sched = course_schedule(s, shop)
    b, pi = paid(shop, m, sched)
    first = asked(shop, m, b, amount_minor=2000, reason="one module missed")
    assert first["cancels_booking"] is False
    err = problem(ask(shop, m, b, amount_minor=6000), 409, "REFUND_EXCEEDS_PAYMENT")
    assert err["refundable_minor"] == 5500
    second = asked(shop, m, b, amount_minor=3000)
    problem(ask(shop, m, b, amount_minor=2501), 409, "REFUND_EXCEEDS_PAYMENT")
    assert money(db, pi) == (7500, 5000, 0)
    # Rejected: its amount is refundable again, the booking as it was.
    r = decide(shop, admin, second, "reject", reason="not how the policy works")
    assert r.status_code == 200, r.text
    rej = r.json()
    assert rej["status"] == "rejected" and rej["rejected_at"]
    assert rej["rejection_reason"] == "not how the policy works"
    assert money(db, pi) == (7500, 2000, 0)
    # Partial ones leave the booking confirmed.
    assert decide(shop, admin, first, "approve").status_code == 200
    assert read_booking(shop["server"], m, b)["status"] == "confirmed"
    complete(shop, first)
    assert read_booking(shop["server"], m, b)["payment_status"] == "partially_refunded"
    # The rest cancels it.
    rest = asked(shop, m, b)
    assert rest["amount_minor"] == 5500 and rest["cancels_booking"] is True
    problem(ask(shop, m, b, amount_minor=1), 409, "REFUND_EXCEEDS_PAYMENT")
    assert decide(shop, admin, rest, "approve").status_code == 200
    complete(shop, rest)
    assert read_booking(shop["server"], m, b)["payment_status"] == "refunded"
    assert money(db, pi) == (7500, 7500, 7500)
    assert len(shop["stripe"].refunds) == 2


def test_a_rejected_request_leaves_the_booking_and_its_seats(shop, db):
    s, m, admin = shop["server"], shop["member"], shop["admin"]
    queued = watch_refund_jobs(db)
    sched = course_schedule(s, shop)
    b, pi = paid(shop, m, sched, 3)
    before = read_booking(shop["server"], admin, b)
    ref = asked(shop, m, b)
    # Only staff decide.
    problem(decide(shop, m, ref, "approve"), 403, "FORBIDDEN")
    problem(decide(shop, shop["instructor"], ref, "approve"), 404, "NOT_FOUND")
    r = decide(shop, admin, ref, "reject")
    assert r.status_code == 200 and r.json()["rejection_reason"] is None
    after = read_booking(shop["server"], admin, b)
    for k in ("status", "payment_status", "seats", "total_minor", "cancel_reason"):
        assert after[k] == before[k], k
    assert free_seats(s, sched, admin) == 7
    assert money(db, pi) == (22500, 0, 0)
    problem(decide(shop, admin, ref, "approve"), 409, "INVALID_TRANSITION")
    problem(decide(shop, admin, ref, "reject"), 409, "INVALID_TRANSITION")
    problem(s.post(f"/v1/refunds/{ref['id']}/reject", headers=hdr(admin),
                   json={"reason": 5}), 422, "VALIDATION_FAILED")
    assert shop["stripe"].requests("/v1/refunds") == []
    assert queued() == []


def test_stripe_refusing_a_refund_fails_it_and_frees_its_amount(shop, db):
    s, st, m, admin = shop["server"], shop["stripe"], shop["member"], shop["admin"]
    b, pi = paid(shop, m, course_schedule(s, shop))
    st.script["refund"] = [400]
    ref = asked(shop, m, b, amount_minor=1000)
    assert decide(shop, admin, ref, "approve").status_code == 200
    wait_refund(db, ref["id"], "failed")
    row = refund_row(shop, ref)
    assert row["failure_reason"] == "scripted_failure" and row["failed_at"]
    assert money(db, pi) == (7500, 0, 0) and st.refunds == {}
    assert db.count("failed_jobs", "kind = 'training.refund'") == 0
    # A refund that completed and then failed at the bank is undone too.
    again = asked(shop, m, b, amount_minor=1000)
    assert decide(shop, admin, again, "approve").status_code == 200
    complete(shop, again)
    assert read_booking(shop["server"], m, b)["payment_status"] == "partially_refunded"
    assert complete(shop, again, "refund.failed", status="failed",
                    failure_reason="expired_or_canceled_card")["effect"] == "refund_failed"
    row = refund_row(shop, again)
    # Stripe's reason in the API's spelling (issue 15 review): cancelled.
    assert row["status"] == "failed" and row["failure_reason"] == "expired_or_cancelled_card"
    # A refund Stripe cancels without a reason: its status is the reason,
    # spelled cancelled too, in the answer and in the row.
    third = asked(shop, m, b, amount_minor=1000)
    assert decide(shop, admin, third, "approve").status_code == 200
    assert complete(shop, third, "refund.updated", status="canceled")["effect"] == "refund_failed"
    row = refund_row(shop, third)
    assert row["status"] == "failed" and row["failure_reason"] == "cancelled"
    assert db.scalar(f"SELECT failure_reason FROM refunds WHERE id = '{third['id']}'") == "cancelled"
    assert money(db, pi) == (7500, 0, 0)
    # Stripe's own "canceled" is its vocabulary, not a client's deprecated
    # spelling: nothing logged as one.
    assert "event=deprecated_spelling" not in s.log()
    assert money(db, pi) == (7500, 0, 0)
    assert read_booking(shop["server"], m, b)["payment_status"] == "paid"


def test_stripe_down_the_job_retries_with_the_same_key(shop, db):
    s, st, m, admin = shop["server"], shop["stripe"], shop["member"], shop["admin"]
    b, pi = paid(shop, m, course_schedule(s, shop))
    st.script["refund"] = [503]
    ref = asked(shop, m, b)
    assert decide(shop, admin, ref, "approve").status_code == 200
    sent(shop, ref)
    posts = st.requests("/v1/refunds")
    assert [p["headers"]["idempotency-key"] for p in posts] == [
        f"training-refund-{ref['id']}"] * 2
    assert len(st.refunds) == 1
    complete(shop, ref)
    assert refund_row(shop, ref)["status"] == "completed"


def test_a_refund_stripe_answers_succeeded_completes_at_once(shop, db):
    """Stripe answers most card refunds succeeded at once: the job completes
    the refund then (its payment counted, the booking refunded), and the
    refund's webhook, when it comes, finds it completed and does nothing,
    however often it comes."""
    s, st, m, admin = shop["server"], shop["stripe"], shop["member"], shop["admin"]
    b, pi = paid(shop, m, course_schedule(s, shop))
    st.refund_status = "succeeded"
    ref = asked(shop, m, b)
    assert decide(shop, admin, ref, "approve").status_code == 200
    wait_refund(db, ref["id"], "completed")
    row = refund_row(shop, ref)
    assert row["completed_at"] and row["stripe_refund_id"] in st.refunds
    assert read_booking(s, m, b)["payment_status"] == "refunded"
    assert money(db, pi) == (7500, 7500, 7500)
    ev = st.refund_event(row["stripe_refund_id"])
    charge = stripe_event("charge.refunded", {
        "id": "ch_" + uuid.uuid4().hex[:20], "object": "charge", "payment_intent": pi,
        "refunds": {"object": "list", "data": [ev["data"]["object"]]}})
    for e in (ev, ev, charge):
        r = stripe_hook(s, e, shop["sign"])
        assert r.status_code == 200, r.text
        assert r.json()["effect"] == "recorded"
    assert db.query(f"SELECT effect, reason FROM stripe_events WHERE event_id = "
                    f"'{ev['id']}'") == [("recorded", "completed_already")]
    assert db.count("audit_log", f"action = 'refunds.complete' AND "
                    f"entity_id = '{ref['id']}'") == 1
    assert money(db, pi) == (7500, 7500, 7500)
    assert read_booking(s, m, b)["payment_status"] == "refunded"


def test_an_event_for_a_refund_that_is_not_ours_is_kept_with_its_reason(shop, db):
    """A refund event that does not match the refund carebase asked for is
    answered 200 (Stripe would send it again for days), kept with effect
    mismatch and its reason, and logged; ours stays as it was. One made in
    Stripe's dashboard is ignored."""
    s, st, m, admin = shop["server"], shop["stripe"], shop["member"], shop["admin"]
    b, pi = paid(shop, m, course_schedule(s, shop))
    ref = asked(shop, m, b, amount_minor=1000)
    assert decide(shop, admin, ref, "approve").status_code == 200
    re_id = sent(shop, ref)
    for changes, reason in (({"amount": 999}, "amount"), ({"currency": "eur"}, "currency"),
                            ({"payment_intent": "pi_other"}, "payment_intent")):
        ev = st.refund_event(re_id, **changes)
        r = stripe_hook(s, ev, shop["sign"])
        assert r.status_code == 200, r.text
        assert (r.json()["effect"], r.json()["reason"]) == (
            "mismatch", reason)
        assert db.query(f"SELECT effect, reason FROM stripe_events WHERE event_id = "
                        f"'{ev['id']}'") == [("mismatch", reason)]
    assert refund_row(shop, ref)["status"] == "processing"
    assert money(db, pi) == (7500, 1000, 0)
    assert s.log().count("event=training_refund_mismatch") == 3
    # One made in Stripe's dashboard: acknowledged, nothing done.
    r = stripe_hook(s, st.refund_event(re_id, id="re_dashboard", metadata={}),
                    shop["sign"])
    assert r.status_code == 200 and r.json()["effect"] == "ignored"
    assert r.json()["reason"] == "unknown_refund"


@pytest.mark.dialect
@pytest.mark.parametrize("lookup", ["finds it", "fails"])
def test_a_crash_between_stripe_and_the_commit_refunds_once(start_server, db, stripe,
                                                             stripe_signer, lookup):
    """The process is killed (SIGKILL) while Stripe holds the refund it has
    made (the answer never arrives, nothing is committed). Started again,
    the job is claimed again once job_timeout_s has passed; it finds the
    refund among the intent's refunds at Stripe, or, when that list fails,
    sends the same request with the same Idempotency-Key and Stripe answers
    with the refund it made: one refund at Stripe, recorded, and completed
    once by its webhook, even delivered twice."""
    env = stripe.env(CAREBASE_JOB_TIMEOUT_S="3", CAREBASE_STRIPE_TIMEOUT_S="1")
    s1 = start_server(db=db, env=env)
    shop = make_catalogue(s1)
    shop.update(server=s1, stripe=stripe, sign=stripe_signer, db=db)
    m, admin = shop["member"], shop["admin"]
    b, pi = paid(shop, m, course_schedule(s1, shop))
    ref = asked(shop, m, b)
    stripe.script["refund"] = ["gate"]
    assert decide(shop, admin, ref, "approve").status_code == 200
    assert stripe.entered.wait(20), "the job never asked Stripe"
    s1.kill()
    stripe.release.set()
    # Stripe made it; the database does not know it yet.
    assert len(stripe.refunds) == 1
    row = db.query(f"SELECT status, stripe_refund_id FROM refunds WHERE id = '{ref['id']}'")
    assert row == [("processing", None)]
    if lookup == "fails":
        stripe.script["list"] = [500]
    s2 = start_server(db=db, env=env)
    shop["server"] = s2
    re_id = sent(shop, ref)
    assert list(stripe.refunds) == [re_id]
    posts = stripe.requests("/v1/refunds")
    assert {p["headers"]["idempotency-key"] for p in posts} == {
        f"training-refund-{ref['id']}"}
    assert len(stripe.requests("/v1/refunds", method="GET")) == 1
    if lookup == "fails":
        assert len(posts) == 2 and posts[1].get("replayed")
    else:
        assert len(posts) == 1
    ev = stripe.refund_event(re_id)
    for _ in range(2):
        r = stripe_hook(s2, ev, stripe_signer)
        assert r.status_code == 200, r.text
    charge = {"id": "ch_" + uuid.uuid4().hex[:20], "object": "charge", "payment_intent": pi,
              "amount_refunded": 7500, "refunds": {"object": "list", "data": [
                  ev["data"]["object"]]}}
    r = stripe_hook(s2, {"id": "evt_" + uuid.uuid4().hex, "type": "charge.refunded",
                         "data": {"object": charge}}, stripe_signer)
    assert r.status_code == 200 and r.json()["effect"] == "recorded", r.text
    assert refund_row(shop, ref)["status"] == "completed"
    assert db.count("audit_log", f"action = 'refunds.complete' AND "
                    f"entity_id = '{ref['id']}'") == 1
    assert money(db, pi) == (7500, 7500, 7500)
    assert read_booking(shop["server"], m, b)["payment_status"] == "refunded"
    assert db.count("failed_jobs") == 0


@pytest.mark.dialect
def test_a_retry_past_the_keys_life_finds_its_refund_among_many(start_server, db, stripe,
                                                                 stripe_signer):
    """The crash above, a day later: Stripe no longer knows the
    Idempotency-Key, and the intent has 120 newer refunds (made in the
    dashboard), so ours is on a late page of Stripe's list. The retry pages
    through the whole list (has_more, starting_after) and takes its own:
    one POST ever, one refund of ours at Stripe, not two."""
    env = stripe.env(CAREBASE_JOB_TIMEOUT_S="3", CAREBASE_STRIPE_TIMEOUT_S="1")
    s1 = start_server(db=db, env=env)
    shop = make_catalogue(s1)
    shop.update(server=s1, stripe=stripe, sign=stripe_signer, db=db)
    m, admin = shop["member"], shop["admin"]
    b, pi = paid(shop, m, course_schedule(s1, shop))
    ref = asked(shop, m, b, amount_minor=1000)
    stripe.script["refund"] = ["gate"]
    assert decide(shop, admin, ref, "approve").status_code == 200
    assert stripe.entered.wait(20), "the job never asked Stripe"
    s1.kill()
    stripe.release.set()
    (made,) = stripe.refunds
    for _ in range(120):
        stripe.add_refund(pi, 1)
    stripe.forget_keys()
    s2 = start_server(db=db, env=env)
    shop["server"] = s2
    assert sent(shop, ref) == made
    ours = [r for r in stripe.refunds.values()
            if r["metadata"].get("refund_id") == ref["id"]]
    assert [r["id"] for r in ours] == [made]
    assert len(stripe.requests("/v1/refunds")) == 1
    pages = stripe.requests("/v1/refunds", method="GET")
    assert len(pages) > 1 and "starting_after=" in pages[-1]["query"]
    assert complete(shop, ref)["effect"] == "refund_completed"
    assert money(db, pi) == (7500, 1000, 1000)


def test_a_refund_with_our_id_and_another_amount_is_not_taken_for_ours(shop, db):
    """A retry finds, among the intent's refunds, one carrying this refund's
    id in its metadata but another amount (made by hand, copying it): it
    is not ours. The job sends its own (the same key) and records that."""
    s, st, m, admin = shop["server"], shop["stripe"], shop["member"], shop["admin"]
    b, pi = paid(shop, m, course_schedule(s, shop))
    ref = asked(shop, m, b, amount_minor=1000)
    impostor = st.add_refund(pi, 999, metadata={"refund_id": ref["id"]})
    st.script["refund"] = [503]       # the first attempt makes nothing
    assert decide(shop, admin, ref, "approve").status_code == 200
    re_id = sent(shop, ref)
    assert re_id != impostor
    assert st.refunds[re_id]["amount"] == 1000
    assert st.refunds[re_id]["metadata"]["refund_id"] == ref["id"]
    assert len(st.requests("/v1/refunds", method="GET")) >= 1
    assert "event=training_refund_lookup_mismatch" in s.log()
    assert complete(shop, ref)["effect"] == "refund_completed"
    assert money(db, pi) == (7500, 1000, 1000)


# -- a schedule or a paid booking cancelled by staff -----------------------------


def test_a_schedule_cancelled_by_staff_refunds_its_paid_bookings_in_full(shop, db):
    s, st, admin = shop["server"], shop["stripe"], shop["admin"]
    sched = course_schedule(s, shop)
    alice = person(s, "alice")
    a, pi = paid(shop, alice, sched, 2)
    partial = asked(shop, alice, a, amount_minor=1000)          # still pending
    cash = booked(s, person(s, "cash"), sched)
    assert s.post(f"/v1/training-bookings/{cash['id']}/confirm",
                  headers=hdr(admin)).status_code == 200
    code = discount_code(s, admin, usage_limit=3)
    hold = booked(s, person(s, "hold"), sched, discount_code=code["code"])
    r = s.post(f"/v1/course-schedules/{sched['id']}/cancel", headers=hdr(admin))
    assert r.status_code == 200, r.text
    for x in (a, cash, hold):
        row = read_booking(shop["server"], admin, x)
        assert row["status"] == "cancelled" and row["cancel_reason"] == "schedule_cancelled"
    # Paid through Stripe: its pending request rejected, all of it refunded.
    assert refund_row(shop, partial)["status"] == "rejected"
    (full,) = s.get(f"/v1/refunds?booking_id={a['id']}&cause=schedule_cancelled",
                    headers=hdr(admin)).json()["data"]
    assert full["amount_minor"] == 15000 and full["status"] in ("approved", "processing")
    assert full["processing_fee_minor"] == 0 and full["processed_by"] == admin["id"]
    assert complete(shop, full)["effect"] == "refund_completed"
    assert read_booking(shop["server"], admin, a)["payment_status"] == "refunded"
    assert db.count("email_log", f"template = 'training_payment_refunded' AND "
                    f"user_id = '{alice['id']}'") == 1
    # Paid offline: a manual refund, approved, for staff to pay back (nothing
    # sent to Stripe); unpaid: its code given back.
    assert read_booking(shop["server"], admin, cash)["payment_status"] == "paid"
    (owed,) = s.get(f"/v1/refunds?booking_id={cash['id']}", headers=hdr(admin)).json()["data"]
    assert (owed["method"], owed["status"], owed["cause"], owed["amount_minor"]) == (
        "manual", "approved", "schedule_cancelled", 7500)
    assert owed["payment_transaction_id"] is None
    assert read_booking(shop["server"], admin, hold)["discount_released_at"]
    assert db.count("refunds", f"booking_id = '{hold['id']}'") == 0
    assert len(st.refunds) == 1


def test_staff_cancelling_a_paid_booking_refund_it_in_full(shop, db):
    s, m, admin = shop["server"], shop["member"], shop["admin"]
    b, pi = paid(shop, m, soon(shop, 1))          # inside the policy's last hours
    r = s.post(f"/v1/training-bookings/{b['id']}/cancel", headers=hdr(admin))
    assert r.status_code == 200 and r.json()["cancel_reason"] == "staff", r.text
    (ref,) = s.get(f"/v1/refunds?booking_id={b['id']}", headers=hdr(admin)).json()["data"]
    assert ref["cause"] == "staff_cancelled" and ref["amount_minor"] == 7500
    complete(shop, ref)
    assert read_booking(shop["server"], m, b)["payment_status"] == "refunded"


def cancel(shop, who, booking):
    return shop["server"].post(f"/v1/training-bookings/{booking['id']}/cancel",
                               headers=hdr(who))


def refunds_of(shop, booking, **filters):
    q = "".join(f"&{k}={v}" for k, v in filters.items())
    r = shop["server"].get(f"/v1/refunds?booking_id={booking['id']}{q}",
                           headers=hdr(shop["admin"]))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_a_learner_cancels_their_paid_booking_refunded_under_the_policy(shop, db):
    """The booker cancels their own confirmed, paid booking: it is cancelled
    and its seats freed at once, and what was paid goes back under the
    cancellation policy as a refund approved at once (cause
    booker_cancelled), sent by the training.refund job and completed by
    Stripe's webhook as any other: in full far ahead, less the fee inside
    training_refund_full_days, refused inside training_refund_none_hours
    (409 TOO_LATE_TO_CANCEL, nothing changed)."""
    s, st, m, admin = shop["server"], shop["stripe"], shop["member"], shop["admin"]
    # Far ahead: all of it back; a pending request of theirs gives way.
    far = course_schedule(s, shop)
    b, pi = paid(shop, m, far, 2)
    request = asked(shop, m, b, amount_minor=1000)
    assert free_seats(s, far, admin) == 8
    r = cancel(shop, m, b)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["cancel_reason"] == "booker"
    assert r.json()["payment_status"] == "paid"
    assert free_seats(s, far, admin) == 10
    rejected = refund_row(shop, request)
    # Rejected by carebase (the policy), not by a staff member: the booker
    # did not decide their own request.
    assert rejected["status"] == "rejected" and rejected["processed_by"] is None
    assert rejected["rejected_at"]
    (full,) = refunds_of(shop, b, cause="booker_cancelled")
    assert (full["amount_minor"], full["processing_fee_minor"], full["net_refund_minor"]) == (
        15000, 0, 15000)
    assert full["policy"] == "full" and full["status"] in ("approved", "processing")
    assert full["requested_by"] == m["id"] and full["processed_by"] is None
    assert full["approved_at"]
    r = s.get(f"/v1/refunds/{full['id']}", headers=hdr(m))
    assert r.status_code == 200 and r.json()["cause"] == "booker_cancelled"
    assert complete(shop, full)["effect"] == "refund_completed"
    (req,) = st.requests("/v1/refunds")
    assert req["form"]["payment_intent"] == pi and req["form"]["amount"] == "15000"
    assert read_booking(s, m, b)["payment_status"] == "refunded"
    assert money(db, pi) == (15000, 15000, 15000)
    assert db.count("audit_log", f"action = 'training_bookings.cancel' AND "
                    f"entity_id = '{b['id']}'") == 1
    # Five days ahead: the fee (25 percent) is kept.
    five = soon(shop, 5)
    b5, pi5 = paid(shop, m, five)
    r = cancel(shop, m, b5)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert free_seats(s, five, admin) == 10
    (fee,) = refunds_of(shop, b5)
    assert fee["cause"] == "booker_cancelled" and fee["policy"] == "fee"
    assert (fee["amount_minor"], fee["processing_fee_minor"], fee["net_refund_minor"]) == (
        7500, 1875, 5625)
    complete(shop, fee)
    assert st.requests("/v1/refunds")[-1]["form"]["amount"] == "5625"
    assert read_booking(s, m, b5)["payment_status"] == "partially_refunded"
    assert money(db, pi5) == (7500, 7500, 5625)
    # A day ahead, inside the last 48 hours: refused, nothing changed.
    one = soon(shop, 1, by="trainer2")
    b1, pi1 = paid(shop, m, one)
    err = problem(cancel(shop, m, b1), 409, "TOO_LATE_TO_CANCEL")
    until = datetime.datetime.fromisoformat(err["cancellable_until"].replace("Z", "+00:00"))
    start = datetime.datetime.fromisoformat(one["start_time"].replace("Z", "+00:00"))
    assert start - until == datetime.timedelta(hours=48)
    row = read_booking(s, m, b1)
    assert row["status"] == "confirmed" and row["payment_status"] == "paid"
    assert free_seats(s, one, admin) == 9 and refunds_of(shop, b1) == []
    assert money(db, pi1) == (7500, 0, 0)
    # Staff still may: in full.
    assert cancel(shop, admin, b1).status_code == 200
    assert [x["cause"] for x in refunds_of(shop, b1)] == ["staff_cancelled"]


def test_a_learner_cancels_a_booking_paid_offline_or_free_nothing_sent(shop, db):
    """Confirmed without Stripe (staff's offline confirm, or free and
    confirmed by its booker): the booker cancels it under the same window,
    and nothing is sent to Stripe: what was paid offline is owed back by a
    manual refund under the policy, a free one owes nothing."""
    s, st, m, admin = shop["server"], shop["stripe"], shop["member"], shop["admin"]
    queued = watch_refund_jobs(db)
    sched = course_schedule(s, shop)
    cash = booked(s, m, sched)
    assert s.post(f"/v1/training-bookings/{cash['id']}/confirm",
                  headers=hdr(admin)).status_code == 200
    r = cancel(shop, m, cash)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["payment_status"] == "paid"
    free = discount_code(s, admin, discount_value=100)
    zero = booked(s, m, soon(shop, 1), discount_code=free["code"])
    assert s.post(f"/v1/training-bookings/{zero['id']}/confirm",
                  headers=hdr(m)).status_code == 200
    err = problem(cancel(shop, m, zero), 409, "TOO_LATE_TO_CANCEL")
    # Worded for a booking that cost nothing as for a paid one.
    assert "paid" not in err["detail"] and "48 hours" in err["detail"], err
    (owed,) = refunds_of(shop, cash)
    assert (owed["method"], owed["cause"], owed["status"], owed["policy"]) == (
        "manual", "booker_cancelled", "approved", "full")
    assert owed["amount_minor"] == owed["net_refund_minor"] == 7500
    assert db.count("refunds") == 1 and st.requests("/v1/refunds") == []
    assert queued() == []
    assert free_seats(s, sched, admin) == 10


def test_the_policy_is_the_settings_and_a_change_holds_at_once(shop, db):
    """The cancellation policy is the settings refund_full_days,
    refund_fee_percent and refund_none_hours (config training_refund_* while
    they are not set: 14, 25, 48): a change through /v1/settings holds at
    the next request, for a refund asked for and for the booker's cancel;
    TOO_LATE_TO_CANCEL says the hours as they are (1 hour, not "1 hours")."""
    s, m, admin = shop["server"], shop["member"], shop["admin"]
    b, _ = paid(shop, m, soon(shop, 5))                # 7500, five days ahead
    ref = asked(shop, m, b, amount_minor=1000)
    assert (ref["policy"], ref["processing_fee_minor"]) == ("fee", 250)
    set_setting(s, admin, "refund_fee_percent", "10")
    ref = asked(shop, m, b, amount_minor=1000)
    assert (ref["policy"], ref["processing_fee_minor"]) == ("fee", 100)
    set_setting(s, admin, "refund_full_days", "3")
    ref = asked(shop, m, b, amount_minor=1000)
    assert (ref["policy"], ref["processing_fee_minor"]) == ("full", 0)
    set_setting(s, admin, "refund_none_hours", "150")  # more than the 5 days left
    problem(ask(shop, m, b, amount_minor=1000), 409, "REFUND_NOT_ALLOWED")
    # Not set again: the config key's value.
    set_setting(s, admin, "refund_none_hours", None)
    set_setting(s, admin, "refund_full_days", None)
    ref = asked(shop, m, b, amount_minor=1000)
    assert (ref["policy"], ref["processing_fee_minor"]) == ("fee", 100)

    # The booker's cancel of a course starting in 30 minutes.
    r = schedule(s, admin, shop["course"], shop["venue"], shop["trainer2"],
                 iso_in(0, 0.5), iso_in(0, 7.5))
    assert r.status_code == 201, r.text
    b2, pi2 = paid(shop, m, r.json())
    err = problem(cancel(shop, m, b2), 409, "TOO_LATE_TO_CANCEL")
    assert "48 hours" in err["detail"], err
    set_setting(s, admin, "refund_none_hours", "1")
    err = problem(cancel(shop, m, b2), 409, "TOO_LATE_TO_CANCEL")
    assert "up to 1 hour before" in err["detail"] and "hours" not in err["detail"], err
    assert refunds_of(shop, b2) == []
    set_setting(s, admin, "refund_none_hours", "0")
    r = cancel(shop, m, b2)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    (back,) = refunds_of(shop, b2)
    assert (back["cause"], back["policy"]) == ("booker_cancelled", "fee")
    assert (back["amount_minor"], back["processing_fee_minor"],
            back["net_refund_minor"]) == (7500, 750, 6750)
    assert db.count("audit_log", "action = 'settings.update'") == 7


def test_the_refund_mail_shows_amounts_as_the_currency_counts_them(start_server, db, stripe,
                                                                    stripe_signer, smtp_sink):
    """The booker told of a refund reads the amount in the currency's own
    minor units: 75.00 GBP, but 5000 JPY (yen have none; Stripe counts
    JPY amounts in whole yen), not 50.00 JPY; and how it comes back: to
    the card, or, paid offline, the way they paid. "In full" only when it
    is all that was paid: after an earlier partial refund, the mail says
    how much of the payment comes back."""
    s = start_server(db=db, env=stripe.env(**smtp_env(smtp_sink.port)))
    shop = make_catalogue(s)
    shop.update(server=s, stripe=stripe, sign=stripe_signer, db=db)
    admin = shop["admin"]
    yen = dict(shop, course=training_course(s, admin, name="EFAW (Tokyo)", price_minor=5000,
                                            currency="JPY"))
    for c, hours, name in ((shop, 0, "pounds"), (yen, 24, "yen")):
        m = person(s, name)
        b, pi = paid(c, m, course_schedule(s, c, hours))
        r = s.post(f"/v1/training-bookings/{b['id']}/cancel", headers=hdr(admin))
        assert r.status_code == 200, r.text
    # Paid offline: told it comes back the way they paid, not to a card.
    m = person(s, "cash")
    b = booked(s, m, course_schedule(s, shop, 48))
    assert s.post(f"/v1/training-bookings/{b['id']}/confirm",
                  headers=hdr(admin)).status_code == 200
    assert s.post(f"/v1/training-bookings/{b['id']}/cancel",
                  headers=hdr(admin)).status_code == 200
    # Paid 75.00, 20.00 refunded before: the cancel refunds the 55.00 left.
    m = person(s, "part")
    b, pi = paid(shop, m, course_schedule(s, shop, 72))
    part = asked(shop, m, b, amount_minor=2000)
    assert decide(shop, admin, part, "approve").status_code == 200
    assert s.post(f"/v1/training-bookings/{b['id']}/cancel",
                  headers=hdr(admin)).status_code == 200
    # The refund mails (each booker is told of the cancel too: a
    # notification's mail of its own).
    def refund_mails():
        return [m for m in smtp_sink.messages() if "is being refunded" in str(m["Subject"])]
    msgs = wait_until(lambda: len(refund_mails()) >= 4 and refund_mails(), timeout=20,
                      what="four refund mails")
    text = {m["To"].split(".")[0]: m.get_body(("plain",)).get_content() for m in msgs}
    assert "payment of 75.00 GBP" in text["pounds"], text["pounds"]
    assert "is being refunded in full" in text["pounds"], text["pounds"]
    assert "to the card you paid with" in text["pounds"]
    assert "in full" not in text["part"], text["part"]
    assert "payment of 75.00 GBP" in text["part"], text["part"]
    assert "55.00 GBP is being refunded" in text["part"], text["part"]
    assert "earlier refunds" in text["part"], text["part"]
    assert "payment of 5000 JPY" in text["yen"], text["yen"]
    assert "50.00 JPY" not in text["yen"]
    assert "payment of 75.00 GBP" in text["cash"], text["cash"]
    assert "the way you paid us" in text["cash"] and "card" not in text["cash"]


def test_a_booking_paid_offline_is_refunded_by_hand_and_recorded(shop, db):
    """A booking paid offline (staff's confirm: invoice, cash) has no
    payment Stripe can send back, but its money is still owed back: the
    refund is a manual one, under the same rules (the policy, never more
    than was paid), decided by staff, never sent to Stripe, and completed
    by staff once paid back, with a note of how (sealed under the booker's
    key); the booking's payment_status follows."""
    s, st, m, admin = shop["server"], shop["stripe"], shop["member"], shop["admin"]
    queued = watch_refund_jobs(db)
    sched = course_schedule(s, shop)
    b = booked(s, m, sched)
    assert s.post(f"/v1/training-bookings/{b['id']}/confirm",
                  headers=hdr(admin)).status_code == 200
    part = asked(shop, m, b, amount_minor=2000, reason="missed the afternoon")
    assert (part["method"], part["payment_transaction_id"], part["currency"]) == (
        "manual", None, "GBP")
    assert part["status"] == "pending" and part["cancels_booking"] is False
    err = problem(ask(shop, m, b, amount_minor=6000), 409, "REFUND_EXCEEDS_PAYMENT")
    assert err["refundable_minor"] == 5500
    assert decide(shop, admin, part, "approve").json()["status"] == "approved"
    # Nothing goes to Stripe: no job was queued for it; it waits for staff.
    assert queued() == []
    assert st.requests("/v1/refunds") == []
    assert refund_row(shop, part)["status"] == "approved"
    # Only staff complete it, with a note, and only a manual approved one.
    url = f"/v1/refunds/{part['id']}/complete"
    note = {"note": "bank transfer 2031-03-01, reference CB-7781"}
    problem(s.post(url, headers=hdr(m), json=note), 403, "FORBIDDEN")
    err = problem(s.post(url, headers=hdr(admin), json={}), 422, "VALIDATION_FAILED")
    assert [e["field"] for e in err["errors"]] == ["note"]
    r = s.post(url, headers=hdr(admin), json=note)
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["status"], done["completed_by"], done["note"]) == (
        "completed", admin["id"], note["note"])
    assert done["completed_at"]
    assert b"CB-7781" not in db.raw()
    assert s.get(f"/v1/refunds/{part['id']}", headers=hdr(m)).json()["note"] == note["note"]
    problem(s.post(url, headers=hdr(admin), json=note), 409, "INVALID_TRANSITION")
    assert read_booking(s, m, b)["payment_status"] == "partially_refunded"
    assert db.count("audit_log", f"action = 'refunds.complete' AND "
                    f"entity_id = '{part['id']}'") == 1
    # The rest: all that is left cancels the booking when approved.
    rest = asked(shop, m, b)
    assert rest["amount_minor"] == 5500 and rest["cancels_booking"] is True
    assert decide(shop, admin, rest, "approve").status_code == 200
    row = read_booking(s, m, b)
    assert (row["status"], row["cancel_reason"]) == ("cancelled", "booker")
    assert free_seats(s, sched, admin) == 10
    r = s.post(f"/v1/refunds/{rest['id']}/complete", headers=hdr(admin),
               json={"note": "cash at the desk"})
    assert r.status_code == 200, r.text
    assert read_booking(s, m, b)["payment_status"] == "refunded"
    problem(ask(shop, m, b), 409, "NOT_REFUNDABLE")
    problem(ask(shop, admin, b), 409, "REFUND_EXCEEDS_PAYMENT")
    # A refund through Stripe is Stripe's to complete.
    paid_b, pi = paid(shop, person(s, "card"), sched)
    card = asked(shop, admin, paid_b, amount_minor=100)
    assert decide(shop, admin, card, "approve").status_code == 200
    problem(s.post(f"/v1/refunds/{card['id']}/complete", headers=hdr(admin), json=note),
            409, "NOT_MANUAL")
    # The watch sees a job when one is queued: the card's, and only it.
    assert queued() == [card["id"]]


def test_a_booker_cancelling_a_booking_paid_offline_owes_it_back_less_the_fee(shop, db):
    """The booker cancels a booking paid offline five days before the start
    (inside training_refund_full_days, outside training_refund_none_hours):
    a manual refund of all that was paid, the policy's fee kept (25
    percent: 7500, fee 1875, 5625 back), approved at once by the policy,
    their pending request rejected by carebase. Nothing is left to ask
    for, and completing it leaves the booking partially_refunded (the fee
    stays with the business). Nothing goes to Stripe."""
    s, st, m, admin = shop["server"], shop["stripe"], shop["member"], shop["admin"]
    queued = watch_refund_jobs(db)
    five = soon(shop, 5)
    b = booked(s, m, five)
    assert s.post(f"/v1/training-bookings/{b['id']}/confirm",
                  headers=hdr(admin)).status_code == 200
    request = asked(shop, m, b, amount_minor=2000)
    assert (request["method"], request["policy"], request["processing_fee_minor"]) == (
        "manual", "fee", 500)
    r = cancel(shop, m, b)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["payment_status"] == "paid"
    assert free_seats(s, five, admin) == 10
    rejected = refund_row(shop, request)
    assert rejected["status"] == "rejected" and rejected["processed_by"] is None
    (owed,) = refunds_of(shop, b, cause="booker_cancelled")
    assert (owed["method"], owed["status"], owed["policy"]) == ("manual", "approved", "fee")
    assert (owed["amount_minor"], owed["processing_fee_minor"], owed["net_refund_minor"]) == (
        7500, 1875, 5625)
    assert owed["payment_transaction_id"] is None and owed["currency"] == "GBP"
    assert owed["requested_by"] == m["id"] and owed["processed_by"] is None
    # Nothing is left of the 7500: any further request is refused, even
    # staff's with the policy set aside.
    err = problem(ask(shop, admin, b, amount_minor=1), 409, "REFUND_EXCEEDS_PAYMENT")
    assert err["refundable_minor"] == 0
    problem(ask(shop, admin, b, policy_override=True, override_reason="goodwill"), 409,
            "REFUND_EXCEEDS_PAYMENT")
    problem(ask(shop, m, b), 409, "NOT_REFUNDABLE")
    # Staff pay back the 5625 and mark it done: the fee was kept.
    r = s.post(f"/v1/refunds/{owed['id']}/complete", headers=hdr(admin),
               json={"note": "bank transfer of 56.25"})
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    assert read_booking(s, m, b)["payment_status"] == "partially_refunded"
    err = problem(ask(shop, admin, b, amount_minor=1875), 409, "REFUND_EXCEEDS_PAYMENT")
    assert err["refundable_minor"] == 0
    assert db.count("refunds", f"booking_id = '{b['id']}'") == 2
    assert queued() == [] and st.requests("/v1/refunds") == []


def test_staff_cancelling_a_booking_paid_offline_owe_a_manual_refund(shop, db):
    """Staff's cancel of a confirmed booking paid offline makes its refund
    in full at once, approved, manual; the booker is told it is paid back
    the way they paid, not to their card."""
    s, m, admin = shop["server"], shop["member"], shop["admin"]
    b = booked(s, m, soon(shop, 1))       # inside the policy's last hours: still all back
    assert s.post(f"/v1/training-bookings/{b['id']}/confirm",
                  headers=hdr(admin)).status_code == 200
    r = s.post(f"/v1/training-bookings/{b['id']}/cancel", headers=hdr(admin))
    assert r.status_code == 200, r.text
    (ref,) = s.get(f"/v1/refunds?booking_id={b['id']}", headers=hdr(admin)).json()["data"]
    assert (ref["method"], ref["cause"], ref["status"], ref["amount_minor"]) == (
        "manual", "staff_cancelled", "approved", 7500)
    assert db.count("email_log", "template = 'training_payment_refunded' AND "
                    f"user_id = '{m['id']}'") == 1
    r = s.post(f"/v1/refunds/{ref['id']}/complete", headers=hdr(admin),
               json={"note": "BACS"})
    assert r.status_code == 200, r.text
    assert read_booking(s, m, b)["payment_status"] == "refunded"
    assert shop["stripe"].requests("/v1/refunds") == []


MIGRATION_0022 = "0022_training_payment_fixes"


@pytest.mark.dialect
def test_rolling_back_0022_is_refused_while_its_refunds_exist(shop, db):
    """0022 brought manual refunds and refunds of mismatched payments; 0021's
    tables have no place for them, and the payments and bookings they
    refunded still count them. Its down migration refuses, with a message
    that says why, while any exists (nothing changed, 0022 still applied),
    and runs once none is left."""
    s, m, admin = shop["server"], shop["member"], shop["admin"]
    b = booked(s, m, soon(shop, 1))
    assert s.post(f"/v1/training-bookings/{b['id']}/confirm",
                  headers=hdr(admin)).status_code == 200
    assert cancel(shop, admin, b).status_code == 200
    (manual,) = refunds_of(shop, b)
    assert manual["method"] == "manual"
    c, _ = paid(shop, person(s, "card"), course_schedule(s, shop))
    card = asked(shop, admin, c, amount_minor=100)
    s.stop()
    migrate_down_through(s, db, "0023_roles_and_mail_log")    # every one above 0022
    db.execute(f"UPDATE schema_migrations SET batch = 99999 WHERE name = '{MIGRATION_0022}'")

    def refused(n):
        r = s.cli("migrate", "down", "--yes")
        assert r.returncode != 0, r.stdout
        assert "migration 0022 down refused" in r.stderr, r.stderr
        assert db.count("schema_migrations", f"name = '{MIGRATION_0022}'") == 1
        assert db.count("refunds") == n

    refused(2)
    assert db.scalar(f"SELECT method FROM refunds WHERE id = '{manual['id']}'") == "manual"
    # A refund of a mismatched payment (through Stripe) is refused too.
    db.execute(f"DELETE FROM refunds WHERE id = '{manual['id']}'")
    db.execute(f"UPDATE refunds SET cause = 'payment_mismatch' WHERE id = '{card['id']}'")
    refused(1)
    # None left: it runs.
    db.execute(f"UPDATE refunds SET cause = 'request' WHERE id = '{card['id']}'")
    r = s.cli_ok("migrate", "down", "--yes")
    assert "rolled back 1 migration" in r.stdout, r.stdout
    assert db.count("schema_migrations", f"name = '{MIGRATION_0022}'") == 0
    assert db.count("refunds") == 1
    s.cli_ok("migrate")


# -- races ------------------------------------------------------------------------


@pytest.mark.dialect
@pytest.mark.serial
def test_many_partial_refunds_at_once_never_exceed_the_payment(shop, start_server, db):
    """20 requests of 1000 at once against a payment of 7500, through two
    carebase processes: exactly 7 are made, the rest refused
    REFUND_EXCEEDS_PAYMENT, and the refunds come to 7000. The requests were
    in flight together in both processes (their request log says so).
    Control: the same "what is left? enough: refund" straight on the
    database without the booking's lock or the conditional update refunds
    far more than was paid (see the module's docstring for why this, not a
    switch in carebase)."""
    s, st, m = shop["server"], shop["stripe"], shop["member"]
    other = start_server(db=db, env=st.env())
    b, pi = paid(shop, m, course_schedule(s, shop))

    def attempt(i, session, base):
        r = session.post(base + "/v1/refunds", headers=hdr(m), timeout=60,
                         json={"booking_id": b["id"], "amount_minor": 1000})
        return r.status_code, r.json().get("code")

    results = race([s.base_url, other.base_url], 20, attempt)
    assert calls_in_flight([s, other], "/v1/refunds") >= 2, \
        "the requests never overlapped: the race did not happen"
    assert sorted(results, key=str).count((201, None)) == 7, results
    assert sorted(r for r in results if r[0] != 201) == [
        (409, "REFUND_EXCEEDS_PAYMENT")] * 13
    assert int(db.scalar(f"SELECT SUM(amount_minor) FROM refunds WHERE "
                         f"booking_id = '{b['id']}'")) == 7000
    assert money(db, pi) == (7500, 7000, 0)

    # Control: read what is left, then refund, unguarded.
    b2, pi2 = paid(shop, person(s, "second"), course_schedule(s, shop, 24))
    txn = db.scalar(f"SELECT id FROM payment_transactions WHERE "
                    f"stripe_payment_intent_id = '{pi2}'")
    left_sql = ("SELECT amount_minor - (SELECT COALESCE(SUM(amount_minor), 0) FROM refunds "
                f"WHERE payment_transaction_id = '{txn}') FROM payment_transactions WHERE "
                f"id = '{txn}'")

    def refund(i, left):
        if left < 1000:
            return None
        return ("INSERT INTO refunds (id, booking_id, user_id, payment_transaction_id, "
                "refund_reference, amount_minor, currency, cause, policy, status, "
                f"requested_at, created_at, updated_at) VALUES ('{uuid.uuid4()}', "
                f"'{b2['id']}', '{b2['user_id']}', '{txn}', 'CTRL{i:06d}', 1000, 'GBP', "
                "'request', 'full', 'pending', 0, 0, 0)")

    made = direct_race(db, 20, left_sql, refund)
    assert made > 7, made


# -- privacy, documents ------------------------------------------------------------


def test_refunds_are_exported_and_their_reasons_erased(shop, db):
    s, admin = shop["server"], shop["admin"]
    m = person(s, "leaver")
    b, pi = paid(shop, m, course_schedule(s, shop))
    ref = asked(shop, m, b, amount_minor=500, reason="moving to Aberdeen")
    r = decide(shop, admin, ref, "reject", reason="Aberdeen has a course too")
    assert r.status_code == 200
    doc = s.get("/v1/me/export", headers=hdr(m)).json()["records"]
    assert [(x["reason"], x["rejection_reason"]) for x in doc["refunds"]] == [
        ("moving to Aberdeen", "Aberdeen has a course too")]
    assert b"Aberdeen" not in db.raw()
    r = s.post(f"/v1/users/{m['id']}/erase", headers=hdr(admin))
    assert r.status_code in (200, 204), r.text
    row = refund_row(shop, ref)
    assert row["reason"] is None and row["rejection_reason"] is None
    assert row["amount_minor"] == 500 and row["status"] == "rejected"


def test_the_refund_routes_are_in_the_openapi_document(server):
    doc = server.get("/v1/openapi.json").json()
    for p in ("/v1/refunds", "/v1/refunds/{id}", "/v1/refunds/{id}/approve",
              "/v1/refunds/{id}/reject"):
        assert p in doc["paths"], p
    assert "post" in doc["paths"]["/v1/refunds"] and "get" in doc["paths"]["/v1/refunds"]
    assert "refunds" in doc["components"]["schemas"]
