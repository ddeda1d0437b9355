"""Learning (issue 6, parts 3 and 4) and the webhook inbox: the CMS webhook
(signature, payload checks, story fetched from a fake CMS (conftest's), upsert
by story uuid, unpublish/delete change status only), every inbound body kept
in the inbox with its outcome (refused ones too, nothing else changed),
failures replayed with `carebase webhooks replay`, progress (start, complete,
incomplete; course completion exactly when every published session is
completed, undone by incomplete and by a newly published session), who sees
which courses (published, partner-included) and whose progress. Runs on
SQLite and PostgreSQL."""

import concurrent.futures
import hashlib
import hmac
import json
import secrets
import uuid

import pytest
import requests

from conftest import CMS_TOKEN, course_story, hdr, person, problem, session_story

SECRET = "cms-webhook-secret-for-tests"


# -- helpers -----------------------------------------------------------------------

def sign(body, secret=SECRET):
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def hook(server, payload, signature="auto", headers=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    h = {"Content-Type": "application/json"}
    if signature == "auto":
        h["webhook-signature"] = sign(body)
    elif signature is not None:
        h["webhook-signature"] = signature
    h.update(headers or {})
    return server.post("/v1/webhooks/storyblok", data=body, headers=h)


def event(story, action="published"):
    return {"text": f"The user test@example.org {action} the Story {story['name']}",
            "action": action, "space_id": 4242, "story_id": story["id"],
            "full_slug": story["full_slug"]}


def publish(server, story, action="published"):
    r = hook(server, event(story, action))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "processed", body
    return body


def inbox(db, inbox_id):
    rows = db.query("SELECT source, outcome, signature_ok, http_status, error, attempts, "
                    f"body_bytes FROM webhook_inbox WHERE id = '{inbox_id}'")
    assert rows, f"no inbox row {inbox_id}"
    keys = ("source", "outcome", "signature_ok", "http_status", "error", "attempts",
            "body_bytes")
    return dict(zip(keys, rows[0]))


def snapshot(db):
    """Everything a webhook could change besides the inbox."""
    return {t: db.count(t) for t in ("courses", "course_sessions", "course_partners",
                                     "course_session_partners", "course_enrolments",
                                     "course_session_progress", "audit_log")}


def course_id(db, story):
    return db.scalar(f"SELECT id FROM courses WHERE storyblok_uuid = '{story['uuid']}'")


def session_id(db, story):
    return db.scalar(
        f"SELECT id FROM course_sessions WHERE storyblok_uuid = '{story['uuid']}'")


def act(server, who, sid, verb):
    return server.post(f"/v1/course-sessions/{sid}/{verb}", headers=hdr(who))


def my_course(server, who, cid):
    r = server.get("/v1/me/courses", headers=hdr(who))
    assert r.status_code == 200, r.text
    mine = [e for e in r.json()["data"] if e["course"]["id"] == cid]
    return mine[0] if mine else None


def cms_env(cms, **extra):
    env = {"CAREBASE_STORYBLOK_WEBHOOK_SECRET": SECRET,
           "CAREBASE_STORYBLOK_API_URL": cms.url,
           "CAREBASE_STORYBLOK_TOKEN": CMS_TOKEN,
           "CAREBASE_STORYBLOK_TIMEOUT_S": "3"}
    env.update(extra)
    return env


@pytest.fixture
def server(start_server, db, cms):
    return start_server(db=db, env=cms_env(cms))


@pytest.fixture
def people(server):
    return {"admin": person(server, "admin", "admin"), "ann": person(server, "ann"),
            "bob": person(server, "bob")}


# -- the webhook: accepted -------------------------------------------------------------

def test_signed_publish_upserts_course_and_session_by_uuid(server, db, cms, people):
    course = course_story(cms, "Healing from trauma", themes=["trauma", "healing"])
    body = publish(server, course)
    assert body["course"]["created"] is True
    cid = body["course"]["id"]
    row = db.query("SELECT storyblok_id, storyblok_uuid, name, slug, status, kind, "
                   f"description FROM courses WHERE id = '{cid}'")[0]
    assert row == (str(course["id"]), course["uuid"], "Healing from trauma",
                   "courses/healing-from-trauma", "published", "self_guided",
                   "A course about Healing from trauma")
    assert inbox(db, body["inbox_id"])["outcome"] == "processed"
    assert cms.fetches == [f"/v2/cdn/stories/{course['id']}"]

    s1 = session_story(cms, course, "What is trauma")
    body = publish(server, s1)
    sid = body["course_session"]["id"]
    assert body["course_session"]["course_id"] == cid

    # Published again with changes: the same rows, updated (upsert by uuid).
    course["content"]["name"] = "Healing from trauma (2nd edition)"
    course["content"]["included_for_partners"] = ["Public", "Bumble"]
    body = publish(server, course)
    assert body["course"] == {
        "id": cid, "storyblok_uuid": course["uuid"], "status": "published",
        "created": False, "changed": ["name", "included_for_partners"]}
    assert db.count("courses") == 1
    assert sorted(r[0] for r in db.query(
        f"SELECT partner_name FROM course_partners WHERE course_id = '{cid}'")) == \
        ["bumble", "public"]
    # moved: fetched again, stays published, slug follows.
    s1["full_slug"] = "courses/healing/what-is-trauma"
    body = publish(server, s1, "moved")
    assert body["course_session"]["id"] == sid
    assert db.scalar(f"SELECT slug FROM course_sessions WHERE id = '{sid}'") == \
        "courses/healing/what-is-trauma"

    # Members see it; the course answers by id and by story uuid, with its sessions.
    for ref in (cid, course["uuid"]):
        r = server.get(f"/v1/courses/{ref}", headers=hdr(people["ann"]))
        assert r.status_code == 200, r.text
        c = r.json()
        assert c["name"] == "Healing from trauma (2nd edition)"
        assert c["themes"] == ["trauma", "healing"]
        assert c["included_for_partners"] == ["Public", "Bumble"]
        assert [s["id"] for s in c["sessions"]] == [sid]
    r = server.get(f"/v1/course-sessions?course_id={cid}", headers=hdr(people["ann"]))
    assert [s["storyblok_uuid"] for s in r.json()["data"]] == [s1["uuid"]]
    # Changes are audited as system actions.
    actions = {r[0] for r in db.query("SELECT action FROM audit_log")}
    assert {"courses.create", "courses.publish", "course_sessions.create",
            "course_sessions.publish"} <= actions


def test_other_stories_are_ignored_but_kept(server, db, cms):
    page = {"id": 777, "uuid": str(uuid.uuid4()), "name": "About", "full_slug": "about",
            "content": {"component": "page"}}
    cms.stories["777"] = page
    before = snapshot(db)
    body = publish(server, page)
    assert body == {"inbox_id": body["inbox_id"], "outcome": "processed",
                    "ignored": True, "component": "page"}
    assert snapshot(db) == before
    assert inbox(db, body["inbox_id"])["outcome"] == "processed"


# -- the webhook: refused, kept, nothing else changed --------------------------------

REFUSALS = [
    # (name, raw body or payload, signature, status, code)
    ("bad signature", "EVENT", "0" * 40, 401, "SIGNATURE_INVALID"),
    ("signature of another body", "EVENT", sign(b"{}"), 401, "SIGNATURE_INVALID"),
    ("signature under another secret", "EVENT", "OTHER", 401, "SIGNATURE_INVALID"),
    ("signature not hex", "EVENT", "zz" * 20, 401, "SIGNATURE_INVALID"),
    ("missing signature", "EVENT", None, 401, "SIGNATURE_MISSING"),
    ("malformed JSON", b'{"action": "published", ', "auto", 400, "MALFORMED_REQUEST"),
    ("duplicate members", b'{"action": "published", "action": "deleted", "story_id": 1}',
     "auto", 400, "MALFORMED_REQUEST"),
    ("not an object", b'["published"]', "auto", 400, "MALFORMED_REQUEST"),
    ("empty body", b"", "auto", 400, "MALFORMED_REQUEST"),
    ("unknown action", {"action": "archived", "story_id": 1}, "auto", 422,
     "VALIDATION_FAILED"),
    ("no story id", {"action": "published"}, "auto", 422, "VALIDATION_FAILED"),
    ("story id a string", {"action": "published", "story_id": "12"}, "auto", 422,
     "VALIDATION_FAILED"),
    ("slug with odd characters", {"action": "published", "story_id": 1,
                                  "full_slug": "a/../b?c"}, "auto", 422, "VALIDATION_FAILED"),
    ("text too long", {"action": "published", "story_id": 1, "text": "x" * 10001},
     "auto", 422, "VALIDATION_FAILED"),
    ("oversize body", b'{"action": "published", "story_id": 1, "text": "' + b"x" * 70000
     + b'"}', "auto", 413, "PAYLOAD_TOO_LARGE"),
]


@pytest.mark.parametrize("name,payload,signature,status,code", REFUSALS,
                         ids=[r[0] for r in REFUSALS])
def test_refused_webhooks_are_kept_and_change_nothing(server, db, cms, name, payload,
                                                      signature, status, code):
    course = course_story(cms)
    publish(server, course)
    before = snapshot(db)
    fetches = len(cms.fetches)
    if payload == "EVENT":
        payload = json.dumps(event(course, "deleted")).encode()
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if signature == "OTHER":
        signature = sign(body, "another-secret")
    r = hook(server, body, signature=signature)
    p = problem(r, status, code)
    assert p["inbox_id"] == r.headers["X-Webhook-Inbox-Id"]
    row = inbox(db, p["inbox_id"])
    assert p["outcome"] == "refused"
    assert row["source"] == "storyblok"
    assert row["outcome"] == "refused"
    assert int(row["http_status"]) == status
    assert row["error"]
    assert int(row["body_bytes"]) == len(body)
    assert row["signature_ok"] == ("0" if status == 401 else "1")
    if status == 422:
        assert p["errors"] and all({"field", "code", "detail"} <= set(e) for e in p["errors"])
    # Nothing else changed, and the CMS was not asked.
    assert snapshot(db) == before
    assert len(cms.fetches) == fetches
    assert db.scalar(f"SELECT status FROM courses WHERE storyblok_uuid = "
                     f"'{course['uuid']}'") == "published"


@pytest.mark.dialect
def test_inbox_keeps_bodies_sealed_and_no_credentials(server, db, cms):
    course = course_story(cms)
    marker = "client-" + secrets.token_hex(8)
    payload = event(course)
    payload["text"] = marker
    body = json.dumps(payload).encode()
    r = hook(server, body, headers={"Authorization": "Bearer should-not-be-kept",
                                    "User-Agent": "Storyblok-Test"})
    assert r.status_code == 200, r.text
    rid = r.json()["inbox_id"]
    headers, stored = db.query(f"SELECT headers, body FROM webhook_inbox WHERE id = '{rid}'")[0]
    assert json.loads(headers) == {"Content-Type": "application/json",
                                   "User-Agent": "Storyblok-Test"}
    assert marker not in str(stored)
    assert "should-not-be-kept" not in headers
    assert sign(body) not in headers


def test_webhook_without_a_configured_secret_is_refused(start_server, cms):
    srv = start_server(env=cms_env(cms, CAREBASE_STORYBLOK_WEBHOOK_SECRET=""))
    course = course_story(cms)
    r = hook(srv, event(course))
    problem(r, 503, "WEBHOOK_NOT_CONFIGURED")
    assert inbox(srv.db, r.headers["X-Webhook-Inbox-Id"])["outcome"] == "refused"
    assert srv.db.count("courses") == 0
    assert cms.fetches == []


# -- failures and replay -------------------------------------------------------------

def test_cms_down_fails_then_replay_processes(server, db, cms):
    course = course_story(cms, "Self-care")
    cms.down = True
    r = hook(server, event(course))
    problem(r, 503, "CMS_UNAVAILABLE")
    p = {"inbox_id": r.headers["X-Webhook-Inbox-Id"]}
    row = inbox(db, p["inbox_id"])
    assert (row["outcome"], row["signature_ok"], row["attempts"]) == ("failed", "1", "1")
    assert db.count("courses") == 0
    listed = server.cli_ok("webhooks", "list", "--failed").stdout
    assert p["inbox_id"] in listed and "CMS" in listed
    # Replaying while the CMS is still down fails again and says so.
    r = server.cli("webhooks", "replay", p["inbox_id"])
    assert r.returncode != 0 and "failed" in r.stdout, r.stdout + r.stderr
    assert inbox(db, p["inbox_id"])["attempts"] == "2"
    cms.down = False
    r = server.cli_ok("webhooks", "replay", p["inbox_id"])
    assert "processed" in r.stdout
    row = inbox(db, p["inbox_id"])
    assert (row["outcome"], row["attempts"], row["error"]) == ("processed", "3", None)
    assert db.scalar(f"SELECT name FROM courses WHERE storyblok_uuid = '{course['uuid']}'") \
        == "Self-care"
    assert p["inbox_id"] not in server.cli_ok("webhooks", "list", "--failed").stdout
    assert p["inbox_id"] in server.cli_ok("webhooks", "list").stdout
    # Each replay is audited with its outcome.
    outcomes = [json.loads(c)["outcome"] for (c,) in db.query(
        "SELECT changes FROM audit_log WHERE action = 'webhook_inbox.replay' AND "
        f"entity_id = '{p['inbox_id']}' ORDER BY seq")]
    assert outcomes == ["failed", "processed"]


def test_cms_unreachable_or_story_missing_fails(start_server, cms, free_closed_port):
    srv = start_server(env=cms_env(cms, CAREBASE_STORYBLOK_API_URL=
                                   f"http://127.0.0.1:{free_closed_port}/v2"))
    course = course_story(cms)
    r = hook(srv, event(course))
    problem(r, 503, "CMS_UNAVAILABLE")
    assert inbox(srv.db, r.headers["X-Webhook-Inbox-Id"])["outcome"] == "failed"
    assert srv.db.count("courses") == 0


def test_story_missing_in_cms_fails(server, db, cms):
    ghost = {"id": 424242, "name": "Ghost", "full_slug": "ghost"}
    r = hook(server, event(ghost))
    problem(r, 503, "CMS_STORY_NOT_FOUND")
    row = inbox(db, r.headers["X-Webhook-Inbox-Id"])
    assert (row["outcome"], row["http_status"]) == ("failed", "503")
    assert "424242" in row["error"]


def test_invalid_story_is_refused(server, db, cms):
    course = course_story(cms)
    course["content"]["included_for_partners"] = "Bumble"
    p = problem(hook(server, event(course)), 422, "STORY_INVALID")
    assert "story.content.included_for_partners" in [e["field"] for e in p["errors"]]
    assert inbox(db, p["inbox_id"])["outcome"] == "refused"
    assert db.count("courses") == 0


def test_session_before_its_course_is_refused_then_replayed(server, db, cms):
    course = course_story(cms)
    s = session_story(cms, course, "Grounding")
    p = problem(hook(server, event(s)), 409, "COURSE_NOT_KNOWN")
    assert inbox(db, p["inbox_id"])["outcome"] == "refused"
    assert db.count("course_sessions") == 0
    publish(server, course)
    assert "processed" in server.cli_ok("webhooks", "replay", p["inbox_id"]).stdout
    assert db.count("course_sessions") == 1


def test_replay_never_runs_an_unverified_body(server, db, cms):
    course = course_story(cms)
    p = problem(hook(server, event(course), signature="0" * 40), 401, "SIGNATURE_INVALID")
    r = server.cli("webhooks", "replay", p["inbox_id"])
    assert r.returncode != 0
    assert "signature" in (r.stdout + r.stderr)
    assert db.count("courses") == 0
    assert cms.fetches == []
    r = server.cli("webhooks", "replay", str(uuid.uuid4()))
    assert r.returncode != 0 and "no such webhook" in r.stderr
    assert server.cli("webhooks", "bogus").returncode != 0


# -- unpublish and delete --------------------------------------------------------------

def test_unpublish_and_delete_change_status_only(server, db, cms, people):
    course = course_story(cms, "Boundaries")
    s1 = session_story(cms, course, "Saying no")
    publish(server, course)
    publish(server, s1)
    cid, sid = course_id(db, course), session_id(db, s1)
    fetches = len(cms.fetches)
    # The CMS copy changes, but unpublish does not fetch or copy it.
    s1["content"]["name"] = "Renamed in the CMS"
    body = publish(server, s1, "unpublished")
    assert body["course_sessions"] == [sid]
    assert len(cms.fetches) == fetches
    assert db.query(f"SELECT name, status FROM course_sessions WHERE id = '{sid}'")[0] == \
        ("Saying no", "unpublished")
    problem(server.get(f"/v1/course-sessions/{sid}", headers=hdr(people["ann"])), 404,
            "NOT_FOUND")
    problem(act(server, people["ann"], sid, "start"), 404, "NOT_FOUND")
    # Staff still see it.
    r = server.get(f"/v1/course-sessions/{sid}", headers=hdr(people["admin"]))
    assert r.status_code == 200 and r.json()["status"] == "unpublished"

    body = publish(server, course, "deleted")
    assert body["courses"] == [cid]
    assert db.query(f"SELECT name, status FROM courses WHERE id = '{cid}'")[0] == \
        ("Boundaries", "deleted")
    problem(server.get(f"/v1/courses/{cid}", headers=hdr(people["ann"])), 404, "NOT_FOUND")
    assert server.get("/v1/courses", headers=hdr(people["ann"])).json()["data"] == []
    r = server.get("/v1/courses?status=deleted", headers=hdr(people["admin"]))
    assert [c["id"] for c in r.json()["data"]] == [cid]
    # Again: nothing left to change, still processed.
    body = publish(server, course, "deleted")
    assert body["courses"] == []
    # Published again: back.
    publish(server, course)
    assert db.scalar(f"SELECT status FROM courses WHERE id = '{cid}'") == "published"


# -- progress and completion -------------------------------------------------------------

def test_progress_and_course_completion(server, db, cms, people):
    ann = people["ann"]
    course = course_story(cms, "Understanding abuse")
    s1 = session_story(cms, course, "Part one")
    s2 = session_story(cms, course, "Part two", component="session_iba")
    for st in (course, s1, s2):
        publish(server, st)
    cid, id1, id2 = course_id(db, course), session_id(db, s1), session_id(db, s2)

    # start by story uuid: the enrolment is made on the fly.
    r = act(server, ann, s1["uuid"], "start")
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["session_id"], p["course_id"], p["completed"], p["completed_at"]) == \
        (id1, cid, False, None)
    assert p["enrolment"]["completed"] is False and p["started_at"] is not None
    assert db.count("course_enrolments", f"user_id = '{ann['id']}'") == 1
    # starting again changes nothing
    assert act(server, ann, id1, "start").json()["started_at"] == p["started_at"]

    r = act(server, ann, id1, "complete")
    assert r.json()["completed"] is True
    assert r.json()["enrolment"]["completed"] is False
    first_done = r.json()["completed_at"]
    # complete without start works too; now every published session is done
    r = act(server, ann, id2, "complete")
    e = r.json()["enrolment"]
    assert e["completed"] is True and e["completed_at"] is not None
    assert act(server, ann, id1, "complete").json()["completed_at"] == first_done
    mine = my_course(server, ann, cid)
    assert mine["completed"] is True and mine["completed_at"] == e["completed_at"]
    assert [(s["id"], s["completed"]) for s in mine["sessions"]] == \
        [(id1, True), (id2, True)]

    # incomplete undoes it
    r = act(server, ann, id2, "incomplete")
    assert r.json()["completed"] is False and r.json()["completed_at"] is None
    assert r.json()["enrolment"] == {**e, "completed": False, "completed_at": None}
    act(server, ann, id2, "complete")
    assert my_course(server, ann, cid)["completed"] is True

    # a newly published session of the course undoes it, in the webhook
    s3 = session_story(cms, course, "Part three")
    publish(server, s3)
    mine = my_course(server, ann, cid)
    assert (mine["completed"], mine["completed_at"]) == (False, None)
    # Not started: not completed, and started_at null.
    assert [(s["completed"], s["started_at"] is None) for s in mine["sessions"]] == \
        [(True, False), (True, False), (False, True)]
    act(server, ann, s3["uuid"], "complete")
    assert my_course(server, ann, cid)["completed"] is True
    # unpublishing a session the user had not completed completes the course
    act(server, ann, s3["uuid"], "incomplete")
    assert my_course(server, ann, cid)["completed"] is False
    publish(server, s3, "unpublished")
    assert my_course(server, ann, cid)["completed"] is True
    # republishing it undoes that again
    publish(server, s3)
    assert my_course(server, ann, cid)["completed"] is False
    assert db.scalar("SELECT completed_at FROM course_enrolments WHERE "
                     f"user_id = '{ann['id']}'") is None

    # bad ids
    problem(act(server, ann, str(uuid.uuid4()), "start"), 404, "NOT_FOUND")
    problem(act(server, ann, "not-a-uuid", "complete"), 404, "NOT_FOUND")
    problem(server.post(f"/v1/course-sessions/{id1}/start"), 401, "UNAUTHORIZED")
    # as every list answers a bad page, and refuses what it does not take
    problem(server.get("/v1/me/courses?limit=0", headers=hdr(ann)), 400,
            "INVALID_PARAMETER")
    problem(server.get("/v1/me/courses?cursor=zz", headers=hdr(ann)), 400,
            "INVALID_CURSOR")
    problem(server.get("/v1/me/courses?bogus=1", headers=hdr(ann)), 400,
            "UNKNOWN_PARAMETER")


