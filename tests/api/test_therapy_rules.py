"""Therapy rules found missing in review: a required checkbox needs a choice,
a scale with one bound is bounded on the other side too, scoring names each
item once and its bands start at 0, and an assignment is opened before it is
completed."""
import pytest

from conftest import (PHQ9, PHQ_OPTS, at, book, hdr, person, problem, relate, undo_migration,
                      wait_until)


def make_form(srv, admin, fields, scoring=None):
    body = {"title": "Rules", "type": "custom", "fields": fields}
    if scoring is not None:
        body["scoring"] = scoring
    return srv.post("/v1/forms", headers=hdr(admin), json=body)


def test_required_checkbox_and_one_sided_scale(server, practice):
    p = practice
    r = make_form(server, p["admin"], [
        {"id": "cb", "label": "Pick", "type": "checkbox", "options": ["a", "b"],
         "required": True},
        {"id": "sc", "label": "Scale", "type": "scale", "validation": "min:1"}])
    assert r.status_code == 201, r.text
    form = r.json()["id"]
    body = problem(server.post("/v1/form-responses", headers=hdr(p["client"]), json={
        "form_id": form, "responses": {"cb": [], "sc": 500}}), 422, "VALIDATION_FAILED")
    got = {e["field"]: e["code"] for e in body["errors"]}
    assert got == {"responses.cb": "required", "responses.sc": "out_of_range"}, got
    r = server.post("/v1/form-responses", headers=hdr(p["client"]), json={
        "form_id": form, "responses": {"cb": ["a"], "sc": 10}})
    assert r.status_code == 201, r.text


def test_scoring_names_each_item_once_and_bands_start_at_zero(server, practice):
    p = practice
    fields = [{"id": "r1", "label": "Q", "type": "radio", "options": ["no", "yes"]}]
    body = problem(make_form(server, p["admin"], fields, {
        "method": "sum", "items": ["r1", "r1"],
        "bands": [{"min": 5, "label": "high"}]}), 422, "VALIDATION_FAILED")
    got = {e["field"]: e["code"] for e in body["errors"]}
    assert got.get("scoring.items[1]") == "duplicate", got
    assert "scoring.bands" in got, got


def test_an_assignment_is_opened_before_it_is_completed(server, practice):
    p = practice
    t, c = p["therapist"], p["client"]
    res = server.post("/v1/resources", headers=hdr(t), json={
        "title": "Journal", "type": "text", "url": "https://example.org/j"}).json()
    asg = server.post("/v1/resource-assignments", headers=hdr(t),
                      json={"resource_id": res["id"], "client_id": c["id"]}).json()
    problem(server.post(f"/v1/resource-assignments/{asg['id']}/complete", headers=hdr(c)),
            409, "INVALID_TRANSITION")
    assert server.post(f"/v1/resource-assignments/{asg['id']}/open",
                       headers=hdr(c)).status_code == 200
    r = server.post(f"/v1/resource-assignments/{asg['id']}/complete", headers=hdr(c))
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text


def test_reading_assignment_notes_is_audited(server, practice, db):
    p = practice
    t, c = p["therapist"], p["client"]
    res = server.post("/v1/resources", headers=hdr(t), json={
        "title": "Diary", "type": "text", "url": "https://example.org/d"}).json()
    r = server.post("/v1/resource-assignments", headers=hdr(t), json={
        "resource_id": res["id"], "client_id": c["id"], "notes": "Write nightly"})
    assert r.status_code == 201, r.text
    before = db.count("audit_log", "action = 'resource_assignments.read'")
    r = server.get("/v1/resource-assignments", headers=hdr(p["guardian"]))
    assert r.status_code == 200 and any(a.get("notes") == "Write nightly"
                                        for a in r.json()["data"]), r.text
    # Reads' audit rows are written by the audit writer, within audit_flush_ms.
    wait_until(lambda: db.count("audit_log", "action = 'resource_assignments.read'") > before,
               timeout=5, what="the read's audit row")


