"""A person lists their auth sessions (the device, the address, when each
started and was last used, which one is this) and ends any one or all the
others; admins do the same for anyone. An ended session's token is refused
at its next request. Token hashes are never answered."""
import json
import re
import secrets
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import PASSWORD, hdr, login, person, problem

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
MIGRATION_0033 = "0033_sessions_sealed"

KEYS = {"id", "current", "ip", "user_agent", "device_fingerprint", "created_at",
        "last_activity_at", "expires_at"}


def signed_in(server, who, agent, fingerprint=None):
    """Another session of who, signed in from agent; its token."""
    h = {"User-Agent": agent}
    if fingerprint:
        h["X-Device-Fingerprint"] = fingerprint
    return login(server, who["email"], PASSWORD, headers=h)


def sessions(server, token, path="/v1/me/sessions"):
    r = server.get(path, headers=hdr(token))
    assert r.status_code == 200, r.text
    return r.json()


def works(server, token):
    return server.get("/v1/me", headers=hdr(token)).status_code == 200


def test_a_person_lists_their_live_sessions_and_which_is_this_one(server, db):
    alice = person(server, "alice", headers={"User-Agent": "first-browser/1"})
    phone = signed_in(server, alice, "phone-app/2", fingerprint="device-42")
    other = person(server, "bob")
    page = sessions(server, alice["token"])
    assert page["next_cursor"] is None
    rows = page["data"]
    assert len(rows) == 2 and all(set(r) == KEYS for r in rows), rows
    # Newest first: the phone signed in last.
    assert [r["user_agent"] for r in rows] == ["phone-app/2", "first-browser/1"]
    assert [r["current"] for r in rows] == [False, True]
    assert rows[0]["device_fingerprint"] == "device-42"
    assert rows[0]["ip"] == "127.0.0.1"
    assert rows[1]["created_at"] <= rows[0]["created_at"] < rows[0]["expires_at"]
    assert rows[0]["last_activity_at"] >= rows[0]["created_at"]
    # From the phone, the phone is the current one.
    assert [r["current"] for r in sessions(server, phone)["data"]] == [True, False]
    # Nothing of the token is answered, and nobody else's sessions.
    text = json.dumps(page)
    for (token_hash,) in db.query("SELECT token_hash FROM auth_sessions"):
        assert token_hash not in text
    assert alice["token"] not in text and phone not in text
    assert all(r["id"] not in text for r in sessions(server, other["token"])["data"])


def test_sessions_ended_or_logged_out_are_not_listed(server):
    alice = person(server, "alice")
    t2 = signed_in(server, alice, "two")
    assert server.post("/v1/auth/logout", headers=hdr(t2)).status_code == 204
    assert [r["current"] for r in sessions(server, alice["token"])["data"]] == [True]


def test_ending_one_session_refuses_its_token_at_once(server):
    alice = person(server, "alice")
    laptop = signed_in(server, alice, "laptop")
    laptop_id = next(r["id"] for r in sessions(server, alice["token"])["data"]
                     if not r["current"])
    assert works(server, laptop)
    r = server.request("DELETE", f"/v1/me/sessions/{laptop_id}", headers=hdr(alice))
    assert r.status_code == 204, r.text
    r = server.get("/v1/me", headers=hdr(laptop))
    assert r.status_code == 401 and r.json()["code"] == "SESSION_EXPIRED", r.text
    assert works(server, alice["token"])
    # Ended already: no such live session.
    r = server.request("DELETE", f"/v1/me/sessions/{laptop_id}", headers=hdr(alice))
    assert r.status_code == 404, r.text


def test_ending_the_current_session_signs_out(server):
    alice = person(server, "alice")
    mine = sessions(server, alice["token"])["data"][0]["id"]
    r = server.request("DELETE", f"/v1/me/sessions/{mine}", headers=hdr(alice))
    assert r.status_code == 204, r.text
    assert server.get("/v1/me", headers=hdr(alice)).status_code == 401


def test_nobody_ends_another_persons_session_through_their_own(server):
    alice, bob = person(server, "alice"), person(server, "bob")
    bobs = sessions(server, bob["token"])["data"][0]["id"]
    for path in [f"/v1/me/sessions/{bobs}", "/v1/me/sessions/not-a-uuid"]:
        r = server.request("DELETE", path, headers=hdr(alice))
        assert r.status_code == 404, (path, r.text)
    assert works(server, bob["token"])


