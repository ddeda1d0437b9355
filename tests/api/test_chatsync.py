"""Chat profile sync (issue 6, part 6): a change of a user's partners,
features, therapy counts or course progress, for a user with chat access
(who has it, and what losing it does: test_chat_access.py), queues one
chat.profile_sync job
that pushes the profile (Crisp's people data shape) to a fake chat provider
served here: PUT /v1/website/{id}/people/data/{email} {"data": {...}}, the
profile made first (POST .../people/profile) when the provider has no such
person. A burst of changes makes one push; an unchanged profile is not sent
again; HTTP errors and timeouts are retried with backoff until the push
lands; a refusal (4xx other than 408/429) gives up at once (failed_jobs);
erased users are never pushed; with no URL nothing is queued; the email is
never in the server's log or in the job tables. A changed address deletes
the profile under the old one (DELETE .../people/profile/{email}) before
pushing under the new one, and erasure queues chat.profile_delete jobs for
the profile, both retried like a push. Runs on SQLite and PostgreSQL."""

import base64
import json
import re
import secrets
import time
import uuid
from urllib.parse import quote

import pytest

from conftest import (CHAT_IDENT, CHAT_KEY, CHAT_WEBSITE, CMS_TOKEN, PASSWORD, chat_env,
                      chat_jobs, chat_settle as settle, cms_publish, hdr, login, make_partner,
                      new_code, patch_access, person, prove_address, redeem, wait_pushes,
                      wait_until, with_mail)

CMS_SECRET = "cms-secret-for-chat-tests"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def server(start_server, chat, smtp_sink):
    srv = start_server(env=with_mail(chat_env(chat), smtp_sink))
    srv.sink = smtp_sink
    return srv


# -- helpers -------------------------------------------------------------------------

def no_email_anywhere(server, db, email):
    """The address is not in the log or in any job row, quoted or not."""
    forms = {email, quote(email, safe=""), email.split("@")[0] + "%40"}
    log = server.log()
    for f in forms:
        assert f not in log, f"{f!r} in the server log"
    rows = db.query("SELECT payload, COALESCE(last_error, '') FROM jobs") + \
        db.query("SELECT payload, error FROM failed_jobs") + \
        db.query("SELECT user_id, COALESCE(job_id, ''), COALESCE(digest, '') "
                 "FROM chat_profile_sync")
    for row in rows:
        for v in row:
            for f in forms:
                assert f not in (v or ""), f"{f!r} in {row}"


def partners_world(server):
    """An admin and two partners, Bumble and badoo."""
    w = {"admin": person(server, "admin", "admin")}
    w["bumble"] = make_partner(server, w["admin"], "Bumble")
    w["badoo"] = make_partner(server, w["admin"], "badoo")
    return w


@pytest.fixture
def world(server):
    return partners_world(server)


# -- pushes -------------------------------------------------------------------------

def test_redeeming_a_code_pushes_the_profile(server, world, chat):
    db = server.db
    m = person(server, "member")
    acc = new_code(server, world["admin"], world["bumble"])
    redeem(server, m, acc["code"])
    data = wait_pushes(chat, m["email"], 1)[0]
    settle(db)
    # A person the provider did not know: data 404, profile made, data again.
    reqs = chat.requests(m["email"])
    assert [(r["method"], r["status"]) for r in reqs] == [
        ("PUT", 404), ("POST", 201), ("PUT", 200)], reqs
    assert reqs[1]["body"] == {"email": m["email"], "person": {"nickname": "Member"}}
    assert reqs[0]["path"] == \
        f"/v1/website/{CHAT_WEBSITE}/people/data/{quote(m['email'], safe='')}"
    for r in reqs:
        h = r["headers"]
        assert h["authorization"] == "Basic " + base64.b64encode(
            f"{CHAT_IDENT}:{CHAT_KEY}".encode()).decode()
        assert h["x-crisp-tier"] == "plugin"
        assert h["content-type"] == "application/json"
    assert data["partners"] == "Bumble"
    assert data["feature_live_chat"] is True and data["feature_therapy"] is True
    assert data["therapy_sessions_remaining"] == 6
    assert data["therapy_sessions_redeemed"] == 0
    assert ISO.match(data["signed_up_at"]), data
    assert data["last_active_at"] == "" or ISO.match(data["last_active_at"]), data
    assert data["email_reminders_frequency"] == "never"
    assert data["marketing_permission"] is False
    assert data["service_emails_permission"] is True
    assert not [k for k in data if k.startswith("course_")]
    keys = {"therapy_session_first_at", "therapy_session_next_at", "therapy_session_last_at"}
    assert keys <= set(data) and all(data[k] == "" for k in keys), data
    # Every value is flat: a string, number or boolean.
    assert all(isinstance(v, (str, int, bool)) for v in data.values()), data
    row = db.query(f"SELECT job_id, dirty, digest, pushed_at FROM chat_profile_sync "
                   f"WHERE user_id = '{m['id']}'")[0]
    assert row[0] is None and row[1] == "0" and re.fullmatch(r"[0-9a-f]{64}", row[2])
    assert row[3] is not None
    assert chat.people[m["email"]] == data
    no_email_anywhere(server, db, m["email"])


def test_registration_with_a_code_or_automatic_access_pushes(server, world, chat):
    w = world
    acc = new_code(server, w["admin"], w["badoo"], therapy_sessions_remaining=4)
    m = person(server, "coded", partner_access_code=acc["code"])
    data = wait_pushes(chat, m["email"], 1)[0]
    assert data["partners"] == "badoo" and data["feature_live_chat"] is True
    assert data["feature_therapy"] is True and data["therapy_sessions_remaining"] == 4
    r = server.post("/v1/partner-features", headers=hdr(w["admin"]), json={
        "partner_id": w["bumble"]["id"],
        "feature_id": server.get("/v1/features?name=automatic_access_code",
                                 headers=hdr(w["admin"])).json()["data"][0]["id"]})
    assert r.status_code == 201, r.text
    a = person(server, "auto", partner="bumble")
    data = wait_pushes(chat, a["email"], 1)[0]
    assert data["partners"] == "Bumble" and data["feature_live_chat"] is True
    assert data["feature_therapy"] is False and data["therapy_sessions_remaining"] == 0
    # A plain registration changes nothing the sync follows.
    p = person(server, "plain")
    settle(server.db)
    time.sleep(0.5)
    assert chat.requests(p["email"]) == []


