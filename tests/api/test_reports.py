"""Reports (issue 6, part 7): a catalogue of report definitions whose SQL takes
the named date-range parameters :from and :to; GET /v1/reports lists them and
GET /v1/reports/{name}?from=&to=&period=&format= runs one, for admins only.
The counts are checked against seeded rows with known times (range edges,
day/week/month folding, rows without a partner), in JSON and in CSV (RFC 4180
quoting, formula cells defused); bad parameters answer 422, an answer past
report_max_rows 422 REPORT_TOO_LARGE. Runs on SQLite and PostgreSQL."""

import calendar
import csv
import io
import secrets
import uuid

import pytest

from conftest import problem

PASSWORD = "pale orange kettle 1987 drums"
FAST_HASH = {"CAREBASE_PASSWORD_OPSLIMIT": "2", "CAREBASE_PASSWORD_MEMLIMIT_KIB": "19456"}
BETA = "=Beta, \"Quoted\", Inc"
RANGE = "from=2025-01-01&to=2025-03-01"


def hdr(who):
    return {"Authorization": f"Bearer {who['token']}"}


def t(s):
    """'2025-01-06' or '2025-01-06T10:00' (UTC) -> ms."""
    fmt = "%Y-%m-%dT%H:%M" if "T" in s else "%Y-%m-%d"
    import time as _t
    return calendar.timegm(_t.strptime(s, fmt)) * 1000


def db_exec(db, sql):
    if db.kind == "sqlite":
        import sqlite3
        con = sqlite3.connect(str(db.path), timeout=10, isolation_level=None)
        try:
            con.executescript(sql)
        finally:
            con.close()
    else:
        db.query(sql)


def person(server, name, role=None):
    email = f"{name}.{secrets.token_hex(3)}@example.org"
    if role is None:
        r = server.post("/v1/auth/register", json={
            "email": email, "password": PASSWORD, "accept_terms": True,
            "first_name": "Pat", "date_of_birth": "1990-01-01", "country": "GB"})
        assert r.status_code == 201, r.text
    else:
        r = server.cli("user", "add", f"--role={role}", f"--email={email}",
                       f"--password={PASSWORD}")
        assert r.returncode == 0, r.stdout + r.stderr
    r = server.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    me = server.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    return {"email": email, "token": token, "id": me["id"]}


