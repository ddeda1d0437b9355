"""Partner correctness fixes (issue 6 follow-up): an admin's change of
therapy_sessions_remaining never overwrites a session the booking webhook
spent since the admin's read (If-Match required, 428; stale, 412); partner
names are unique and found without regard to case by one Unicode folding in
C (name_key), the same on SQLite and PostgreSQL, filled at start-up for
older rows; validate-code's 422 does not quote the caller's keys; after an
erasure the SQLite -wal file holds none of the erased row's old values.
Runs on SQLite and PostgreSQL."""

import secrets
import urllib.parse

import pytest

from conftest import (PASSWORD, SIMPLYBOOK_SECRET, access_counts, hdr, make_partner, person,
                      post_booking, problem, register)

ENV = dict(CAREBASE_SIMPLYBOOK_WEBHOOK_SECRET=SIMPLYBOOK_SECRET)


def new_access(server, admin, partner, sessions=6):
    r = server.post("/v1/partner-access", headers=hdr(admin), json={
        "partner_id": partner["id"], "feature_therapy": True, "feature_live_chat": True,
        "therapy_sessions_remaining": sessions})
    assert r.status_code == 201, r.text
    return r


@pytest.fixture
def server(start_server, db):
    return start_server(db=db, env=ENV)


# -- 1. sessions: a spent session is never overwritten -------------------------------

@pytest.mark.dialect
def test_changing_sessions_needs_the_etag_read_after_the_last_spend(server, db, admin):
    partner = make_partner(server, admin, "Bumble")
    member = person(server, "member")
    r = new_access(server, admin, partner, sessions=6)
    created_etag = r.headers["ETag"]
    acc = r.json()
    r = server.post("/v1/partner-access/assign", headers=hdr(member),
                    json={"code": acc["code"]})
    assert r.status_code == 200, r.text
    path = f"/v1/partner-access/{acc['id']}"

    # The admin reads the access ...
    r = server.get(path, headers=hdr(admin))
    assert r.status_code == 200 and r.json()["therapy_sessions_remaining"] == 6
    read_etag = r.headers["ETag"]
    assert read_etag.startswith('W/"') and read_etag != created_etag   # redeemed since
    # ... the booking system spends a session meanwhile ...
    r = post_booking(server, member["email"])
    assert r.status_code == 200, r.text
    assert access_counts(db, acc["id"]) == (5, 1)
    # ... and the admin's write of an absolute value is refused, whether it
    # names no ETag or the stale one: nothing is lost.
    before = db.count("audit_log", f"entity_id = '{acc['id']}'")
    body = problem(server.request("PATCH", path, headers=hdr(admin),
                                  json={"therapy_sessions_remaining": 10}),
                   428, "PRECONDITION_REQUIRED")
    assert "If-Match" in body["detail"]
    problem(server.request("PATCH", path, headers=hdr(admin, **{"If-Match": read_etag}),
                           json={"therapy_sessions_remaining": 10}),
            412, "PRECONDITION_FAILED")
    problem(server.request("PATCH", path, headers=hdr(admin, **{"If-Match": read_etag}),
                           json={"is_active": False}),
            412, "PRECONDITION_FAILED")
    assert access_counts(db, acc["id"]) == (5, 1)
    assert db.count("audit_log", f"entity_id = '{acc['id']}'") == before

    # Read again: a fresh ETag, and the change goes through.
    r = server.get(path, headers=hdr(admin))
    fresh = r.headers["ETag"]
    assert fresh != read_etag and r.json()["therapy_sessions_remaining"] == 5
    r = server.request("PATCH", path, headers=hdr(admin, **{"If-Match": fresh}),
                       json={"therapy_sessions_remaining": 10})
    assert r.status_code == 200, r.text
    assert r.json()["therapy_sessions_remaining"] == 10
    assert r.headers["ETag"] not in (fresh, read_etag)
    assert r.headers["ETag"] == server.get(path, headers=hdr(admin)).headers["ETag"]
    assert access_counts(db, acc["id"]) == (10, 1)
    # "*" matches any state, so it would overwrite a spend just the same:
    # refused for the sessions; a list naming the current ETag is honoured.
    for star in ("*", "*  "):
        body = problem(server.request("PATCH", path, headers=hdr(admin, **{"If-Match": star}),
                                      json={"therapy_sessions_remaining": 9}),
                       428, "PRECONDITION_REQUIRED")
        assert "not *" in body["detail"]
    assert access_counts(db, acc["id"]) == (10, 1)
    r = server.request("PATCH", path, headers=hdr(admin, **{"If-Match": "*"}),
                       json={"feature_live_chat": True})
    assert r.status_code == 200, r.text
    cur = r.headers["ETag"]
    r = server.request("PATCH", path,
                       headers=hdr(admin, **{"If-Match": f'W/"nope", {cur}'}),
                       json={"therapy_sessions_remaining": 8})
    assert r.status_code == 200, r.text
    assert access_counts(db, acc["id"]) == (8, 1)
    # Flags alone need no If-Match: a spend does not touch them.
    r = server.request("PATCH", path, headers=hdr(admin), json={"feature_live_chat": False})
    assert r.status_code == 200 and r.json()["feature_live_chat"] is False
    # Bad input is still a 422 before any If-Match question.
    problem(server.request("PATCH", path, headers=hdr(admin),
                           json={"therapy_sessions_remaining": 51}), 422, "VALIDATION_FAILED")