def test_end_others_keeps_only_this_session(server):
    alice = person(server, "alice")
    others = [signed_in(server, alice, f"device-{i}") for i in range(3)]
    bob = person(server, "bob")
    r = server.post("/v1/me/sessions/end-others", headers=hdr(alice))
    assert r.status_code == 200, r.text
    assert r.json() == {"ended": 3}
    assert all(not works(server, t) for t in others)
    assert works(server, alice["token"]) and works(server, bob["token"])
    assert [r["current"] for r in sessions(server, alice["token"])["data"]] == [True]
    assert server.post("/v1/me/sessions/end-others",
                       headers=hdr(alice)).json() == {"ended": 0}


def test_lists_page_newest_first(server):
    alice = person(server, "alice")
    for i in range(4):
        signed_in(server, alice, f"device-{i}")
    seen, cursor = [], None
    while True:
        q = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = sessions(server, alice["token"], "/v1/me/sessions" + q)
        assert len(page["data"]) <= 2
        seen += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)
    # A bad page is answered as every declared list answers it (400).
    for path in ["/v1/me/sessions", f"/v1/users/{alice['id']}/sessions"]:
        for bad, code in [("?limit=0", "INVALID_PARAMETER"), ("?limit=201", "INVALID_PARAMETER"),
                          ("?limit=x", "INVALID_PARAMETER"), ("?cursor=nope", "INVALID_CURSOR")]:
            body = problem(server.get(path + bad, headers=hdr(alice)), 400, code)
            if code == "INVALID_PARAMETER":
                assert body["parameter"] == "limit", body
    # ... the same codes as a declared list's (the users list, for one).
    admin = person(server, "boss", "admin")
    problem(server.get("/v1/users?limit=0", headers=hdr(admin)), 400, "INVALID_PARAMETER")
    problem(server.get("/v1/users?cursor=nope", headers=hdr(admin)), 400, "INVALID_CURSOR")


def test_admins_list_and_end_anyones_sessions(server, admin):
    alice = person(server, "alice", headers={"User-Agent": "alice-laptop"})
    phone = signed_in(server, alice, "alice-phone")
    path = f"/v1/users/{alice['id']}/sessions"
    rows = sessions(server, admin["token"], path)["data"]
    assert [r["user_agent"] for r in rows] == ["alice-phone", "alice-laptop"]
    assert not any(r["current"] for r in rows)           # none is the admin's
    r = server.request("DELETE", f"{path}/{rows[0]['id']}", headers=hdr(admin))
    assert r.status_code == 204, r.text
    assert not works(server, phone) and works(server, alice["token"])
    # A session of someone else, named under alice: not hers.
    admins = sessions(server, admin["token"])["data"][0]["id"]
    r = server.request("DELETE", f"{path}/{admins}", headers=hdr(admin))
    assert r.status_code == 404, r.text
    r = server.post(f"{path}/end-all", headers=hdr(admin))
    assert r.status_code == 200 and r.json() == {"ended": 1}, r.text
    assert not works(server, alice["token"]) and works(server, admin["token"])
    assert sessions(server, admin["token"], path)["data"] == []
    log = server.get(f"/v1/audit-log?entity_id={rows[0]['id']}",
                     headers=hdr(admin)).json()["data"]
    assert [e["action"] for e in log] == ["auth_sessions.end"]
    assert log[0]["changes"] == {"user_id": alice["id"], "reason": "ended_by_staff"}
    log = server.get(f"/v1/audit-log?entity_type=users&entity_id={alice['id']}",
                     headers=hdr(admin)).json()["data"]
    assert any(e["action"] == "auth_sessions.end_others" and e["changes"]["ended"] == 1
               for e in log), log


def test_an_admin_ending_all_their_own_keeps_the_one_they_use(server, admin):
    other = signed_in(server, admin, "second-console")
    r = server.post(f"/v1/users/{admin['id']}/sessions/end-all", headers=hdr(admin))
    assert r.status_code == 200 and r.json() == {"ended": 1}, r.text
    assert works(server, admin["token"]) and not works(server, other)


