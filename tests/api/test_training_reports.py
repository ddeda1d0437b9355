"""The training business's reports (issue 17 item 8) in the report catalogue:
training_bookings, training_revenue (gross, discounts, refunds, net, by course,
month and currency), training_attendance (attendance and pass rates by
schedule), training_refunds, training_certificates_expiring (a window) and
training_trainer_load, over London's days. The numbers are checked on a fixture
made through the API (bookings, a discount code, a manual refund with a fee
and a rejected one, a cancelled booking and schedule, attendance,
certificates) whose instants are then set at London's month edges; the
expected values are computed here, in Python with the zoneinfo database,
independently of the server. Then the formats: CSV (UTF-8 with a byte-order
mark, a course name that looks like a formula defused), XLSX read back with
openpyxl (numbers, money in a currency format, dates as dates, percentages),
PDF through pdftotext with its totals; the report runs' queue; and report
schedules (POST /v1/report-schedules): staff recipients only, the run made
once by the report_schedules.due job whatever two workers do, and mailed once
to each recipient with a link that needs a staff sign-in. Runs on SQLite and
PostgreSQL."""

import csv
import datetime
import io
import re
import subprocess
import time
import zoneinfo

import pytest

from conftest import hdr, person, problem, queue_job, smtp_env, wait_until
from training_helpers import (PAEDIATRIC, book_training, booked, course_schedule,
                              discount_code, schedule, training_course)

LONDON = zoneinfo.ZoneInfo("Europe/London")
UTC = datetime.timezone.utc
JULY = "from=2026-07-01&to=2026-08-01"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A course name a spreadsheet would run as a formula, with a comma.
FORMULA_NAME = "=Paediatric First Aid, 2 days"


def ms(s):
    """'2026-07-14T09:00' (UTC) -> ms."""
    return int(datetime.datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp() * 1000)


def london(t, fmt="%Y-%m"):
    """The London month (or fmt) of instant t (ms)."""
    return datetime.datetime.fromtimestamp(t / 1000, LONDON).strftime(fmt)


def report(server, who, name, query=JULY, **kw):
    return server.get(f"/v1/reports/{name}?{query}", headers=hdr(who), **kw)


def body_of(server, who, name, query=JULY):
    r = report(server, who, name, query)
    assert r.status_code == 200, r.text
    return r.json()


def by(body, *keys):
    """{(row[k] for k in keys): row} of a JSON answer, each key once."""
    out = {}
    for row in body["rows"]:
        key = tuple(row[k] for k in keys)
        assert key not in out, body
        out[key] = row
    return out


def set_row(db, table, row_id, **cols):
    sets = ", ".join(f"{k} = {v}" for k, v in cols.items())
    db.execute(f"UPDATE {table} SET {sets} WHERE id = '{row_id}'")


def attendees(server, admin, b):
    r = server.get(f"/v1/training-booking-attendees?booking_id={b['id']}", headers=hdr(admin))
    assert r.status_code == 200, r.text
    return [a["id"] for a in sorted(r.json()["data"], key=lambda a: a["position"])]


def mark(server, who, attendee, status, passed, **extra):
    r = server.post("/v1/attendance-records", headers=hdr(who),
                    json={"attendee_id": attendee, "status": status,
                          "passed_assessment": passed, **extra})
    assert r.status_code == 201, r.text


