"""Who has a chat profile (issue 15, items 4 and 13; seed 002: "users who
have access to 1-1 chat also have a profile on Crisp"; "for public users, this
1-1 chat feature is available on live courses only"). A course is live when
its CMS story says so (content.live), and course reads show it. Only people
with chat access are pushed to the chat provider: a partner user through an
active access with live chat of an active partner, a public user (no active
partner access) through a live, published course they started. When access
goes (the access deactivated, deleted or its live chat turned off, the partner
deactivated, the course no longer live, the public user becoming a partner
user without chat) the profile is erased at the provider (DELETE
.../people/profile/{email}) and the sync row forgotten; and once, after
migration 0024, every profile pushed before the rule is looked at again.
Runs on SQLite and PostgreSQL."""

import pathlib

import pytest

from conftest import (CMS_TOKEN, chat_env, chat_jobs, chat_settle, cms_publish, cms_webhook,
                      course_story, hdr, login, make_partner, new_code, patch_access, person, problem,
                      redeem, session_story, undo_migration, wait_pushes, wait_until)

CMS_SECRET = "cms-secret-for-chat-access-tests"


def cms_chat_env(chat, cms, **extra):
    return chat_env(chat, CAREBASE_STORYBLOK_WEBHOOK_SECRET=CMS_SECRET,
                    CAREBASE_STORYBLOK_API_URL=cms.url, CAREBASE_STORYBLOK_TOKEN=CMS_TOKEN,
                    **extra)


@pytest.fixture
def server(start_server, chat, cms):
    return start_server(env=cms_chat_env(chat, cms))


def sync_row(db, who):
    return db.count("chat_profile_sync", f"user_id = '{who['id']}'")


def course_with_session(server, cms, name, **content):
    """A published course (content adds to its story's) with one published
    session: (course story, session id)."""
    course = course_story(cms, name, **content)
    cms_publish(server, course, CMS_SECRET)
    s = session_story(cms, course, "One")
    return course, cms_publish(server, s, CMS_SECRET)["course_session"]["id"]


def start(server, who, session):
    r = server.post(f"/v1/course-sessions/{session}/start", headers=hdr(who))
    assert r.status_code == 200, r.text


def nothing_sent(server, chat, *people):
    """No job left, and nothing was ever sent about these people."""
    chat_settle(server.db)
    for who in people:
        assert chat.requests(who["email"]) == [], who["email"]
        assert sync_row(server.db, who) == 0, who["email"]


def erased(server, chat, who, n_pushes):
    """who's profile is deleted at the provider and their sync row gone,
    with no push after the n_pushes they had."""
    wait_until(lambda: chat.deletes(who["email"]) == [200], what="the profile deleted")
    chat_settle(server.db)
    assert who["email"] not in chat.people
    assert sync_row(server.db, who) == 0
    assert len(chat.pushes(who["email"])) == n_pushes


# -- live courses (item 13) ----------------------------------------------------------

def test_a_course_is_live_as_its_cms_story_says(server, cms):
    db = server.db
    learner = person(server, "learner")
    plain, s1 = course_with_session(server, cms, "Self guided")
    live, s2 = course_with_session(server, cms, "Live one", live=True)
    rows = {c["name"]: c for c in
            server.get("/v1/courses", headers=hdr(learner)).json()["data"]}
    assert rows["Self guided"]["live"] is False and rows["Live one"]["live"] is True
    one = server.get(f"/v1/courses/{live['uuid']}", headers=hdr(learner)).json()
    assert one["live"] is True and len(one["sessions"]) == 1
    start(server, learner, s2)
    mine = server.get("/v1/me/courses", headers=hdr(learner)).json()["data"]
    assert [(m["course"]["name"], m["course"]["live"]) for m in mine] == [("Live one", True)]
    # Published again without it: not live, and the change is audited.
    del live["content"]["live"]
    out = cms_publish(server, live, CMS_SECRET)
    assert out["course"]["changed"] == ["live"], out
    assert server.get(f"/v1/courses/{live['uuid']}", headers=hdr(learner)).json()["live"] is False
    assert db.count("audit_log", "action = 'courses.publish'") == 1
    # Anything but a boolean (or null) is refused, and changes nothing.
    plain["content"]["live"] = "yes"
    p = problem(cms_webhook(server, plain, CMS_SECRET), 422, "STORY_INVALID")
    assert [e["field"] for e in p["errors"]] == ["story.content.live"]
    assert db.scalar(f"SELECT live FROM courses WHERE storyblok_uuid = '{plain['uuid']}'") \
        in ("0", 0)