PROGRESS = {"completed", "started_at", "completed_at"}


def test_progress_has_one_shape_wherever_it_is_shown(server, db, cms, people):
    """Issue 15: progress was a "status" word in the actions' answers, a
    "progress" word in /v1/me/courses and a "completed" boolean in the rows of
    /v1/course-enrolments and /v1/course-session-progress. Every route now
    shows it one way: completed (true or false), started_at (null: not
    started) and completed_at, with the same values for the same row."""
    ann = people["ann"]
    course = course_story(cms, "One shape")
    s1, s2 = session_story(cms, course, "First"), session_story(cms, course, "Second")
    for st in (course, s1, s2):
        publish(server, st)
    cid, id1, id2 = course_id(db, course), session_id(db, s1), session_id(db, s2)
    answers = {verb: act(server, ann, id1, verb).json() for verb in ("start", "complete")}
    for verb, a in answers.items():
        assert PROGRESS <= set(a) and PROGRESS <= set(a["enrolment"]), (verb, a)
        assert "status" not in a and "status" not in a["enrolment"], (verb, a)
    done = answers["complete"]
    assert done["completed"] is True and done["enrolment"]["completed"] is False

    def only(d, keys=PROGRESS):
        return {k: d[k] for k in keys}

    row = server.get(f"/v1/course-session-progress?session_id={id1}",
                     headers=hdr(ann)).json()["data"][0]
    assert only(row) == only(done)
    enrol = server.get(f"/v1/course-enrolments?course_id={cid}",
                       headers=hdr(ann)).json()["data"][0]
    assert only(enrol) == only(done["enrolment"])
    mine = my_course(server, ann, cid)
    assert only(mine) == only(done["enrolment"]) and "progress" not in mine
    sessions = {s["id"]: s for s in mine["sessions"]}
    assert only(sessions[id1]) == only(done)
    # Not started: not completed, started_at null; "status" is the CMS's own.
    assert only(sessions[id2]) == {"completed": False, "started_at": None,
                                   "completed_at": None}
    assert sessions[id2]["status"] == "published" and "progress" not in sessions[id2]
    # The OpenAPI document says so of every one of them.
    doc = server.get("/v1/openapi.json").json()
    schemas, paths = doc["components"]["schemas"], doc["paths"]

    def answer(path, method="post"):
        return paths[path][method]["responses"]["200"]["content"]["application/json"]["schema"]

    shown = [schemas["course_enrolments"], schemas["course_session_progress"]]
    for verb in ("start", "complete", "incomplete"):
        a = answer(f"/v1/course-sessions/{{id}}/{verb}")
        shown += [a, a["properties"]["enrolment"]]
    mc = answer("/v1/me/courses", "get")["properties"]["data"]["items"]
    shown += [mc, mc["properties"]["sessions"]["items"]]
    for sch in shown:
        props = sch["properties"]
        assert props["completed"]["type"] == "boolean", sch
        assert PROGRESS <= set(props) and "progress" not in props, sch
    # And the real answer, member by member, is what the schema declares
    # (issue 15 review: course.live was answered but not declared).
    mine = server.get("/v1/me/courses", headers=hdr(ann)).json()
    assert mine["data"][0]["course"]["live"] in (True, False)
    assert_declared(mine, answer("/v1/me/courses", "get"))


JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool,
              "integer": int, "number": (int, float), "null": type(None)}


def assert_declared(value, schema, where="$"):
    """value conforms to schema as far as the OpenAPI document's own
    answers go: its type, its required members, and strictly no member
    that the schema's properties leave out; arrays item by item."""
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        ok = any(isinstance(value, JSON_TYPES[t]) and
                 not (t in ("integer", "number") and isinstance(value, bool)) for t in types)
        assert ok, f"{where}: {value!r} is not {types}"
    if isinstance(value, dict) and "properties" in schema:
        for k in schema.get("required", []):
            assert k in value, f"{where}: required {k} missing"
        for k, v in value.items():
            assert k in schema["properties"], f"{where}.{k}: answered, not declared"
            assert_declared(v, schema["properties"][k], f"{where}.{k}")
    elif isinstance(value, dict):
        assert not value or schema.get("additionalProperties", True) is not False, where
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            assert_declared(v, schema["items"], f"{where}[{i}]")


@pytest.mark.dialect
def test_parallel_progress_keeps_completion_exact(start_server, cms):
    server = start_server(env=cms_env(cms, CAREBASE_THREADS="8"))
    db = server.db
    ann = person(server, "ann")
    course = course_story(cms, "Parallel")
    sessions = [session_story(cms, course, f"Step {i}") for i in range(12)]
    for st in [course] + sessions:
        publish(server, st)
    cid = course_id(db, course)

    def run(verb):
        def one(st):
            return requests.post(server.url(f"/v1/course-sessions/{st['uuid']}/{verb}"),
                                 headers=hdr(ann), timeout=30).status_code
        with concurrent.futures.ThreadPoolExecutor(len(sessions)) as pool:
            assert list(pool.map(one, sessions)) == [200] * len(sessions)

    for verb, want in (("complete", True), ("incomplete", False)) * 4:
        run(verb)
        mine = my_course(server, ann, cid)
        assert mine["completed"] is want, (verb, mine)
        assert (mine["completed_at"] is None) == (not want)
    assert db.count("course_enrolments", f"user_id = '{ann['id']}'") == 1
    assert db.count("course_session_progress", f"user_id = '{ann['id']}'") == len(sessions)


