"""Reports (issue 6, part 7): a catalogue of report definitions whose SQL takes
the named date-range parameters :from and :to; GET /v1/reports lists them and
GET /v1/reports/{name}?from=&to=&period=&format= runs one, for admins only.
The counts are checked against seeded rows with known times (range edges,
day/week/month folding, rows without a partner), in JSON, in CSV (RFC 4180
quoting, formula cells defused), XLSX (read back by openpyxl) and PDF (read
back by pdftotext); bad parameters answer 422, an answer past
report_max_rows 422 REPORT_TOO_LARGE. Runs on SQLite and PostgreSQL."""

import csv
import io
import secrets
import subprocess
import uuid

import pytest

from conftest import BAD_QUERIES, BETA, RANGE, hdr, insert, person, problem, t


@pytest.fixture
def server(start_server, db):
    return start_server(db=db, env={"CAREBASE_REPORT_MAX_ROWS": "5"})


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
    # The training business's too (test_training_reports.py).
    assert set(names) == {"signups_by_partner", "access_codes_by_partner", "course_progress",
                          "therapy_bookings_by_partner", "training_bookings", "training_revenue",
                          "training_attendance", "training_refunds",
                          "training_certificates_expiring", "training_trainer_load"}
    assert names["therapy_bookings_by_partner"]["columns"] == \
        ["period", "partner_id", "partner", "booked", "cancelled"]
    assert "sql" not in r.text.lower()


def test_a_report_name_is_declared_the_catalogues_wherever_one_is_taken(server, seeded):
    """Issue 19 (x19g): the report-schedules list filter, GET
    /v1/reports/{name}'s path, a run's body and the catalogue's own names
    declare the catalogue's names as their enum ($ref to the one field
    that holds them), so a client types them and a name not there fails
    the contract hook where the server takes it."""
    names = {d["name"] for d in server.get("/v1/reports", headers=hdr(seeded["admin"])).json()["data"]}
    doc = server.get("/v1/openapi.json").json()

    def resolve(s):
        while "$ref" in s:
            node = doc
            for part in s["$ref"][2:].split("/"):
                node = node[part]
            s = node
        return s

    def param(path, method, name, where):
        op = doc["paths"][path][method]
        (p,) = [p for p in op.get("parameters", []) + doc["paths"][path].get("parameters", [])
                if p["name"] == name and p["in"] == where]
        return resolve(p["schema"])

    report_runs = doc["paths"]["/v1/report-runs"]["post"]["requestBody"]["content"]
    catalogue = doc["paths"]["/v1/reports"]["get"]["responses"]["200"]["content"]
    taken = {
        "report-schedules ?report=": param("/v1/report-schedules", "get", "report", "query"),
        "reports/{name}": param("/v1/reports/{name}", "get", "name", "path"),
        "report-runs body": resolve(report_runs["application/json"]["schema"]["properties"]["report"]),
        "catalogue name": resolve(catalogue["application/json"]["schema"]["properties"]["data"]
                                  ["items"]["properties"]["name"]),
    }
    for where, schema in taken.items():
        assert set(schema.get("enum") or []) == names, where


@pytest.mark.dialect
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


@pytest.mark.dialect
def test_access_codes_created_and_redeemed(server, seeded):
    body = run(server, seeded["admin"], "access_codes_by_partner").json()
    assert table(body) == {("2025-01", "Alpha"): {"created": 1, "redeemed": 2},
                           ("2025-01", BETA): {"created": 2, "redeemed": 1},
                           ("2025-02", "Alpha"): {"created": 1, "redeemed": 0},
                           ("2025-02", BETA): {"created": 0, "redeemed": 1}}
    assert body["totals"] == {"created": 4, "redeemed": 4}


@pytest.mark.dialect
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


@pytest.mark.dialect
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
    db.execute(sql)
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


@pytest.mark.dialect
def test_therapy_bookings_and_cancellations(server, seeded):
    body = run(server, seeded["admin"], "therapy_bookings_by_partner").json()
    assert table(body) == {("2025-01", "Alpha"): {"booked": 2, "cancelled": 1},
                           ("2025-01", BETA): {"booked": 0, "cancelled": 1},
                           ("2025-02", BETA): {"booked": 1, "cancelled": 0},
                           ("2025-02", None): {"booked": 1, "cancelled": 0}}
    assert body["totals"] == {"booked": 4, "cancelled": 2}


@pytest.mark.dialect
def test_csv_is_quoted_and_formula_safe(server, seeded):
    r = run(server, seeded["admin"], "therapy_bookings_by_partner", RANGE + "&format=csv")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.headers["Content-Disposition"] == ('attachment; filename="therapy_bookings_by_'
                                                'partner_2025-01-01_2025-03-01_month.csv"')
    # UTF-8 with a byte-order mark, for spreadsheets.
    assert r.content.startswith(b"\xef\xbb\xbfperiod,")
    text = r.content.decode("utf-8-sig")
    assert text.endswith("\r\n") and "\r\n" in text.split("\n")[0] + "\n"
    # The cell starting with = is prefixed with ' inside quotes; inner quotes doubled.
    assert '"\'=Beta, ""Quoted"", Inc"' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["period", "partner_id", "partner", "booked", "cancelled"]
    got = {(r[0], r[2]): (int(r[3]), int(r[4])) for r in rows[1:-1]}
    assert got == {("2025-01", "Alpha"): (2, 1), ("2025-01", "'" + BETA): (0, 1),
                   ("2025-02", "'" + BETA): (1, 0), ("2025-02", ""): (1, 0)}
    # The totals last, as the JSON answer's.
    assert rows[-1] == ["Total", "", "", "4", "2"]
    # The same rows as the JSON answer, in the same order.
    body = run(server, seeded["admin"], "therapy_bookings_by_partner").json()
    assert [r[1] for r in rows[1:-1]] == [x["partner_id"] or "" for x in body["rows"]]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.dialect