# -- who is pushed (item 4) ----------------------------------------------------------

def test_a_public_learner_has_a_profile_on_live_courses_only(server, cms, chat):
    db = server.db
    admin = person(server, "admin", "admin")
    bumble = make_partner(server, admin, "Bumble")
    _, plain = course_with_session(server, cms, "Self guided")
    live, on_live = course_with_session(server, cms, "Live course", live=True)
    p = person(server, "public")
    q = person(server, "quinn")
    member = person(server, "member")
    redeem(server, member, new_code(server, admin, bumble, feature_live_chat=False)["code"])
    # A partner admin is no public user: a live course gives them no chat.
    pa = person(server, "padmin", "partner_admin")
    r = server.post("/v1/partner-admins", headers=hdr(admin),
                    json={"user_id": pa["id"], "partner_id": bumble["id"]})
    assert r.status_code == 201, r.text
    start(server, pa, on_live)
    # A non-live course gives no chat: nothing is sent, no sync row.
    start(server, p, plain)
    # A partner user's chat is their accesses', live course or not.
    start(server, member, on_live)
    nothing_sent(server, chat, p, member, pa)
    # A live course does, with the course states in the profile.
    start(server, p, on_live)
    data = wait_pushes(chat, p["email"], 1)[0]
    assert data["course_self_guided"] == "Started" and data["course_live_course"] == "Started"
    assert data["partners"] == "" and data["feature_live_chat"] is False
    start(server, q, on_live)
    wait_pushes(chat, q["email"], 1)
    chat_settle(db)
    # The public learner who becomes a partner user without chat loses it.
    redeem(server, q, new_code(server, admin, bumble, feature_live_chat=False)["code"])
    erased(server, chat, q, 1)
    # The course stops being live: its public learners lose it.
    live["content"]["live"] = False
    cms_publish(server, live, CMS_SECRET)
    erased(server, chat, p, 1)
    assert "status=forgotten" in server.log()
    # Live again: they have it again (a new profile at the provider).
    live["content"]["live"] = True
    cms_publish(server, live, CMS_SECRET)
    assert wait_pushes(chat, p["email"], 2)[-1]["course_live_course"] == "Started"
    # Unpublished, it gives none.
    chat_settle(db)
    cms_publish(server, live, CMS_SECRET, action="unpublished")
    wait_until(lambda: chat.deletes(p["email"]) == [200, 200], what="the second delete")
    chat_settle(db)
    assert sync_row(db, p) == 0 and member["email"] not in chat.people


def test_a_partner_users_profile_follows_their_live_chat(server, chat):
    db = server.db
    admin = person(server, "admin", "admin")
    bumble = make_partner(server, admin, "Bumble")
    m = person(server, "member")
    acc = new_code(server, admin, bumble, feature_live_chat=False)
    redeem(server, m, acc["code"])
    r = server.request("PATCH", "/v1/me", headers=hdr(m),
                       json={"email_reminders_frequency": "weekly"})
    assert r.status_code == 200, r.text
    patch_access(server, admin, acc, therapy_sessions_remaining=3)
    nothing_sent(server, chat, m)
    # Live chat turned on: pushed; off: erased, nothing pushed meanwhile.
    patch_access(server, admin, acc, feature_live_chat=True)
    assert wait_pushes(chat, m["email"], 1)[0]["feature_live_chat"] is True
    chat_settle(db)
    patch_access(server, admin, acc, feature_live_chat=False)
    erased(server, chat, m, 1)
    # Later changes send nothing again.
    patch_access(server, admin, acc, therapy_sessions_remaining=2)
    chat_settle(db)
    assert len(chat.requests(m["email"])) == 4      # PUT 404, POST, PUT, DELETE

    # An access deactivated, or deleted, takes it away.
    d, x = person(server, "deactivated"), person(server, "deleted")
    d_acc, x_acc = new_code(server, admin, bumble), new_code(server, admin, bumble)
    for who, a in ((d, d_acc), (x, x_acc)):
        redeem(server, who, a["code"])
        wait_pushes(chat, who["email"], 1)
    chat_settle(db)
    patch_access(server, admin, d_acc, is_active=False)
    r = server.request("DELETE", f"/v1/partner-access/{x_acc['id']}", headers=hdr(admin))
    assert r.status_code == 204, r.text
    erased(server, chat, d, 1)
    erased(server, chat, x, 1)