def test_users_the_caller_may_not_see_are_not_found(server, admin):
    alice, bob = person(server, "alice"), person(server, "bob")
    bobs = sessions(server, bob["token"])["data"][0]["id"]
    for method, path in [("GET", f"/v1/users/{bob['id']}/sessions"),
                         ("DELETE", f"/v1/users/{bob['id']}/sessions/{bobs}"),
                         ("POST", f"/v1/users/{bob['id']}/sessions/end-all")]:
        r = server.request(method, path, headers=hdr(alice))
        assert r.status_code == 404, (method, path, r.text)
    assert works(server, bob["token"])
    # Through the users' routes a person reaches their own, as at /v1/me.
    assert len(sessions(server, alice["token"], f"/v1/users/{alice['id']}/sessions")
               ["data"]) == 1
    for uid in ["0190f2a4-1111-7000-8000-00000000000a", "nobody"]:
        r = server.get(f"/v1/users/{uid}/sessions", headers=hdr(admin))
        assert r.status_code == 404, (uid, r.text)


def test_without_the_permissions_sessions_are_neither_listed_nor_ended(server, admin):
    alice = person(server, "alice")
    perms = server.get("/v1/roles/member", headers=hdr(admin)).json()["permissions"]
    keep = [p for p in perms if not p.startswith("auth_sessions:")]
    r = server.request("PUT", "/v1/roles/member/permissions", headers=hdr(admin),
                       json={"permissions": keep})
    assert r.status_code == 200, r.text
    assert server.get("/v1/me/sessions", headers=hdr(alice)).status_code == 403
    assert server.post("/v1/me/sessions/end-others", headers=hdr(alice)).status_code == 403
    mine = "0190f2a4-1111-7000-8000-00000000000a"
    r = server.request("DELETE", f"/v1/me/sessions/{mine}", headers=hdr(alice))
    assert r.status_code == 403, r.text


@pytest.mark.dialect
def test_a_session_past_its_idle_timeout_is_not_listed_nor_ended(server, db):
    alice = person(server, "alice")
    laptop = signed_in(server, alice, "laptop")
    sid = next(r["id"] for r in sessions(server, alice["token"])["data"] if not r["current"])
    db.execute(f"UPDATE auth_sessions SET last_activity_at = last_activity_at - "
               f"idle_timeout_ms - 1000 WHERE id = '{sid}'")
    assert [r["id"] for r in sessions(server, alice["token"])["data"]] != [sid]
    assert len(sessions(server, alice["token"])["data"]) == 1
    r = server.request("DELETE", f"/v1/me/sessions/{sid}", headers=hdr(alice))
    assert r.status_code == 404, r.text
    assert not works(server, laptop)


# -- sessions from before migration 0033 ---------------------------------------

def old_session(db, user_id, details):
    """A live session written as before 0033: its details in clear."""
    sid, now = str(uuid.uuid4()), int(time.time() * 1000)
    db.execute("INSERT INTO auth_sessions (id, user_id, token_hash, ip, user_agent, "
               "device_fingerprint, created_at, last_activity_at, idle_timeout_ms, "
               f"expires_at) VALUES ('{sid}', '{user_id}', '{secrets.token_hex(32)}', "
               f"'{details['ip']}', '{details['user_agent']}', "
               f"'{details['device_fingerprint']}', {now}, {now}, 3600000, "
               f"{now + 3600000})")
    return sid


@pytest.mark.dialect
def test_sessions_from_before_0033_are_sealed_at_start_up(server, db, admin):
    """Sessions written in clear before migration 0033 are carried over as
    they were (legacy_plain) and sealed under their user's key when the
    server starts: still listed to the person and to an admin, nowhere in
    clear in the database; those of a user whose key is gone lose them."""
    tag = secrets.token_hex(5)
    ann, bob = person(server, "ann"), person(server, "bob")
    server.stop()
    # Back to the schema before 0033, as a database of then.
    db.execute((MIGRATIONS / db.kind / f"{MIGRATION_0033}.down.sql").read_text())
    db.execute(f"DELETE FROM schema_migrations WHERE name = '{MIGRATION_0033}'")
    details = {"ip": f"198.51.100.{int(tag, 16) % 200 + 20}",
               "user_agent": f"Zyxoldbrowser/{tag}", "device_fingerprint": f"Zyxold{tag}"}
    gone = {k: v + "gone" for k, v in details.items()}
    old = old_session(db, ann["id"], details)
    lost = old_session(db, bob["id"], gone)
    db.execute(f"DELETE FROM user_keys WHERE user_id = '{bob['id']}'")
    server.cli_ok("migrate")
    assert db.count("schema_migrations", f"name = '{MIGRATION_0033}'") == 1
    assert db.count("auth_sessions", f"id IN ('{old}', '{lost}') AND legacy_plain = 1") == 2

    server.start()
    assert db.count("auth_sessions", "legacy_plain = 1") == 0
    assert "event=sessions_sealed rows=1 cleared=1" in server.log()
    mine = {s["id"]: s for s in sessions(server, ann["token"])["data"]}
    theirs = {s["id"]: s for s in sessions(server, admin["token"],
                                           f"/v1/users/{ann['id']}/sessions")["data"]}
    for listed in (mine, theirs):
        assert {k: listed[old][k] for k in details} == details
    assert db.count("auth_sessions", f"id = '{lost}' AND ip IS NULL AND user_agent IS NULL "
                    "AND device_fingerprint IS NULL") == 1
    # Once is enough: a restart finds nothing left to seal.
    server.stop()
    server.start()
    assert server.log().count("event=sessions_sealed") == 1
    server.stop()
    raw = db.raw()
    for value in list(details.values()) + list(gone.values()):
        assert value.encode() not in raw, f"{value} found in clear in the database"


