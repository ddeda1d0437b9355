"""A partner admin's reports (issue 18): the reports open to partners
(sign-ups, access codes, therapy bookings: for_partners in the catalogue;
course progress an admin may ask of one partner, a partner admin not) answer a partner admin their own partner's figures only,
the partner read from partner_admins, never from the request: naming
another partner is 403 NOT_YOUR_PARTNER, a report not open to partners 403
REPORT_NOT_FOR_PARTNERS, a partner admin of no active partner 403
NOT_A_PARTNER_ADMIN, a member 403 FORBIDDEN. An admin may ask for one
partner's figures with ?partner_id= and gets the same answer. The figures
are checked against conftest's seeded rows (partners Alpha, Beta and
Gamma; test_reports.py checks the every-partner answers). Runs on SQLite
and PostgreSQL."""

import csv
import secrets
import subprocess
import time
import uuid

import pytest

from conftest import (BETA, RANGE, add_user, hdr, insert, login, person, problem, t,
                      undo_migration)

FOR_PARTNERS = {"signups_by_partner", "access_codes_by_partner",
                "therapy_bookings_by_partner"}


@pytest.fixture
def min_count():
    """report_partner_min_count of the server: 1 (every count shown) unless
    a test parametrizes it, so the figures below are the rows' own."""
    return "1"


@pytest.fixture
def server(start_server, db, min_count):
    return start_server(db=db, env={"CAREBASE_REPORT_PARTNER_MIN_COUNT": min_count})


def partner_admin(server, admin, partner_id):
    """A signed-in partner admin of partner_id: {"token", "id", "row"}."""
    email = f"pa.{secrets.token_hex(4)}@example.org"
    add_user(server, "partner_admin", email)
    token = login(server, email)
    uid = server.get("/v1/me", headers=hdr(token)).json()["id"]
    r = server.post("/v1/partner-admins", headers=hdr(admin),
                    json={"user_id": uid, "partner_id": partner_id})
    assert r.status_code == 201, r.text
    return {"token": token, "id": uid, "row": r.json()}


ALPHA_PROGRESS = {
    ("2025-01", "Healing"): {"started": 1, "completed": 0, "sessions_started": 2,
                             "sessions_completed": 0},
    ("2025-02", "Healing"): {"started": 0, "completed": 1, "sessions_started": 0,
                             "sessions_completed": 1}}
ALPHA_PROGRESS_TOTALS = {"started": 1, "completed": 1, "sessions_started": 2,
                         "sessions_completed": 1}


def run(server, who, name, query=RANGE):
    return server.get(f"/v1/reports/{name}?{query}", headers=hdr(who))


def rows_by(body, group):
    return {(r["period"], r[group]): {k: v for k, v in r.items()
                                      if k not in ("period", group, group + "_id")}
            for r in body["rows"]}


