"""The demo (issue 15, item 3): `carebase seed` on a fresh database, then
every module checked through the HTTP API as the accounts it printed, with
the password it printed. The therapist has a profile, so they book, write
notes and make resources; the member has a birth date, so they record; and
each module has something to show: sessions with notes, a filled PHQ-9, an
assignment, a recording with points, a partner with codes, a course with
progress, the training catalogue. A second seed adds nothing.

The training business's seed data (issue 17, item 9; seed 004): its admin
at the document's address with a password generated and printed once (the
document's password never works), the three courses at the document's
prices with the UK lengths, the five venues and the settings of every
category; a second seed makes none of them again and prints no password."""
import datetime
import re

import pytest

from conftest import hdr, login, problem

DEMO_PASSWORD = "carebase-demo-2026"
BUSINESS_ADMIN = "lex@reactfasttraining.co.uk"
DOCUMENT_PASSWORD = "LexOnly321!"       # published in seed 004: never valid
COURSES = {   # name: (type, price in pence, hours, days)
    "Emergency First Aid at Work": ("EFAW", 7500, 6, 1),
    "First Aid at Work": ("FAW", 9500, 18, 3),
    "Paediatric First Aid": ("Paediatric", 8500, 12, 2),
}
VENUES = {"Leeds City Centre Training Venue", "Sheffield Business Park",
          "Bradford Community Centre", "York Conference Centre", "Client On-Site Training"}
ADMIN_LINE = re.compile(r"admin lex@reactfasttraining\.co\.uk made; its password, shown "
                        r"this once[^:]*: (\S+)")
HRV = "00000000-0000-7000-8000-0000000000d1"
PHQ9 = "00000000-0000-7000-8000-000000000009"


def printed(out):
    """{role label: {"email", "id", "status"}} and the password and codes
    the seed printed."""
    m = re.search(r"password for each: (\S+)\)", out)
    assert m, out
    accounts = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[1].endswith("@demo.carebase.dev"):
            accounts[f[1].split("@")[0]] = {"role": f[0], "email": f[1], "status": f[2],
                                           "id": f[3]}
    codes = re.search(r"access codes \([^)]*\):((?: [A-Z0-9]{6})+)", out)
    return m.group(1), accounts, codes.group(1).split() if codes else []


@pytest.fixture
def demo(start_server):
    srv = start_server(start=False)
    out = srv.cli_ok("seed").stdout
    password, accounts, codes = printed(out)
    srv.start(migrate=False)
    tokens = {who: login(srv, a["email"], password) for who, a in accounts.items()}
    return srv, out, password, accounts, codes, tokens


def get(srv, path, token, status=200):
    r = srv.get(path, headers=hdr(token))
    assert r.status_code == status, (path, r.text)
    return r.json()


def test_the_seed_prints_every_account_and_what_each_module_made(demo):
    srv, out, password, accounts, codes, tokens = demo
    assert password == DEMO_PASSWORD
    assert set(accounts) == {"admin", "therapist", "guardian", "child", "member",
                             "instructor", "partner"}
    assert all(a["status"] == "created" for a in accounts.values()), accounts
    for module in ("therapy:", "partners:", "biometrics:", "learning:", "training:"):
        assert module in out, out
    assert len(codes) == 3, out
    for who, a in accounts.items():
        me = get(srv, "/v1/me", tokens[who])
        assert me["id"] == a["id"] and me["role"] == a["role"], me