def q(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def insert(table, **cols):
    return (f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
            f"({', '.join(q(v) for v in cols.values())});\n")


@pytest.fixture
def server(start_server, db):
    env = dict(FAST_HASH)
    env["CAREBASE_REPORT_MAX_ROWS"] = "5"
    return start_server(db=db, env=env)


@pytest.fixture
def seeded(server, db):
    """Rows with known times; the ids are returned by name."""
    ids = {k: str(uuid.uuid4()) for k in (
        "alpha", "beta", "gamma", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "staff",
        "a1", "a2", "a3", "a4", "a5", "a6", "a7", "b1", "b2", "b3", "b4", "b5",
        "c1", "c2", "s1a", "s1b", "s2a", "e1", "e2", "e3", "p1", "p2", "p3", "p4")}
    sql = ""
    for key, name in (("alpha", "Alpha"), ("beta", BETA), ("gamma", "Gamma")):
        sql += insert("partners", id=ids[key], name=name, created_at=t("2024-06-01"),
                      updated_at=t("2024-06-01"))
    users = {"u1": "2025-01-06T09:00", "u2": "2025-01-07T23:59", "u3": "2025-01-12T12:00",
             "u4": "2025-02-01T00:00", "u5": "2025-02-03T08:00", "u6": "2024-12-31T23:59",
             "u7": "2025-03-01T00:00"}
    for key, at in users.items():
        sql += insert("users", id=ids[key], role="member", created_at=t(at), updated_at=t(at))
    sql += insert("users", id=ids["staff"], role="admin", created_at=t("2025-01-08"),
                  updated_at=t("2025-01-08"))
    # partner, user, code hash, created, activated
    accesses = {"a1": ("alpha", "u1", "h1", "2024-12-20", "2025-01-06T09:05"),
                "a2": ("alpha", "u2", "h2", "2025-01-02", "2025-01-07T23:59"),
                "a3": ("beta", "u3", "h3", "2025-01-02", "2025-01-12T12:00"),
                "a4": ("alpha", "u5", None, "2025-02-03T08:00", "2025-02-03T08:00"),
                "a5": ("beta", "u5", "h5", "2025-01-15", "2025-02-03T09:00"),
                "a6": ("alpha", None, "h6", "2025-02-10", None),
                "a7": ("gamma", None, "h7", "2025-03-05", None)}
    for key, (p, u, h, created, activated) in accesses.items():
        sql += insert("partner_access", id=ids[key], partner_id=ids[p],
                      user_id=ids[u] if u else None,
                      code_hash=(h + secrets.token_hex(8)) if h else None,
                      feature_therapy=1, therapy_sessions_remaining=6,
                      created_at=t(created), updated_at=t(created),
                      activated_at=t(activated) if activated else None)
    # user, partner, access, created, cancelled
    bookings = {"b1": ("u1", "alpha", "a1", "2025-01-10", "2025-01-11"),
                "b2": ("u2", "alpha", "a2", "2025-01-20", None),
                "b3": ("u3", "beta", "a3", "2025-02-05", "2025-03-02"),
                "b4": ("u5", "beta", "a5", "2024-12-30", "2025-01-03"),
                "b5": ("u4", None, None, "2025-02-07", None)}
    for key, (u, p, a, created, cancelled) in bookings.items():
        sql += insert("therapy_bookings", id=ids[key], action="NEW_BOOKING", user_id=ids[u],
                      partner_id=ids[p] if p else None, partner_access_id=ids[a] if a else None,
                      booking_code=f"code-{key}-{secrets.token_hex(3)}",
                      service_name="Therapy", service_provider_name="Dr A",
                      service_provider_email="a@example.org",
                      start_date_time=t("2025-04-01"), end_date_time=t("2025-04-01T01:00"),
                      cancelled_at=t(cancelled) if cancelled else None,
                      created_at=t(created), updated_at=t(created))
    for key, name in (("c1", "Healing"), ("c2", "Boundaries")):
        sql += insert("courses", id=ids[key], name=name, slug=name.lower(), status="published",
                      created_at=t("2024-01-01"), updated_at=t("2024-01-01"))
    for n, (key, course) in enumerate((("s1a", "c1"), ("s1b", "c1"), ("s2a", "c2"))):
        sql += insert("course_sessions", id=ids[key], storyblok_id=100 + n,
                      storyblok_uuid=str(uuid.uuid4()), course_id=ids[course], name=key,
                      slug=key, status="published", created_at=t("2024-01-01"),
                      updated_at=t("2024-01-01"))
    enrolments = {"e1": ("u1", "c1", "2025-01-05", "2025-02-10"),
                  "e2": ("u2", "c1", "2025-01-20", None),
                  "e3": ("u3", "c2", "2025-02-01", "2025-02-02")}
    for key, (u, c, started, done) in enrolments.items():
        sql += insert("course_enrolments", id=ids[key], user_id=ids[u], course_id=ids[c],
                      completed=1 if done else 0, started_at=t(started),
                      completed_at=t(done) if done else None, created_at=t(started),
                      updated_at=t(started))
    progress = {"p1": ("u1", "s1a", "2025-01-05", "2025-01-06"),
                "p2": ("u1", "s1b", "2025-01-07", "2025-02-10"),
                "p3": ("u2", "s1a", "2025-01-20", None),
                "p4": ("u3", "s2a", "2025-02-01", "2025-02-02")}
    for key, (u, s, started, done) in progress.items():
        sql += insert("course_session_progress", id=ids[key], user_id=ids[u],
                      session_id=ids[s], completed=1 if done else 0, started_at=t(started),
                      completed_at=t(done) if done else None, created_at=t(started),
                      updated_at=t(started))
    db_exec(db, sql)
    ids["admin"] = person(server, "admin", "admin")
    return ids


def run(server, who, name, query=RANGE, **kw):
    return server.get(f"/v1/reports/{name}?{query}", headers=hdr(who), **kw)


def table(body, group="partner"):
    """{(period, group name): {measure: n}} from a JSON answer."""
    out = {}
    for row in body["rows"]:
        key = (row["period"], row[group])
        assert key not in out, body
        out[key] = {k: v for k, v in row.items() if k not in ("period", group, group + "_id")}
    return out


def test_catalogue_lists_the_reports(server, seeded):
    r = server.get("/v1/reports", headers=hdr(seeded["admin"]))
    assert r.status_code == 200, r.text
    names = {d["name"]: d for d in r.json()["data"]}
    assert set(names) == {"signups_by_partner", "access_codes_by_partner", "course_progress",
                          "therapy_bookings_by_partner"}
    assert names["therapy_bookings_by_partner"]["columns"] == \
        ["period", "partner_id", "partner", "booked", "cancelled"]
    assert "sql" not in r.text.lower()


def test_signups_by_partner_per_month_week_and_day(server, seeded):
    ids, admin = seeded, seeded["admin"]
    r = run(server, admin, "signups_by_partner")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from"] == "2025-01-01T00:00:00.000Z" and body["to"] == "2025-03-01T00:00:00.000Z"
    assert body["period"] == "month"
    # u6 is before the range, u7 exactly at its (exclusive) end, staff are not sign-ups;
    # u5 holds accesses from two partners and counts under each, but once in the
    # total: five members signed up.
    assert table(body) == {("2025-01", "Alpha"): {"signups": 2},
                           ("2025-01", BETA): {"signups": 1},
                           ("2025-02", "Alpha"): {"signups": 1},
                           ("2025-02", BETA): {"signups": 1},
                           ("2025-02", None): {"signups": 1}}
    assert body["totals"] == {"signups": 5}
    # By period, then name (byte order: "=" before "A"), no partner last.
    assert [(r["period"], r["partner"]) for r in body["rows"]] == [
        ("2025-01", BETA), ("2025-01", "Alpha"), ("2025-02", BETA), ("2025-02", "Alpha"),
        ("2025-02", None)]
    assert body["rows"][0]["partner_id"] == ids["beta"] and body["rows"][4]["partner_id"] is None
    for row in body["rows"]:
        assert set(row) == {"period", "partner_id", "partner", "signups"}
    # Weeks start on Monday and are named by it: Sunday the 12th is in the week of the 6th.
    body = run(server, admin, "signups_by_partner", RANGE + "&period=week").json()
    assert table(body) == {("2025-01-06", "Alpha"): {"signups": 2},
                           ("2025-01-06", BETA): {"signups": 1},
                           ("2025-01-27", None): {"signups": 1},
                           ("2025-02-03", "Alpha"): {"signups": 1},
                           ("2025-02-03", BETA): {"signups": 1}}
    # Six days' rows are more than report_max_rows (5 here).
    p = problem(run(server, admin, "signups_by_partner", RANGE + "&period=day"),
                422, "REPORT_TOO_LARGE")
    assert "5" in p["detail"]
    body = run(server, admin, "signups_by_partner",
               "from=2025-01-06&to=2025-01-08&period=day").json()
    assert table(body) == {("2025-01-06", "Alpha"): {"signups": 1},
                           ("2025-01-07", "Alpha"): {"signups": 1}}
    # Date-times narrow the range to the millisecond.
    body = run(server, admin, "signups_by_partner",
               "from=2025-01-07T23:59:00Z&to=2025-01-12T12:00:00Z").json()
    assert body["totals"] == {"signups": 1}


def test_access_codes_created_and_redeemed(server, seeded):
    body = run(server, seeded["admin"], "access_codes_by_partner").json()
    assert table(body) == {("2025-01", "Alpha"): {"created": 1, "redeemed": 2},
                           ("2025-01", BETA): {"created": 2, "redeemed": 1},
                           ("2025-02", "Alpha"): {"created": 1, "redeemed": 0},
                           ("2025-02", BETA): {"created": 0, "redeemed": 1}}
    assert body["totals"] == {"created": 4, "redeemed": 4}


def test_course_starts_and_completions(server, seeded):
    body = run(server, seeded["admin"], "course_progress").json()
    assert body["columns"] == ["period", "course_id", "course", "started", "completed",
                               "sessions_started", "sessions_completed"]
    assert table(body, "course") == {
        ("2025-01", "Healing"): {"started": 2, "completed": 0, "sessions_started": 3,
                                 "sessions_completed": 1},
        ("2025-02", "Boundaries"): {"started": 1, "completed": 1, "sessions_started": 1,
                                    "sessions_completed": 1},
        ("2025-02", "Healing"): {"started": 0, "completed": 1, "sessions_started": 0,
                                 "sessions_completed": 1}}


def test_members_in_several_groups_count_once_in_totals(server, db, seeded):
    """A member with several accesses counts once per partner in its rows and
    once in the total; a learner in two courses once in the course totals."""
    ids, admin = seeded, seeded["admin"]
    u8, e4 = str(uuid.uuid4()), str(uuid.uuid4())
    sql = insert("users", id=u8, role="member", created_at=t("2025-01-20"),
                 updated_at=t("2025-01-20"))
    for p in ("alpha", "alpha", "gamma"):
        sql += insert("partner_access", id=str(uuid.uuid4()), partner_id=ids[p], user_id=u8,
                      code_hash="h8" + secrets.token_hex(8), created_at=t("2025-01-19"),
                      updated_at=t("2025-01-19"), activated_at=t("2025-01-20"))
    # u1 also takes Boundaries: two courses, one learner.
    sql += insert("course_enrolments", id=e4, user_id=ids["u1"], course_id=ids["c2"],
                  completed=1, started_at=t("2025-02-01"), completed_at=t("2025-02-02"),
                  created_at=t("2025-02-01"), updated_at=t("2025-02-01"))
    db_exec(db, sql)
    january = "from=2025-01-01&to=2025-02-01"
    body = run(server, admin, "signups_by_partner", january).json()
    assert table(body) == {("2025-01", "Alpha"): {"signups": 3},
                           ("2025-01", BETA): {"signups": 1},
                           ("2025-01", "Gamma"): {"signups": 1}}
    assert body["totals"] == {"signups": 4}     # u1, u2, u3 and u8
    r = run(server, admin, "signups_by_partner", january + "&format=csv")
    assert r.status_code == 200 and r.text.count("Alpha") == 1
    body = run(server, admin, "course_progress").json()
    assert table(body, "course")[("2025-02", "Boundaries")] == {
        "started": 2, "completed": 2, "sessions_started": 1, "sessions_completed": 1}
    assert body["totals"] == {"started": 3, "completed": 2, "sessions_started": 4,
                              "sessions_completed": 3}
    # The range is [from, to): u8's sign-up on the 20th is in from=20th, not in to=20th.
    body = run(server, admin, "signups_by_partner", "from=2025-01-20&to=2025-01-21").json()
    assert body["totals"] == {"signups": 1}
    body = run(server, admin, "signups_by_partner", "from=2025-01-13&to=2025-01-20").json()
    assert body["totals"] == {"signups": 0} and body["rows"] == []


def test_therapy_bookings_and_cancellations(server, seeded):
    body = run(server, seeded["admin"], "therapy_bookings_by_partner").json()
    assert table(body) == {("2025-01", "Alpha"): {"booked": 2, "cancelled": 1},
                           ("2025-01", BETA): {"booked": 0, "cancelled": 1},
                           ("2025-02", BETA): {"booked": 1, "cancelled": 0},
                           ("2025-02", None): {"booked": 1, "cancelled": 0}}
    assert body["totals"] == {"booked": 4, "cancelled": 2}


def test_csv_is_quoted_and_formula_safe(server, seeded):
    r = run(server, seeded["admin"], "therapy_bookings_by_partner", RANGE + "&format=csv")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.headers["Content-Disposition"] == ('attachment; filename="therapy_bookings_by_'
                                                'partner_2025-01-01_2025-03-01_month.csv"')
    text = r.content.decode("utf-8")
    assert text.endswith("\r\n") and "\r\n" in text.split("\n")[0] + "\n"
    # The cell starting with = is prefixed with ' inside quotes; inner quotes doubled.
    assert '"\'=Beta, ""Quoted"", Inc"' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["period", "partner_id", "partner", "booked", "cancelled"]
    got = {(r[0], r[2]): (int(r[3]), int(r[4])) for r in rows[1:]}
    assert got == {("2025-01", "Alpha"): (2, 1), ("2025-01", "'" + BETA): (0, 1),
                   ("2025-02", "'" + BETA): (1, 0), ("2025-02", ""): (1, 0)}
    # The same rows as the JSON answer, in the same order.
    body = run(server, seeded["admin"], "therapy_bookings_by_partner").json()
    assert [r[1] for r in rows[1:]] == [x["partner_id"] or "" for x in body["rows"]]


def test_reports_are_for_admins_only(server, seeded):
    member = person(server, "member")
    pa = person(server, "padmin", "partner_admin")
    for who in (member, pa):
        problem(server.get("/v1/reports", headers=hdr(who)), 403, "FORBIDDEN")
        problem(run(server, who, "signups_by_partner"), 403, "FORBIDDEN")
    problem(server.get("/v1/reports"), 401, "UNAUTHORIZED")
    problem(server.get(f"/v1/reports/signups_by_partner?{RANGE}"), 401, "UNAUTHORIZED")
    problem(run(server, seeded["admin"], "no_such_report"), 404, "REPORT_NOT_FOUND")
    problem(run(server, seeded["admin"], "users%3B%20DROP%20TABLE%20users"), 404,
            "REPORT_NOT_FOUND")


BAD_QUERIES = [
    ("no from", "to=2025-03-01", "from"),
    ("no to", "from=2025-01-01", "to"),
    ("bad from", "from=last-week&to=2025-03-01", "from"),
    ("bad to", "from=2025-01-01&to=2025-02-30", "to"),
    ("to before from", "from=2025-03-01&to=2025-01-01", "to"),
    ("empty range", "from=2025-03-01&to=2025-03-01", "to"),
    ("over five years", "from=2019-01-01&to=2025-01-02", "to"),
    ("bad period", RANGE + "&period=year", "period"),
    ("bad format", RANGE + "&format=xlsx", "format"),
    ("before 1970", "from=1969-12-01&to=1970-01-02", "from"),
]


@pytest.mark.parametrize("name,query,field", BAD_QUERIES, ids=[c[0] for c in BAD_QUERIES])
def test_bad_parameters_are_422(server, seeded, name, query, field):
    p = problem(run(server, seeded["admin"], "signups_by_partner", query), 422,
                "VALIDATION_FAILED")
    assert field in [e["field"] for e in p["errors"]], p


def test_five_years_exactly_is_allowed(server, seeded):
    r = run(server, seeded["admin"], "therapy_bookings_by_partner",
            "from=2020-03-01&to=2025-03-01&period=month")
    assert r.status_code == 200, r.text
    assert r.json()["totals"] == {"booked": 5, "cancelled": 2}