@pytest.mark.dialect
def test_a_partner_admin_reads_their_own_partners_figures_only(server, seeded):
    ids, admin = seeded, seeded["admin"]
    alpha = partner_admin(server, admin, ids["alpha"])
    beta = partner_admin(server, admin, ids["beta"])

    # The catalogue offers them the reports open to partners, and says so.
    r = server.get("/v1/reports", headers=hdr(alpha))
    assert r.status_code == 200, r.text
    assert {d["name"] for d in r.json()["data"]} == FOR_PARTNERS
    assert all(d["for_partners"] for d in r.json()["data"])
    everything = server.get("/v1/reports", headers=hdr(admin)).json()["data"]
    assert {d["name"] for d in everything if d["for_partners"]} == FOR_PARTNERS
    assert len(everything) > len(FOR_PARTNERS)

    # Sign-ups: Alpha's members only (u5 holds Beta's access too and counts
    # under each partner, once for each partner admin).
    body = run(server, alpha, "signups_by_partner").json()
    assert rows_by(body, "partner") == {("2025-01", "Alpha"): {"signups": 2},
                                        ("2025-02", "Alpha"): {"signups": 1}}
    assert body["totals"] == {"signups": 3}
    assert {r["partner_id"] for r in body["rows"]} == {ids["alpha"]}
    body = run(server, beta, "signups_by_partner").json()
    assert rows_by(body, "partner") == {("2025-01", BETA): {"signups": 1},
                                        ("2025-02", BETA): {"signups": 1}}
    assert body["totals"] == {"signups": 2}

    body = run(server, alpha, "access_codes_by_partner").json()
    assert rows_by(body, "partner") == {("2025-01", "Alpha"): {"created": 1, "redeemed": 2},
                                        ("2025-02", "Alpha"): {"created": 1, "redeemed": 0}}
    assert body["totals"] == {"created": 2, "redeemed": 2}

    body = run(server, alpha, "therapy_bookings_by_partner").json()
    assert rows_by(body, "partner") == {("2025-01", "Alpha"): {"booked": 2, "cancelled": 1}}
    assert body["totals"] == {"booked": 2, "cancelled": 1}

    # Course progress is not told to partner admins (which courses an
    # employer's people take); an admin may ask it of one partner: by
    # course, of the partner's own people while their access was theirs:
    # u1 and u2 are Alpha's (Healing); u1 started it and its first session
    # the day before redeeming Alpha's code, which is not counted; u3,
    # Beta's, took Boundaries.
    for who in (alpha, beta):
        problem(run(server, who, "course_progress"), 403, "REPORT_NOT_FOR_PARTNERS")
    body = run(server, admin, "course_progress", RANGE + f"&partner_id={ids['alpha']}").json()
    assert rows_by(body, "course") == ALPHA_PROGRESS
    assert body["totals"] == ALPHA_PROGRESS_TOTALS
    body = run(server, admin, "course_progress", RANGE + f"&partner_id={ids['beta']}").json()
    assert rows_by(body, "course") == {
        ("2025-02", "Boundaries"): {"started": 1, "completed": 1, "sessions_started": 1,
                                    "sessions_completed": 1}}
    assert body["totals"] == {"started": 1, "completed": 1, "sessions_started": 1,
                              "sessions_completed": 1}

    # CSV too: Beta's name is nowhere in Alpha's file.
    r = run(server, alpha, "signups_by_partner", RANGE + "&format=csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert "Alpha" in r.text and "Beta" not in r.text

    # Naming their own partner changes nothing; naming another is refused.
    for name in FOR_PARTNERS:
        mine = run(server, alpha, name)
        assert mine.status_code == 200, mine.text
        named = run(server, alpha, name, RANGE + f"&partner_id={ids['alpha']}")
        assert named.json() == mine.json()
        problem(run(server, alpha, name, RANGE + f"&partner_id={ids['beta']}"), 403,
                "NOT_YOUR_PARTNER")
        # An admin asking for Alpha's figures gets what Alpha's admin gets.
        as_admin = run(server, admin, name, RANGE + f"&partner_id={ids['alpha']}")
        assert as_admin.status_code == 200, as_admin.text
        assert as_admin.json() == mine.json()


def test_what_a_partner_admin_may_not_read(server, db, seeded):
    ids, admin = seeded, seeded["admin"]
    alpha = partner_admin(server, admin, ids["alpha"])
    # The training business's reports are not open to partners.
    for name in ("training_bookings", "training_revenue", "training_attendance"):
        problem(run(server, alpha, name), 403, "REPORT_NOT_FOR_PARTNERS")
    problem(run(server, alpha, "no_such_report"), 404, "REPORT_NOT_FOUND")
    # Report runs and schedules stay admins'.
    problem(server.post("/v1/report-runs", headers=hdr(alpha),
                        json={"report": "signups_by_partner", "from": "2025-01-01",
                              "to": "2025-03-01"}), 403, "FORBIDDEN")
    problem(server.get("/v1/report-runs", headers=hdr(alpha)), 403, "FORBIDDEN")
    # A member, and a partner admin of no partner.
    member = person(server, "member")
    nobody = person(server, "padmin", "partner_admin")
    for who, code in ((member, "FORBIDDEN"), (nobody, "NOT_A_PARTNER_ADMIN")):
        problem(server.get("/v1/reports", headers=hdr(who)), 403, code)
        problem(run(server, who, "signups_by_partner",
                    RANGE + f"&partner_id={ids['alpha']}"), 403, code)
    # A partner admin whose row is deactivated, or whose partner is, reads
    # nothing more.
    r = server.request("PATCH", f"/v1/partner-admins/{alpha['row']['id']}", headers=hdr(admin),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    problem(run(server, alpha, "signups_by_partner"), 403, "NOT_A_PARTNER_ADMIN")
    beta = partner_admin(server, admin, ids["beta"])
    assert run(server, beta, "signups_by_partner").status_code == 200
    db.execute(f"UPDATE partners SET is_active = 0 WHERE id = '{ids['beta']}'")
    problem(run(server, beta, "signups_by_partner"), 403, "NOT_A_PARTNER_ADMIN")


def test_an_admins_partner_id_is_checked(server, seeded):
    ids, admin = seeded, seeded["admin"]
    p = problem(run(server, admin, "training_bookings", RANGE + f"&partner_id={ids['alpha']}"),
                422, "VALIDATION_FAILED")
    assert [e["field"] for e in p["errors"]] == ["partner_id"]
    p = problem(run(server, admin, "signups_by_partner", RANGE + "&partner_id=alpha"),
                422, "VALIDATION_FAILED")
    assert [e["field"] for e in p["errors"]] == ["partner_id"]
    # Gamma has no sign-ups in the range: no rows, zero totals.
    body = run(server, admin, "signups_by_partner", RANGE + f"&partner_id={ids['gamma']}").json()
    assert body["rows"] == [] and body["totals"] == {"signups": 0}


@pytest.mark.dialect
def test_a_partner_never_reads_another_partners_courses_or_earlier_activity(
        server, db, seeded):
    """u5 holds Beta's access and, since 2025-02-03 08:00, Alpha's: their
    progress in a course only Beta's people see, and what they did in
    Healing before redeeming Alpha's code, are not Alpha's figures."""
    ids, admin = seeded, seeded["admin"]
    c3, s3 = str(uuid.uuid4()), str(uuid.uuid4())
    sql = (f"UPDATE partners SET name_key = 'alpha' WHERE id = '{ids['alpha']}';\n"
           f"UPDATE partners SET name_key = 'betakey' WHERE id = '{ids['beta']}';\n")
    sql += insert("courses", id=c3, name="BetaOnly", slug="betaonly", status="published",
                  created_at=t("2024-01-01"), updated_at=t("2024-01-01"))
    sql += insert("course_partners", course_id=c3, partner_name="betakey")
    sql += insert("course_sessions", id=s3, storyblok_id=900, storyblok_uuid=str(uuid.uuid4()),
                  course_id=c3, name="s3", slug="s3", status="published",
                  created_at=t("2024-01-01"), updated_at=t("2024-01-01"))
    for course, when in ((c3, "2025-02-10"), (ids["c1"], "2025-01-20")):
        sql += insert("course_enrolments", id=str(uuid.uuid4()), user_id=ids["u5"],
                      course_id=course, completed=1, started_at=t(when),
                      completed_at=t(when), created_at=t(when), updated_at=t(when))
    for session, when in ((s3, "2025-02-10"), (ids["s1b"], "2025-01-20")):
        sql += insert("course_session_progress", id=str(uuid.uuid4()), user_id=ids["u5"],
                      session_id=session, completed=1, started_at=t(when),
                      completed_at=t(when), created_at=t(when), updated_at=t(when))
    db.execute(sql)

    # Asked by an admin of one partner (partner admins are not told it).
    alpha, beta = (RANGE + f"&partner_id={ids[p]}" for p in ("alpha", "beta"))
    body = run(server, admin, "course_progress", alpha).json()
    assert rows_by(body, "course") == ALPHA_PROGRESS
    assert body["totals"] == ALPHA_PROGRESS_TOTALS
    r = run(server, admin, "course_progress", alpha + "&format=csv")
    assert r.status_code == 200, r.text
    assert "Healing" in r.text and "BetaOnly" not in r.text
    # Beta's people see BetaOnly, and Beta's figures hold it.
    body = run(server, admin, "course_progress", beta).json()
    assert rows_by(body, "course")[("2025-02", "BetaOnly")] == {
        "started": 1, "completed": 1, "sessions_started": 1, "sessions_completed": 1}
    # An access switched off on 2025-02-01 counts what was done before,
    # not after (u1 completed Healing on 2025-02-10).
    db.execute(f"UPDATE partner_access SET is_active = 0, deactivated_at = {t('2025-02-01')} "
               f"WHERE id = '{ids['a1']}'")
    body = run(server, admin, "course_progress", alpha).json()
    assert body["totals"]["completed"] == 0
    assert body["totals"]["sessions_started"] == 2


@pytest.mark.parametrize("min_count", ["2"])
@pytest.mark.dialect
def test_a_partner_admin_is_not_told_small_counts(server, seeded):
    """report_partner_min_count 2: a count of 1 is withheld (null, an empty
    CSV cell), and so is its column's total (the total less the cells
    shown would give it back); 0 is shown. A month is withheld when a day
    of it is: Alpha's January sign-ups are 2 but on two days of 1 each
    (asked by day, each is null: the month's 2 would give them back). An
    admin is told every count."""
    ids, admin = seeded, seeded["admin"]
    alpha = partner_admin(server, admin, ids["alpha"])
    body = run(server, alpha, "signups_by_partner").json()
    assert rows_by(body, "partner") == {("2025-01", "Alpha"): {"signups": None},
                                        ("2025-02", "Alpha"): {"signups": None}}
    assert body["totals"] == {"signups": None}
    assert body["withheld_below"] == 2
    body = run(server, alpha, "signups_by_partner", RANGE + "&period=day").json()
    assert rows_by(body, "partner") == {("2025-01-06", "Alpha"): {"signups": None},
                                        ("2025-01-07", "Alpha"): {"signups": None},
                                        ("2025-02-03", "Alpha"): {"signups": None}}
    body = run(server, alpha, "access_codes_by_partner").json()
    assert rows_by(body, "partner") == {
        ("2025-01", "Alpha"): {"created": None, "redeemed": None},
        ("2025-02", "Alpha"): {"created": None, "redeemed": 0}}
    assert body["totals"] == {"created": None, "redeemed": None}
    r = run(server, alpha, "signups_by_partner", RANGE + "&format=csv")
    lines = r.text.lstrip("\ufeff").splitlines()
    assert lines[1].endswith(",Alpha,") and lines[2].endswith(",Alpha,"), lines
    # An admin, even naming Alpha, is told every count.
    body = run(server, admin, "signups_by_partner", RANGE + f"&partner_id={ids['alpha']}").json()
    assert body["totals"] == {"signups": 3} and "withheld_below" not in body


def test_a_partner_admins_range_is_shorter(server, seeded):
    ids, admin = seeded, seeded["admin"]
    alpha = partner_admin(server, admin, ids["alpha"])
    year = "from=2024-01-01&to=2025-02-04&period=day"  # 400 days
    assert run(server, alpha, "signups_by_partner", year).status_code == 200
    p = problem(run(server, alpha, "signups_by_partner",
                    "from=2024-01-01&to=2025-02-05&period=day"),
                422, "VALIDATION_FAILED")
    assert [(e["field"], e["code"]) for e in p["errors"]] == [("to", "out_of_range")]
    # An admin's range stays five years.
    r = run(server, admin, "signups_by_partner",
            f"from=2021-01-01&to=2025-02-05&partner_id={ids['alpha']}")
    assert r.status_code == 200, r.text


def test_an_admins_partner_id_errors_come_together(server, seeded):
    ids, admin = seeded, seeded["admin"]
    # A bad partner and a bad range: one answer naming both.
    p = problem(run(server, admin, "signups_by_partner", "from=nope&to=2025-03-01&partner_id=x"),
                422, "VALIDATION_FAILED")
    assert sorted(e["field"] for e in p["errors"]) == ["from", "partner_id"]
    # An id no partner has.
    p = problem(run(server, admin, "signups_by_partner",
                    RANGE + f"&partner_id={uuid.uuid4()}"), 422, "VALIDATION_FAILED")
    assert [(e["field"], e["code"]) for e in p["errors"]] == [("partner_id", "unknown_partner")]
    # An id no partner has beside a bad range: one answer naming both.
    p = problem(run(server, admin, "signups_by_partner",
                    f"from=nope&to=2025-03-01&partner_id={uuid.uuid4()}"), 422,
                "VALIDATION_FAILED")
    assert sorted((e["field"], e["code"]) for e in p["errors"]) == [
        ("from", "invalid_format"), ("partner_id", "unknown_partner")]
    # Upper case names the same partner.
    lower = run(server, admin, "signups_by_partner", RANGE + f"&partner_id={ids['alpha']}")
    upper = run(server, admin, "signups_by_partner",
                RANGE + f"&partner_id={ids['alpha'].upper()}")
    assert upper.status_code == 200, upper.text
    assert upper.json() == lower.json() and lower.json()["totals"] == {"signups": 3}


# --------------------------------------------------------------------------
# Differencing (issue 18, privacy): a partner admin's ranges are whole
# periods, and a week's or month's count (and a total) is withheld when a
# day in it is, so every count they are shown is a sum of day counts they
# are shown too: no two answers differ by a withheld count.

DELTA_SIGNUPS = {"2024-12-02": 2, "2024-12-10": 3, "2025-01-13": 3, "2025-01-31": 1}


def delta(server, db, admin):
    """Partner Delta with members signed up on DELTA_SIGNUPS' days (each
    redeemed Delta's code 5 minutes later), and a partner admin of it."""
    pid = str(uuid.uuid4())
    sql = insert("partners", id=pid, name="Delta", created_at=t("2024-06-01"),
                 updated_at=t("2024-06-01"))
    for day, n in DELTA_SIGNUPS.items():
        for i in range(n):
            uid = str(uuid.uuid4())
            when = t(f"{day}T{10 + i:02d}:00")
            sql += insert("users", id=uid, role="member", created_at=when, updated_at=when)
            sql += insert("partner_access", id=str(uuid.uuid4()), partner_id=pid, user_id=uid,
                          code_hash="d" + secrets.token_hex(8), created_at=when,
                          updated_at=when, activated_at=when + 300000)
    db.execute(sql)
    return pid, partner_admin(server, admin, pid)


def days_between(start, end):
    """The dates 'YYYY-MM-DD' from start to end (exclusive)."""
    out, d = [], t(start)
    while d < t(end):
        out.append(time.strftime("%Y-%m-%d", time.gmtime(d / 1000)))
        d += 86400000
    return out


def days_of(period, kind):
    """The dates of period ('2025-01' a month, '2025-01-13' a week or day)."""
    if kind == "month":
        y, m = map(int, period.split("-"))
        end = f"{y + m // 12}-{m % 12 + 1:02d}-01"
        return days_between(period + "-01", end)
    if kind == "week":
        end = time.strftime("%Y-%m-%d", time.gmtime(t(period) / 1000 + 7 * 86400))
        return days_between(period, end)
    return [period]


@pytest.mark.parametrize("min_count", ["2"])
def test_a_partner_admins_range_is_whole_periods_so_a_shifted_range_is_refused(server, seeded):
    ids, admin = seeded, seeded["admin"]
    alpha = partner_admin(server, admin, ids["alpha"])
    # Ranges a period, a day or a second off a boundary: one 422 naming
    # each end that is off (and a range too long beside it).
    refused = [
        ("from=2025-01-01&to=2025-01-31", [("to", "not_aligned")]),
        ("from=2025-01-02&to=2025-03-01", [("from", "not_aligned")]),
        ("from=2025-01-02&to=2025-02-28", [("from", "not_aligned"), ("to", "not_aligned")]),
        ("from=2025-01-01T00:00:01Z&to=2025-03-01", [("from", "not_aligned")]),
        ("from=2025-01-01&to=2025-03-01&period=week",
         [("from", "not_aligned"), ("to", "not_aligned")]),
        ("from=2024-12-30&to=2025-03-04&period=week", [("to", "not_aligned")]),
        ("from=2025-01-06&to=2025-01-06T12:00:00Z&period=day", [("to", "not_aligned")]),
        ("from=2023-11-02&to=2025-01-01", [("to", "out_of_range"), ("from", "not_aligned")]),
    ]
    for name in FOR_PARTNERS:
        for query, errs in refused:
            p = problem(run(server, alpha, name, query), 422, "VALIDATION_FAILED")
            assert sorted((e["field"], e["code"]) for e in p["errors"]) == sorted(errs), query
    # Whole periods are answered.
    for query in ("from=2025-01-01&to=2025-03-01", "from=2024-12-30&to=2025-03-03&period=week",
                  "from=2025-01-06&to=2025-01-07&period=day"):
        r = run(server, alpha, "signups_by_partner", query)
        assert r.status_code == 200, (query, r.text)
    # An admin's ranges are as they were, naming Alpha too.
    r = run(server, admin, "signups_by_partner",
            f"from=2025-01-02&to=2025-01-31T12:00:00Z&partner_id={ids['alpha']}")
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("min_count", ["2"])
@pytest.mark.dialect
def test_no_two_answers_differ_by_a_withheld_count_day_week_month_or_shifted(server, db, seeded):
    """Delta's January: 3 sign-ups on the 13th, 1 on the 31st (withheld):
    January's 4 is not shown by month, nor by week the 31st's week, nor a
    total with the 31st in it, and January less its last day is refused:
    no answer gives 4 beside 3. Asked by day, week and month over ranges
    of whole periods, every count shown is the sum of its days' counts,
    each shown by day; every null has a withheld day under it."""
    admin = seeded["admin"]
    pid, pa = delta(server, db, admin)
    body = run(server, pa, "signups_by_partner", "from=2024-12-01&to=2025-02-01").json()
    assert rows_by(body, "partner") == {("2024-12", "Delta"): {"signups": 5},
                                        ("2025-01", "Delta"): {"signups": None}}
    assert body["totals"] == {"signups": None}
    problem(run(server, pa, "signups_by_partner", "from=2025-01-01&to=2025-01-31"), 422,
            "VALIDATION_FAILED")
    # What a day shows: the public days (0 or 2 and over) and the withheld.
    by_day = run(server, pa, "signups_by_partner",
                 "from=2024-11-25&to=2025-02-03&period=day").json()
    shown = {r["period"]: r["signups"] for r in by_day["rows"]}
    assert shown == {"2024-12-02": 2, "2024-12-10": 3, "2025-01-13": 3, "2025-01-31": None}
    day = {d: shown.get(d, 0) for d in days_between("2024-11-25", "2025-02-03")}
    asked = [("month", "2024-12-01", "2025-02-01"), ("month", "2024-12-01", "2025-01-01"),
             ("month", "2025-01-01", "2025-02-01"), ("week", "2024-11-25", "2025-02-03"),
             ("week", "2025-01-13", "2025-01-20"), ("week", "2025-01-27", "2025-02-03"),
             ("day", "2025-01-01", "2025-01-31"), ("day", "2025-01-01", "2025-02-01"),
             ("day", "2024-12-02", "2024-12-11")]
    for period, start, end in asked:
        body = run(server, pa, "signups_by_partner",
                   f"from={start}&to={end}&period={period}").json()
        seen = set()
        for r in body["rows"]:
            under = days_of(r["period"], period)
            seen.update(under)
            if r["signups"] is None:
                assert any(day[d] is None for d in under), (period, r)
            else:
                assert all(day[d] is not None for d in under), (period, r)
                assert r["signups"] == sum(day[d] for d in under), (period, r)
        # Periods without a row had no sign-up on any of their days.
        assert all(day[d] == 0 for d in days_between(start, end) if d not in seen)
        total = body["totals"]["signups"]
        within = days_between(start, end)
        if total is None:
            assert any(day[d] is None for d in within), (period, start, end)
        else:
            assert all(day[d] is not None for d in within) and \
                total == sum(day[d] for d in within), (period, start, end)
    # An admin naming Delta is told every count.
    body = run(server, admin, "signups_by_partner",
               f"from=2024-12-01&to=2025-02-01&partner_id={pid}").json()
    assert body["totals"] == {"signups": 9}


# --------------------------------------------------------------------------
# An access counts for the time it was active, not by is_active now.

@pytest.mark.dialect
def test_someone_redeeming_today_changes_no_past_day(server, db, seeded):
    """A person with an account since 2024-12-10 redeems a Delta code now:
    Delta's days in December and January answer as before (the person is
    counted on the day they joined Delta, today), else asking before and
    after would give that one person's own sign-up date."""
    admin = seeded["admin"]
    pid, pa = delta(server, db, admin)
    query = "period=day&from=2024-12-01&to=2025-02-01"
    before = run(server, pa, "signups_by_partner", query).json()
    assert rows_by(before, "partner")[("2024-12-10", "Delta")] == {"signups": 3}
    uid, when = str(uuid.uuid4()), t("2024-12-10T18:00")
    # Not near midnight: within the grace after one, yesterday (holding
    # the redeem) is still not over and today has no row yet.
    now = not_near_midnight()
    db.execute(insert("users", id=uid, role="member", created_at=when, updated_at=when)
               + insert("partner_access", id=str(uuid.uuid4()), partner_id=pid, user_id=uid,
                        code_hash="d" + secrets.token_hex(8), created_at=now - 60000,
                        updated_at=now, activated_at=now))
    after = run(server, pa, "signups_by_partner", query).json()
    assert after["rows"] == before["rows"] and after["totals"] == before["totals"]
    today = time.strftime("%Y-%m-%d", time.gmtime(now / 1000))
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(now / 1000 + 86400))
    # Today is not over: its count is withheld from a partner admin even
    # with report_partner_min_count 1; an admin is told it.
    body = run(server, pa, "signups_by_partner", f"period=day&from={today}&to={tomorrow}").json()
    assert rows_by(body, "partner") == {(today, "Delta"): {"signups": None}}, body
    body = run(server, admin, "signups_by_partner",
               f"period=day&from={today}&to={tomorrow}&partner_id={pid}").json()
    assert rows_by(body, "partner") == {(today, "Delta"): {"signups": 1}}, body


def test_switching_an_access_off_and_on_or_deleting_it_does_not_change_a_past_months_count(
        server, seeded):
    """Alpha's admin switches u1's access off: January's sign-ups stay 2
    (u1 signed up while it was theirs), else the difference would be u1's;
    on again, still 2; and so after deleting u2's. The access says when it
    was switched off, and no longer once it is on again."""
    ids, admin = seeded, seeded["admin"]
    alpha = partner_admin(server, admin, ids["alpha"])

    def january():
        body = run(server, alpha, "signups_by_partner").json()
        return rows_by(body, "partner")[("2025-01", "Alpha")]["signups"]

    assert january() == 2
    for on in (False, True):
        r = server.request("PATCH", f"/v1/partner-access/{ids['a1']}", headers=hdr(alpha),
                           json={"is_active": on})
        assert r.status_code == 200, r.text
        assert january() == 2, on
        assert (r.json()["deactivated_at"] is None) == on, r.json()
    r = server.request("DELETE", f"/v1/partner-access/{ids['a2']}", headers=hdr(alpha))
    assert r.status_code == 204, r.text
    assert january() == 2
    # Deactivating the partner notes the time on each of its accesses.
    r = server.request("PATCH", f"/v1/partners/{ids['alpha']}", headers=hdr(admin),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    r = server.get(f"/v1/partner-access/{ids['a1']}", headers=hdr(admin))
    assert r.json()["is_active"] is False and r.json()["deactivated_at"] is not None
    body = run(server, admin, "signups_by_partner", RANGE + f"&partner_id={ids['alpha']}").json()
    assert body["totals"] == {"signups": 3}


# --------------------------------------------------------------------------
# A partner admin's files say what their empty cells are.

NOTE = "Counts from 1 to 4 are withheld"


@pytest.mark.parametrize("min_count", ["5"])
def test_a_partner_admins_csv_xlsx_and_pdf_carry_the_withheld_note(server, seeded, tmp_path):
    """report_partner_min_count 5: the CSV's last line, a cell under the
    XLSX's totals and the PDF's foot say that counts from 1 to 4 are
    withheld; an admin's files, withholding nothing, say nothing."""
    openpyxl = pytest.importorskip("openpyxl")
    ids, admin = seeded, seeded["admin"]
    alpha = partner_admin(server, admin, ids["alpha"])
    for who, noted in ((alpha, True), (admin, False)):
        query = RANGE + f"&partner_id={ids['alpha']}"
        r = run(server, who, "signups_by_partner", query + "&format=csv")
        assert r.status_code == 200, r.text
        last = r.text.splitlines()[-1]
        assert (NOTE in last) == noted, last
        r = run(server, who, "signups_by_partner", query + "&format=xlsx")
        assert r.status_code == 200, r.text
        path = tmp_path / "r.xlsx"
        path.write_bytes(r.content)
        cells = [c.value for row in openpyxl.load_workbook(path).worksheets[0].iter_rows()
                 for c in row if isinstance(c.value, str)]
        assert any(v.startswith(NOTE) for v in cells) == noted, cells
        r = run(server, who, "signups_by_partner", query + "&format=pdf")
        assert r.status_code == 200, r.text
        path = tmp_path / "r.pdf"
        path.write_bytes(r.content)
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                              check=True).stdout.decode("utf-8")
        words = " ".join(text.split())
        assert (NOTE in words) == noted, text
        if noted:
            # The whole note, on its own line: not printed over the page
            # number (the CSV's last line is the note as written).
            note = " ".join(next(csv.reader([last]))[0].split())
            assert note.startswith(NOTE) and note in words, (note, text)
            assert "Page 1 of 1" in words, text


# --------------------------------------------------------------------------
# A day not over yet: asked again and again, today's count would tell when
# each member joined, to the asking's precision.


def day_of(ms):
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


GRACE_MS = 60000  # make.c's REPORT_DAY_GRACE_MS: a day is over this after its end


def not_near_midnight():
    """Now, not in the last 20 s of a UTC day nor in the grace after one
    (a test that names today's date waits rather than ask across
    midnight, or while yesterday is still taken for not over)."""
    now = int(time.time() * 1000)
    if 86400000 - now % 86400000 < 20000:
        time.sleep((86400000 - now % 86400000) / 1000 + 1)
        now = int(time.time() * 1000)
    if now % 86400000 < GRACE_MS + 1000:
        time.sleep((GRACE_MS + 1000 - now % 86400000) / 1000)
        now = int(time.time() * 1000)
    return now


def joined(db, pid, *whens):
    """A member of partner pid for each ms in whens: signed up and
    redeemed then."""
    sql = ""
    for when in whens:
        uid = str(uuid.uuid4())
        sql += insert("users", id=uid, role="member", created_at=when, updated_at=when)
        sql += insert("partner_access", id=str(uuid.uuid4()), partner_id=pid, user_id=uid,
                      code_hash="e" + secrets.token_hex(8), created_at=when, updated_at=when,
                      activated_at=when)
    db.execute(sql)


@pytest.mark.parametrize("min_count", ["5"])
@pytest.mark.dialect
def test_a_day_not_over_yet_is_withheld_from_a_partner_admin(server, db, seeded):
    """Echo: 5 members joined yesterday, 5 today. A partner admin asking a
    range that ends after now is not told today's count, however large,
    nor the week's, month's or total holding today: null, the row there
    whatever today holds (its presence would tell the first joining of
    the day), with the note; yesterday is shown. An admin is told all."""
    admin = seeded["admin"]
    now = not_near_midnight()
    pid = str(uuid.uuid4())
    db.execute(insert("partners", id=pid, name="Echo", created_at=t("2024-06-01"),
                      updated_at=t("2024-06-01")))
    pa = partner_admin(server, admin, pid)
    midnight = now - now % 86400000
    yesterday, today, tomorrow = (day_of(midnight - 86400000), day_of(midnight),
                                  day_of(midnight + 86400000))
    joined(db, pid, *[midnight - 86400000 + 3600000 * (i + 1) for i in range(5)])
    # Nothing yet today: today's row is there all the same, withheld.
    query = f"period=day&from={yesterday}&to={tomorrow}"
    body = run(server, pa, "signups_by_partner", query).json()
    assert rows_by(body, "partner") == {(yesterday, "Echo"): {"signups": 5},
                                        (today, "Echo"): {"signups": None}}, body
    assert body["totals"] == {"signups": None} and body["withheld_below"] == 5
    joined(db, pid, *[now - 1000 * (i + 1) for i in range(5)])
    body = run(server, pa, "signups_by_partner", query).json()
    assert rows_by(body, "partner") == {(yesterday, "Echo"): {"signups": 5},
                                        (today, "Echo"): {"signups": None}}, body
    assert body["totals"] == {"signups": None}
    body = run(server, pa, "access_codes_by_partner", query).json()
    assert rows_by(body, "partner") == {
        (yesterday, "Echo"): {"created": 5, "redeemed": 5},
        (today, "Echo"): {"created": None, "redeemed": None}}, body
    assert body["totals"] == {"created": None, "redeemed": None}
    # The week and the month holding today, and the days after it.
    monday = midnight - ((midnight // 86400000 + 3) % 7) * 86400000
    y, m = map(int, today[:7].split("-"))
    for period, start, end, key in (
            ("week", day_of(monday), day_of(monday + 7 * 86400000), day_of(monday)),
            ("month", today[:7] + "-01", f"{y + m // 12}-{m % 12 + 1:02d}-01", today[:7]),
            ("day", today, day_of(midnight + 3 * 86400000), today)):
        body = run(server, pa, "signups_by_partner",
                   f"period={period}&from={start}&to={end}").json()
        assert rows_by(body, "partner") == {(key, "Echo"): {"signups": None}}, (period, body)
        assert body["totals"] == {"signups": None}, (period, body)
        assert body["open_period"] == key, (period, body)
    # A range wholly after now: its first period is named.
    body = run(server, pa, "signups_by_partner",
               f"period=day&from={tomorrow}&to={day_of(midnight + 3 * 86400000)}").json()
    assert body["open_period"] == tomorrow and body["totals"] == {"signups": None}, body
    # Ending at today's start: every day over, every count told.
    body = run(server, pa, "signups_by_partner",
               f"period=day&from={yesterday}&to={today}").json()
    assert rows_by(body, "partner") == {(yesterday, "Echo"): {"signups": 5}}
    assert body["totals"] == {"signups": 5}
    # A file says so with the note.
    r = run(server, pa, "signups_by_partner", query + "&format=csv")
    assert r.status_code == 200 and NOTE in r.text.splitlines()[-1], r.text
    # An admin naming Echo is told today's count as it is now.
    body = run(server, admin, "signups_by_partner", query + f"&partner_id={pid}").json()
    assert rows_by(body, "partner") == {(yesterday, "Echo"): {"signups": 5},
                                        (today, "Echo"): {"signups": 5}}, body
    assert body["totals"] == {"signups": 10}


# --------------------------------------------------------------------------
# Migration 0056 pending (a rolling upgrade, or undone): what reads
# partner_access.deactivated_at waits for it, and says so.


@pytest.mark.dialect
def test_with_0056_undone_the_reports_reading_it_and_deactivating_a_partner_wait(
        server, db, seeded):
    ids, admin = seeded, seeded["admin"]
    alpha = partner_admin(server, admin, ids["alpha"])
    server.stop()
    undo_migration(db, "0056_partner_access_deactivated_at")
    server.start(migrate=False)
    of_alpha = RANGE + f"&partner_id={ids['alpha']}"
    for who, name, query in ((alpha, "signups_by_partner", RANGE),
                             (admin, "signups_by_partner", of_alpha),
                             (admin, "course_progress", of_alpha)):
        problem(run(server, who, name, query), 503, "MIGRATIONS_PENDING")
    # Those that do not read it answer.
    for who, name, query in ((alpha, "access_codes_by_partner", RANGE),
                             (alpha, "therapy_bookings_by_partner", RANGE),
                             (admin, "signups_by_partner", RANGE)):
        r = run(server, who, name, query)
        assert r.status_code == 200, (name, r.text)
    # Deactivating a partner waits, and changes nothing meanwhile.
    r = server.request("PATCH", f"/v1/partners/{ids['alpha']}", headers=hdr(admin),
                       json={"is_active": False})
    problem(r, 503, "MIGRATIONS_PENDING")
    assert db.count("partners", f"id = '{ids['alpha']}' AND is_active = 1") == 1
    assert db.count("partner_access", f"partner_id = '{ids['alpha']}' AND is_active = 0") == 0
    # Renaming it does not need the column.
    r = server.request("PATCH", f"/v1/partners/{ids['alpha']}", headers=hdr(admin),
                       json={"name": "Alpha Two"})
    assert r.status_code == 200, r.text


@pytest.mark.dialect
def test_a_column_missing_with_every_migration_applied_is_500_not_migrations_pending(
        server, db, seeded):
    """A column a report reads gone with no migration pending (renamed by
    hand, or a typo in the report's SQL) is a fault no waiting mends: 500,
    not 503 MIGRATIONS_PENDING for ever."""
    ids, admin = seeded, seeded["admin"]
    alpha = partner_admin(server, admin, ids["alpha"])
    server.stop()
    db.execute("ALTER TABLE partner_access RENAME COLUMN deactivated_at TO deactivated_at_gone")
    server.start(migrate=False)
    assert server.request("GET", "/readyz").status_code == 200
    for who, name, query in ((alpha, "signups_by_partner", RANGE),
                             (admin, "course_progress", RANGE + f"&partner_id={ids['alpha']}")):
        r = run(server, who, name, query)
        assert r.status_code == 500, (name, r.status_code, r.text)
        assert "MIGRATIONS_PENDING" not in r.text, (name, r.text)


OPEN_NOTE = "every count of a day not over yet, with its week or month and the total"


def files_notes(server, who, name, query, tmp_path):
    """The note of the report's CSV (its last line), XLSX (its cells) and
    PDF (its words, spaces folded)."""
    openpyxl = pytest.importorskip("openpyxl")
    r = run(server, who, name, query + "&format=csv")
    assert r.status_code == 200, r.text
    last = " ".join(next(csv.reader([r.text.splitlines()[-1]]))[0].split())
    r = run(server, who, name, query + "&format=xlsx")
    assert r.status_code == 200, r.text
    path = tmp_path / "r.xlsx"
    path.write_bytes(r.content)
    cells = [c.value for row in openpyxl.load_workbook(path).worksheets[0].iter_rows()
             for c in row if isinstance(c.value, str)]
    r = run(server, who, name, query + "&format=pdf")
    assert r.status_code == 200, r.text
    path = tmp_path / "r.pdf"
    path.write_bytes(r.content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          check=True).stdout.decode("utf-8")
    return last, cells, " ".join(text.split())


@pytest.mark.parametrize("min_count", ["1", "5"])
def test_a_day_not_over_yet_is_withheld_whatever_the_min_count_and_the_files_say_so(
        server, db, seeded, min_count, tmp_path):
    """A day not over yet is withheld from a partner admin because they
    are one, not because small counts are: report_partner_min_count 1
    (no small count withheld) withholds it too, with the week or month
    holding it and the total. The CSV, XLSX and PDF notes say so, after
    the small counts' note when there is one; an admin's say nothing."""
    admin = seeded["admin"]
    now = not_near_midnight()
    pid = str(uuid.uuid4())
    db.execute(insert("partners", id=pid, name="Foxtrot", created_at=t("2024-06-01"),
                      updated_at=t("2024-06-01")))
    pa = partner_admin(server, admin, pid)
    midnight = now - now % 86400000
    yesterday, today, tomorrow = (day_of(midnight - 86400000), day_of(midnight),
                                  day_of(midnight + 86400000))
    joined(db, pid, *[midnight - 86400000 + 3600000 * (i + 1) for i in range(5)])
    joined(db, pid, now - 2000, now - 1000)
    query = f"period=day&from={yesterday}&to={tomorrow}"
    body = run(server, pa, "signups_by_partner", query).json()
    assert rows_by(body, "partner") == {(yesterday, "Foxtrot"): {"signups": 5},
                                        (today, "Foxtrot"): {"signups": None}}, body
    assert body["totals"] == {"signups": None}, body
    # The JSON names the period withheld for being open, whatever the
    # min count (with 1 there is no withheld_below to tell it by).
    assert body["open_period"] == today, body
    assert ("withheld_below" in body) == (min_count == "5"), body
    # Ending at today's start, or an admin's: none open, none named.
    body = run(server, pa, "signups_by_partner", f"period=day&from={yesterday}&to={today}").json()
    assert "open_period" not in body and body["totals"] == {"signups": 5}, body
    body = run(server, admin, "signups_by_partner", query + f"&partner_id={pid}").json()
    assert "open_period" not in body, body
    last, cells, words = files_notes(server, pa, "signups_by_partner", query, tmp_path)
    if min_count == "5":
        assert last.startswith(NOTE) and last.endswith(", and " + OPEN_NOTE + "."), last
    else:
        assert last == "Every count of a day not over yet is withheld (empty cells), " \
            "with its week or month and the total.", last
    assert any(v == last for v in cells), cells
    # The whole note on a PDF line of its own, the page number apart.
    assert last in words and "Page 1 of 1" in words, words
    # Ending at today's start: every day over, the small counts' note alone.
    last, _, _ = files_notes(server, pa, "signups_by_partner",
                             f"period=day&from={yesterday}&to={today}", tmp_path)
    assert (OPEN_NOTE not in last.lower()) and last.startswith(NOTE) == (min_count == "5"), last
    # An admin is told today's count as it is now, and no note.
    body = run(server, admin, "signups_by_partner", query + f"&partner_id={pid}").json()
    assert body["totals"] == {"signups": 7}, body
    last, _, _ = files_notes(server, admin, "signups_by_partner", query + f"&partner_id={pid}",
                             tmp_path)
    assert "withheld" not in last, last