@pytest.mark.dialect
def test_the_database_itself_refuses_overlapping_live_sessions(server, practice, db):
    """The module checks first (409 SESSION_OVERLAP); the schema is the backstop
    for any other writer: a trigger on SQLite, an exclusion constraint on
    PostgreSQL."""
    p = practice
    t, c = p["therapist"], p["client"]
    s = book(server, t, t, c, at(60), at(61)).json()
    start = int(db.scalar(f"SELECT start_time FROM therapy_sessions WHERE id = '{s['id']}'"))
    end = start + 3600 * 1000

    def insert(uid, a, b, status="scheduled"):
        db.query("INSERT INTO therapy_sessions (id, therapist_id, client_id, start_time, "
                 "end_time, status, type, format, meta, created_at, updated_at) VALUES "
                 f"('{uid}', '{t['profile']['id']}', '{c['id']}', {a}, {b}, '{status}', "
                 "'regular', 'video', '{}', 0, 0)")

    half = 30 * 60 * 1000
    with pytest.raises(Exception) as e:
        insert("00000000-0000-7000-8000-00000000a001", start + half, end + half)
    assert "another session" in str(e.value) or "no_overlap" in str(e.value), e.value
    with pytest.raises(Exception):
        insert("00000000-0000-7000-8000-00000000a002", end + half, end)
    # A cancelled session may sit anywhere; the live one is untouched.
    insert("00000000-0000-7000-8000-00000000a003", start, end, "cancelled")
    assert db.count("therapy_sessions", f"therapist_id = '{t['profile']['id']}' AND "
                    "status = 'scheduled'") == 1