def test_session_moving_to_another_course(server, db, cms, people):
    ann = people["ann"]
    a, b = course_story(cms, "Course A"), course_story(cms, "Course B")
    s1, s2 = session_story(cms, a, "One"), session_story(cms, a, "Two")
    sb = session_story(cms, b, "Bee")
    for st in (a, b, s1, s2, sb):
        publish(server, st)
    act(server, ann, s1["uuid"], "complete")
    act(server, ann, sb["uuid"], "complete")
    assert my_course(server, ann, course_id(db, b))["completed"] is True
    # "Two" moves to course B: A is complete now (only One left), B is not.
    s2["content"]["course"] = b["uuid"]
    publish(server, s2, "moved")
    assert my_course(server, ann, course_id(db, a))["completed"] is True
    assert my_course(server, ann, course_id(db, b))["completed"] is False
    # One moves to B: ann's progress in it comes along.
    s1["content"]["course"] = b["uuid"]
    publish(server, s1)
    act(server, ann, s2["uuid"], "complete")
    mine = my_course(server, ann, course_id(db, b))
    assert mine["completed"] is True
    assert sorted(s["name"] for s in mine["sessions"]) == ["Bee", "One", "Two"]


def test_other_users_progress_is_invisible(server, db, cms, people):
    ann, bob, admin = people["ann"], people["bob"], people["admin"]
    course = course_story(cms)
    s1 = session_story(cms, course, "Only")
    publish(server, course)
    publish(server, s1)
    act(server, ann, s1["uuid"], "complete")
    assert server.get("/v1/me/courses", headers=hdr(bob)).json() == \
        {"data": [], "next_cursor": None}
    enrol = server.get("/v1/course-enrolments", headers=hdr(ann)).json()["data"]
    assert len(enrol) == 1 and enrol[0]["user_id"] == ann["id"] and enrol[0]["completed"]
    assert server.get("/v1/course-enrolments", headers=hdr(bob)).json()["data"] == []
    assert server.get("/v1/course-session-progress", headers=hdr(bob)).json()["data"] == []
    problem(server.get(f"/v1/course-enrolments/{enrol[0]['id']}", headers=hdr(bob)), 404,
            "NOT_FOUND")
    r = server.get(f"/v1/course-enrolments/{enrol[0]['id']}", headers=hdr(admin))
    assert r.status_code == 200 and r.json()["user_id"] == ann["id"]
    # Progress changes only through the actions.
    r = server.request("PATCH", f"/v1/course-enrolments/{enrol[0]['id']}", headers=hdr(ann),
                       json={"completed": False})
    assert r.status_code == 405
    # Bob's actions touch only his own rows.
    act(server, bob, s1["uuid"], "start")
    assert my_course(server, ann, course_id(db, course))["completed"] is True
    assert my_course(server, bob, course_id(db, course))["completed"] is False
    # The GDPR export carries the person's progress.
    r = server.get("/v1/me/export", headers=hdr(ann))
    assert r.status_code == 200, r.text
    assert len(r.json()["records"]["course_enrolments"]) == 1