def test_a_star_anywhere_in_if_match_is_refused_for_the_sessions(server, db, admin):
    """"*" in a list matches any state as a lone "*" does: for a FIELD_IF_MATCH
    field it is refused (428) wherever it stands, even beside the current ETag;
    without it, only the current ETag passes (412 otherwise)."""
    partner = make_partner(server, admin, "Hinge")
    acc = new_access(server, admin, partner, sessions=6).json()
    path = f"/v1/partner-access/{acc['id']}"
    cur = server.get(path, headers=hdr(admin)).headers["ETag"]
    before = db.count("audit_log", f"entity_id = '{acc['id']}'")
    for im in ('"stale", *', 'W/"x",*', f'{cur}, *', '*, W/"x"'):
        body = problem(server.request("PATCH", path, headers=hdr(admin, **{"If-Match": im}),
                                      json={"therapy_sessions_remaining": 9}),
                       428, "PRECONDITION_REQUIRED")
        assert "not *" in body["detail"], im
    problem(server.request("PATCH", path, headers=hdr(admin, **{"If-Match": '"stale", W/"x"'}),
                           json={"therapy_sessions_remaining": 9}),
            412, "PRECONDITION_FAILED")
    assert access_counts(db, acc["id"]) == (6, 0)
    assert db.count("audit_log", f"entity_id = '{acc['id']}'") == before
    # Other fields keep the ordinary rule: a "*" in a list matches.
    r = server.request("PATCH", path, headers=hdr(admin, **{"If-Match": '"stale", *'}),
                       json={"feature_live_chat": False})
    assert r.status_code == 200, r.text
    r = server.request("PATCH", path, headers=hdr(admin, **{"If-Match": f'"stale", {r.headers["ETag"]}'}),
                       json={"therapy_sessions_remaining": 9})
    assert r.status_code == 200, r.text
    assert access_counts(db, acc["id"]) == (9, 0)


@pytest.mark.dialect
def test_a_spend_after_the_read_is_kept_for_partner_admin_rows_too(server, db, admin):
    """The members' own view and the partner admin's carry an ETag as well."""
    partner = make_partner(server, admin, "Badoo")
    member = person(server, "member")
    acc = new_access(server, admin, partner, sessions=2).json()
    assert server.post("/v1/partner-access/assign", headers=hdr(member),
                       json={"code": acc["code"]}).status_code == 200
    r = server.get(f"/v1/partner-access/{acc['id']}", headers=hdr(member))
    assert r.status_code == 200 and r.headers.get("ETag")
    etag = server.get(f"/v1/partner-access/{acc['id']}", headers=hdr(admin)).headers["ETag"]
    assert post_booking(server, member["email"]).status_code == 200
    assert post_booking(server, member["email"]).status_code == 200
    problem(post_booking(server, member["email"]), 403, "NO_THERAPY_SESSIONS_LEFT")
    problem(server.request("PATCH", f"/v1/partner-access/{acc['id']}",
                           headers=hdr(admin, **{"If-Match": etag}),
                           json={"therapy_sessions_remaining": 2}), 412, "PRECONDITION_FAILED")
    assert access_counts(db, acc["id"]) == (0, 2)