def test_directory_leaves_out_deactivated_and_erased_accounts(server, practice):
    p = practice
    c = hdr(p["client"])
    ids = lambda: {x["id"] for x in server.get("/v1/therapist-directory", headers=c).json()["data"]}  # noqa: E731
    t2, col = p["therapist2"]["profile"]["id"], p["colleague"]["profile"]["id"]
    assert {t2, col} <= ids()
    # The profile stays active; the account behind it is deactivated.
    r = server.request("PATCH", f"/v1/users/{p['therapist2']['id']}", headers=hdr(p["admin"]),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    assert t2 not in ids() and col in ids()
    problem(server.get(f"/v1/therapist-directory/{t2}", headers=c), 404, "NOT_FOUND")
    r = server.post(f"/v1/users/{p['colleague']['id']}/erase", headers=hdr(p["admin"]))
    assert r.status_code in (200, 204), r.text
    assert col not in ids()
    problem(server.get(f"/v1/therapist-directory/{col}", headers=c), 404, "NOT_FOUND")


@pytest.mark.dialect
def test_delete_rules_cascade_and_set_null(server, practice, db):
    """The seed's delete rules: a response outlives its session (SET NULL);
    a therapist's profile takes its sessions, resources and their
    assignments with it (CASCADE)."""
    p = practice
    t, c, a = p["therapist"], p["client"], hdr(p["admin"])
    s = book(server, t, t, c, at(70), at(71)).json()
    answers = {f"q{i}": PHQ_OPTS[0] for i in range(1, 10)}
    r = server.post("/v1/form-responses", headers=hdr(c),
                    json={"form_id": PHQ9, "session_id": s["id"], "responses": answers})
    assert r.status_code == 201, r.text
    resp = r.json()
    res = server.post("/v1/resources", headers=hdr(t), json={
        "title": "Breathing", "type": "pdf", "url": "https://example.org/b.pdf"}).json()
    asg = server.post("/v1/resource-assignments", headers=hdr(t),
                      json={"resource_id": res["id"], "client_id": c["id"]}).json()
    r = server.request("DELETE", f"/v1/therapy-sessions/{s['id']}", headers=a)
    assert r.status_code == 204, r.text
    r = server.get(f"/v1/form-responses/{resp['id']}", headers=hdr(c))
    assert r.status_code == 200 and r.json()["session_id"] is None, r.text
    assert r.json()["responses"] == answers
    s2 = book(server, t, t, c, at(72), at(73)).json()
    r = server.request("DELETE", f"/v1/therapists/{t['profile']['id']}", headers=a)
    assert r.status_code == 204, r.text
    for table, rid in (("therapy_sessions", s2["id"]), ("resources", res["id"]),
                       ("resource_assignments", asg["id"])):
        assert db.count(table, f"id = '{rid}'") == 0, table
    assert db.count("form_responses", f"id = '{resp['id']}'") == 1


def test_a_colleagues_public_resource_assigned_is_the_assigners(server, practice):
    """Who sees an assignment is who made it, not who owns the resource."""
    p = practice
    t, c, col = p["therapist"], p["client"], p["colleague"]
    pub = server.post("/v1/resources", headers=hdr(col), json={
        "title": "Sleep", "type": "link", "url": "https://example.org/s",
        "is_public": True}).json()
    r = server.post("/v1/resource-assignments", headers=hdr(t),
                    json={"resource_id": pub["id"], "client_id": c["id"],
                          "notes": "ONLY-FOR-T"})
    assert r.status_code == 201, r.text
    asg = r.json()
    assert server.get(f"/v1/resource-assignments/{asg['id']}", headers=hdr(t)).status_code == 200
    r = server.get("/v1/resource-assignments", headers=hdr(col))
    assert asg["id"] not in {x["id"] for x in r.json()["data"]} and "ONLY-FOR-T" not in r.text
    problem(server.get(f"/v1/resource-assignments/{asg['id']}", headers=hdr(col)),
            404, "NOT_FOUND")
    problem(server.post(f"/v1/resource-assignments/{asg['id']}/complete", headers=hdr(col)),
            404, "NOT_FOUND")
    # Only clients get assignments: a therapist who is someone's guardian
    # assigns them nothing.
    kid = p["other"]
    relate(server, p["admin"], t, kid, "guardian_of")
    r = server.post("/v1/resource-assignments", headers=hdr(t),
                    json={"resource_id": pub["id"], "client_id": kid["id"]})
    assert r.status_code == 403, r.text


@pytest.mark.dialect
def test_concurrent_completes_move_an_assignment_once(server, practice, db):
    import concurrent.futures
    p = practice
    t, c = p["therapist"], p["client"]
    res = server.post("/v1/resources", headers=hdr(t), json={
        "title": "Walk", "type": "text", "url": "https://example.org/w"}).json()
    asg = server.post("/v1/resource-assignments", headers=hdr(t),
                      json={"resource_id": res["id"], "client_id": c["id"]}).json()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        opens = list(ex.map(lambda _: server.post(
            f"/v1/resource-assignments/{asg['id']}/open", headers=hdr(c)).status_code, range(8)))
    assert opens == [200] * 8
    assert db.count("audit_log", f"action = 'resource_assignments.view' AND "
                    f"entity_id = '{asg['id']}'") == 1
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        done = list(ex.map(lambda _: server.post(
            f"/v1/resource-assignments/{asg['id']}/complete", headers=hdr(c)).status_code,
            range(8)))
    assert sorted(done) == [200] + [409] * 7, done
    assert db.count("audit_log", f"action = 'resource_assignments.complete' AND "
                    f"entity_id = '{asg['id']}'") == 1


def test_a_therapist_whose_link_ended_no_longer_acts_on_the_session(server, practice, db):
    p = practice
    t, c, a = p["therapist"], p["client"], hdr(p["admin"])
    s = book(server, t, t, c, at(80), at(81)).json()
    rel = db.scalar(f"SELECT id FROM relationships WHERE lead_id = '{t['id']}' AND "
                    f"follower_id = '{c['id']}' AND kind = 'practitioner_of'")
    r = server.post(f"/v1/relationships/{rel}/end", headers=a)
    assert r.status_code == 200, r.text
    problem(server.get(f"/v1/therapy-sessions/{s['id']}", headers=hdr(t)), 404, "NOT_FOUND")
    problem(server.get(f"/v1/therapy-sessions/{s['id']}/private-notes", headers=hdr(t)),
            404, "NOT_FOUND")
    problem(server.request("PUT", f"/v1/therapy-sessions/{s['id']}/private-notes",
                           headers=hdr(t), json={"private_notes": "x"}), 404, "NOT_FOUND")
    for verb in ("complete", "no-show"):
        problem(server.post(f"/v1/therapy-sessions/{s['id']}/{verb}", headers=hdr(t)),
                404, "NOT_FOUND")
    problem(server.post(f"/v1/therapy-sessions/{s['id']}/reschedule", headers=hdr(t),
                        json={"start_time": at(82), "end_time": at(83)}), 404, "NOT_FOUND")
    # An admin may move it, but the booking rules still hold: no practitioner.
    body = problem(server.post(f"/v1/therapy-sessions/{s['id']}/reschedule", headers=a,
                               json={"start_time": at(82), "end_time": at(83)}),
                   422, "VALIDATION_FAILED")
    assert body["errors"][0]["code"] == "not_practitioner"
    assert server.get(f"/v1/therapy-sessions/{s['id']}", headers=a).json()["status"] \
        == "scheduled"


def test_action_answers_show_only_what_the_caller_may_see(server, practice):
    p = practice
    t, c = p["therapist"], p["client"]
    s = book(server, p["admin"], t, c, at(90), at(91)).json()
    assert "created_by" in s
    r = server.post(f"/v1/therapy-sessions/{s['id']}/cancel", headers=hdr(c))
    assert r.status_code == 200, r.text
    assert "created_by" not in r.json() and "updated_by" not in r.json()
    assert r.json() == {k: v for k, v in server.get(
        f"/v1/therapy-sessions/{s['id']}", headers=hdr(c)).json().items()}


def test_actions_and_private_notes_see_a_session_through_the_read_scope(server, practice):
    """Whether a session exists for its actions and private notes is the
    declaration's read scope, as for its read: a guardian whose role may not
    read therapy sessions (an instructor) finds none (404); the guardian who
    may read it sees it and is refused (403)."""
    p = practice
    t, c = p["therapist"], p["client"]
    s = book(server, t, t, c, at(60), at(61)).json()
    teacher = person(server, "teacher", "instructor")
    relate(server, p["admin"], teacher, c, "guardian_of")
    path = f"/v1/therapy-sessions/{s['id']}"
    moved = {"start_time": at(62), "end_time": at(63)}
    for who, status, code in ((teacher, 404, "NOT_FOUND"), (p["guardian"], 403, "FORBIDDEN")):
        w = hdr(who)
        assert server.get(path, headers=w).status_code == (404 if status == 404 else 200)
        for action in ("complete", "cancel", "no-show"):
            problem(server.post(f"{path}/{action}", headers=w), status, code)
        problem(server.post(f"{path}/reschedule", headers=w, json=moved), status, code)
        problem(server.get(f"{path}/private-notes", headers=w), status, code)
        problem(server.request("PUT", f"{path}/private-notes", headers=w,
                               json={"private_notes": "x"}), status, code)
    assert server.get(path, headers=hdr(t)).json()["status"] == "scheduled"


@pytest.mark.dialect
def test_sessions_stored_as_canceled_are_migrated_to_cancelled(server, practice, db):
    """Migration 0026: sessions cancelled before it (stored "canceled") say
    "cancelled" after it, and the database's own rules follow: the CHECK takes
    only the new spelling, and the overlap backstop (a trigger on SQLite, the
    exclusion constraint on PostgreSQL) still leaves a cancelled session out."""
    p = practice
    t, c = p["therapist"], p["client"]
    s = book(server, t, t, c, at(70), at(71)).json()
    r = server.post(f"/v1/therapy-sessions/{s['id']}/cancel", headers=hdr(c))
    assert r.status_code == 200, r.text
    server.stop()
    undo_migration(db, "0026_cancelled_spelling")
    sql = f"SELECT status FROM therapy_sessions WHERE id = '{s['id']}'"
    assert db.scalar(sql) == "canceled"
    server.cli_ok("migrate")
    server.start(migrate=False)
    assert db.scalar(sql) == "cancelled"
    r = server.get(f"/v1/therapy-sessions/{s['id']}", headers=hdr(c))
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    # Its slot is free, through the API and in the database itself.
    again = book(server, t, t, c, at(70), at(71))
    assert again.status_code == 201, again.text
    with pytest.raises(Exception):
        db.execute(f"UPDATE therapy_sessions SET status = 'canceled' WHERE id = '{s['id']}'")
    start, end = (int(x) for x in db.query(
        f"SELECT start_time, end_time FROM therapy_sessions WHERE id = '{s['id']}'")[0])
    db.execute("INSERT INTO therapy_sessions (id, therapist_id, client_id, start_time, "
               "end_time, status, type, format, meta, created_at, updated_at) VALUES "
               f"('00000000-0000-7000-8000-00000000b001', '{t['profile']['id']}', "
               f"'{c['id']}', {start}, {end}, 'cancelled', 'regular', 'video', '{{}}', 0, 0)")
    with pytest.raises(Exception):
        db.execute(f"UPDATE therapy_sessions SET status = 'scheduled' "
                   f"WHERE id = '00000000-0000-7000-8000-00000000b001'")