def test_the_therapist_has_a_profile_and_books_writes_notes_and_makes_resources(demo):
    srv, out, password, accounts, codes, tokens = demo
    t, member = tokens["therapist"], accounts["member"]["id"]
    profiles = get(srv, f"/v1/therapists?user_id={accounts['therapist']['id']}", t)["data"]
    assert len(profiles) == 1 and profiles[0]["is_active"], profiles
    listed = get(srv, "/v1/therapist-directory", tokens["member"])["data"]
    assert [p["id"] for p in listed] == [profiles[0]["id"]]
    sessions = get(srv, "/v1/therapy-sessions?sort=start_time", t)["data"]
    assert [s["status"] for s in sessions] == ["completed", "completed", "scheduled"], sessions
    assert all(s["client_id"] == member for s in sessions)
    assert all(s["shared_notes"] for s in sessions[:2])
    notes = get(srv, f"/v1/therapy-sessions/{sessions[0]['id']}/private-notes", t)
    assert notes["private_notes"], notes
    # Writes notes, books, makes a resource, as a therapist does.
    r = srv.request("PUT", f"/v1/therapy-sessions/{sessions[1]['id']}/private-notes",
                    headers=hdr(t), json={"private_notes": "Reviewed in supervision."})
    assert r.status_code == 200, r.text
    start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=9)) \
        .replace(hour=15, minute=0, second=0, microsecond=0)
    r = srv.post("/v1/therapy-sessions", headers=hdr(t), json={
        "therapist_id": profiles[0]["id"], "client_id": member, "type": "regular",
        "format": "video", "start_time": start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "end_time": (start + datetime.timedelta(minutes=50)).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z"), "shared_notes": "Sleep diary review."})
    assert r.status_code == 201, r.text
    r = srv.post("/v1/resources", headers=hdr(t), json={
        "title": "Sleep diary", "type": "link", "url": "https://example.org/sleep-diary"})
    assert r.status_code == 201, r.text


def test_the_member_sees_every_module_working(demo):
    srv, out, password, accounts, codes, tokens = demo
    m = tokens["member"]
    assert get(srv, "/v1/me", m)["date_of_birth"] is not None
    assert get(srv, "/v1/me/health-consent", m) == {"allowed": True, "reason": "adult"}
    # Sessions with notes, the PHQ-9, the assignment.
    sessions = get(srv, "/v1/therapy-sessions", m)["data"]
    assert len(sessions) == 3 and sum(bool(s["shared_notes"]) for s in sessions) == 2
    forms = get(srv, f"/v1/form-responses?form_id={PHQ9}", m)["data"]
    assert len(forms) == 1 and forms[0]["score"]["severity"] == "mild", forms
    assert forms[0]["session_id"] in {s["id"] for s in sessions}
    assigned = get(srv, "/v1/resource-assignments", m)["data"]
    assert len(assigned) == 1 and assigned[0]["status"] == "assigned", assigned
    library = get(srv, "/v1/resource-library", m)["data"]
    assert [x["id"] for x in library] == [assigned[0]["resource_id"]]
    assert library[0]["url"].startswith("https://")
    r = srv.post(f"/v1/resource-assignments/{assigned[0]['id']}/open", headers=hdr(m))
    assert r.status_code == 200, r.text
    # A recording with points, and a new one (the birth date is known).
    recs = get(srv, "/v1/recordings", m)["data"]
    assert len(recs) == 1 and recs[0]["status"] == "successful" and recs[0]["points"] == 300
    pts = get(srv, f"/v1/recordings/{recs[0]['id']}/points?channel=rr", m)
    assert len(pts["v"]) == 300
    r = srv.post("/v1/recordings", headers=hdr(m), json={"data_type_id": HRV})
    assert r.status_code == 201, r.text
    # A partner access with therapy sessions.
    access = get(srv, "/v1/me/partner-access", m)["data"]
    assert [(a["partner_name"], a["feature_therapy"], a["therapy_sessions_remaining"])
            for a in access] == [("Demo Partner", True, 6)], access
    # A course with progress.
    courses = get(srv, "/v1/me/courses", m)["data"]
    assert len(courses) == 1 and courses[0]["course"]["name"] == "Understanding stress"
    # One completed, one started, one not started (started_at null).
    states = sorted((s["completed"], s["started_at"] is not None)
                    for s in courses[0]["sessions"])
    assert states == [(False, False), (False, True), (True, True)], courses
    assert courses[0]["completed"] is False
    # The training catalogue: the member may book the schedule.
    scheds = get(srv, "/v1/course-schedules", m)["data"]
    assert len(scheds) == 1 and scheds[0]["free_seats"] == 12, scheds
    r = srv.post("/v1/training-bookings", headers=hdr(m), json={
        "schedule_id": scheds[0]["id"],
        "attendees": [{"name": "Morgan Member", "email": accounts["member"]["email"]}]})
    assert r.status_code == 201, r.text


def test_the_partner_codes_and_the_catalogue_work_for_newcomers(demo):
    srv, out, password, accounts, codes, tokens = demo
    b = srv.get("/v1/partners/Demo%20Partner")
    assert b.status_code == 200, b.text
    assert b.json()["features"] == ["live_chat", "therapy"], b.json()
    for code in codes:
        r = srv.post("/v1/partner-access/validate-code", json={"code": code})
        assert r.status_code == 200 and r.json()["partner_name"] == "Demo Partner", r.text
    r = srv.post("/v1/auth/register", json={
        "email": "newcomer@example.org", "password": "pale orange kettle 1987 drums",
        "accept_terms": True, "date_of_birth": "1993-02-01", "country": "GB",
        "partner_access_code": codes[0]})
    assert r.status_code == 201, r.text
    courses = srv.get("/v1/training-courses").json()["data"]
    assert sorted(c["course_type"] for c in courses) == ["EFAW", "FAW", "Paediatric"]
    assert len(srv.get("/v1/venues").json()["data"]) == 5
    scheds = srv.get("/v1/course-schedules").json()["data"]
    assert len(scheds) == 1
    inst = tokens["instructor"]
    mine = get(srv, "/v1/trainers", inst)["data"]
    assert [t["trainer_code"] for t in mine] == ["DEMO-T1"], mine
    assert scheds[0]["trainer_id"] == mine[0]["id"]
    mats = get(srv, "/v1/course-materials", tokens["member"])["data"]
    assert len(mats) == 1 and mats[0]["file_url"].startswith("https://"), mats
    # Admins see the partner by id, and the guardian the child's data.
    admin = tokens["admin"]
    pid = get(srv, "/v1/partners?name=Demo%20Partner", admin)["data"][0]["id"]
    assert get(srv, f"/v1/partners/{pid}", admin)["is_active"] is True
    assert get(srv, f"/v1/users/{accounts['child']['id']}", tokens["guardian"])["id"] \
        == accounts["child"]["id"]
    assert get(srv, "/v1/me/health-consent", tokens["child"]) == {
        "allowed": True, "reason": "guardian_consent"}
    # The partner admin administers Demo Partner: its accesses, the four
    # the seed made, are theirs to read.
    assert accounts["partner"]["role"] == "partner_admin"
    assert "partners: the partner admin administers Demo Partner" in out, out
    mine = get(srv, "/v1/partner-admins", tokens["partner"])["data"]
    assert [(a["user_id"], a["partner_id"]) for a in mine] == [(accounts["partner"]["id"], pid)]
    accesses = get(srv, "/v1/partner-access", tokens["partner"])["data"]
    assert len(accesses) == 4 and {a["partner_id"] for a in accesses} == {pid}


def test_a_second_seed_adds_nothing(demo):
    srv, out, password, accounts, codes, tokens = demo
    tables = ("users", "therapists", "therapy_sessions", "form_responses", "resources",
              "resource_assignments", "partners", "partner_access", "partner_admins", "recordings",
              "courses", "course_sessions", "course_session_progress", "training_courses",
              "venues", "trainers", "course_schedules", "course_materials", "settings",
              "audit_log")
    before = {t: srv.db.count(t) for t in tables}
    again = srv.cli_ok("seed").stdout
    _, accounts2, codes2 = printed(again)
    assert {a["status"] for a in accounts2.values()} == {"existed"}, again
    assert codes2 == [] and "nothing added" in again
    assert not ADMIN_LINE.search(again), again
    assert f"admin {BUSINESS_ADMIN} existed" in again, again
    assert {t: srv.db.count(t) for t in tables} == before
    r = srv.cli("audit", "verify")
    assert r.returncode == 0, r.stdout + r.stderr


def test_an_older_demo_gets_its_partner_admin(start_server):
    """A demo seeded before the partner admin existed (Demo Partner there,
    no partner admin link): the next seed links the account, once."""
    srv = start_server(start=False)
    srv.cli_ok("seed")
    srv.db.execute("DELETE FROM partner_admins")
    out = srv.cli_ok("seed").stdout
    assert "partners: the partner admin administers Demo Partner" in out, out
    assert "nothing added" in out, out
    assert srv.db.count("partner_admins") == 1
    again = srv.cli_ok("seed").stdout
    assert "administers" not in again, again
    assert srv.db.count("partner_admins") == 1


def test_a_demo_partner_admin_made_something_else_is_left_and_the_rest_seeded(start_server):
    """An admin changed the demo partner admin's role (and so took their
    link away): the next seed leaves them as they are and seeds the rest
    (it failed the whole seed before)."""
    srv = start_server(start=False)
    srv.cli_ok("seed")
    srv.db.execute("DELETE FROM partner_admins;"
                   "UPDATE users SET role = 'member' WHERE role = 'partner_admin'")
    out = srv.cli_ok("seed").stdout        # failed before: INVALID, nothing after
    assert "administers" not in out, out
    assert srv.db.count("partner_admins") == 0
    assert f"admin {BUSINESS_ADMIN} existed" in out, out   # training's, seeded after


def test_an_older_demo_member_without_a_birth_date_gets_one(start_server):
    srv = start_server(start=False)
    srv.cli_ok("seed")
    srv.db.execute("UPDATE users SET date_of_birth = NULL WHERE role = 'member' AND "
                   "terms_accepted_at IS NOT NULL")
    out = srv.cli_ok("seed").stdout
    assert re.search(r"member@demo\.carebase\.dev\s+updated", out), out
    srv.start(migrate=False)
    m = login(srv, "member@demo.carebase.dev", DEMO_PASSWORD)
    r = srv.post("/v1/recordings", headers=hdr(m), json={"data_type_id": HRV})
    assert r.status_code == 201, r.text
    problem(srv.get("/v1/me/health-consent"), 401, "UNAUTHORIZED")


def test_the_training_business_is_seeded_from_the_document(demo):
    srv, out, password, accounts, codes, tokens = demo
    # Its admin: the document's address, a password generated and shown once.
    m = ADMIN_LINE.search(out)
    assert m, out
    generated = m.group(1)
    assert out.count(generated) == 1
    assert generated not in (DOCUMENT_PASSWORD, DEMO_PASSWORD) and len(generated) >= 20
    lex = login(srv, BUSINESS_ADMIN, generated)
    me = get(srv, "/v1/me", lex)
    assert (me["email"], me["role"]) == (BUSINESS_ADMIN, "admin"), me
    problem(srv.post("/v1/auth/login", json={"email": BUSINESS_ADMIN,
                                             "password": DOCUMENT_PASSWORD}),
            401, "INVALID_CREDENTIALS")
    # The three courses at the document's prices, with the UK lengths.
    courses = get(srv, "/v1/training-courses?limit=100", lex)["data"]
    got = {c["name"]: (c["course_type"], c["price_minor"], c["duration_hours"],
                       c["duration_days"]) for c in courses}
    assert got == COURSES, got
    assert all(c["currency"] == "GBP" and c["is_active"] for c in courses), courses
    # The five venues, open to the public.
    venues = srv.get("/v1/venues?limit=100").json()["data"]
    assert {v["name"] for v in venues} == VENUES, venues
    # The settings: business, booking rules, email, payment, certificates.
    settings = get(srv, "/v1/settings?limit=200", lex)["data"]
    cats = {s["category"] for s in settings}
    assert {"business", "booking", "email", "payment", "certificates"} <= cats, cats
    by_key = {s["key"]: s for s in settings}
    assert by_key["business_name"]["default_value"] == "React Fast Training"
    assert by_key["payment_currency"]["default_value"] == "GBP"
    assert re.search(r"settings by category: business [1-9]\d* booking [1-9]\d* email "
                     r"[1-9]\d* payment [1-9]\d* certificates [1-9]\d*", out), out


def test_the_document_password_is_never_the_admins(start_server):
    """Two seeds of two databases: two passwords, neither the document's."""
    seen = set()
    for _ in range(2):
        srv = start_server(start=False)
        out = srv.cli_ok("seed").stdout
        seen.add(ADMIN_LINE.search(out).group(1))
    assert len(seen) == 2 and DOCUMENT_PASSWORD not in seen