def post_ok(server, who, path, body=None):
    r = server.post(path, headers=hdr(who), json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()


@pytest.fixture
def business(server, catalogue, db):
    """The training business of July 2026 (London), made through the API and
    its instants set at the month's edges. Returns the people, the
    courses, schedules and bookings, and the facts the expected values are
    computed from."""
    c = catalogue
    s, admin = server, c["admin"]
    course_a = c["course"]                      # EFAW, 75.00 GBP
    course_b = training_course(s, admin, name=FORMULA_NAME, price_minor=12000,
                               **PAEDIATRIC)
    sa = course_schedule(s, c)                                  # trainer's
    r = schedule(s, admin, course_b, c["venue"], c["trainer2"],
                 "2031-03-04T09:00:00.000Z", "2031-03-04T21:00:00.000Z")
    assert r.status_code == 201, r.text
    sb = r.json()
    sc = course_schedule(s, c, start=48)                        # cancelled
    post_ok(s, admin, f"/v1/course-schedules/{sc['id']}/cancel")
    code = discount_code(s, admin, discount_value=10)
    m = {k: person(s, k) for k in ("ann", "ben", "cat", "dan", "eve")}
    b1 = booked(s, m["ann"], sa, 2)
    b2 = booked(s, m["ben"], sa, 1, discount_code=code["code"])
    b3 = booked(s, m["cat"], sb, 1)
    b4 = booked(s, m["dan"], sa, 1)
    b5 = booked(s, m["eve"], sa, 1)
    for b in (b1, b2, b3, b5):
        post_ok(s, admin, f"/v1/training-bookings/{b['id']}/confirm")
    post_ok(s, m["dan"], f"/v1/training-bookings/{b4['id']}/cancel")
    assert (b2["subtotal_minor"], b2["discount_minor"]) == (7500, 750)
    # A refund of part of b3, paid offline: asked, approved, paid back by
    # hand (a fee of 3.00 kept, as the policy keeps one near the start);
    # ann's request of 10.00 of b1 is rejected.
    part = post_ok(s, m["cat"], "/v1/refunds", {"booking_id": b3["id"], "amount_minor": 3000})
    post_ok(s, admin, f"/v1/refunds/{part['id']}/approve")
    post_ok(s, admin, f"/v1/refunds/{part['id']}/complete", {"note": "bank transfer"})
    no = post_ok(s, m["ann"], "/v1/refunds", {"booking_id": b1["id"], "amount_minor": 1000})
    post_ok(s, admin, f"/v1/refunds/{no['id']}/reject", {"reason": "outside the policy"})
    # The instants, at London's edges: b1 was made on 30 June and paid at
    # 00:30 on 1 July in London (23:30 UTC on 30 June); b5 paid at 00:30 on
    # 1 August in London (31 July in UTC).
    when = {
        b1["id"]: dict(created_at=ms("2026-06-30T22:30"), confirmed_at=ms("2026-06-30T23:30")),
        b2["id"]: dict(created_at=ms("2026-07-14T09:00"), confirmed_at=ms("2026-07-15T10:00")),
        b3["id"]: dict(created_at=ms("2026-07-19T09:00"), confirmed_at=ms("2026-07-20T10:00")),
        b4["id"]: dict(created_at=ms("2026-07-09T10:00"), cancelled_at=ms("2026-07-10T10:00")),
        b5["id"]: dict(created_at=ms("2026-07-31T12:00"), confirmed_at=ms("2026-07-31T23:30")),
    }
    for bid, cols in when.items():
        set_row(db, "training_bookings", bid, **cols)
    set_row(db, "refunds", part["id"], requested_at=ms("2026-07-22T12:00"),
            completed_at=ms("2026-07-25T12:00"), processing_fee_minor=300)
    set_row(db, "refunds", no["id"], requested_at=ms("2026-07-23T09:00"),
            rejected_at=ms("2026-07-23T10:00"))
    # The schedules ran in July (09:00 London); sc would have.
    for sched, start, hours in ((sa, "2026-07-06T08:00", 7), (sb, "2026-07-13T08:00", 12),
                                (sc, "2026-07-20T08:00", 7)):
        set_row(db, "course_schedules", sched["id"], start_time=ms(start),
                end_time=ms(start) + hours * 3600000)
    # Attendance at sa: ann's two (present and passed; absent), ben's
    # (present, failed the assessment), eve's (late within 15 minutes,
    # passed); at sb, cat's (present, passed). Completing issues the
    # certificates of those eligible.
    a1, a2 = attendees(s, admin, b1)
    (a3,) = attendees(s, admin, b2)
    (a5,) = attendees(s, admin, b5)
    (a4,) = attendees(s, admin, b3)
    mark(s, c["instructor"], a1, "present", True)
    mark(s, admin, a2, "absent", False)
    mark(s, admin, a3, "present", False)
    mark(s, admin, a5, "late", True, check_in_time="2026-07-06T08:10:00.000Z")
    mark(s, c["instructor2"], a4, "present", True)
    for sched in (sa, sb):
        post_ok(s, admin, f"/v1/course-schedules/{sched['id']}/start")
        post_ok(s, admin, f"/v1/course-schedules/{sched['id']}/complete")
    certs = s.get("/v1/certificates", headers=hdr(admin)).json()["data"]
    assert sorted(x["expiry_date"] for x in certs) == ["2029-07-06", "2029-07-06", "2029-07-13"]
    # eve's certificate is revoked.
    eve = next(x for x in certs if x["attendee_id"] == a5)
    post_ok(s, admin, f"/v1/certificates/{eve['id']}/revoke", {"reason": "irregularity"})
    facts = {
        # course, seats, list price, discount, paid?, instants
        "bookings": [
            dict(course=course_a["name"], seats=2, gross=15000, discount=0, paid=True,
                 **when[b1["id"]]),
            dict(course=course_a["name"], seats=1, gross=7500, discount=750, paid=True,
                 **when[b2["id"]]),
            dict(course=FORMULA_NAME, seats=1, gross=12000, discount=0, paid=True,
                 **when[b3["id"]]),
            dict(course=course_a["name"], seats=1, gross=7500, discount=0, paid=False,
                 **when[b4["id"]]),
            dict(course=course_a["name"], seats=1, gross=7500, discount=0, paid=True,
                 **when[b5["id"]]),
        ],
        "refunds": [
            dict(course=FORMULA_NAME, amount=3000, fee=300, requested_at=ms("2026-07-22T12:00"),
                 completed_at=ms("2026-07-25T12:00"), rejected_at=None),
            dict(course=course_a["name"], amount=1000, fee=0, requested_at=ms("2026-07-23T09:00"),
                 completed_at=None, rejected_at=ms("2026-07-23T10:00")),
        ],
    }
    return dict(c, course_b=course_b, sa=sa, sb=sb, sc=sc, b=(b1, b2, b3, b4, b5), m=m,
                facts=facts, certs=certs, a1=a1)


# --------------------------------------------------------------------------
# the numbers


def expected_bookings(facts, month="2026-07"):
    out = {}
    for b in facts["bookings"]:
        for col, measure, n in (("created_at", "made", 1), ("created_at", "seats", b["seats"]),
                                ("confirmed_at", "confirmed", 1),
                                ("cancelled_at", "cancelled", 1)):
            if b.get(col) is not None and london(b[col]) == month:
                row = out.setdefault(b["course"], dict(made=0, seats=0, confirmed=0,
                                                        cancelled=0))
                row[measure] += n
    return out


def expected_revenue(facts, month="2026-07"):
    out = {}
    for b in facts["bookings"]:
        if b["paid"] and london(b["confirmed_at"]) == month:
            row = out.setdefault(b["course"], dict(bookings=0, gross_minor=0,
                                                   discounts_minor=0, refunds_minor=0))
            row["bookings"] += 1
            row["gross_minor"] += b["gross"]
            row["discounts_minor"] += b["discount"]
    for r in facts["refunds"]:
        if r["completed_at"] is not None and london(r["completed_at"]) == month:
            row = out.setdefault(r["course"], dict(bookings=0, gross_minor=0,
                                                   discounts_minor=0, refunds_minor=0))
            row["refunds_minor"] += r["amount"] - r["fee"]
    for row in out.values():
        row["net_minor"] = row["gross_minor"] - row["discounts_minor"] - row["refunds_minor"]
    return out


def measures(row, names):
    return {k: row[k] for k in names}


@pytest.mark.dialect
def test_bookings_and_revenue_by_course_and_london_month(server, business):
    admin, facts = business["admin"], business["facts"]
    body = body_of(server, admin, "training_revenue")
    assert body["time_zone"] == "Europe/London" and body["period"] == "month"
    # London's July: 2026-06-30T23:00Z to 2026-07-31T23:00Z.
    assert (body["from"], body["to"]) == ("2026-06-30T23:00:00.000Z", "2026-07-31T23:00:00.000Z")
    assert body["columns"] == ["period", "period_start", "course_id", "course", "currency",
                               "bookings", "gross_minor", "discounts_minor", "refunds_minor",
                               "net_minor"]
    want = expected_revenue(facts)
    names = ["bookings", "gross_minor", "discounts_minor", "refunds_minor", "net_minor"]
    got = {k[1]: measures(row, names) for k, row in by(body, "period", "course").items()}
    assert got == want
    # The numbers as a person checks them: b1 (paid at 00:30 London on
    # 1 July) and b2 with its discount; b3 less what went back of its
    # refund (30.00 less the 3.00 fee kept); b5 paid in London's August.
    assert want == {business["course"]["name"]: dict(bookings=2, gross_minor=22500,
                                                      discounts_minor=750, refunds_minor=0,
                                                      net_minor=21750),
                    FORMULA_NAME: dict(bookings=1, gross_minor=12000, discounts_minor=0,
                                       refunds_minor=2700, net_minor=9300)}
    for row in body["rows"]:
        assert row["period"] == "2026-07" and row["period_start"] == "2026-07-01"
        assert row["currency"] == "GBP"
    assert body["totals"] == dict(bookings=3, gross_minor=34500, discounts_minor=750,
                                  refunds_minor=2700, net_minor=31050, currency="GBP")
    assert body["totals_by_currency"] == {"GBP": dict(gross_minor=34500, discounts_minor=750,
                                                      refunds_minor=2700, net_minor=31050)}
    # In UTC's months the answer would differ: b1 was paid on 30 June UTC.
    assert london(facts["bookings"][0]["confirmed_at"]) != \
        datetime.datetime.fromtimestamp(facts["bookings"][0]["confirmed_at"] / 1000,
                                        UTC).strftime("%Y-%m")
    # August holds b5.
    aug = body_of(server, admin, "training_revenue", "from=2026-08-01&to=2026-09-01")
    assert aug["totals"]["bookings"] == 1 and aug["totals"]["gross_minor"] == 7500
    # By London day: b1 is on 1 July.
    day = body_of(server, admin, "training_revenue", JULY + "&period=day")
    assert {(r["period"], r["course"]) for r in day["rows"]} == {
        ("2026-07-01", business["course"]["name"]), ("2026-07-15", business["course"]["name"]),
        ("2026-07-20", FORMULA_NAME), ("2026-07-25", FORMULA_NAME)}
    body = body_of(server, admin, "training_bookings")
    got = {k[1]: measures(row, ["made", "seats", "confirmed", "cancelled"])
           for k, row in by(body, "period", "course").items()}
    assert got == expected_bookings(facts)
    assert got[business["course"]["name"]] == dict(made=3, seats=3, confirmed=2, cancelled=1)
    assert body["totals"] == dict(made=4, seats=4, confirmed=3, cancelled=1)
    # A week is named by its Monday, in London: b1's payment is in the
    # week of Monday 29 June.
    week = body_of(server, admin, "training_bookings", JULY + "&period=week")
    assert by(week, "period", "course")[("2026-06-29", business["course"]["name"])][
        "confirmed"] == 1


@pytest.mark.dialect
def test_refunds_by_course(server, business):
    body = body_of(server, business["admin"], "training_refunds")
    got = {k[1]: measures(row, ["requested", "requested_minor", "completed", "refunded_minor",
                                "fees_minor", "rejected"])
           for k, row in by(body, "period", "course").items()}
    want = {}
    for r in business["facts"]["refunds"]:
        row = want.setdefault(r["course"], dict(requested=0, requested_minor=0, completed=0,
                                                refunded_minor=0, fees_minor=0, rejected=0))
        if london(r["requested_at"]) == "2026-07":
            row["requested"] += 1
            row["requested_minor"] += r["amount"]
        if r["completed_at"] and london(r["completed_at"]) == "2026-07":
            row["completed"] += 1
            row["refunded_minor"] += r["amount"] - r["fee"]
            row["fees_minor"] += r["fee"]
        if r["rejected_at"] and london(r["rejected_at"]) == "2026-07":
            row["rejected"] += 1
    assert got == want
    assert body["totals"] == dict(requested=2, requested_minor=4000, completed=1,
                                  refunded_minor=2700, fees_minor=300, rejected=1,
                                  currency="GBP")


@pytest.mark.dialect
def test_attendance_and_pass_rates_by_schedule(server, business):
    body = body_of(server, business["admin"], "training_attendance", JULY + "&period=day")
    assert body["columns"][:4] == ["period", "period_start", "schedule_id", "course"]
    rows = by(body, "schedule_id")
    sa, sb = rows[(business["sa"]["id"],)], rows[(business["sb"]["id"],)]
    # The cancelled schedule is not among them.
    assert set(rows) == {(business["sa"]["id"],), (business["sb"]["id"],)}
    assert sa["period"] == "2026-07-06" and sa["course"] == business["course"]["name"]
    # sa: ann's two, ben's and eve's (dan cancelled); three attended, one
    # absent; ann and eve passed; eve's certificate revoked.
    assert measures(sa, ["attendees", "attended", "absent", "passed", "certificates"]) == \
        dict(attendees=4, attended=3, absent=1, passed=2, certificates=1)
    assert sa["attendance_rate"] == pytest.approx(3 / 4)
    assert sa["pass_rate"] == pytest.approx(2 / 3)
    assert measures(sb, ["attendees", "attended", "passed", "certificates"]) == \
        dict(attendees=1, attended=1, passed=1, certificates=1)
    assert sb["attendance_rate"] == 1 and sb["pass_rate"] == 1
    t = body["totals"]
    assert measures(t, ["attendees", "attended", "absent", "passed", "certificates"]) == \
        dict(attendees=5, attended=4, absent=1, passed=3, certificates=2)
    assert t["attendance_rate"] == pytest.approx(4 / 5) and t["pass_rate"] == pytest.approx(3 / 4)
    # A range with no schedule: no rows, rates null.
    empty = body_of(server, business["admin"], "training_attendance",
                    "from=2026-09-01&to=2026-10-01")
    assert empty["rows"] == [] and empty["totals"]["attendance_rate"] is None


@pytest.mark.dialect
def test_trainer_load(server, business):
    body = body_of(server, business["admin"], "training_trainer_load")
    rows = {row["trainer_id"]: row for row in body["rows"]}
    t1, t2 = business["trainer"], business["trainer2"]
    assert rows[t1["id"]]["trainer_code"] == t1["trainer_code"]
    names = ["schedules", "course_days", "course_hours", "learners", "cancelled"]
    # EFAW is 1 day of 6 hours, Paediatric 2 days of 12; sc was cancelled.
    assert measures(rows[t1["id"]], names) == dict(schedules=1, course_days=1, course_hours=6,
                                                   learners=4, cancelled=1)
    assert measures(rows[t2["id"]], names) == dict(schedules=1, course_days=2, course_hours=12,
                                                   learners=1, cancelled=0)


@pytest.mark.dialect
def test_certificates_expiring_in_a_window(server, business, db):
    admin = business["admin"]
    body = body_of(server, admin, "training_certificates_expiring",
                   "from=2029-07-01&to=2029-08-01")
    got = {k[1]: measures(r, ["expiring", "expired"])
           for k, r in by(body, "period", "course").items()}
    # ann's (EFAW, 6 July) and cat's (13 July); eve's is revoked.
    assert got == {business["course"]["name"]: dict(expiring=1, expired=0),
                   FORMULA_NAME: dict(expiring=1, expired=0)}
    # The window is [from, to) in London's dates.
    body = body_of(server, admin, "training_certificates_expiring",
                   "from=2029-07-07&to=2029-07-13")
    assert body["rows"] == [] and body["totals"] == dict(expiring=0, expired=0)
    body = body_of(server, admin, "training_certificates_expiring",
                   "from=2029-07-06&to=2029-07-14&period=day")
    assert [(r["period"], r["expiring"]) for r in body["rows"]] == [("2029-07-06", 1),
                                                                   ("2029-07-13", 1)]
    # One whose date has passed, expired by the nightly job, counts as
    # expired too.
    set_row(db, "certificates", next(x["id"] for x in business["certs"]
                                     if x["attendee_id"] == business["a1"]),
            expiry_date="'2026-01-05'")
    queue_job(db, "training.expire_certificates")
    wait_until(lambda: db.count("certificates", "status = 'expired'") == 1, timeout=15,
               what="the certificate expired")
    body = body_of(server, admin, "training_certificates_expiring",
                   "from=2026-01-01&to=2026-02-01")
    assert body["totals"] == dict(expiring=1, expired=1)


@pytest.mark.dialect
def test_money_in_two_currencies_is_totalled_by_currency(server, catalogue, db, tmp_path):
    """Rows are by currency; money totals are sums only within one: with
    two, totals' money is null and totals_by_currency has each's. The
    tables (CSV read by the csv module, XLSX by openpyxl, PDF by
    pdftotext) have one Total row per currency, by code, its currency in
    the currency column, its money and counts that currency's alone (in
    XLSX, in that currency's format): never one row that mixes them."""
    c = catalogue
    admin = c["admin"]
    euro = training_course(server, admin, name="EFAW Dublin", currency="EUR", price_minor=9000)
    r = schedule(server, admin, euro, c["venue"], c["trainer2"], "2031-03-05T09:00:00.000Z",
                 "2031-03-05T16:00:00.000Z")
    assert r.status_code == 201, r.text
    for sched, who in ((r.json(), person(server, "eur")),
                       (course_schedule(server, c), person(server, "gbp"))):
        b = booked(server, who, sched)
        post_ok(server, admin, f"/v1/training-bookings/{b['id']}/confirm")
        set_row(db, "training_bookings", b["id"], confirmed_at=ms("2026-07-10T12:00"))
    body = body_of(server, admin, "training_revenue")
    assert {(row["course"], row["currency"], row["gross_minor"]) for row in body["rows"]} == {
        ("EFAW Dublin", "EUR", 9000), (c["course"]["name"], "GBP", 7500)}
    t = body["totals"]
    assert t["bookings"] == 2 and t["currency"] is None
    assert t["gross_minor"] is None and t["net_minor"] is None
    assert body["totals_by_currency"] == {
        "EUR": dict(gross_minor=9000, discounts_minor=0, refunds_minor=0, net_minor=9000),
        "GBP": dict(gross_minor=7500, discounts_minor=0, refunds_minor=0, net_minor=7500)}
    r = report(server, admin, "training_revenue", JULY + "&format=csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    assert {(row[3], row[4], row[6]) for row in rows[1:] if row[0] != "Total"} == {
        ("EFAW Dublin", "EUR", "90.00"), (c["course"]["name"], "GBP", "75.00")}
    assert rows[-2:] == [["Total", "", "", "", "EUR", "1", "90.00", "0.00", "0.00", "90.00"],
                         ["Total", "", "", "", "GBP", "1", "75.00", "0.00", "0.00", "75.00"]]
    assert [row[0] for row in rows].count("Total") == 2

    openpyxl = pytest.importorskip("openpyxl")
    r = report(server, admin, "training_revenue", JULY + "&format=xlsx")
    assert r.status_code == 200, r.text
    path = tmp_path / "two.xlsx"
    path.write_bytes(r.content)
    xrows = list(openpyxl.load_workbook(path).worksheets[0].iter_rows())
    assert len(xrows) == 5 and [x[0].value for x in xrows[3:]] == ["Total", "Total"]
    for row, cur, gross in zip(xrows[3:], ("EUR", "GBP"), (90.0, 75.0)):
        assert row[0].font.b and row[4].value == cur and row[5].value == 1
        assert [x.value for x in row[6:10]] == [pytest.approx(gross), 0, 0,
                                                pytest.approx(gross)]
        for x in row[6:10]:
            assert x.data_type == "n" and cur in x.number_format, x.number_format
            assert ({"EUR", "GBP"} - {cur}).pop() not in x.number_format

    r = report(server, admin, "training_revenue", JULY + "&format=pdf")
    assert r.status_code == 200, r.text
    path = tmp_path / "two.pdf"
    path.write_bytes(r.content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          check=True).stdout.decode("utf-8")
    total = [ln.split() for ln in text.splitlines() if ln.strip().startswith("Total")]
    assert total == [["Total", "EUR", "1", "90.00", "EUR", "0.00", "EUR", "0.00", "EUR",
                      "90.00", "EUR"],
                     ["Total", "GBP", "1", "75.00", "GBP", "0.00", "GBP", "0.00", "GBP",
                      "75.00", "GBP"]], text


# --------------------------------------------------------------------------
# parameters and who may run them


@pytest.mark.parametrize("query,field", [
    ("to=2026-08-01", "from"),
    ("from=2026-07-01", "to"),
    ("from=yesterday&to=2026-08-01", "from"),
    ("from=2026-07-01&to=2026-02-30", "to"),
    ("from=2026-08-01&to=2026-07-01", "to"),
    ("from=2026-07-01&to=2026-07-01", "to"),
    ("from=2020-01-01&to=2026-01-02", "to"),
    ("from=2026-06-01T23:30:00Z&to=2026-06-02", "to"),
    (JULY + "&period=quarter", "period"),
])
def test_bad_dates_are_refused_with_a_stable_code(server, catalogue, query, field):
    for name in ("training_revenue", "training_certificates_expiring"):
        p = problem(report(server, catalogue["admin"], name, query), 422, "VALIDATION_FAILED")
        assert field in [e["field"] for e in p["errors"]], p


def test_training_reports_are_for_staff_who_read_reports(server, catalogue):
    c = catalogue
    for name in ("training_revenue", "training_trainer_load"):
        problem(report(server, c["member"], name), 403, "FORBIDDEN")
        # An instructor is staff, but reports:read:all is the admins'.
        problem(report(server, c["instructor"], name), 403, "FORBIDDEN")
        problem(server.get(f"/v1/reports/{name}?{JULY}"), 401, "UNAUTHORIZED")
    listed = server.get("/v1/reports", headers=hdr(c["admin"])).json()["data"]
    rep = {d["name"]: d for d in listed}
    assert {"training_bookings", "training_revenue", "training_attendance", "training_refunds",
            "training_certificates_expiring", "training_trainer_load"} <= set(rep)
    assert rep["training_revenue"]["time_zone"] == "Europe/London"
    assert {m["name"]: m["type"] for m in rep["training_revenue"]["measures"]}[
        "net_minor"] == "money"
    assert "sql" not in str(listed).lower()


# --------------------------------------------------------------------------
# the formats


@pytest.mark.dialect
def test_csv_has_a_bom_and_defuses_formulas(server, business):
    r = report(server, business["admin"], "training_revenue", JULY + "&format=csv")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    # Named by London's dates.
    assert r.headers["Content-Disposition"] == \
        'attachment; filename="training_revenue_2026-07-01_2026-08-01_month.csv"'
    assert r.content.startswith(b"\xef\xbb\xbfperiod,period_start,")
    text = r.content.decode("utf-8-sig")
    # The name starting with = is quoted with a ' before it.
    assert '"\'=Paediatric First Aid, 2 days"' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["period", "period_start", "course_id", "course", "currency", "bookings",
                       "gross", "discounts", "refunds", "net"]
    got = {r[3]: r[4:] for r in rows[1:-1]}
    assert got == {business["course"]["name"]: ["GBP", "2", "225.00", "7.50", "0.00", "217.50"],
                   "'" + FORMULA_NAME: ["GBP", "1", "120.00", "0.00", "27.00", "93.00"]}
    assert rows[1][1] == "2026-07-01"
    assert rows[-1] == ["Total", "", "", "", "GBP", "3", "345.00", "7.50", "27.00", "310.50"]


@pytest.mark.dialect
def test_xlsx_cells_are_typed(server, business, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    r = report(server, business["admin"], "training_revenue", JULY + "&format=xlsx")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == XLSX
    path = tmp_path / "revenue.xlsx"
    path.write_bytes(r.content)
    ws = openpyxl.load_workbook(path).worksheets[0]
    rows = list(ws.iter_rows())
    assert [c.value for c in rows[0]] == ["period", "period_start", "course_id", "course",
                                          "currency", "bookings", "gross", "discounts",
                                          "refunds", "net"]
    assert all(c.font.b for c in rows[0]) and ws.freeze_panes == "A2"
    data = {row[3].value: row for row in rows[1:-1]}
    formula = data[FORMULA_NAME]
    assert formula[3].data_type == "s"          # text, never a formula
    # The period's first day is a date.
    assert formula[1].is_date and formula[1].value == datetime.datetime(2026, 7, 1)
    assert isinstance(formula[5].value, int) and formula[5].data_type == "n"
    # Money: numbers in a currency format with two decimals.
    for cell, want in zip(formula[6:10], (120.00, 0.00, 27.00, 93.00)):
        assert cell.data_type == "n" and cell.value == pytest.approx(want)
        assert "GBP" in cell.number_format and "0.00" in cell.number_format
    total = rows[-1]
    assert total[0].value == "Total" and total[0].font.b
    assert [c.value for c in total[5:10]] == [3, pytest.approx(345.0), pytest.approx(7.5),
                                              pytest.approx(27.0), pytest.approx(310.5)]
    assert "GBP" in total[9].number_format
    # Rates are percentages.
    r = report(server, business["admin"], "training_attendance", JULY + "&format=xlsx")
    path.write_bytes(r.content)
    ws = openpyxl.load_workbook(path).worksheets[0]
    head = [c.value for c in next(ws.iter_rows())]
    rate = head.index("attendance_rate")
    cells = [row[rate] for row in list(ws.iter_rows())[1:]]
    assert all(c.data_type == "n" and "%" in c.number_format for c in cells)
    assert sorted(c.value for c in cells[:-1]) == [pytest.approx(0.75), pytest.approx(1.0)]
    assert cells[-1].value == pytest.approx(0.8)


@pytest.mark.dialect
def test_pdf_is_a_table_with_its_totals(server, business, tmp_path):
    r = report(server, business["admin"], "training_revenue", JULY + "&format=pdf")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    path = tmp_path / "revenue.pdf"
    path.write_bytes(r.content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          check=True).stdout.decode("utf-8")
    assert "Training revenue" in text and "Page 1 of 1" in text
    assert FORMULA_NAME.split(",")[0] in text
    total = [ln.split() for ln in text.splitlines() if ln.strip().startswith("Total")]
    assert total == [["Total", "GBP", "3", "345.00", "GBP", "7.50", "GBP", "27.00", "GBP",
                      "310.50", "GBP"]]


@pytest.mark.dialect
def test_a_queued_run_gives_the_same_bytes(server, business):
    admin = business["admin"]
    r = server.post("/v1/report-runs", headers=hdr(admin),
                    json={"report": "training_revenue", "from": "2026-07-01",
                          "to": "2026-08-01", "format": "csv"})
    assert r.status_code == 202, r.text
    run = r.json()
    # London's dates: the range starts at 23:00 UTC on 30 June.
    assert run["from"] == "2026-06-30T23:00:00.000Z" and run["is_scheduled"] is False
    assert run["schedule_frequency"] is None and run["schedule_id"] is None
    wait_until(lambda: server.get(f"/v1/report-runs/{run['id']}", headers=hdr(admin))
               .json()["status"] == "succeeded", timeout=20, what="the run")
    got = server.get(f"/v1/report-runs/{run['id']}/result", headers=hdr(admin))
    want = report(server, admin, "training_revenue", JULY + "&format=csv")
    assert got.status_code == 200 and got.content == want.content
    assert got.headers["Content-Disposition"] == want.headers["Content-Disposition"]


# --------------------------------------------------------------------------
# report schedules


@pytest.fixture
def mailing(start_server, db, smtp_sink):
    """A server whose mail goes to the SMTP sink, with a second process
    working the same queue (`carebase worker`)."""
    s = start_server(db=db, env=smtp_env(smtp_sink.port))
    return s


def schedule_report(server, who, **body):
    return server.post("/v1/report-schedules", headers=hdr(who), json=body)


def london_midnight(days=0):
    """London's midnight today (+ days), as ms."""
    today = datetime.datetime.now(LONDON).date() + datetime.timedelta(days=days)
    at = datetime.datetime(today.year, today.month, today.day, tzinfo=LONDON)
    return int(at.timestamp() * 1000)


def test_schedules_name_staff_who_read_reports(server, catalogue):
    c = catalogue
    admin = c["admin"]
    base = dict(report="training_revenue", frequency="weekly")
    # Not an address, nor someone who may not read reports.
    for bad, code in ((c["member"]["id"], "not_staff"), (c["instructor"]["id"], "not_staff"),
                      ("boss@example.org", "invalid_format"),
                      ("01a20000-0000-7000-8000-000000000000", "not_staff")):
        p = problem(schedule_report(server, admin, recipients=[admin["id"], bad], **base), 422,
                    "VALIDATION_FAILED")
        assert [(e["field"], e["code"]) for e in p["errors"]] == [("recipients[1]", code)], p
    p = problem(schedule_report(server, admin, recipients=[admin["id"], admin["id"]], **base),
                422, "VALIDATION_FAILED")
    assert p["errors"][0]["code"] == "duplicate"
    problem(schedule_report(server, admin, recipients=[], **base), 422, "VALIDATION_FAILED")
    problem(schedule_report(server, admin, recipients=[admin["id"]], report="training_revenue",
                            frequency="hourly"), 422, "VALIDATION_FAILED")
    problem(schedule_report(server, admin, recipients=[admin["id"]], report="no_such",
                            frequency="daily"), 404, "REPORT_NOT_FOUND")
    for who in (c["member"], c["instructor"]):
        problem(schedule_report(server, who, recipients=[admin["id"]], **base), 403,
                "FORBIDDEN")
        problem(server.get("/v1/report-schedules", headers=hdr(who)), 403, "FORBIDDEN")
    r = schedule_report(server, admin, recipients=[admin["id"]], format="xlsx", **base)
    assert r.status_code == 201, r.text
    sch = r.json()
    # Weekly: the next Monday's midnight in London.
    nxt = datetime.datetime.fromisoformat(sch["next_run_at"].replace("Z", "+00:00"))
    local = nxt.astimezone(LONDON)
    assert local.weekday() == 0 and (local.hour, local.minute) == (0, 0)
    assert 0 < (nxt - datetime.datetime.now(UTC)).total_seconds() <= 7 * 86400 + 3600
    assert (sch["period"], sch["format"], sch["created_by"]) == ("month", "xlsx", admin["id"])
    listed = server.get("/v1/report-schedules", headers=hdr(admin)).json()["data"]
    assert [x["id"] for x in listed] == [sch["id"]]
    assert server.request("DELETE", f"/v1/report-schedules/{sch['id']}",
                         headers=hdr(admin)).status_code in (200, 204)
    assert server.get("/v1/report-schedules", headers=hdr(admin)).json()["data"] == []
    doc = server.get("/v1/openapi.json").json()
    assert "/v1/report-schedules" in doc["paths"] and "post" in doc["paths"]["/v1/report-schedules"]


@pytest.mark.dialect
def test_a_schedules_run_is_made_once_and_mailed_once(mailing, db, smtp_sink):
    s = mailing
    admin, boss = person(s, "admin", "admin"), person(s, "boss", "admin")
    gone = person(s, "gone", "admin")
    r = schedule_report(s, admin, report="training_revenue", frequency="daily",
                        recipients=[boss["id"], admin["id"], gone["id"]], format="csv")
    assert r.status_code == 201, r.text
    sch = r.json()
    # gone is no longer active when the run is done: not mailed.
    r = s.request("PATCH", f"/v1/users/{gone['id']}", headers=hdr(admin),
                  json={"is_active": False})
    assert r.status_code == 200, r.text
    # Due now: today's London midnight, the end of yesterday (London).
    due = london_midnight()
    db.execute(f"UPDATE report_schedules SET next_run_at = {due} WHERE id = '{sch['id']}'")
    # A second process works the same queue, and the job is queued three
    # times at once: of all of them, one makes the run.
    s.spawn("worker")
    for _ in range(3):
        queue_job(db, "report_schedules.due")
    wait_until(lambda: db.count("report_runs", f"schedule_id = '{sch['id']}'") >= 1,
               timeout=20, what="the scheduled run")
    msgs = smtp_sink.wait_for(2, timeout=30)
    # More ticks change nothing: the next one is tomorrow's.
    for _ in range(2):
        queue_job(db, "report_schedules.due")
    wait_until(lambda: db.count("jobs", "kind = 'report_schedules.due'") == 0, timeout=20,
               what="the due jobs done")
    time.sleep(1.0)
    assert db.count("report_runs", f"schedule_id = '{sch['id']}'") == 1
    msgs = smtp_sink.messages()
    assert sorted(m["To"] for m in msgs) == sorted([boss["email"], admin["email"]])
    run_id = db.scalar(f"SELECT id FROM report_runs WHERE schedule_id = '{sch['id']}'")
    run = s.get(f"/v1/report-runs/{run_id}", headers=hdr(admin)).json()
    assert run["status"] == "succeeded" and run["is_scheduled"] is True
    assert (run["schedule_frequency"], run["schedule_id"]) == ("daily", sch["id"])
    assert run["requested_by"] == admin["id"] and run["format"] == "csv"
    yesterday = london_midnight(-1)
    assert run["to"] == datetime.datetime.fromtimestamp(due / 1000, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    assert run["from"] == datetime.datetime.fromtimestamp(yesterday / 1000, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    again = s.get(f"/v1/report-schedules/{sch['id']}", headers=hdr(admin)).json()
    assert again["last_run_id"] == run_id
    assert again["next_run_at"] == datetime.datetime.fromtimestamp(
        london_midnight(1) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # The mail: the report and its London day, a link that needs a staff
    # sign-in; the file is not in it.
    day = datetime.datetime.fromtimestamp(yesterday / 1000, LONDON).strftime("%Y-%m-%d")
    m = msgs[0]
    assert m["Subject"] == f"Report ready: Training revenue, {day} to {day}"
    text = m.get_body(("plain",)).get_content()
    # the run's page of the web application (core/pages.h), which reads
    # the result through the API with the reader's sign-in
    link = re.search(r"https?://\S+/reports/runs/(\S+)", text)
    assert link and link.group(1) == run_id, text
    assert not any(part.get_filename() for part in m.walk())
    path = f"/v1/report-runs/{run_id}/result"
    problem(s.get(path), 401, "UNAUTHORIZED")
    got = s.get(path, headers=hdr(boss))
    assert got.status_code == 200 and got.content.startswith(b"\xef\xbb\xbfperiod,")
    assert db.count("email_log", "template = 'report_run_ready'") == 2
    # One run a schedule a period, whatever writes it.
    with pytest.raises(Exception):
        db.execute("INSERT INTO report_runs (id, report, range_from, range_to, period, "
                   "format, status, attempts, is_scheduled, schedule_id, created_at, "
                   f"updated_at) VALUES ('dup', 'training_revenue', {yesterday}, {due}, "
                   f"'month', 'csv', 'queued', 0, 1, '{sch['id']}', 0, 0)")
    # Deleted: no more runs.
    assert s.request("DELETE", f"/v1/report-schedules/{sch['id']}", headers=hdr(admin)).status_code in (
        200, 204)
    queue_job(db, "report_schedules.due")
    wait_until(lambda: db.count("jobs", "kind = 'report_schedules.due'") == 0, timeout=20,
               what="the due job done")
    assert db.count("report_runs", f"schedule_id = '{sch['id']}'") == 1


def test_a_failed_run_of_a_schedule_is_told_with_its_code(start_server, db, smtp_sink):
    """A scheduled run that fails for good (its answer past
    report_run_max_bytes) mails its recipients why, with a link to the run
    (not to a result there is not)."""
    s = start_server(db=db, env=dict(smtp_env(smtp_sink.port),
                                     CAREBASE_REPORT_RUN_MAX_BYTES="300"))
    admin = person(s, "admin", "admin")
    r = schedule_report(s, admin, report="training_trainer_load", frequency="monthly",
                        recipients=[admin["id"]], format="pdf")
    assert r.status_code == 201, r.text
    sch = r.json()
    local = datetime.datetime.fromisoformat(sch["next_run_at"].replace("Z", "+00:00")) \
        .astimezone(LONDON)
    assert (local.day, local.hour, local.minute) == (1, 0, 0)
    # Due: the first of this month in London; the run covers last month.
    today = datetime.datetime.now(LONDON).date()
    first = int(datetime.datetime(today.year, today.month, 1, tzinfo=LONDON).timestamp() * 1000)
    db.execute(f"UPDATE report_schedules SET next_run_at = {first} WHERE id = '{sch['id']}'")
    queue_job(db, "report_schedules.due")
    (m,) = smtp_sink.wait_for(1, timeout=30)
    run = db.query(f"SELECT id, status, error_code, range_from FROM report_runs WHERE "
                   f"schedule_id = '{sch['id']}'")
    assert len(run) == 1 and run[0][1:3] == ("failed", "RESULT_TOO_LARGE"), run
    last = datetime.datetime.fromtimestamp(int(run[0][3]) / 1000, LONDON)
    assert (last.day, last.hour) == (1, 0) and last.month == (today.month - 2) % 12 + 1
    assert m["Subject"].startswith("Report failed: Trainer load, ")
    text = m.get_body(("plain",)).get_content()
    assert "RESULT_TOO_LARGE" in text
    assert re.search(rf"/reports/runs/{run[0][0]}\s", text) and "/result" not in text
    assert db.count("email_log", "template = 'report_run_failed'") == 1