def test_xlsx_is_typed_and_read_back_by_openpyxl(server, seeded, tmp_path):
    """format=xlsx: read back cell by cell by openpyxl (a reader not ours):
    counts are numbers, names are text (a name that looks like a formula
    too), the header bold and frozen, the totals last."""
    openpyxl = pytest.importorskip("openpyxl")
    r = run(server, seeded["admin"], "therapy_bookings_by_partner", RANGE + "&format=xlsx")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == XLSX
    assert r.headers["Content-Disposition"] == ('attachment; filename="therapy_bookings_by_'
                                                'partner_2025-01-01_2025-03-01_month.xlsx"')
    path = tmp_path / "r.xlsx"
    path.write_bytes(r.content)
    ws = openpyxl.load_workbook(path).worksheets[0]
    rows = [[c for c in row] for row in ws.iter_rows()]
    assert [c.value for c in rows[0]] == ["period", "partner_id", "partner", "booked",
                                          "cancelled"]
    assert all(c.font.b for c in rows[0]) and ws.freeze_panes == "A2"
    body = run(server, seeded["admin"], "therapy_bookings_by_partner").json()
    assert len(rows) == 1 + len(body["rows"]) + 1
    for row, want in zip(rows[1:], body["rows"]):
        assert row[0].value == want["period"] and row[0].data_type == "s"
        assert row[2].value == want["partner"]     # None stays empty
        for c, k in ((row[3], "booked"), (row[4], "cancelled")):
            assert c.data_type == "n" and c.value == want[k] and isinstance(c.value, int)
    # The formula-looking name is a string cell, not a formula.
    beta = [row[2] for row in rows[1:-1] if row[2].value == BETA]
    assert beta and all(c.data_type == "s" for c in beta)
    total = rows[-1]
    assert [c.value for c in total] == ["Total", None, None, 4, 2] and total[3].font.b


@pytest.mark.dialect
def test_pdf_is_a_table_with_totals(server, db, seeded, tmp_path):
    """format=pdf: pdftotext finds the title, the header, a Polish and a
    Greek name, and the totals."""
    db.execute("UPDATE partners SET name = 'Zażółć gęślą jaźń' WHERE id = "
               f"'{seeded['alpha']}'")
    r = run(server, seeded["admin"], "therapy_bookings_by_partner", RANGE + "&format=pdf")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Disposition"].endswith('_month.pdf"')
    assert r.content.startswith(b"%PDF-")
    path = tmp_path / "r.pdf"
    path.write_bytes(r.content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          check=True).stdout.decode("utf-8")
    assert "Therapy bookings and cancellations" in text
    assert "period" in text and "cancelled" in text and "Page 1 of 1" in text
    assert "Zażółć gęślą jaźń" in text and BETA in text
    total = [ln.split() for ln in text.splitlines() if ln.strip().startswith("Total")]
    assert total == [["Total", "4", "2"]]


def test_xlsx_and_pdf_past_the_byte_bound_are_422(start_server, db, seeded):
    s = start_server(db=db, env={"CAREBASE_REPORT_RUN_MAX_BYTES": "1000"})
    for fmt in ("xlsx", "pdf"):
        problem(run(s, seeded["admin"], "course_progress", RANGE + "&format=" + fmt), 422,
                "RESULT_TOO_LARGE")


def test_reports_are_for_admins_only(server, seeded):
    """And partner admins, over their own partner (test_partner_reports.py):
    one who administers no partner gets none."""
    member = person(server, "member")
    pa = person(server, "padmin", "partner_admin")
    for who, code in ((member, "FORBIDDEN"), (pa, "NOT_A_PARTNER_ADMIN")):
        problem(server.get("/v1/reports", headers=hdr(who)), 403, code)
        problem(run(server, who, "signups_by_partner"), 403, code)
    problem(server.get("/v1/reports"), 401, "UNAUTHORIZED")
    problem(server.get(f"/v1/reports/signups_by_partner?{RANGE}"), 401, "UNAUTHORIZED")
    problem(run(server, seeded["admin"], "no_such_report"), 404, "REPORT_NOT_FOUND")
    problem(run(server, seeded["admin"], "users%3B%20DROP%20TABLE%20users"), 404,
            "REPORT_NOT_FOUND")


@pytest.mark.parametrize("name,query,field", BAD_QUERIES, ids=[c[0] for c in BAD_QUERIES])
def test_bad_parameters_are_422(server, seeded, name, query, field):
    p = problem(run(server, seeded["admin"], "signups_by_partner", query), 422,
                "VALIDATION_FAILED")
    assert field in [e["field"] for e in p["errors"]], p


@pytest.mark.dialect
def test_five_years_exactly_is_allowed(server, seeded):
    r = run(server, seeded["admin"], "therapy_bookings_by_partner",
            "from=2020-03-01&to=2025-03-01&period=month")
    assert r.status_code == 200, r.text
    assert r.json()["totals"] == {"booked": 5, "cancelled": 2}