# -- 2. partner names: one Unicode folding on both databases --------------------------

def public(server, name):
    return server.get("/v1/partners/" + urllib.parse.quote(name, safe=""))


@pytest.mark.dialect
def test_partner_names_are_unique_in_any_unicode_case(server, db, admin):
    first = make_partner(server, admin, "Ärzte ohne Grenzen")
    for dup in ("ärzte ohne grenzen", "ÄRZTE OHNE GRENZEN", "äRZTE oHNE gRENZEN"):
        problem(server.post("/v1/partners", headers=hdr(admin), json={"name": dup}),
                409, "NAME_TAKEN")
    make_partner(server, admin, "Σοφία")
    problem(server.post("/v1/partners", headers=hdr(admin), json={"name": "ΣΟΦΊΑ"}),
            409, "NAME_TAKEN")
    make_partner(server, admin, "Москва")
    problem(server.post("/v1/partners", headers=hdr(admin), json={"name": "МОСКВА"}),
            409, "NAME_TAKEN")
    make_partner(server, admin, "Łódź")
    problem(server.post("/v1/partners", headers=hdr(admin), json={"name": "ŁÓDŹ"}),
            409, "NAME_TAKEN")
    # Different letters are different names.
    make_partner(server, admin, "Arzte ohne Grenzen")
    assert db.count("partners") == 5
    key = db.scalar(f"SELECT name_key FROM partners WHERE id = '{first['id']}'")
    assert key == "ärzte ohne grenzen"

    # The public branding answers to any case of the name.
    for name in ("Ärzte ohne Grenzen", "ärzte ohne grenzen", "ÄRZTE OHNE GRENZEN"):
        r = public(server, name)
        assert r.status_code == 200, (name, r.text)
        assert r.json()["name"] == "Ärzte ohne Grenzen"
    assert public(server, "москва").json()["name"] == "Москва"
    problem(public(server, "ärzte ohne grenze"), 404, "NOT_FOUND")

    # The key is the server's: never answered, never taken as input.
    r = server.get("/v1/partners", headers=hdr(admin))
    assert all("name_key" not in p for p in r.json()["data"])
    b = problem(server.post("/v1/partners", headers=hdr(admin),
                            json={"name": "Other", "name_key": "x"}), 422, "VALIDATION_FAILED")
    assert b["errors"][0]["field"] == "name_key"

    # Renames: to another's name in another case, refused; its own, accepted.
    other = db.scalar("SELECT id FROM partners WHERE name = 'Arzte ohne Grenzen'")
    problem(server.request("PATCH", f"/v1/partners/{other}", headers=hdr(admin),
                           json={"name": "ÄRZTE OHNE GRENZEN"}), 409, "NAME_TAKEN")
    r = server.request("PATCH", f"/v1/partners/{first['id']}", headers=hdr(admin),
                       json={"name": "ÄRZTE ohne Grenzen"})
    assert r.status_code == 200, r.text
    assert public(server, "ärzte OHNE grenzen").json()["name"] == "ÄRZTE ohne Grenzen"
    r = server.request("PATCH", f"/v1/partners/{other}", headers=hdr(admin),
                       json={"name": "Ärzte für Alle"})
    assert r.status_code == 200, r.text
    assert db.scalar(f"SELECT name_key FROM partners WHERE id = '{other}'") == "ärzte für alle"