# -- who sees which course -------------------------------------------------------------

def test_partner_courses_are_seen_by_that_partners_members(server, db, cms, people):
    admin, ann, bob = people["admin"], people["ann"], people["bob"]
    r = server.post("/v1/partners", headers=hdr(admin), json={"name": "Bumble"})
    assert r.status_code == 201, r.text
    partner = r.json()
    r = server.post("/v1/partner-access", headers=hdr(admin), json={
        "partner_id": partner["id"], "feature_live_chat": True, "feature_therapy": False,
        "therapy_sessions_remaining": 0})
    assert r.status_code == 201, r.text
    r = server.post("/v1/partner-access/assign", headers=hdr(ann),
                    json={"code": r.json()["code"]})
    assert r.status_code in (200, 201), r.text

    public = course_story(cms, "Everyone", partners=["Public"])
    unlisted = course_story(cms, "Unlisted", partners=[])
    bumble = course_story(cms, "Bumble only", partners=["bumble"])
    other = course_story(cms, "Badoo only", partners=["Badoo"])
    secret = session_story(cms, public, "Bumble extra", partners=["Bumble"])
    for st in (public, unlisted, bumble, other, secret):
        publish(server, st)

    def seen(who):
        r = server.get("/v1/courses", headers=hdr(who))
        assert r.status_code == 200, r.text
        return sorted(c["name"] for c in r.json()["data"])

    assert seen(ann) == ["Bumble only", "Everyone", "Unlisted"]
    assert seen(bob) == ["Everyone", "Unlisted"]
    assert seen(admin) == ["Badoo only", "Bumble only", "Everyone", "Unlisted"]
    problem(server.get(f"/v1/courses/{bumble['uuid']}", headers=hdr(bob)), 404, "NOT_FOUND")
    sid = session_id(db, secret)
    problem(act(server, bob, sid, "start"), 404, "NOT_FOUND")
    assert act(server, ann, sid, "start").status_code == 200
    r = server.get(f"/v1/courses/{public['uuid']}", headers=hdr(bob))
    assert r.json()["sessions"] == []

    # Paging and filters
    r = server.get("/v1/courses?limit=2", headers=hdr(admin)).json()
    assert len(r["data"]) == 2 and r["next_cursor"]
    r2 = server.get(f"/v1/courses?limit=2&cursor={r['next_cursor']}", headers=hdr(admin))
    assert len(r2.json()["data"]) == 2 and r2.json()["next_cursor"] is None
    problem(server.get("/v1/courses?status=draft", headers=hdr(admin)), 422,
            "VALIDATION_FAILED")
    problem(server.get("/v1/courses"), 401, "UNAUTHORIZED")


