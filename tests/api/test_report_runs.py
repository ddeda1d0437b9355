"""Report runs (issue 6, reports through the job queue): POST /v1/report-runs
queues a report of the catalogue (202, Location), a report_runs.make job makes
it and keeps the answer, GET /v1/report-runs lists the runs newest first,
GET /v1/report-runs/{id} tells their status and /result gives the answer:
byte for byte what GET /v1/reports/{name} answers for the same parameters
(409 RUN_NOT_READY before), in any of its formats: JSON, CSV, and XLSX and
PDF (migration 0034), read back by openpyxl and pdftotext. A report past report_max_rows or a result past
report_run_max_bytes fails the run with a reason (GET /v1/reports/{name}
answers 422 RESULT_TOO_LARGE past the same bound); a database error is retried
with backoff and, after the last attempt, fails the run and leaves a
failed_jobs row. Runs older than report_run_retention_days are pruned by the
report_runs.prune job. Admins only, audited. Runs on SQLite and PostgreSQL."""

import json
import pathlib
import subprocess
import time
import uuid

import pytest

from conftest import BAD_QUERIES, BETA, RANGE, hdr, person, problem, wait_until

ENV = dict(CAREBASE_REPORT_MAX_ROWS="5", CAREBASE_JOB_BACKOFF_BASE_MS="50",
           CAREBASE_JOB_BACKOFF_MAX_MS="100", CAREBASE_JOB_MAX_ATTEMPTS="2")


@pytest.fixture
def server(start_server, db):
    return start_server(db=db, env=ENV)


def body_of(query):
    """'from=a&to=b&period=p' -> {"from": "a", "to": "b", "period": "p"}."""
    return dict(kv.split("=", 1) for kv in query.split("&") if kv)


def queue(server, who, report, query=RANGE, **extra):
    body = dict(body_of(query), report=report, **extra)
    return server.post("/v1/report-runs", json=body, headers=hdr(who))


def run_of(server, who, run_id):
    r = server.get(f"/v1/report-runs/{run_id}", headers=hdr(who))
    assert r.status_code == 200, r.text
    return r.json()


def finished(server, who, run_id, timeout=20):
    """Poll until the run succeeded or failed; the run."""
    out = {}

    def done():
        out["run"] = run_of(server, who, run_id)
        return out["run"]["status"] in ("succeeded", "failed")
    wait_until(done, timeout=timeout, interval=0.1, what=f"report run {run_id}")
    return out["run"]


CASES = [
    ("signups_by_partner", RANGE, "json"),
    ("signups_by_partner", RANGE + "&period=week", "csv"),
    ("access_codes_by_partner", RANGE, "csv"),
    ("course_progress", RANGE, "json"),
    ("therapy_bookings_by_partner", RANGE, "csv"),
    ("therapy_bookings_by_partner", "from=2020-03-01&to=2025-03-01&period=month", "json"),
]