def test_access_changes_push_the_new_profile(server, world, chat):
    w, db = world, server.db
    pa = person(server, "padmin", "partner_admin")
    r = server.post("/v1/partner-admins", headers=hdr(w["admin"]),
                    json={"user_id": pa["id"], "partner_id": w["bumble"]["id"]})
    assert r.status_code == 201, r.text
    m = person(server, "member")
    a1 = new_code(server, pa)
    redeem(server, m, a1["code"])
    wait_pushes(chat, m["email"], 1)
    settle(db)
    # An admin changes the access (a partner admin may not refill it):
    # remaining and redeemed as they are.
    patch_access(server, w["admin"], a1, therapy_sessions_remaining=3)
    assert wait_pushes(chat, m["email"], 2)[-1]["therapy_sessions_remaining"] == 3
    settle(db)
    # A second partner: names sorted, counts summed.
    a2 = new_code(server, w["admin"], w["badoo"], feature_therapy=False,
                  therapy_sessions_remaining=2)
    redeem(server, m, a2["code"])
    data = wait_pushes(chat, m["email"], 3)[-1]
    assert data["partners"] == "badoo, Bumble", data
    assert data["therapy_sessions_remaining"] == 5 and data["feature_therapy"] is True
    settle(db)
    # Deactivating an access takes it out.
    patch_access(server, pa, a1, is_active=False)
    data = wait_pushes(chat, m["email"], 4)[-1]
    assert data["partners"] == "badoo" and data["feature_therapy"] is False
    assert data["therapy_sessions_remaining"] == 2 and data["feature_live_chat"] is True
    settle(db)
    # Renaming a partner shows; deactivating it takes its accesses out.
    r = server.request("PATCH", f"/v1/partners/{w['badoo']['id']}", headers=hdr(w["admin"]),
                       json={"name": "Badoo Ltd"})
    assert r.status_code == 200, r.text
    assert wait_pushes(chat, m["email"], 5)[-1]["partners"] == "Badoo Ltd"
    settle(db)
    # Without an active access left there is no chat access: the profile is
    # deleted at the provider (test_chat_access.py holds the rule).
    r = server.request("PATCH", f"/v1/partners/{w['badoo']['id']}", headers=hdr(w["admin"]),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    wait_until(lambda: chat.deletes(m["email"]) == [200], what="the profile deleted")
    settle(db)
    # Deleting an access of another user changes theirs, not this one.
    o = person(server, "other")
    a3 = new_code(server, pa)
    redeem(server, o, a3["code"])
    wait_pushes(chat, o["email"], 1)
    settle(db)
    r = server.request("DELETE", f"/v1/partner-access/{a3['id']}", headers=hdr(pa))
    assert r.status_code == 204, r.text
    wait_until(lambda: chat.deletes(o["email"]) == [200], what="the other profile deleted")
    settle(db)
    assert len(chat.pushes(m["email"])) == 5 and chat.deletes(m["email"]) == [200]


@pytest.mark.serial
@pytest.mark.dialect
def test_a_burst_of_changes_makes_one_push(start_server, chat):
    server = start_server(env=chat_env(chat, CAREBASE_CHAT_SYNC_DELAY_MS=1500))
    db = server.db
    admin = person(server, "admin", "admin")
    partner = make_partner(server, admin, "Bumble")
    m = person(server, "member")
    acc = new_code(server, admin, partner)
    redeem(server, m, acc["code"])
    wait_pushes(chat, m["email"], 1)
    settle(db)
    for n in (1, 2, 3, 4, 5):
        patch_access(server, admin, acc, therapy_sessions_remaining=n)
    assert chat_jobs(db) == 1           # one job covers them all
    pushes = wait_pushes(chat, m["email"], 2)
    settle(db)
    time.sleep(1.0)
    pushes = chat.pushes(m["email"])
    assert len(pushes) == 2, pushes
    assert pushes[-1]["therapy_sessions_remaining"] == 5


@pytest.mark.dialect
def test_a_change_made_during_a_push_is_pushed_after_it(start_server, chat):
    # The push waits at the gate while the change is made: the provider's
    # timeout must outlast that however slow the machine (a timed-out
    # attempt's retry would clear dirty before the test reads it).
    server = start_server(env=chat_env(chat, CAREBASE_CHAT_SYNC_TIMEOUT_S=10))
    world = partners_world(server)
    db = server.db
    m = person(server, "member")
    chat.people[m["email"]] = {}
    chat.script = ["gate"]
    acc = new_code(server, world["admin"], world["bumble"])
    redeem(server, m, acc["code"])
    assert chat.entered.wait(10), "the push did not start"
    # The job has read the profile and is sending it: this change is not in it.
    patch_access(server, world["admin"], acc, therapy_sessions_remaining=2)
    assert chat_jobs(db) == 1
    assert db.scalar(f"SELECT dirty FROM chat_profile_sync WHERE user_id = '{m['id']}'") == "1"
    chat.release.set()
    wait_pushes(chat, m["email"], 2)
    settle(db)
    assert [p["therapy_sessions_remaining"] for p in chat.pushes(m["email"])] == [6, 2]
    assert db.scalar(f"SELECT job_id FROM chat_profile_sync WHERE user_id = '{m['id']}'") \
        is None


def test_an_unchanged_profile_is_not_pushed_again(server, world, chat):
    db = server.db
    m = person(server, "member")
    acc = new_code(server, world["admin"], world["bumble"])
    redeem(server, m, acc["code"])
    wait_pushes(chat, m["email"], 1)
    settle(db)
    pushed_at = db.scalar(f"SELECT pushed_at FROM chat_profile_sync "
                          f"WHERE user_id = '{m['id']}'")
    patch_access(server, world["admin"], acc, feature_live_chat=True)   # as it was
    wait_until(lambda: "status=unchanged" in server.log(), what="the unchanged run")
    settle(db)
    assert len(chat.requests(m["email"])) == 3       # PUT 404, POST, PUT
    assert db.scalar(f"SELECT pushed_at FROM chat_profile_sync "
                     f"WHERE user_id = '{m['id']}'") == pushed_at


def test_own_field_changes_push_a_profile_that_exists(server, world, chat):
    """PATCH /v1/me of a field the profile shows (reminder frequency, contact
    permission, ...) and signing in (last_active_at) push it again; other
    fields do not; a user with no profile gets none from them."""
    db = server.db
    m = person(server, "member")
    other = person(server, "other")
    r = server.request("PATCH", "/v1/me", headers=hdr(other),
                       json={"email_reminders_frequency": "daily"})
    assert r.status_code == 200, r.text
    login(server, other["email"])
    assert chat_jobs(db) == 0 and chat.requests(other["email"]) == []
    acc = new_code(server, world["admin"], world["bumble"])
    redeem(server, m, acc["code"])
    first = wait_pushes(chat, m["email"], 1)[0]
    settle(db)
    assert first["email_reminders_frequency"] == "never"
    r = server.request("PATCH", "/v1/me", headers=hdr(m),
                       json={"email_reminders_frequency": "weekly"})
    assert r.status_code == 200, r.text
    data = wait_pushes(chat, m["email"], 2)[-1]
    assert data["email_reminders_frequency"] == "weekly"
    settle(db)
    r = server.request("PATCH", "/v1/me", headers=hdr(m), json={"contact_permission": True})
    assert r.status_code == 200, r.text
    assert wait_pushes(chat, m["email"], 3)[-1]["marketing_permission"] is True
    settle(db)
    # A field the profile does not show queues nothing.
    r = server.request("PATCH", "/v1/me", headers=hdr(m), json={"locale": "fr"})
    assert r.status_code == 200, r.text
    assert chat_jobs(db) == 0
    time.sleep(1.0)                 # three times the sync delay
    assert len(chat.requests(m["email"])) == 5       # PUT 404, POST, PUT x3
    # Signing in moves last_active_at: pushed.
    time.sleep(0.01)
    login(server, m["email"])
    data = wait_pushes(chat, m["email"], 4)[-1]
    assert data["last_active_at"] > first["last_active_at"]
    settle(db)
    assert len(chat.pushes(other["email"])) == 0


def test_course_progress_pushes_started_and_completed(start_server, chat, cms):
    env = chat_env(chat, CAREBASE_STORYBLOK_WEBHOOK_SECRET=CMS_SECRET,
                   CAREBASE_STORYBLOK_API_URL=cms.url, CAREBASE_STORYBLOK_TOKEN=CMS_TOKEN)
    server = start_server(env=env)
    db = server.db
    # A live course: the public learner has chat access on it.
    course = {"id": 4100, "uuid": str(uuid.uuid4()), "name": "Healing from trauma",
              "full_slug": "courses/healing-from-trauma", "tag_list": [],
              "content": {"component": "Course", "name": "Healing from trauma",
                          "included_for_partners": ["Public"], "live": True}}
    cms.stories[str(course["id"])] = course
    sessions = []

    def publish(story):
        cms_publish(server, story, CMS_SECRET)

    def add_session(n):
        s = {"id": 4200 + n, "uuid": str(uuid.uuid4()), "name": f"Session {n}",
             "full_slug": f"courses/healing-from-trauma/session-{n}",
             "content": {"component": "session", "name": f"Session {n}",
                         "course": course["uuid"]}}
        cms.stories[str(s["id"])] = s
        publish(s)
        sessions.append(db.scalar(
            f"SELECT id FROM course_sessions WHERE storyblok_uuid = '{s['uuid']}'"))

    publish(course)
    add_session(1)
    add_session(2)
    m = person(server, "learner")
    key = "course_healing_from_trauma"

    def act(i, verb, n_pushes, want):
        r = server.post(f"/v1/course-sessions/{sessions[i]}/{verb}", headers=hdr(m))
        assert r.status_code == 200, r.text
        data = wait_pushes(chat, m["email"], n_pushes)[-1]
        assert data[key] == want, data
        settle(db)

    act(0, "start", 1, "Started")
    assert chat.pushes(m["email"])[0]["partners"] == ""
    act(0, "complete", 1, "Started")        # the same profile: not sent again
    act(1, "complete", 2, "Completed")
    act(1, "incomplete", 3, "Started")
    act(1, "complete", 4, "Completed")
    # A new session published: the course is not completed any more, and
    # the learner's profile says so without them doing anything.
    add_session(3)
    assert wait_pushes(chat, m["email"], 5)[-1][key] == "Started"
    settle(db)
    assert len(chat.pushes(m["email"])) == 5


def iso_ms(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + \
        f".{ms % 1000:03d}Z"


@pytest.mark.dialect
def test_therapy_session_times_come_from_the_bookings(server, world, chat):
    db = server.db
    m = person(server, "client")
    acc = new_code(server, world["admin"], world["bumble"])
    redeem(server, m, acc["code"])
    wait_pushes(chat, m["email"], 1)
    settle(db)
    day = 24 * 3600 * 1000
    now = int(time.time() * 1000)
    # Past ones completed (as therapy_bookings.complete leaves them).
    rows = (("b-past", now - 9 * day, None), ("b-past2", now - 2 * day, None),
            ("b-next", now + 3 * day, None), ("b-later", now + 8 * day, None),
            ("b-cancelled", now + 1 * day, now), ("b-cancelled-old", now - 20 * day, now))
    for code, start, cancelled in rows:
        done = start + 3600000 if start < now and not cancelled else "NULL"
        db.execute("INSERT INTO therapy_bookings (id, action, user_id, booking_code, "
                   "service_name, service_provider_name, service_provider_email, "
                   "start_date_time, end_date_time, cancelled_at, completed_at, "
                   "created_at, updated_at) "
                   f"VALUES ('{uuid.uuid4()}', 'NEW_BOOKING', '{m['id']}', '{code}', "
                   "'Therapy', 'Dr Who', 'dr@example.org', "
                   f"{start}, {start + 3600000}, {cancelled or 'NULL'}, {done}, {now}, {now})")
    # Any change of the profile sends them (bookings are the webhook's: here
    # the access changes).
    patch_access(server, world["admin"], acc, therapy_sessions_remaining=4)
    data = wait_pushes(chat, m["email"], 2)[-1]
    assert data["therapy_session_first_at"] == iso_ms(now - 9 * day)
    assert data["therapy_session_last_at"] == iso_ms(now - 2 * day)
    assert data["therapy_session_next_at"] == iso_ms(now + 3 * day)
    assert data["therapy_sessions_remaining"] == 4


def run_job(db, kind):
    now = int(time.time() * 1000)
    db.execute("INSERT INTO jobs (id, queue, kind, payload, status, attempts, max_attempts, "
               f"run_at, created_at, updated_at) VALUES ('{uuid.uuid4()}', 'default', "
               f"'{kind}', '{{}}', 'queued', 0, 3, {now}, {now}, {now})")
    wait_until(lambda: db.count("jobs", f"kind = '{kind}'") == 0, timeout=15,
               what=f"the {kind} job to run")


@pytest.mark.dialect
def test_a_booking_whose_end_passed_is_completed_and_pushed(server, world, chat):
    """therapy_bookings.complete sets completed_at to the end of every booking
    not cancelled whose end has passed, and the profile's last and next
    session times follow it."""
    db = server.db
    m = person(server, "client")
    acc = new_code(server, world["admin"], world["bumble"])
    redeem(server, m, acc["code"])
    wait_pushes(chat, m["email"], 1)
    settle(db)
    now = int(time.time() * 1000)
    hour = 3600000
    rows = (("c-ended", now - 3 * hour, now - 2 * hour, None),
            ("c-running", now - hour // 2, now + hour // 2, None),
            ("c-next", now + 5 * hour, now + 6 * hour, None),
            ("c-cancelled", now - 5 * hour, now - 4 * hour, now - 6 * hour))
    for code, start, end, cancelled in rows:
        db.execute("INSERT INTO therapy_bookings (id, action, user_id, booking_code, "
                   "service_name, service_provider_name, service_provider_email, "
                   "start_date_time, end_date_time, cancelled_at, created_at, updated_at) "
                   f"VALUES ('{uuid.uuid4()}', 'NEW_BOOKING', '{m['id']}', '{code}', "
                   "'Therapy', 'Dr Who', 'dr@example.org', "
                   f"{start}, {end}, {cancelled or 'NULL'}, {now}, {now})")
    run_job(db, "therapy_bookings.complete")
    done = dict(db.query("SELECT booking_code, completed_at FROM therapy_bookings WHERE "
                         f"user_id = '{m['id']}'"))
    assert int(done["c-ended"]) == now - 2 * hour
    assert done["c-running"] is None and done["c-next"] is None
    assert done["c-cancelled"] is None
    # The job touched the profile: the ended one is the last, the one under
    # way the next.
    data = wait_pushes(chat, m["email"], 2)[-1]
    assert data["therapy_session_last_at"] == iso_ms(now - 3 * hour)
    assert data["therapy_session_next_at"] == iso_ms(now - hour // 2)
    assert data["therapy_session_first_at"] == iso_ms(now - 3 * hour)
    settle(db)
    # Nothing more to complete: no touch, no push.
    run_job(db, "therapy_bookings.complete")
    assert chat_jobs(db) == 0 and len(chat.pushes(m["email"])) == 2


# -- failures -------------------------------------------------------------------------

def test_failures_are_retried_until_the_push_lands(server, world, chat):
    db = server.db
    m = person(server, "member")
    chat.people[m["email"]] = {}        # known to the provider already
    chat.script = [503, 429, "hang", "big"]
    acc = new_code(server, world["admin"], world["bumble"])
    redeem(server, m, acc["code"])
    data = wait_pushes(chat, m["email"], 1, timeout=30)[0]
    settle(db)
    puts = [r for r in chat.requests(m["email"]) if r["method"] == "PUT"]
    assert [r["status"] for r in puts] == [503, 429, None, 200, 200], puts
    assert data["partners"] == "Bumble"
    assert db.count("failed_jobs", "kind <> 'mail.send'") == 0
    log = server.log()
    assert "HTTP 503" in log and "HTTP 429" in log
    assert "did not answer within 1s" in log
    assert "over 65536 bytes" in log
    assert len(re.findall(r"kind=\"?chat\.profile_sync\"? attempt=\d+ status=retry", log)) == 4
    no_email_anywhere(server, db, m["email"])


def test_a_refusal_gives_up_at_once_and_can_be_retried(server, world, chat):
    db = server.db
    m = person(server, "member")
    chat.script = [401]
    acc = new_code(server, world["admin"], world["bumble"])
    redeem(server, m, acc["code"])
    wait_until(lambda: db.count("failed_jobs", "kind = 'chat.profile_sync'") == 1,
               what="the job to give up")
    fid, payload, error, attempts = db.query(
        "SELECT id, payload, error, attempts FROM failed_jobs WHERE kind <> 'mail.send'")[0]
    assert json.loads(payload) == {"user_id": m["id"]}
    assert int(attempts) == 1
    assert "HTTP 401" in error and "not retried" in error and "chat_sync_key" in error
    assert "scripted_failure" in error
    assert chat_jobs(db) == 0 and chat.pushes(m["email"]) == []
    no_email_anywhere(server, db, m["email"])
    # Put back by hand, it lands.
    server.cli_ok("jobs", "retry", fid)
    data = wait_pushes(chat, m["email"], 1)[0]
    assert data["partners"] == "Bumble"
    settle(db)
    assert db.count("failed_jobs", "kind <> 'mail.send'") == 0
    # After giving up the user is not stuck: the next change is pushed.
    chat.script = [400]
    patch_access(server, world["admin"], acc, therapy_sessions_remaining=2)
    wait_until(lambda: db.count("failed_jobs") == 1, what="a second give-up")
    patch_access(server, world["admin"], acc, therapy_sessions_remaining=1)
    assert wait_pushes(chat, m["email"], 2)[-1]["therapy_sessions_remaining"] == 1
    no_email_anywhere(server, db, m["email"])


def test_an_erased_user_is_never_pushed(start_server, chat):
    server = start_server(env=chat_env(chat, CAREBASE_CHAT_SYNC_DELAY_MS=1500))
    db = server.db
    admin = person(server, "admin", "admin")
    partner = make_partner(server, admin, "Bumble")
    m = person(server, "member")
    acc = new_code(server, admin, partner)
    redeem(server, m, acc["code"])
    assert chat_jobs(db) == 1
    r = server.request("DELETE", "/v1/me", headers=hdr(m), json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    assert db.count("chat_profile_sync", f"user_id = '{m['id']}'") == 0
    wait_until(lambda: "status=skipped" in server.log(), what="the skipped run")
    settle(db)
    assert chat.requests() == []
    # A change to the erased user's (kept) access queues nothing that pushes.
    patch_access(server, admin, acc, therapy_sessions_remaining=1)
    settle(db)
    assert chat.requests() == []
    assert db.count("chat_profile_sync") == 0


# -- addresses: an email change, erasure ---------------------------------------------

def forget_jobs(db):
    return db.count("jobs", "kind = 'chat.profile_delete'")


def identities(db, user_id):
    """(pushed_identity, pending_identity) of the sync row, as hex or None."""
    if db.kind == "sqlite":
        sql = ("SELECT hex(pushed_identity), hex(pending_identity) FROM chat_profile_sync "
               f"WHERE user_id = '{user_id}'")
    else:
        sql = ("SELECT encode(pushed_identity, 'hex'), encode(pending_identity, 'hex') "
               f"FROM chat_profile_sync WHERE user_id = '{user_id}'")
    rows = db.query(sql)
    return tuple((v or "").lower() or None for v in rows[0]) if rows else None


def assert_not_in_database(db, *emails):
    raw = db.raw()
    assert raw, "nothing was read"
    for e in emails:
        for form in (e.encode(), e.encode("utf-16-le"), e.encode().hex().encode(),
                     quote(e, safe="").encode()):
            assert form not in raw, f"{e!r} in clear in the database"


def change_email(server, who, new, prove=True):
    """who changes their address to new; with prove, they follow the link
    the new address is sent (until then the profile stays where it is)."""
    r = server.request("PATCH", "/v1/me", headers=hdr(who),
                       json={"email": new, "current_password": PASSWORD})
    assert r.status_code == 200, r.text
    who["email"] = new
    who["token"] = login(server, new)
    if prove:
        prove_address(server, new)


def chat_export(server, who):
    r = server.get("/v1/me/export", headers=hdr(who))
    assert r.status_code == 200, r.text
    return r.json()["records"]["chat_profile_sync"]


@pytest.mark.dialect
def test_an_email_change_moves_the_profile(server, world, chat):
    """The profile under the old address is deleted at the provider before
    the profile is pushed under the new one, and nothing goes to the old
    address afterwards; an admin's change of the address does the same."""
    db = server.db
    m = person(server, "member")
    old = m["email"]
    acc = new_code(server, world["admin"], world["bumble"])
    redeem(server, m, acc["code"])
    first = wait_pushes(chat, old, 1)[0]
    settle(db)
    pushed, pending = identities(db, m["id"])
    assert pushed is not None and pending is None
    assert [r["pushed_as"] for r in chat_export(server, m)] == [old]

    new = f"moved.{secrets.token_hex(3)}@example.org"
    # Not proven yet (anyone's address could be typed): held, nothing
    # sent under it, nothing taken from the old one.
    change_email(server, m, new, prove=False)
    wait_until(lambda: "status=held" in server.log(), what="the push held")
    settle(db)
    assert chat.requests(new) == [] and chat.deletes(old) == []
    assert identities(db, m["id"]) == (pushed, None)
    # Proven: moved.
    prove_address(server, new)
    data = wait_pushes(chat, new, 1)[0]
    settle(db)
    assert chat.deletes(old) == [200]
    assert old not in chat.people and chat.people[new] == data
    assert data["partners"] == first["partners"] == "Bumble"
    log = chat.requests()
    i_del = next(i for i, r in enumerate(log) if r["method"] == "DELETE")
    i_put = next(i for i, r in enumerate(log) if r["method"] == "PUT" and r.get("people") == new)
    assert i_del < i_put, "pushed under the new address before the old profile went"
    assert log[i_del]["path"] == f"/v1/website/{CHAT_WEBSITE}/people/profile/{quote(old, safe='')}"
    now_pushed, now_pending = identities(db, m["id"])
    assert now_pushed not in (None, pushed) and now_pending is None
    assert chat_export(server, m)[0]["pushed_as"] == new
    assert "status=moved" in server.log()

    # Later changes go to the new address only.
    n_old = len(chat.requests(old))
    patch_access(server, world["admin"], acc, therapy_sessions_remaining=2)
    assert wait_pushes(chat, new, 2)[-1]["therapy_sessions_remaining"] == 2
    settle(db)
    assert len(chat.requests(old)) == n_old
    assert chat.deletes(new) == []

    # An admin changes it again.
    third = f"third.{secrets.token_hex(3)}@example.org"
    r = server.request("PATCH", f"/v1/users/{m['id']}", headers=hdr(world["admin"]),
                       json={"email": third})
    assert r.status_code == 200, r.text
    prove_address(server, third)
    assert wait_pushes(chat, third, 1)[0]["therapy_sessions_remaining"] == 2
    settle(db)
    assert chat.deletes(new) == [200] and set(chat.people) == {third}
    assert len(chat.requests(old)) == n_old
    assert db.count("failed_jobs", "kind <> 'mail.send'") == 0
    for e in (old, new, third):
        no_email_anywhere(server, db, e)
    assert_not_in_database(db, old, new)


@pytest.mark.dialect
def test_a_failed_delete_of_the_old_profile_is_retried(server, world, chat):
    """The provider fails the DELETE of the old profile: the attempt fails
    and is retried, nothing is pushed under the new address meanwhile, and
    the old address stays recorded until the DELETE succeeded."""
    db = server.db
    m = person(server, "member")
    old = m["email"]
    acc = new_code(server, world["admin"], world["bumble"])
    redeem(server, m, acc["code"])
    wait_pushes(chat, old, 1)
    settle(db)
    before = identities(db, m["id"])
    chat.delete_script = [503] * 50
    new = f"moved.{secrets.token_hex(3)}@example.org"
    change_email(server, m, new)
    wait_until(lambda: len(chat.deletes(old)) >= 2, what="two failed deletes")
    assert identities(db, m["id"]) == before
    assert chat.requests(new) == [] and old in chat.people
    assert chat_jobs(db) == 1 and db.count("failed_jobs", "kind <> 'mail.send'") == 0
    chat.delete_script = []
    data = wait_pushes(chat, new, 1, timeout=20)[0]
    settle(db, timeout=20)
    deletes = chat.deletes(old)
    assert deletes[-1] == 200 and set(deletes[:-1]) == {503}, deletes
    assert old not in chat.people and chat.people[new] == data
    after = identities(db, m["id"])
    assert after[0] not in (None, before[0]) and after[1] is None
    log = server.log()
    assert "DELETE people/profile/: the chat provider answered HTTP 503" in log
    assert re.search(r"kind=\"?chat\.profile_sync\"? attempt=\d+ status=retry", log)
    assert db.count("failed_jobs", "kind <> 'mail.send'") == 0
    no_email_anywhere(server, db, old)
    no_email_anywhere(server, db, new)


@pytest.mark.dialect
def test_erasure_deletes_the_profile_at_the_provider(start_server, chat):
    """DELETE /v1/me and an admin's erase queue a chat.profile_delete job
    for the address the profile is under; an address changed but not yet
    pushed is never sent; nothing of the address is kept in clear."""
    server = start_server(env=chat_env(chat, CAREBASE_CHAT_SYNC_DELAY_MS=1500))
    db = server.db
    admin = person(server, "admin", "admin")
    partner = make_partner(server, admin, "Bumble")
    m = person(server, "member")
    o = person(server, "other")
    for who in (m, o):
        redeem(server, who, new_code(server, admin, partner)["code"])
    wait_pushes(chat, m["email"], 1)
    wait_pushes(chat, o["email"], 1)
    settle(db)
    old = m["email"]
    # The address changes and the person is erased before the push.
    new = f"moved.{secrets.token_hex(3)}@example.org"
    change_email(server, m, new, prove=False)
    assert chat_jobs(db) == 1
    r = server.request("DELETE", "/v1/me", headers=hdr(m), json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    assert db.count("chat_profile_sync", f"user_id = '{m['id']}'") == 0
    wait_until(lambda: chat.deletes(old) == [200], what="the profile deleted")
    assert old not in chat.people
    wait_until(lambda: "status=skipped" in server.log(), what="the skipped push")
    settle(db)
    assert forget_jobs(db) == 0
    assert chat.requests(new) == []
    # An admin's erase.
    r = server.post(f"/v1/users/{o['id']}/erase", headers=hdr(admin))
    assert r.status_code in (200, 204), r.text
    wait_until(lambda: chat.deletes(o["email"]) == [200], what="the other profile deleted")
    assert chat.people == {}
    wait_until(lambda: forget_jobs(db) == 0, what="the delete jobs to finish")
    assert db.count("failed_jobs", "kind <> 'mail.send'") == 0
    assert len(re.findall(r"event=chat_forget user=\S+ status=deleted", server.log())) == 2
    for e in (old, new, o["email"]):
        no_email_anywhere(server, db, e)
    assert_not_in_database(db, old, new, o["email"])


def test_erasure_with_the_provider_down_is_retried_then_delivered(server, world, chat):
    db = server.db
    m = person(server, "member")
    email = m["email"]
    redeem(server, m, new_code(server, world["admin"], world["bumble"])["code"])
    wait_pushes(chat, email, 1)
    settle(db)
    chat.delete_script = [503] * 50
    r = server.request("DELETE", "/v1/me", headers=hdr(m), json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    wait_until(lambda: len(chat.deletes(email)) >= 2, what="two failed deletes")
    assert email in chat.people
    # The job waits for its retry; its payload holds the address sealed.
    rows = db.query("SELECT payload, attempts FROM jobs WHERE kind = 'chat.profile_delete'")
    assert len(rows) == 1 and int(rows[0][1]) >= 1
    payload = json.loads(rows[0][0])
    assert set(payload) == {"user_id", "people_id"} and payload["user_id"] == m["id"]
    assert email not in rows[0][0]
    no_email_anywhere(server, db, email)
    assert_not_in_database(db, email)
    chat.delete_script = []
    wait_until(lambda: chat.deletes(email)[-1] == 200, timeout=20, what="the delete delivered")
    wait_until(lambda: forget_jobs(db) == 0, what="the delete job to finish")
    assert email not in chat.people and db.count("failed_jobs", "kind <> 'mail.send'") == 0
    log = server.log()
    assert re.search(r"kind=\"?chat\.profile_delete\"? attempt=\d+ status=retry", log)
    assert "chat.profile_delete: DELETE people/profile/: the chat provider answered HTTP 503" \
        in log

    # A refusal goes to failed_jobs at once, still sealed, and can be retried.
    o = person(server, "other")
    redeem(server, o, new_code(server, world["admin"], world["bumble"])["code"])
    wait_pushes(chat, o["email"], 1)
    settle(db)
    chat.delete_script = [403]
    r = server.post(f"/v1/users/{o['id']}/erase", headers=hdr(world["admin"]))
    assert r.status_code in (200, 204), r.text
    wait_until(lambda: db.count("failed_jobs", "kind = 'chat.profile_delete'") == 1,
               what="the delete to give up")
    fid, error = db.query("SELECT id, error FROM failed_jobs WHERE kind <> 'mail.send'")[0]
    assert "HTTP 403" in error and "not retried" in error
    assert o["email"] in chat.people
    no_email_anywhere(server, db, o["email"])
    server.cli_ok("jobs", "retry", fid)
    wait_until(lambda: o["email"] not in chat.people, what="the retried delete")
    assert chat.deletes(o["email"]) == [403, 200]


@pytest.mark.dialect
def test_a_profile_pushed_before_identities_is_moved_after_a_restart(server, world, chat):
    """A row pushed before migration 0013 (pushed_at, no pushed_identity)
    gets the current address sealed at start-up, so an email change then
    deletes the profile under the old address."""
    db = server.db
    m = person(server, "member")
    old = m["email"]
    redeem(server, m, new_code(server, world["admin"], world["bumble"])["code"])
    wait_pushes(chat, old, 1)
    settle(db)
    server.stop()
    db.execute("UPDATE chat_profile_sync SET pushed_identity = NULL, "
               f"pending_identity = NULL WHERE user_id = '{m['id']}'")
    assert identities(db, m["id"]) == (None, None)
    server.start(migrate=False)
    assert "event=chat_identity_sealed rows=1" in server.log()
    assert identities(db, m["id"])[0] is not None
    assert [r["pushed_as"] for r in chat_export(server, m)] == [old]
    new = f"moved.{secrets.token_hex(3)}@example.org"
    change_email(server, m, new)
    wait_pushes(chat, new, 1)
    settle(db)
    assert chat.deletes(old) == [200]
    assert set(chat.people) == {new}
    no_email_anywhere(server, db, old)
    assert_not_in_database(db, old)


@pytest.mark.dialect
def test_a_push_failing_after_an_erasure_deletes_what_it_made(start_server, chat):
    """The push marks the address pending, the user is erased (its delete
    finds nothing yet), then the push makes the profile (POST) and fails:
    the failed attempt finds the row gone and queues another delete."""
    # The provider's timeout outlasts the gate's wait, however slow the machine.
    server = start_server(env=chat_env(chat, CAREBASE_JOB_WORKERS=2,
                                       CAREBASE_CHAT_SYNC_TIMEOUT_S=10))
    db = server.db
    admin = person(server, "admin", "admin")
    partner = make_partner(server, admin, "Bumble")
    m = person(server, "member")
    email = m["email"]
    chat.script = ["gate", 503]
    redeem(server, m, new_code(server, admin, partner)["code"])
    assert chat.entered.wait(10), "the push did not start"
    r = server.request("DELETE", "/v1/me", headers=hdr(m), json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    wait_until(lambda: chat.deletes(email) == [404], what="the erasure's delete")
    assert email not in chat.people
    chat.release.set()
    wait_until(lambda: chat.deletes(email) == [404, 200], what="the made profile deleted")
    assert email not in chat.people
    assert [r["status"] for r in chat.requests(email) if r["method"] == "POST"] == [201]
    settle(db)
    wait_until(lambda: forget_jobs(db) == 0, what="the delete jobs to finish")
    assert "reason=erased_during_push" in server.log()
    assert db.count("failed_jobs", "kind <> 'mail.send'") == 0
    no_email_anywhere(server, db, email)


def test_a_delete_spares_the_next_holder_of_the_address(start_server, chat, smtp_sink):
    """A delete of an address another (not erased) user holds now is done
    without a request: the erasure's retried delete, and the delete of an
    old address before a push under the new one."""
    server = start_server(env=with_mail(chat_env(chat, CAREBASE_CHAT_SYNC_DELAY_MS=1500),
                                        smtp_sink))
    server.sink = smtp_sink
    db = server.db
    admin = person(server, "admin", "admin")
    partner = make_partner(server, admin, "Bumble")
    x = person(server, "xena")
    a = x["email"]
    redeem(server, x, new_code(server, admin, partner)["code"])
    wait_pushes(chat, a, 1)
    settle(db)
    # X is erased; the delete of A fails and waits for a retry.
    chat.delete_script = [503] * 200
    r = server.post(f"/v1/users/{x['id']}/erase", headers=hdr(admin))
    assert r.status_code in (200, 204), r.text
    wait_until(lambda: len(chat.deletes(a)) >= 1, what="the failed delete")
    # Y registers with A and is pushed; then the delete is retried.
    y = person(server, "Yara", email=a, first_name="Yara")
    redeem(server, y, new_code(server, admin, partner)["code"])
    mine = wait_pushes(chat, a, 2)[-1]
    settle(db)
    chat.delete_script = []
    wait_until(lambda: forget_jobs(db) == 0, timeout=40, what="the delete job to finish")
    assert set(chat.deletes(a)) == {503}, chat.deletes(a)
    assert chat.people.get(a) == mine
    assert "status=kept reason=address_taken" in server.log()
    assert db.count("failed_jobs", "kind <> 'mail.send'") == 0

    # Y moves to B; before Y's push, Z registers with A.
    b = f"moved.{secrets.token_hex(3)}@example.org"
    n = len(chat.deletes(a))
    change_email(server, y, b)
    person(server, "Zeno", email=a, first_name="Zeno")
    wait_pushes(chat, b, 1)
    settle(db)
    assert len(chat.deletes(a)) == n
    assert server.log().count("status=kept reason=address_taken") == 2
    assert db.count("failed_jobs", "kind <> 'mail.send'") == 0


@pytest.mark.dialect
def test_erasure_goes_on_when_the_data_key_does_not_open(start_server, chat):
    """With sync on, erasure of a user whose data key does not open
    succeeds, with or without a chat profile; nothing is queued for the
    addresses that cannot be read."""
    server = start_server(env=chat_env(chat))
    db = server.db
    admin = person(server, "admin", "admin")
    partner = make_partner(server, admin, "Bumble")
    n = person(server, "never")
    m = person(server, "member")
    redeem(server, m, new_code(server, admin, partner)["code"])
    wait_pushes(chat, m["email"], 1)
    settle(db)
    server.stop()       # the running server has the keys cached
    ids = f"('{n['id']}', '{m['id']}')"
    if db.kind == "sqlite":
        db.execute("UPDATE user_keys SET wrapped_key = zeroblob(length(wrapped_key)) "
                   f"WHERE user_id IN {ids}")
    else:
        db.execute("UPDATE user_keys SET wrapped_key = "
                   "decode(repeat('00', length(wrapped_key)), 'hex') "
                   f"WHERE user_id IN {ids}")
    server.start(migrate=False)
    for who in (n, m):
        r = server.post(f"/v1/users/{who['id']}/erase", headers=hdr(admin))
        assert r.status_code in (200, 204), r.text
    assert db.count("chat_profile_sync") == 0
    assert forget_jobs(db) == 0 and db.count("failed_jobs", "kind <> 'mail.send'") == 0
    assert re.search(rf"event=chat_forget user={m['id']} status=unreadable", server.log())
    assert f"user={n['id']} status=unreadable" not in server.log()


def test_a_malformed_delete_job_gives_up_at_once(server, chat):
    """A chat.profile_delete payload that does not open (not sealed by this
    server, or for another user) goes to failed_jobs without a request."""
    db = server.db
    now = int(time.time() * 1000)
    uid = str(uuid.uuid4())
    bad = [json.dumps({"user_id": uid, "people_id": "bm90LXNlYWxlZA"}),
           json.dumps({"user_id": "nope", "people_id": "x"}),
           json.dumps({"user_id": uid, "people_id": "A" * 5000})]
    for payload in bad:
        db.execute("INSERT INTO jobs (id, queue, kind, payload, status, attempts, "
                   "max_attempts, run_at, created_at, updated_at) VALUES "
                   f"('{uuid.uuid4()}', 'chat', 'chat.profile_delete', '{payload}', 'queued', "
                   f"0, 10, {now}, {now}, {now})")
    wait_until(lambda: db.count("failed_jobs", "kind = 'chat.profile_delete'") == 3,
               what="the malformed jobs to give up")
    errors = [r[0] for r in db.query("SELECT error FROM failed_jobs WHERE kind <> 'mail.send'")]
    assert errors == ["chat.profile_delete: malformed payload"] * 3, errors
    assert chat.requests() == []


# -- off, and configuration ----------------------------------------------------------

def test_sync_is_off_without_a_url(start_server, chat):
    server = start_server()
    db = server.db
    admin = person(server, "admin", "admin")
    partner = make_partner(server, admin, "Bumble")
    m = person(server, "member")
    acc = new_code(server, admin, partner)
    redeem(server, m, acc["code"])
    patch_access(server, admin, acc, therapy_sessions_remaining=2)
    time.sleep(1.0)
    assert db.count("chat_profile_sync") == 0
    assert db.count("jobs", "kind = 'chat.profile_sync'") == 0
    assert db.count("failed_jobs", "kind <> 'mail.send'") == 0
    assert chat.requests() == []
    # A user never pushed has no row: erasure queues no delete either.
    r = server.request("DELETE", "/v1/me", headers=hdr(m), json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    assert db.count("jobs", "kind LIKE 'chat.%'") == 0
    assert db.count("failed_jobs", "kind <> 'mail.send'") == 0
    assert chat.requests() == []


def test_erasure_with_sync_off_keeps_the_delete_for_later(start_server, chat):
    """A profile pushed while sync was on and erased while it is off: the
    delete is queued anyway, gives up into failed_jobs (sync off), and a
    retry once the URL is set again deletes the profile."""
    server = start_server(env=chat_env(chat))
    db = server.db
    admin = person(server, "admin", "admin")
    partner = make_partner(server, admin, "Bumble")
    m = person(server, "member")
    email = m["email"]
    redeem(server, m, new_code(server, admin, partner)["code"])
    wait_pushes(chat, email, 1)
    settle(db)
    server.stop()
    server.env.pop("CAREBASE_CHAT_SYNC_URL")
    server.start(migrate=False)
    r = server.request("DELETE", "/v1/me", headers=hdr(m), json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    wait_until(lambda: db.count("failed_jobs", "kind = 'chat.profile_delete'") == 1,
               what="the delete to wait in failed_jobs")
    fid, error = db.query("SELECT id, error FROM failed_jobs WHERE kind <> 'mail.send'")[0]
    assert "chat_sync_url is empty" in error and "jobs retry" in error
    assert chat.deletes(email) == [] and email in chat.people
    no_email_anywhere(server, db, email)
    server.stop()
    server.env["CAREBASE_CHAT_SYNC_URL"] = chat.url
    server.start(migrate=False)
    server.cli_ok("jobs", "retry", fid)
    wait_until(lambda: chat.deletes(email) == [200], what="the retried delete")
    assert email not in chat.people


@pytest.mark.parametrize("env,name", [
    ({"CAREBASE_CHAT_SYNC_URL": "ftp://chat.example.org"}, "chat_sync_url"),
    ({"CAREBASE_CHAT_SYNC_URL": "https://chat.example.org/v1"}, "chat_sync_website_id"),
    ({"CAREBASE_CHAT_SYNC_URL": "https://chat.example.org/v1",
      "CAREBASE_CHAT_SYNC_WEBSITE_ID": "a/b"}, "chat_sync_website_id"),
    ({"CAREBASE_CHAT_SYNC_TIMEOUT_S": "0"}, "chat_sync_timeout_s"),
    ({"CAREBASE_CHAT_SYNC_URL": "https://chat.example.org/v1",
      "CAREBASE_CHAT_SYNC_WEBSITE_ID": "site", "CAREBASE_CHAT_SYNC_TIMEOUT_S": "60"},
     "job_timeout_s"),
])
def test_bad_settings_stop_start_up(start_server, env, name):
    h = start_server(env=env, start=False, migrate=False)
    r = h.cli("migrate")
    assert r.returncode != 0
    assert name in r.stderr, r.stderr