def test_a_partner_deactivated_erases_and_reactivated_pushes(server, chat):
    """Deactivating a partner deactivates its accesses: its members' profiles
    go. Reactivating it (CHANGE_PARTNER_GRANTS) gives chat back to a member
    whose access was reactivated meanwhile."""
    db = server.db
    admin = person(server, "admin", "admin")
    badoo = make_partner(server, admin, "badoo")
    m = person(server, "member")
    acc = new_code(server, admin, badoo)
    redeem(server, m, acc["code"])
    wait_pushes(chat, m["email"], 1)
    chat_settle(db)
    path = f"/v1/partners/{badoo['id']}"
    r = server.request("PATCH", path, headers=hdr(admin), json={"is_active": False})
    assert r.status_code == 200, r.text
    erased(server, chat, m, 1)
    patch_access(server, admin, acc, is_active=True)       # the partner is still inactive
    chat_settle(db)
    assert sync_row(db, m) == 0 and len(chat.requests(m["email"])) == 4
    r = server.request("PATCH", path, headers=hdr(admin), json={"is_active": True})
    assert r.status_code == 200, r.text
    assert wait_pushes(chat, m["email"], 2)[-1]["partners"] == "badoo"
    chat_settle(db)
    assert chat_jobs(db) == 0


# -- profiles pushed before the rule (migration 0024) -------------------------------

def rerun_0024(server):
    """With the server stopped: take migration 0024 down (its down script)
    and apply it again with `carebase migrate`, as an upgrade from before
    it does."""
    db = server.db
    down = (pathlib.Path(__file__).resolve().parents[2] / "migrations" / db.kind
            / "0024_chat_access.down.sql").read_text()
    for sql in [x.strip() for x in "\n".join(
            ln for ln in down.splitlines() if not ln.startswith("--")).split(";") if x.strip()]:
        db.execute(sql)
    db.execute("DELETE FROM schema_migrations WHERE name = '0024_chat_access'")
    server.cli_ok("migrate")


@pytest.mark.dialect
def test_profiles_pushed_before_the_rule_are_looked_at_again_once(start_server, chat, cms):
    """Migration 0024 marks every sync row. The first start-up with sync on
    queues a job for each: the profile of a person without chat access is
    erased at the provider, one with access is left as it is (unchanged).
    With sync off the marks wait."""
    server = start_server(env=cms_chat_env(chat, cms))
    db = server.db
    admin = person(server, "admin", "admin")
    bumble = make_partner(server, admin, "Bumble")
    keep, lose = person(server, "keep"), person(server, "lose")
    for who in (keep, lose):
        redeem(server, who, new_code(server, admin, bumble)["code"])
        wait_pushes(chat, who["email"], 1)
    chat_settle(db)
    server.stop()
    # As before the rule: lose has no chat access but a profile (its access
    # changed with no one told, as a person without chat was pushed then).
    db.execute(f"UPDATE partner_access SET feature_live_chat = 0 WHERE user_id = '{lose['id']}'")
    rerun_0024(server)
    assert db.count("chat_profile_sync", "recheck = 1") == 2
    # Sync off: nothing is queued, the marks stay.
    url = server.env.pop("CAREBASE_CHAT_SYNC_URL")
    server.start(migrate=False)
    assert chat_jobs(db) == 0 and db.count("chat_profile_sync", "recheck = 1") == 2
    server.stop()
    server.env["CAREBASE_CHAT_SYNC_URL"] = url
    server.start(migrate=False)
    assert "event=chat_access_recheck rows=2" in server.log()
    erased(server, chat, lose, 1)
    wait_until(lambda: "status=unchanged" in server.log(), what="the unchanged run")
    chat_settle(db)
    assert len(chat.requests(keep["email"])) == 3 and sync_row(db, keep) == 1
    # The jobs cleared the marks once they had looked.
    assert db.count("chat_profile_sync", "recheck = 1") == 0
    # Once: the next start queues nothing.
    server.stop()
    server.start(migrate=False)
    assert chat_jobs(db) == 0
    assert server.log().count("event=chat_access_recheck") == 1