@pytest.mark.dialect
@pytest.mark.parametrize("report,query,fmt", CASES,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_queued_result_equals_the_synchronous_answer(server, db, seeded, report, query, fmt):
    admin = seeded["admin"]
    r = queue(server, admin, report, query, format=fmt)
    assert r.status_code == 202, r.text
    run = r.json()
    assert r.headers["Location"] == f"/v1/report-runs/{run['id']}"
    assert run["report"] == report and run["format"] == fmt
    assert run["status"] in ("queued", "running", "succeeded")
    assert run["requested_by"] == admin["id"]
    run = finished(server, admin, run["id"])
    assert run["status"] == "succeeded", run
    assert run["attempts"] == 1 and run["error"] is None and run["error_code"] is None
    got = server.get(f"/v1/report-runs/{run['id']}/result", headers=hdr(admin))
    assert got.status_code == 200, got.text
    want = server.get(f"/v1/reports/{report}?{query}&format={fmt}", headers=hdr(admin))
    assert want.status_code == 200, want.text
    assert got.content == want.content
    assert got.headers["Content-Type"] == want.headers["Content-Type"]
    assert run["result_bytes"] == len(got.content)
    period = body_of(query).get("period", "month")
    frm, to = body_of(query)["from"], body_of(query)["to"]
    assert got.headers["Content-Disposition"] == \
        f'attachment; filename="{report}_{frm}_{to}_{period}.{fmt}"'
    if fmt == "csv":
        assert want.headers["Content-Disposition"] == got.headers["Content-Disposition"]
        # The byte-order mark, the header, the rows, the totals.
        assert got.content.startswith(b"\xef\xbb\xbfperiod,")
        assert run["rows"] == got.content.count(b"\r\n") - 2
    else:
        assert run["rows"] == len(got.json()["rows"])
        assert run["from"] == got.json()["from"] and run["to"] == got.json()["to"]
    # A staff action: audited, without personal data.
    assert db.count("audit_log", f"action = 'report_runs.create' AND entity_type = "
                                 f"'report_runs' AND entity_id = '{run['id']}'") == 1


def test_runs_are_listed_newest_first_with_a_cursor(server, seeded):
    admin = seeded["admin"]
    ids = []
    for report in ("signups_by_partner", "course_progress", "access_codes_by_partner"):
        r = queue(server, admin, report)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
        time.sleep(0.005)       # ids are time-ordered to the millisecond
    r = server.get("/v1/report-runs?limit=2", headers=hdr(admin))
    assert r.status_code == 200, r.text
    page = r.json()
    assert [x["id"] for x in page["data"]] == ids[::-1][:2]
    assert page["next_cursor"] == ids[1]
    r = server.get(f"/v1/report-runs?limit=2&cursor={page['next_cursor']}", headers=hdr(admin))
    page = r.json()
    assert [x["id"] for x in page["data"]] == ids[:1] and page["next_cursor"] is None
    assert "result" not in page["data"][0]
    # as every list answers a bad page (resource_page_query), and refuses
    # a parameter it does not take
    for q, code in (("limit=0", "INVALID_PARAMETER"), ("limit=201", "INVALID_PARAMETER"),
                    ("limit=x", "INVALID_PARAMETER"), ("cursor=nope", "INVALID_CURSOR"),
                    ("bogus=1", "UNKNOWN_PARAMETER")):
        problem(server.get(f"/v1/report-runs?{q}", headers=hdr(admin)), 400, code)


def test_report_runs_are_for_admins_only(server, seeded):
    admin = seeded["admin"]
    r = queue(server, admin, "signups_by_partner")
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    member = person(server, "member")
    pa = person(server, "padmin", "partner_admin")
    for who in (member, pa):
        problem(queue(server, who, "signups_by_partner"), 403, "FORBIDDEN")
        problem(server.get("/v1/report-runs", headers=hdr(who)), 403, "FORBIDDEN")
        problem(server.get(f"/v1/report-runs/{run_id}", headers=hdr(who)), 403, "FORBIDDEN")
        problem(server.get(f"/v1/report-runs/{run_id}/result", headers=hdr(who)), 403,
                "FORBIDDEN")
    problem(server.post("/v1/report-runs", json={"report": "signups_by_partner"}), 401,
            "UNAUTHORIZED")
    problem(server.get("/v1/report-runs"), 401, "UNAUTHORIZED")
    problem(server.get(f"/v1/report-runs/{run_id}"), 401, "UNAUTHORIZED")
    problem(server.get(f"/v1/report-runs/{run_id}/result"), 401, "UNAUTHORIZED")
    other = str(uuid.uuid4())
    problem(server.get(f"/v1/report-runs/{other}", headers=hdr(admin)), 404, "NOT_FOUND")
    problem(server.get(f"/v1/report-runs/{other}/result", headers=hdr(admin)), 404,
            "NOT_FOUND")
    problem(server.get("/v1/report-runs/not-a-uuid", headers=hdr(admin)), 404, "NOT_FOUND")
    # Only the admin's run was made.
    assert [x["id"] for x in server.get("/v1/report-runs", headers=hdr(admin)).json()["data"]] \
        == [run_id]


BAD_BODIES = [(name, body_of(query), field) for name, query, field in BAD_QUERIES] + [
    ("no report", {"from": "2025-01-01", "to": "2025-03-01"}, "report"),
    ("report not a string", {"report": 7, "from": "2025-01-01", "to": "2025-03-01"}, "report"),
    ("from not a string", {"from": 20250101, "to": "2025-03-01"}, "from"),
    ("unknown member", {"from": "2025-01-01", "to": "2025-03-01", "sql": "DROP"}, "sql"),
    ("long from", {"from": "2025-01-01" + "0" * 5000, "to": "2025-03-01"}, "from"),
    ("format not one of them", {"from": "2025-01-01", "to": "2025-03-01", "format": "docx"},
     "format"),
]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# tests/unit/table_read.py: an XLSX read back by openpyxl, as JSON.
TABLE_READ = pathlib.Path(__file__).resolve().parent.parent / "unit" / "table_read.py"


def result_of(server, who, report, fmt):
    """Queue report over RANGE in fmt, wait for it: the run and its result."""
    r = queue(server, who, report, format=fmt)
    assert r.status_code == 202, r.text     # 422 before 0034: json and csv only
    assert r.json()["format"] == fmt
    run = finished(server, who, r.json()["id"])
    assert run["status"] == "succeeded" and run["format"] == fmt, run
    got = server.get(f"/v1/report-runs/{run['id']}/result", headers=hdr(who))
    assert got.status_code == 200, got.text
    assert run["result_bytes"] == len(got.content)
    assert got.headers["Content-Disposition"] == \
        f'attachment; filename="{report}_2025-01-01_2025-03-01_month.{fmt}"'
    return run, got


@pytest.mark.dialect
def test_a_queued_xlsx_run_is_read_back_by_openpyxl(server, seeded, tmp_path):
    admin = seeded["admin"]
    run, got = result_of(server, admin, "therapy_bookings_by_partner", "xlsx")
    assert got.headers["Content-Type"] == XLSX
    path = tmp_path / "run.xlsx"
    path.write_bytes(got.content)
    read = subprocess.run(["/usr/bin/python3", str(TABLE_READ), str(path)],
                          capture_output=True, text=True, check=True)
    rows = [[c["v"] for c in row] for row in json.loads(read.stdout)["rows"]]
    want = server.get(f"/v1/reports/therapy_bookings_by_partner?{RANGE}",
                      headers=hdr(admin)).json()
    assert rows[0] == want["columns"]
    assert rows[1:-1] == [[r[c] for c in want["columns"]] for r in want["rows"]]
    assert BETA in [r[2] for r in rows[1:-1]]      # a formula-looking name, as text
    assert rows[-1] == ["Total", None, None, 4, 2]
    assert run["rows"] == len(want["rows"])


@pytest.mark.dialect
def test_a_queued_pdf_run_is_read_back_by_pdftotext(server, db, seeded, tmp_path):
    db.execute("UPDATE partners SET name = 'Zażółć gęślą jaźń' WHERE id = "
               f"'{seeded['alpha']}'")
    run, got = result_of(server, seeded["admin"], "therapy_bookings_by_partner", "pdf")
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.content.startswith(b"%PDF-")
    path = tmp_path / "run.pdf"
    path.write_bytes(got.content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          check=True).stdout.decode("utf-8")
    assert "Therapy bookings and cancellations" in text and "Page 1 of 1" in text
    assert "Zażółć gęślą jaźń" in text and BETA in text
    total = [ln.split() for ln in text.splitlines() if ln.strip().startswith("Total")]
    assert total == [["Total", "4", "2"]]


def test_queued_xlsx_and_pdf_past_the_byte_bound_fail(start_server, db):
    s = start_server(db=db, env=dict(ENV, CAREBASE_REPORT_RUN_MAX_BYTES="1000"))
    admin = person(s, "admin", "admin")
    for fmt in ("xlsx", "pdf"):
        r = queue(s, admin, "course_progress", format=fmt)
        assert r.status_code == 202, r.text
        run = finished(s, admin, r.json()["id"])
        assert run["status"] == "failed" and run["error_code"] == "RESULT_TOO_LARGE", run
        assert "1000 bytes" in run["error"]


@pytest.mark.parametrize("name,body,field", BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_bodies_are_422_and_queue_nothing(server, db, seeded, name, body, field):
    body = dict(body)
    if name != "no report":
        body.setdefault("report", "signups_by_partner")
    r = server.post("/v1/report-runs", json=body, headers=hdr(seeded["admin"]))
    p = problem(r, 422, "VALIDATION_FAILED")
    assert field in [e["field"] for e in p["errors"]], p
    assert db.count("report_runs") == 0 and db.count("jobs", "kind = 'report_runs.make'") == 0


def test_unknown_report_and_bad_json_are_refused(server, db, seeded):
    admin = seeded["admin"]
    problem(queue(server, admin, "no_such_report"), 404, "REPORT_NOT_FOUND")
    problem(queue(server, admin, "users; DROP TABLE users"), 404, "REPORT_NOT_FOUND")
    problem(server.post("/v1/report-runs", json=["signups_by_partner"], headers=hdr(admin)),
            400, "MALFORMED_REQUEST")
    r = server.post("/v1/report-runs", data="{", headers=dict(
        hdr(admin), **{"Content-Type": "application/json"}))
    assert r.status_code == 400, r.text
    assert db.count("report_runs") == 0


@pytest.mark.dialect
def test_result_is_not_ready_until_a_worker_makes_it(start_server, db, seeded_no_workers):
    server, admin = seeded_no_workers
    r = queue(server, admin, "therapy_bookings_by_partner", format="csv")
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    assert r.json()["status"] == "queued" and r.json()["attempts"] == 0
    p = problem(server.get(f"/v1/report-runs/{run_id}/result", headers=hdr(admin)), 409,
                "RUN_NOT_READY")
    assert "queued" in p["detail"]
    # At most 16 runs wait at once.
    for _ in range(15):
        assert queue(server, admin, "signups_by_partner").status_code == 202
    problem(queue(server, admin, "signups_by_partner"), 429, "RUNS_PENDING")
    assert db.count("report_runs") == 16
    # A worker process takes them.
    server.spawn("worker")
    run = finished(server, admin, run_id, timeout=30)
    assert run["status"] == "succeeded" and run["started_at"] and run["finished_at"]
    r = server.get(f"/v1/report-runs/{run_id}/result", headers=hdr(admin))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.content == server.get(f"/v1/reports/therapy_bookings_by_partner?{RANGE}"
                                   "&format=csv", headers=hdr(admin)).content


@pytest.fixture
def seeded_no_workers(start_server, db):
    """A server that runs no jobs, on a database with the seeded rows."""
    s = start_server(db=db, env=dict(ENV, CAREBASE_JOB_WORKERS="0"))
    return s, person(s, "admin", "admin")


def test_a_report_past_report_max_rows_fails_with_a_reason(server, db, seeded):
    admin = seeded["admin"]
    r = queue(server, admin, "signups_by_partner", RANGE + "&period=day")
    assert r.status_code == 202, r.text
    run = finished(server, admin, r.json()["id"])
    assert run["status"] == "failed" and run["error_code"] == "REPORT_TOO_LARGE", run
    assert "5 rows" in run["error"] and run["attempts"] == 1
    assert run["result_bytes"] is None and run["finished_at"]
    p = problem(server.get(f"/v1/report-runs/{run['id']}/result", headers=hdr(admin)), 409,
                "RUN_FAILED")
    assert "5 rows" in p["detail"]
    # Nothing to retry: the job is done, not buried.
    assert db.count("failed_jobs", "kind = 'report_runs.make'") == 0
    assert db.count("jobs", "kind = 'report_runs.make'") == 0


@pytest.mark.dialect
def test_a_result_past_report_run_max_bytes_fails(start_server, db):
    s = start_server(db=db, env=dict(ENV, CAREBASE_REPORT_RUN_MAX_BYTES="256"))
    admin = person(s, "admin", "admin")
    big = queue(s, admin, "course_progress", format="json")
    small = queue(s, admin, "course_progress", format="csv")
    assert big.status_code == 202 and small.status_code == 202
    run = finished(s, admin, big.json()["id"])
    assert run["status"] == "failed" and run["error_code"] == "RESULT_TOO_LARGE", run
    assert "256 bytes" in run["error"]
    run = finished(s, admin, small.json()["id"])
    assert run["status"] == "succeeded" and 0 < run["result_bytes"] <= 256, run
    # GET /v1/reports/{name} has the same bound: 422, not the request-size 413.
    p = problem(s.get(f"/v1/reports/course_progress?{RANGE}", headers=hdr(admin)), 422,
                "RESULT_TOO_LARGE")
    assert "256 bytes" in p["detail"]
    r = s.get(f"/v1/reports/course_progress?{RANGE}&format=csv", headers=hdr(admin))
    assert r.status_code == 200 and len(r.content) == run["result_bytes"]
    for bad in ("255", "268435457", "x"):
        r = s.cli("jobs", "stats", env={"CAREBASE_REPORT_RUN_MAX_BYTES": bad})
        assert r.returncode != 0 and "report_run_max_bytes" in r.stderr


@pytest.mark.dialect
def test_database_errors_are_retried_then_buried(server, db, seeded):
    """The report's table is gone: both attempts fail, with backoff between them;
    the run is failed (DATABASE_ERROR) and the job is in failed_jobs. Put back,
    `carebase jobs retry` makes it."""
    admin = seeded["admin"]
    db.execute("ALTER TABLE therapy_bookings RENAME TO therapy_bookings_away")
    try:
        r = queue(server, admin, "therapy_bookings_by_partner")
        assert r.status_code == 202, r.text
        run = finished(server, admin, r.json()["id"])
        assert run["status"] == "failed" and run["error_code"] == "DATABASE_ERROR", run
        assert run["attempts"] == 2 and "attempt 2 of 2" in run["error"]
        wait_until(lambda: db.count("failed_jobs", "kind = 'report_runs.make'") == 1,
                   what="the job buried")
        err = db.scalar("SELECT error FROM failed_jobs WHERE kind = 'report_runs.make'")
        assert "attempt 2 of 2" in err and "therapy_bookings" not in err   # no SQL leaked
        assert "therapy_bookings" not in run["error"]
        # The synchronous route answers 500, not an empty report, and leaks no SQL.
        p = problem(server.get(f"/v1/reports/therapy_bookings_by_partner?{RANGE}",
                               headers=hdr(admin)), 500, "INTERNAL")
        assert "therapy_bookings" not in p["detail"]
    finally:
        db.execute("ALTER TABLE therapy_bookings_away RENAME TO therapy_bookings")
    failed_id = db.scalar("SELECT id FROM failed_jobs WHERE kind = 'report_runs.make'")
    server.cli_ok("jobs", "retry", failed_id)
    wait_until(lambda: run_of(server, admin, r.json()["id"])["status"] == "succeeded",
               timeout=20, what="the retried run")
    run = run_of(server, admin, r.json()["id"])
    assert run["attempts"] == 3 and run["error"] is None
    got = server.get(f"/v1/report-runs/{run['id']}/result", headers=hdr(admin))
    assert got.content == server.get(f"/v1/reports/therapy_bookings_by_partner?{RANGE}",
                                     headers=hdr(admin)).content


# Another worker takes the run the moment this one begins it (this one overran
# job_timeout_s, say) and makes it: attempts 2, succeeded, a result of its own.
TAKEN_SQLITE = """CREATE TRIGGER run_taken AFTER UPDATE OF status ON report_runs
WHEN NEW.status = 'running' AND NEW.attempts = 1 BEGIN
UPDATE report_runs SET status = 'succeeded', attempts = 2, result = X'7B7D',
result_bytes = 2, result_rows = 0, finished_at = 1, error_code = NULL, error = NULL
WHERE id = NEW.id; END;"""
TAKEN_POSTGRES = """CREATE FUNCTION run_taken() RETURNS trigger AS $$ BEGIN
UPDATE report_runs SET status = 'succeeded', attempts = 2, result = '\\x7b7d',
result_bytes = 2, result_rows = 0, finished_at = 1, error_code = NULL, error = NULL
WHERE id = NEW.id; RETURN NULL; END $$ LANGUAGE plpgsql;
CREATE TRIGGER run_taken AFTER UPDATE OF status ON report_runs FOR EACH ROW
WHEN (NEW.status = 'running' AND NEW.attempts = 1) EXECUTE FUNCTION run_taken();"""


@pytest.mark.dialect
def test_a_stale_worker_does_not_undo_the_run(server, db, seeded):
    """The first worker's attempt fails on the database after another worker
    took the run and made it: the stale end changes nothing, the run stays
    succeeded with the other worker's result, and is not made again."""
    admin = seeded["admin"]
    db.execute(TAKEN_SQLITE if db.kind == "sqlite" else TAKEN_POSTGRES)
    db.execute("ALTER TABLE therapy_bookings RENAME TO therapy_bookings_away")
    try:
        r = queue(server, admin, "therapy_bookings_by_partner")
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        wait_until(lambda: db.count("jobs", "kind = 'report_runs.make'") == 0,
                   timeout=20, what="the job done")
    finally:
        db.execute("ALTER TABLE therapy_bookings_away RENAME TO therapy_bookings")
    run = run_of(server, admin, run_id)
    assert run["status"] == "succeeded" and run["attempts"] == 2, run
    assert run["error_code"] is None and run["result_bytes"] == 2
    # The other worker's result is planted: "{}", not a report.
    got = server.get(f"/v1/report-runs/{run_id}/result", headers=hdr(admin), contract=False)
    assert got.status_code == 200 and got.content == b"{}"
    assert db.count("failed_jobs", "kind = 'report_runs.make'") == 0


@pytest.mark.dialect
def test_a_run_whose_job_is_gone_does_not_count_as_waiting(start_server, db,
                                                           seeded_no_workers):
    """RUNS_PENDING counts the runs whose job is still queued: one whose job
    is gone (deleted by hand, say) leaves room for another."""
    server, admin = seeded_no_workers
    ids = [queue(server, admin, "signups_by_partner").json()["id"] for _ in range(16)]
    problem(queue(server, admin, "signups_by_partner"), 429, "RUNS_PENDING")
    db.execute("DELETE FROM jobs WHERE id = (SELECT job_id FROM report_runs "
               f"WHERE id = '{ids[0]}')")
    assert queue(server, admin, "signups_by_partner").status_code == 202
    problem(queue(server, admin, "signups_by_partner"), 429, "RUNS_PENDING")


@pytest.mark.dialect
def test_a_run_whose_job_was_buried_shows_failed(server, db, seeded):
    """A run left 'running' (its worker died, say) whose job is in failed_jobs is
    failed to the API, with failed_jobs' reason, and no longer counts as waiting."""
    admin = seeded["admin"]
    r = queue(server, admin, "signups_by_partner")
    run = finished(server, admin, r.json()["id"])
    job_id = str(uuid.uuid4())
    db.execute(f"UPDATE report_runs SET status = 'running', job_id = '{job_id}' "
               f"WHERE id = '{run['id']}';"
               "INSERT INTO failed_jobs (id, job_id, queue, kind, payload, error, attempts, "
               f"failed_at) VALUES ('{uuid.uuid4()}', '{job_id}', 'default', "
               "'report_runs.make', '{}', 'timed out after 2 attempts', 2, 0);")
    run = run_of(server, admin, run["id"])
    assert run["status"] == "failed" and run["error_code"] == "JOB_FAILED"
    assert run["error"] == "timed out after 2 attempts"
    p = problem(server.get(f"/v1/report-runs/{run['id']}/result", headers=hdr(admin)), 409,
                "RUN_FAILED")
    assert "timed out" in p["detail"]


@pytest.mark.dialect
def test_old_runs_are_pruned_by_the_scheduled_job(server, db, seeded):
    admin = seeded["admin"]
    old = queue(server, admin, "signups_by_partner").json()["id"]
    recent = queue(server, admin, "course_progress").json()["id"]
    finished(server, admin, old)
    finished(server, admin, recent)
    eight_days = int(time.time() * 1000) - 8 * 86400 * 1000
    six_days = int(time.time() * 1000) - 6 * 86400 * 1000
    db.execute(f"UPDATE report_runs SET created_at = {eight_days} WHERE id = '{old}';"
               f"UPDATE report_runs SET created_at = {six_days} WHERE id = '{recent}';")
    wait_until(lambda: db.count("job_schedules", "name = 'report_runs.prune'") == 1,
               timeout=15, what="the report_runs.prune schedule")
    assert db.scalar("SELECT cron FROM job_schedules WHERE name = 'report_runs.prune'") \
        == "37 * * * *"
    # Due now: queued by hand as the schedule would.
    db.execute("INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, "
               f"run_at, created_at, updated_at) VALUES ('{uuid.uuid4()}', "
               "'report_runs.prune', '{}', 'queued', 0, 3, 0, 0, 0)")
    wait_until(lambda: db.count("report_runs", f"id = '{old}'") == 0, timeout=15,
               what="the old run pruned")
    problem(server.get(f"/v1/report-runs/{old}", headers=hdr(admin)), 404, "NOT_FOUND")
    problem(server.get(f"/v1/report-runs/{old}/result", headers=hdr(admin)), 404, "NOT_FOUND")
    assert run_of(server, admin, recent)["status"] == "succeeded"
    assert db.count("failed_jobs", "kind = 'report_runs.prune'") == 0


def test_retention_is_configurable_and_bounded(start_server, db):
    s = start_server(db=db, env=ENV, start=False)
    s.cli_ok("migrate")
    s.cli_ok("jobs", "stats", env={"CAREBASE_REPORT_RUN_RETENTION_DAYS": "3"})
    for bad in ("0", "366", "x"):
        r = s.cli("jobs", "stats", env={"CAREBASE_REPORT_RUN_RETENTION_DAYS": bad})
        assert r.returncode != 0 and "report_run_retention_days" in r.stderr


@pytest.mark.dialect
def test_undoing_0034_refuses_while_xlsx_or_pdf_runs_are_kept(start_server, db):
    """0034's down converts nothing: while a run in xlsx or pdf is kept it
    refuses, saying how to go on; once they are deleted it puts 0012's check
    back (json and csv only), and migrating again allows them again."""
    s = start_server(db=db, env=dict(ENV, CAREBASE_JOB_WORKERS="0"))
    admin = person(s, "admin", "admin")
    assert queue(s, admin, "signups_by_partner", format="pdf").status_code == 202
    assert queue(s, admin, "signups_by_partner", format="csv").status_code == 202
    s.stop()
    # 0034 alone in the newest batch: `migrate down --batch` undoes it only.
    name = "0034_report_runs_xlsx_pdf"
    db.execute(f"UPDATE schema_migrations SET batch = batch + 1 WHERE name = '{name}'")
    r = s.cli("migrate", "down", "--batch", "--yes")
    assert r.returncode != 0, r.stdout
    assert "report runs in xlsx or pdf are kept" in r.stderr, r.stderr
    assert db.count("schema_migrations", f"name = '{name}'") == 1
    assert db.count("report_runs") == 2
    db.execute("DELETE FROM report_runs WHERE format IN ('xlsx', 'pdf')")
    s.cli_ok("migrate", "down", "--batch", "--yes")
    assert db.count("schema_migrations", f"name = '{name}'") == 0
    row = ("INSERT INTO report_runs (id, report, range_from, range_to, period, format, "
           "created_at, updated_at) VALUES ('{id}', 'signups_by_partner', 0, 1, 'month', "
           "'{fmt}', 0, 0)")
    with pytest.raises(Exception):
        db.execute(row.format(id=uuid.uuid4(), fmt="xlsx"))
    db.execute(row.format(id=uuid.uuid4(), fmt="csv"))
    s.cli_ok("migrate")
    assert db.count("schema_migrations", f"name = '{name}'") == 1
    db.execute(row.format(id=uuid.uuid4(), fmt="xlsx"))
    assert db.count("report_runs", "format = 'xlsx'") == 1


def test_openapi_declares_the_four_formats_of_a_run(server):
    doc = server.get("/v1/openapi.json").json()
    post = doc["paths"]["/v1/report-runs"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["format"]["enum"] == ["json", "csv", "xlsx", "pdf"]
    run = post["responses"]["202"]["content"]["application/json"]["schema"]
    assert run["properties"]["format"]["enum"] == ["json", "csv", "xlsx", "pdf"]
    result = doc["paths"]["/v1/report-runs/{id}/result"]["get"]["responses"]["200"]
    assert set(result["content"]) == {"application/json", "text/csv", XLSX, "application/pdf"}
    assert result["content"] == \
        doc["paths"]["/v1/reports/{name}"]["get"]["responses"]["200"]["content"]