@pytest.mark.dialect
def test_a_session_an_older_binary_writes_after_0035_is_sealed_at_the_next_start(server, db,
                                                                                  admin):
    """During a rolling upgrade a binary from before 0033 still writes its
    sessions' details in clear and names no legacy_plain: since 0035 the
    column's default marks such a row as in clear, so the next start-up seals
    it (this binary's own rows say 0 outright). Listed opened, nowhere in
    clear."""
    tag = secrets.token_hex(5)
    ann = person(server, "ann")
    assert db.count("auth_sessions", f"user_id = '{ann['id']}'") == 1
    assert db.count("auth_sessions", "legacy_plain = 1") == 0
    server.stop()
    details = {"ip": f"198.51.100.{int(tag, 16) % 200 + 20}",
               "user_agent": f"Zyxrolling/{tag}", "device_fingerprint": f"Zyxroll{tag}"}
    old = old_session(db, ann["id"], details)
    server.start()
    assert db.count("auth_sessions", "legacy_plain = 1") == 0
    assert "event=sessions_sealed rows=1 cleared=0" in server.log()
    mine = {s["id"]: s for s in sessions(server, ann["token"])["data"]}
    assert {k: mine[old][k] for k in details} == details
    server.stop()
    raw = db.raw()
    for value in details.values():
        assert value.encode() not in raw, f"{value} found in clear in the database"


@pytest.mark.dialect
def test_an_older_binarys_sealed_session_marked_in_clear_still_opens(server, db):
    """The binary from before 0035 (migrations up to 0034) names no
    legacy_plain when it inserts a session and then writes its details
    sealed: under 0035's default the row reads as in clear. The next start
    tries each value under the person's key first: one that opens is kept
    as it is, not sealed a second time (which would leave it unreadable)."""
    tag = secrets.token_hex(5)
    agent = f"Zyxsealed/{tag}"
    ann = person(server, "ann", headers={"User-Agent": agent})
    (mine,) = sessions(server, ann["token"])["data"]
    assert mine["user_agent"] == agent
    server.stop()
    db.execute("UPDATE auth_sessions SET legacy_plain = 1")
    server.start()
    assert db.count("auth_sessions", "legacy_plain = 1") == 0
    (again,) = sessions(server, ann["token"])["data"]
    assert again["id"] == mine["id"]
    assert again["user_agent"] == agent
    assert again["ip"] == mine["ip"] and again["ip"] is not None
    assert "event=sessions_sealed rows=0 cleared=0 kept=1" in server.log()
    server.stop()
    assert agent.encode() not in db.raw()


@pytest.mark.postgres_only
@pytest.mark.dialect
def test_a_legacy_session_another_process_holds_is_waited_for_not_left_in_clear(server, db):
    """A row another process has locked (FOR UPDATE SKIP LOCKED passes it
    over) may yet be rolled back, that process crashing: the start-up then
    waits for it rather than leave its details in clear."""
    import psycopg2
    tag = secrets.token_hex(5)
    ann = person(server, "ann")
    server.stop()
    details = {"ip": f"198.51.100.{int(tag, 16) % 200 + 20}",
               "user_agent": f"Zyxheld/{tag}", "device_fingerprint": f"Zyxheld{tag}"}
    old = old_session(db, ann["id"], details)
    assert db.count("auth_sessions", "legacy_plain = 1") == 1
    con = psycopg2.connect(db.url)
    try:
        con.cursor().execute(f"SELECT id FROM auth_sessions WHERE id = '{old}' FOR UPDATE")
        # The other process gives up its lock without sealing (rolls back).
        timer = threading.Timer(2.0, con.rollback)
        timer.start()
        server.start()
        timer.join()
    finally:
        con.close()
    assert db.count("auth_sessions", "legacy_plain = 1") == 0
    mine = {s["id"]: s for s in sessions(server, ann["token"])["data"]}
    assert {k: mine[old][k] for k in details} == details
    server.stop()
    for value in details.values():
        assert value.encode() not in db.raw(), f"{value} found in clear in the database"