@pytest.mark.dialect
def test_an_upgrade_keeps_public_learners_profiles_until_the_cms_says(start_server, chat, cms):
    """Courses stored before migration 0024 count as live until the CMS
    publishes them again: the upgrade's recheck leaves their public
    learners' profiles at the provider (before, every course became not
    live and every such profile was erased). The CMS publishing the course
    as not live then takes the access away."""
    server = start_server(env=cms_chat_env(chat, cms))
    db = server.db
    course, s = course_with_session(server, cms, "From before", live=True)
    p = person(server, "public")
    start(server, p, s)
    wait_pushes(chat, p["email"], 1)
    chat_settle(db)
    server.stop()
    rerun_0024(server)
    server.start(migrate=False)
    assert "event=chat_access_recheck rows=1" in server.log()
    wait_until(lambda: "event=chat_sync" in server.log(), what="the recheck")
    chat_settle(db)
    assert chat.deletes(p["email"]) == [] and sync_row(db, p) == 1
    assert "status=unchanged" in server.log() and db.count("courses", "live = 1") == 1
    assert server.get(f"/v1/courses/{course['uuid']}", headers=hdr(p)).json()["live"] is True
    # The CMS says it is not live: the profile goes.
    course["content"]["live"] = False
    assert cms_publish(server, course, CMS_SECRET)["course"]["changed"] == ["live"]
    erased(server, chat, p, 1)


@pytest.mark.dialect
def test_a_recheck_run_while_the_sync_is_off_is_done_when_it_is_on(start_server, chat, cms):
    """The recheck mark stays until the job has looked: a job queued for it
    that runs while the sync is off (turned off since) leaves it, and the
    next start with the sync on erases the profile."""
    server = start_server(env=cms_chat_env(chat, cms))
    db = server.db
    admin = person(server, "admin", "admin")
    bumble = make_partner(server, admin, "Bumble")
    lose = person(server, "lose")
    redeem(server, lose, new_code(server, admin, bumble)["code"])
    wait_pushes(chat, lose["email"], 1)
    chat_settle(db)
    server.stop()
    db.execute(f"UPDATE partner_access SET feature_live_chat = 0 WHERE user_id = '{lose['id']}'")
    rerun_0024(server)
    # Sync on, but the job is queued far ahead: the start-up queues it.
    server.env["CAREBASE_CHAT_SYNC_DELAY_MS"] = "600000"
    server.start(migrate=False)
    assert "event=chat_access_recheck rows=1" in server.log() and chat_jobs(db) == 1
    server.stop()
    # It runs while the sync is off: nothing is done, the mark stays.
    db.execute("UPDATE jobs SET run_at = 0 WHERE kind = 'chat.profile_sync'")
    url = server.env.pop("CAREBASE_CHAT_SYNC_URL")
    server.start(migrate=False)
    chat_settle(db)
    assert "status=off" in server.log()
    assert db.count("chat_profile_sync", "recheck = 1") == 1
    server.stop()
    server.env["CAREBASE_CHAT_SYNC_URL"] = url
    server.env["CAREBASE_CHAT_SYNC_DELAY_MS"] = "300"
    server.start(migrate=False)
    erased(server, chat, lose, 1)
    assert db.count("chat_profile_sync", "recheck = 1") == 0