# -- completion follows what is included for the user ------------------------------------

def access_for(server, admin, partner, who=None):
    r = server.post("/v1/partner-access", headers=hdr(admin), json={
        "partner_id": partner["id"], "feature_live_chat": True, "feature_therapy": False,
        "therapy_sessions_remaining": 0})
    assert r.status_code == 201, r.text
    acc = r.json()
    if who is not None:
        r = server.post("/v1/partner-access/assign", headers=hdr(who),
                        json={"code": acc["code"]})
        assert r.status_code in (200, 201), r.text
    return acc


def test_completion_counts_the_sessions_included_for_the_user(server, db, cms, people):
    """A course is completed when the user completed every published session
    of it included for them, in a course included for them; it is recomputed
    when their accesses, a partner, or a course's or session's partners
    change."""
    admin, ann, bob = people["admin"], people["ann"], people["bob"]
    r = server.post("/v1/partners", headers=hdr(admin), json={"name": "Bumble"})
    assert r.status_code == 201, r.text
    bumble = r.json()
    acc = access_for(server, admin, bumble, ann)
    course = course_story(cms, "Mixed", partners=["Public"])
    open_s = session_story(cms, course, "Open to all")
    extra = session_story(cms, course, "Bumble extra", partners=["Bumble"])
    for st in (course, open_s, extra):
        publish(server, st)
    cid = course_id(db, course)

    def state(who):
        return my_course(server, who, cid)["completed"]

    # Bob cannot see the Bumble session: the open one is all he needs.
    assert act(server, bob, open_s["uuid"], "complete").status_code == 200
    assert state(bob) == True
    # Ann sees both and has done one.
    act(server, ann, open_s["uuid"], "complete")
    assert state(ann) == False

    # Ann's access deactivated: the Bumble session no longer counts for her.
    r = server.request("PATCH", f"/v1/partner-access/{acc['id']}", headers=hdr(admin),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    assert state(ann) == True
    # ... and active again: it counts again.
    server.request("PATCH", f"/v1/partner-access/{acc['id']}", headers=hdr(admin),
                   json={"is_active": True})
    assert state(ann) == False
    assert db.scalar("SELECT completed_at FROM course_enrolments WHERE "
                     f"user_id = '{ann['id']}'") is None
    # Deleted: it does not count.
    assert server.request("DELETE", f"/v1/partner-access/{acc['id']}",
                          headers=hdr(admin)).status_code == 204
    assert state(ann) == True

    # Bob redeems a Bumble code: the Bumble session counts for him now.
    access_for(server, admin, bumble, bob)
    assert state(bob) == False
    # The partner renamed: "bumble" in the CMS names nobody's partner.
    r = server.request("PATCH", f"/v1/partners/{bumble['id']}", headers=hdr(admin),
                       json={"name": "Bumblebee"})
    assert r.status_code == 200, r.text
    assert state(bob) == True
    server.request("PATCH", f"/v1/partners/{bumble['id']}", headers=hdr(admin),
                   json={"name": "Bumble"})
    assert state(bob) == False
    # The partner deactivated (with its accesses): completed again.
    r = server.request("PATCH", f"/v1/partners/{bumble['id']}", headers=hdr(admin),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    assert state(bob) == True
    done_at = my_course(server, bob, cid)["completed_at"]
    assert done_at is not None

    # The session's partners change in the CMS: now it is for everyone.
    extra["content"]["included_for_partners"] = ["Public"]
    publish(server, extra)
    assert (state(ann), state(bob)) == (False, False)
    act(server, bob, extra["uuid"], "complete")
    assert state(bob) == True
    # Deleting a session Ann has not done completes her course.
    publish(server, extra, "deleted")
    assert (state(ann), state(bob)) == (True, True)

    # The course's partners change: a course not included for Ann has no
    # session that counts for her, so it is not completed.
    course["content"]["included_for_partners"] = ["Badoo"]
    publish(server, course)
    assert state(ann) == False
    assert my_course(server, ann, cid)["completed_at"] is None
    course["content"]["included_for_partners"] = ["Public"]
    publish(server, course)
    assert state(ann) == True
    # An unpublished course keeps its enrolments' state.
    publish(server, course, "unpublished")
    assert state(ann) == True
    # Every change left the right state in the table itself.
    assert db.count("course_enrolments", "completed = 1 AND completed_at IS NULL") == 0
    assert db.count("course_enrolments", "completed = 0 AND completed_at IS NOT NULL") == 0
    assert db.count("course_enrolments", "completed = 1") == 2


@pytest.fixture
def free_closed_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_partner_courses_match_partner_names_in_any_unicode_case(server, db, cms, people):
    """The CMS names partners as its editors typed them; they match the
    partner without regard to case by the same Unicode folding on both
    databases (partners.name_key), not by SQL lower()."""
    admin, ann, bob = people["admin"], people["ann"], people["bob"]
    r = server.post("/v1/partners", headers=hdr(admin), json={"name": "Ärzte ohne Grenzen"})
    assert r.status_code == 201, r.text
    access_for(server, admin, r.json(), ann)
    lower = course_story(cms, "Lower", partners=["ärzte ohne grenzen"])
    upper = course_story(cms, "Upper", partners=["ÄRZTE OHNE GRENZEN"])
    other = course_story(cms, "Other", partners=["Arzte ohne Grenzen"])
    for st in (lower, upper, other):
        publish(server, st)
    assert db.count("course_partners", "partner_name = 'ärzte ohne grenzen'") == 2

    def seen(who):
        r = server.get("/v1/courses", headers=hdr(who))
        assert r.status_code == 200, r.text
        return sorted(c["name"] for c in r.json()["data"])

    assert seen(ann) == ["Lower", "Upper"]
    assert seen(bob) == []


@pytest.mark.dialect
def test_partner_names_stored_unfolded_are_folded_at_start_up(server, db, cms, people):
    """Course lists stored before partner names were kept folded (migration
    0014: "Ärzte" as the CMS had it) would match nobody now; the server
    folds them when it starts and recomputes those courses' completion."""
    admin, ann = people["admin"], people["ann"]
    r = server.post("/v1/partners", headers=hdr(admin), json={"name": "Ärzte ohne Grenzen"})
    assert r.status_code == 201, r.text
    access_for(server, admin, r.json(), ann)
    st = course_story(cms, "Legacy", partners=["Ärzte ohne Grenzen"])
    publish(server, st)
    one = session_story(cms, st, "Only", partners=["ÄRZTE ohne Grenzen"])
    publish(server, one)
    cid, sid = course_id(db, st), session_id(db, one)
    assert act(server, ann, sid, "complete").status_code == 200
    assert my_course(server, ann, cid)["completed"] is True
    server.stop()
    # as an older carebase stored them (C tolower leaves Ä as it is)
    db.execute(f"UPDATE course_partners SET partner_name = 'Ärzte ohne grenzen' "
        f"WHERE course_id = '{cid}'")
    db.execute(f"UPDATE course_session_partners SET partner_name = 'Ärzte ohne grenzen' "
        f"WHERE session_id = '{sid}'")
    server.start(migrate=False)
    assert db.count("course_partners", "partner_name = 'ärzte ohne grenzen'") == 1
    assert db.count("course_session_partners", "partner_name = 'ärzte ohne grenzen'") == 1
    assert db.count("course_partners", "partner_name = 'Ärzte ohne grenzen'") == 0
    r = server.get("/v1/courses", headers=hdr(ann))
    assert [c["name"] for c in r.json()["data"]] == ["Legacy"]
    assert my_course(server, ann, cid)["completed"] is True
    # nothing left to fold: a second start changes nothing
    server.stop()
    server.start(migrate=False)
    assert db.count("course_partners", "partner_name = 'ärzte ohne grenzen'") == 1


@pytest.mark.dialect
def test_a_database_before_0014_with_unfolded_names_still_migrates(server, db, cms, people):
    """Every command starts the modules before `migrate` applies anything:
    the start-up folding must wait for partners.name_key (0014), or a
    database at 0013 with an unfolded list could never be migrated."""
    import pathlib
    admin, ann = people["admin"], people["ann"]
    r = server.post("/v1/partners", headers=hdr(admin), json={"name": "Ärzte ohne Grenzen"})
    assert r.status_code == 201, r.text
    access_for(server, admin, r.json(), ann)
    st = course_story(cms, "Before", partners=["Ärzte ohne Grenzen"])
    publish(server, st)
    cid = course_id(db, st)
    server.stop()
    down = (pathlib.Path(__file__).resolve().parents[2] / "migrations" / db.kind
            / "0014_partner_name_key.down.sql").read_text()
    stmts = [x.strip() for x in "\n".join(
        ln for ln in down.splitlines() if not ln.startswith("--")).split(";") if x.strip()]
    stmts += ["DELETE FROM schema_migrations WHERE name LIKE '0014_%'",
              f"UPDATE course_partners SET partner_name = 'Ärzte ohne grenzen' "
              f"WHERE course_id = '{cid}'"]
    for sql in stmts:
        db.execute(sql)
    assert "name_key" not in [r[0] for r in db.query(
        "SELECT name FROM pragma_table_info('partners')" if db.kind == "sqlite" else
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'partners'")]
    server.cli_ok("migrate")
    server.start(migrate=False)
    assert db.count("course_partners", "partner_name = 'ärzte ohne grenzen'") == 1
    r = server.get("/v1/courses", headers=hdr(ann))
    assert [c["name"] for c in r.json()["data"]] == ["Before"]