@pytest.mark.postgres_only
@pytest.mark.dialect
def test_a_legacy_session_held_past_the_lock_timeout_does_not_stop_the_start(server, db):
    """A row held for longer than the second pass waits (an older binary's
    transaction left idle) is left for the next start with a warning: the
    start goes on, where it waited for the statement timeout and failed."""
    import psycopg2
    tag = secrets.token_hex(5)
    ann = person(server, "ann")
    server.stop()
    details = {"ip": f"198.51.100.{int(tag, 16) % 200 + 20}",
               "user_agent": f"Zyxidle/{tag}", "device_fingerprint": f"Zyxidle{tag}"}
    old = old_session(db, ann["id"], details)
    con = psycopg2.connect(db.url)
    try:
        con.cursor().execute(f"SELECT id FROM auth_sessions WHERE id = '{old}' FOR UPDATE")
        began = time.monotonic()
        server.start()
        took = time.monotonic() - began
    finally:
        con.rollback()
        con.close()
    assert "event=sessions_seal_unfinished" in server.log()
    assert took < 25, took                        # lock_timeout 5 s, not the 30 s statement's
    assert db.count("auth_sessions", "legacy_plain = 1") == 1
    server.stop()
    server.start()                                # the next start seals it
    assert db.count("auth_sessions", "legacy_plain = 1") == 0
    mine = {s["id"]: s for s in sessions(server, ann["token"])["data"]}
    assert {k: mine[old][k] for k in details} == details


@pytest.mark.postgres_only
@pytest.mark.dialect
def test_two_servers_starting_together_share_the_legacy_sessions_out(start_server, db):
    """Two processes started at once on one PostgreSQL database with many
    sessions from before 0033 both come up, and between them seal each row
    once: each takes rows the other has not locked (FOR UPDATE SKIP LOCKED),
    so neither waits on, redoes or miscounts the other's (their log lines
    add up to the rows there were, none "cleared": every user has a key)."""
    rows = 10000
    first = start_server(db=db)
    people = [person(first, f"p{i}") for i in range(3)]
    first.stop()
    db.execute((MIGRATIONS / db.kind / f"{MIGRATION_0033}.down.sql").read_text())
    db.execute(f"DELETE FROM schema_migrations WHERE name = '{MIGRATION_0033}'")
    now = int(time.time() * 1000)
    values = ", ".join(
        f"('{uuid.uuid4()}', '{people[i % 3]['id']}', '{secrets.token_hex(32)}', "
        f"'198.51.100.{i % 200 + 20}', 'Zyxagent/{i}', 'Zyxdev{i}', {now}, {now}, "
        f"3600000, {now + 3600000})" for i in range(rows))
    db.execute("INSERT INTO auth_sessions (id, user_id, token_hash, ip, user_agent, "
               "device_fingerprint, created_at, last_activity_at, idle_timeout_ms, "
               f"expires_at) VALUES {values}")
    first.cli_ok("migrate")
    assert db.count("auth_sessions", "legacy_plain = 1") == rows
    pair = [start_server(db=db, migrate=False, start=False) for _ in range(2)]
    failed = []

    def up(srv):
        try:
            srv.start(migrate=False)
        except BaseException as exc:  # pytest.fail raises an outcome, not an Exception
            failed.append(f"{srv.tag}: {exc}")

    threads = [threading.Thread(target=up, args=(s,)) for s in pair]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failed, "\n".join(failed)
    assert all(s.alive() for s in pair)
    assert db.count("auth_sessions", "legacy_plain = 1") == 0
    sealed = cleared = 0
    for s in pair:
        log = s.log()
        assert "event=sessions_seal_failed" not in log
        for m in re.finditer(r"event=sessions_sealed rows=(\d+) cleared=(\d+)", log):
            sealed += int(m.group(1))
            cleared += int(m.group(2))
        assert s.get("/v1/me", headers=hdr(people[0]["token"])).status_code == 200
    assert (sealed, cleared) == (rows, 0)