def test_access_lost_while_the_sync_is_off_is_acted_on_when_it_is_on(start_server, chat, cms):
    """A change made while the sync is off marks the rows of the people
    with a profile; the next start with the sync on looks at them: access
    lost meanwhile erases the profile, access kept leaves it."""
    server = start_server(env=cms_chat_env(chat, cms))
    db = server.db
    admin = person(server, "admin", "admin")
    bumble = make_partner(server, admin, "Bumble")
    keep, lose = person(server, "keep"), person(server, "lose")
    acc = {}
    for who in (keep, lose):
        acc[who["id"]] = new_code(server, admin, bumble)
        redeem(server, who, acc[who["id"]]["code"])
        wait_pushes(chat, who["email"], 1)
    chat_settle(db)
    server.stop()
    url = server.env.pop("CAREBASE_CHAT_SYNC_URL")
    server.start(migrate=False)
    patch_access(server, admin, acc[lose["id"]], feature_live_chat=False)
    assert chat_jobs(db) == 0 and db.count("chat_profile_sync", "recheck = 1") == 1
    server.stop()
    server.env["CAREBASE_CHAT_SYNC_URL"] = url
    server.start(migrate=False)
    erased(server, chat, lose, 1)
    assert sync_row(db, keep) == 1 and chat.deletes(keep["email"]) == []
    assert db.count("chat_profile_sync", "recheck = 1") == 0


def down_to_0023(db):
    """With the server stopped, as `carebase migrate down` would: every
    migration from 0024 on taken back out, newest first (0024 pending)."""
    folder = pathlib.Path(__file__).resolve().parents[2] / "migrations" / db.kind
    names = sorted({f.name.split(".")[0] for f in folder.glob("*.down.sql")}, reverse=True)
    for name in (n for n in names if n >= "0024"):
        if db.count("schema_migrations", f"name = '{name}'"):
            undo_migration(db, name)


@pytest.mark.dialect
def test_a_write_with_the_sync_off_and_0024_pending_is_no_500(start_server, chat, cms):
    """carebase serves with migrations pending. With the sync off and 0024
    pending (chat_profile_sync has no recheck column), a change that touches
    a person, one with a profile or not, is made as usual: nothing is marked
    for a recheck (0024 marks every row when it comes)."""
    server = start_server(env=cms_chat_env(chat, cms))
    db = server.db
    admin = person(server, "admin", "admin")
    bumble = make_partner(server, admin, "Bumble")
    pushed, m = person(server, "pushed"), person(server, "member")
    redeem(server, pushed, new_code(server, admin, bumble)["code"])
    wait_pushes(chat, pushed["email"], 1)
    chat_settle(db)
    server.stop()
    down_to_0023(db)
    server.env.pop("CAREBASE_CHAT_SYNC_URL")
    server.start(migrate=False)
    for who in (m, pushed):
        r = server.request("PATCH", "/v1/me", headers=hdr(who), json={"first_name": "Zed"})
        assert r.status_code == 200, r.text
        r = server.request("PATCH", f"/v1/users/{who['id']}", headers=hdr(admin),
                           json={"last_name": "Zee"})
        assert r.status_code == 200, r.text
        assert server.get("/v1/me", headers=hdr(who)).json()["first_name"] == "Zed"
    assert sync_row(db, pushed) == 1 and chat_jobs(db) == 0


# -- partner admins are not public users ---------------------------------------------