def test_codes_and_registration_find_the_partner_in_any_case(server, db, admin):
    partner = make_partner(server, admin, "Ärzte ohne Grenzen")
    acc = new_access(server, admin, partner).json()
    r = server.post("/v1/partner-access/validate-code",
                    json={"code": acc["code"], "partner": "ÄRZTE OHNE GRENZEN"})
    assert r.status_code == 200, r.text
    assert r.json()["partner_name"] == "Ärzte ohne Grenzen"
    problem(server.post("/v1/partner-access/validate-code",
                        json={"code": acc["code"], "partner": "Ärzte"}), 400, "DOES_NOT_EXIST")
    email = f"reg.{secrets.token_hex(3)}@example.org"
    r = register(server, email, first_name="Pat", date_of_birth="1990-01-01", country="GB",
                 partner_access_code=acc["code"], partner="ärzte ohne grenzen")
    assert r.status_code == 201, r.text
    assert db.scalar(f"SELECT user_id FROM partner_access WHERE id = '{acc['id']}'") is not None
    # An admin names the partner of a new access by id only; by name it is
    # the public routes and registration.


@pytest.mark.dialect
def test_name_keys_are_filled_at_start_up(start_server, db):
    s = start_server(db=db, env=ENV)
    admin = person(s, "admin", "admin")
    a = make_partner(s, admin, "Ärzte ohne Grenzen")
    z = make_partner(s, admin, "ZETA")
    s.stop()
    # As migration 0012 leaves older rows: no key. A second row that only
    # SQLite's lower() told apart from the first one is there too.
    dup = "01ffffff-ffff-7fff-bfff-ffffffffd0b1"       # sorts after a's and z's ids
    for sql in ("UPDATE partners SET name_key = NULL",
                "INSERT INTO partners (id, name, is_active, social_links, created_at, "
                f"updated_at) VALUES ('{dup}', 'ÄRZTE OHNE GRENZEN', 1, '{{}}', 1, 1)"):
        db.execute(sql)
    assert db.count("partners", "name_key IS NULL") == 3
    s = start_server(db=db, env=ENV)
    keys = dict(db.query("SELECT id, name_key FROM partners"))
    assert keys[a["id"]] == "ärzte ohne grenzen"
    assert keys[z["id"]] == "zeta"
    assert keys[dup] is None        # the key was taken: found by id only
    assert public(s, "ärzte ohne grenzen").json()["name"] == "Ärzte ohne Grenzen"
    assert public(s, "zeta").status_code == 200
    s.stop()
    # A second start changes nothing and starts.
    s = start_server(db=db, env=ENV)
    assert dict(db.query("SELECT id, name_key FROM partners")) == keys
    s.stop()


# -- 3. validate-code does not quote the caller's keys --------------------------------

@pytest.mark.parametrize("path", ["/v1/partner-access/validate-code",
                                  "/v1/partner-access/assign"])
def test_unknown_members_are_refused_without_quoting_them(server, admin, path):
    member = person(server, "member")
    evil = "<script>alert(1)</script>" + secrets.token_hex(4)
    r = server.post(path, headers=hdr(member),
                    json={"code": "ABC234", evil: 1, "other" + evil: 2})
    body = problem(r, 422, "VALIDATION_FAILED")
    assert evil not in r.text and "script" not in r.text
    assert body["errors"] == [{"field": "", "code": "unknown_field",
                               "detail": "the body holds code and partner only"}]


# -- 4. erasure leaves nothing of the erased row in the -wal file ---------------------

def test_erasure_leaves_no_old_page_in_the_wal(server, db, admin):
    """The device fingerprint of a login is kept (sealed) in auth_sessions
    until the person is erased; the sealed bytes stand for the row here.
    Scanned while the server runs (closing the last connection would
    checkpoint anyway)."""
    tag = "Fprint" + secrets.token_hex(8)
    victim = person(server, "victim", headers={"X-Device-Fingerprint": tag})
    where = f"user_id = '{victim['id']}' AND device_fingerprint IS NOT NULL"
    assert db.count("auth_sessions", where) == 1
    if db.kind == "sqlite":
        sealed = bytes.fromhex(db.scalar(
            f"SELECT hex(device_fingerprint) FROM auth_sessions WHERE {where}"))
        assert tag.encode() not in db.raw()
        assert sealed in db.raw()            # the scan can see it
    r = server.request("DELETE", "/v1/me", headers=hdr(victim), json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    assert db.count("auth_sessions", where) == 0
    if db.kind == "sqlite":
        assert sealed not in db.raw()
        assert "db_checkpoint_busy" not in server.log()
    # The server goes on working after the checkpoint.
    assert server.get("/v1/me", headers=hdr(admin)).status_code == 200