def make_partner_admin(server, admin, who, partner):
    """who given the role partner_admin and made an admin of partner: the
    partner_admins row."""
    etag = server.get(f"/v1/users/{who['id']}", headers=hdr(admin)).headers["ETag"]
    r = server.request("PATCH", f"/v1/users/{who['id']}",
                       headers={**hdr(admin), "If-Match": etag}, json={"role": "partner_admin"})
    assert r.status_code == 200, r.text
    who["token"] = login(server, who["email"])     # a role change ends sessions
    chat_settle(server.db)                          # what those touched is done
    r = server.post("/v1/partner-admins", headers=hdr(admin),
                    json={"user_id": who["id"], "partner_id": partner["id"]})
    assert r.status_code == 201, r.text
    return r.json()


def set_partner_admin(server, admin, row, **body):
    r = server.request("PATCH", f"/v1/partner-admins/{row['id']}", headers=hdr(admin), json=body)
    assert r.status_code == 200, r.text


def test_a_public_learner_made_partner_admin_loses_chat_and_back(server, cms, chat):
    """An active partner admin is not a public user (PARTNERS_PUBLIC_USER):
    a public learner of a live course made one has their profile erased at
    once; deactivated (the row, or its partner) they have it pushed again."""
    db = server.db
    admin = person(server, "admin", "admin")
    bumble = make_partner(server, admin, "Bumble")
    _, s = course_with_session(server, cms, "Live open", live=True)
    p = person(server, "public")
    start(server, p, s)
    wait_pushes(chat, p["email"], 1)
    chat_settle(db)
    row = make_partner_admin(server, admin, p, bumble)
    n = len(chat.pushes(p["email"]))            # the role change is pushed too
    erased(server, chat, p, n)
    set_partner_admin(server, admin, row, is_active=False)
    wait_pushes(chat, p["email"], n + 1)
    chat_settle(db)
    set_partner_admin(server, admin, row, is_active=True)
    wait_until(lambda: chat.deletes(p["email"]) == [200, 200], what="the profile erased again")
    chat_settle(db)
    assert sync_row(db, p) == 0
    # The partner deactivated deactivates its admins: public again.
    r = server.request("PATCH", f"/v1/partners/{bumble['id']}", headers=hdr(admin),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    wait_pushes(chat, p["email"], n + 2)
    chat_settle(db)
    assert sync_row(db, p) == 1


def test_a_partner_admin_removed_on_a_live_course_gets_chat(server, cms, chat):
    """A partner admin who started a live course included for the public has
    no chat; their partner_admins row deleted, they are a public user and
    their profile is pushed."""
    db = server.db
    admin = person(server, "admin", "admin")
    bumble = make_partner(server, admin, "Bumble")
    _, s = course_with_session(server, cms, "Live open", live=True)
    pa = person(server, "padmin")
    row = make_partner_admin(server, admin, pa, bumble)
    start(server, pa, s)
    nothing_sent(server, chat, pa)
    r = server.request("DELETE", f"/v1/partner-admins/{row['id']}", headers=hdr(admin))
    assert r.status_code == 204, r.text
    wait_pushes(chat, pa["email"], 1)
    chat_settle(db)
    assert sync_row(db, pa) == 1


# -- deleted accounts ----------------------------------------------------------------

def test_a_deleted_account_has_its_profile_erased(server, chat):
    """Deleting an account (soft delete) erases its chat profile at the
    provider (erasure does too: test_chatsync.py)."""
    db = server.db
    admin = person(server, "admin", "admin")
    bumble = make_partner(server, admin, "Bumble")
    m = person(server, "member")
    redeem(server, m, new_code(server, admin, bumble)["code"])
    wait_pushes(chat, m["email"], 1)
    chat_settle(db)
    r = server.request("DELETE", f"/v1/users/{m['id']}", headers=hdr(admin))
    assert r.status_code == 204, r.text
    erased(server, chat, m, 1)


# -- the webhook leaves the learners to a job ----------------------------------------

def test_a_course_flip_touches_its_learners_in_a_job(server, cms, chat):
    """The webhook that makes a course live or not live answers without
    touching its learners: the job learning.course_chat does, later."""
    db = server.db
    course, s = course_with_session(server, cms, "Flip")
    people = [person(server, f"p{i}") for i in range(3)]
    for who in people:
        start(server, who, s)
    nothing_sent(server, chat, *people)
    course["content"]["live"] = True
    assert cms_publish(server, course, CMS_SECRET)["course"]["changed"] == ["live"]
    for who in people:
        wait_pushes(chat, who["email"], 1)
    wait_until(lambda: "event=course_chat" in server.log(), what="the job's run")
    assert "users=3 more=0" in server.log()
    chat_settle(db)
    course["content"]["live"] = False
    cms_publish(server, course, CMS_SECRET)
    for who in people:
        erased(server, chat, who, 1)


# -- partner inclusion ---------------------------------------------------------------

def test_a_course_for_some_partners_gives_public_users_no_chat(server, cms, chat):
    """A live course included for some partners only (not "Public") gives no
    public user chat: not one who was a partner user when they started it,
    nor one who started it while it was for everyone."""
    db = server.db
    admin = person(server, "admin", "admin")
    bumble = make_partner(server, admin, "Bumble")
    _, only = course_with_session(server, cms, "Bumble only", partners=["Bumble"], live=True)
    m = person(server, "member")
    acc = new_code(server, admin, bumble, feature_live_chat=False)
    redeem(server, m, acc["code"])
    start(server, m, only)
    open_course, on_open = course_with_session(server, cms, "Open live", live=True)
    p = person(server, "public")
    start(server, p, on_open)
    wait_pushes(chat, p["email"], 1)
    chat_settle(db)
    # No access any more: a public user, in a course not included for them.
    patch_access(server, admin, acc, is_active=False)
    nothing_sent(server, chat, m)
    # The open course becomes Bumble's only: its public learner loses chat.
    open_course["content"]["included_for_partners"] = ["Bumble"]
    cms_publish(server, open_course, CMS_SECRET)
    erased(server, chat, p, 1)


def test_a_course_flip_reaches_every_learner_across_pages(start_server, cms, chat):
    """The job learning.course_chat looks at course_chat_page learners a
    run, in user id order, and a full page queues the next run from the
    last id (issue 15 review): with a page of 3, seven learners take three
    runs (3, 3, 1) and every one of them gets chat access when the course
    becomes live, and loses it when it stops being live; six (two full
    pages) take a third run that finds none."""
    server = start_server(env=cms_chat_env(chat, cms, CAREBASE_COURSE_CHAT_PAGE="3"))
    db = server.db
    course, s = course_with_session(server, cms, "Paged")
    people = [person(server, f"paged{i}") for i in range(7)]
    for who in people:
        start(server, who, s)
    nothing_sent(server, chat, *people)
    course["content"]["live"] = True
    assert cms_publish(server, course, CMS_SECRET)["course"]["changed"] == ["live"]
    for who in people:
        wait_pushes(chat, who["email"], 1)
    runs = lambda: [ln.split("users=", 1)[1] for ln in server.log().splitlines()  # noqa: E731
                    if "event=course_chat " in ln]
    wait_until(lambda: len(runs()) == 3, what="three runs of the job")
    assert runs() == ["3 more=1", "3 more=1", "1 more=0"]
    chat_settle(db)
    assert db.count("jobs", "kind = 'learning.course_chat'") == 0
    course["content"]["live"] = False
    cms_publish(server, course, CMS_SECRET)
    for who in people:
        erased(server, chat, who, 1)
    wait_until(lambda: len(runs()) == 6, what="three more runs")
    assert runs()[3:] == ["3 more=1", "3 more=1", "1 more=0"]
    # Two full pages: the third run finds no one and queues nothing.
    course2, s2 = course_with_session(server, cms, "Paged exactly")
    for who in people[:6]:
        start(server, who, s2)
    chat_settle(db)
    course2["content"]["live"] = True
    cms_publish(server, course2, CMS_SECRET)
    for who in people[:6]:
        wait_pushes(chat, who["email"], 2)
    wait_until(lambda: len(runs()) == 9, what="three runs for six learners")
    assert runs()[6:] == ["3 more=1", "3 more=1", "0 more=0"]
    chat_settle(db)
    assert people[6]["email"] not in chat.people
