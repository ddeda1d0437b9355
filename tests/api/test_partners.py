"""Partners and partner access codes (issue 6, parts 1 and 2): partners with
branding (public by name), features, partner features, partner admins, the
deactivation cascade; partner access created by partner admins for their own
partner only (0..6 sessions; admins 0..50), codes from an unambiguous
alphabet stored as keyed hashes, validate-code and assign with every error
code, guess throttling per address and per account, exactly one winner of 50
parallel redemptions, redemption at registration and automatic access.
Runs on SQLite and PostgreSQL."""

import hashlib
import re
import secrets
import threading

import pytest
import requests

from conftest import PASSWORD, assign, hdr, login, make_partner, new_code, person, problem

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
YEAR_MS = 366 * 24 * 3600 * 1000


def register_body(email, **extra):
    body = {"email": email, "password": PASSWORD, "accept_terms": True,
            "first_name": "Pat", "date_of_birth": "1990-01-01", "country": "GB"}
    body.update(extra)
    return body


def branded_partner(server, admin, name, **extra):
    """A partner with every branding field set (extra changes them)."""
    branding = {"logo_url": "https://cdn.example.org/logo.png", "logo_alt": f"{name} logo",
                "website": "https://example.org", "footer_line1": "Line one",
                "footer_line2": "Line two",
                "social_links": {"instagram": "https://instagram.com/x"}}
    branding.update(extra)
    return make_partner(server, admin, name, **branding)


def feature_id(server, admin, name):
    r = server.get(f"/v1/features?name={name}", headers=hdr(admin))
    assert r.status_code == 200, r.text
    return r.json()["data"][0]["id"]


def switch_on(server, admin, partner, feature):
    r = server.post("/v1/partner-features", headers=hdr(admin), json={
        "partner_id": partner["id"], "feature_id": feature_id(server, admin, feature)})
    assert r.status_code == 201, r.text
    return r.json()


def make_partner_admin(server, admin, partner, name):
    who = person(server, name, "partner_admin")
    r = server.post("/v1/partner-admins", headers=hdr(admin),
                    json={"user_id": who["id"], "partner_id": partner["id"]})
    assert r.status_code == 201, r.text
    who["admin_row"] = r.json()
    return who


def validate(server, code, who=None, **extra):
    body = {"code": code}
    body.update(extra)
    return server.post("/v1/partner-access/validate-code", json=body,
                       headers=hdr(who) if who else {})


def absent_code(db):
    """A well-formed code that no access has (the table holds only hashes,
    so pick one and make sure nothing redeems it: the space is 887M)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(6))


@pytest.fixture
def world(server):
    w = {"admin": person(server, "admin", "admin")}
    w["a"] = branded_partner(server, w["admin"], "Bumble")
    w["b"] = branded_partner(server, w["admin"], "Badoo")
    w["pa_a"] = make_partner_admin(server, w["admin"], w["a"], "pa-a")
    w["pa_b"] = make_partner_admin(server, w["admin"], w["b"], "pa-b")
    w["m1"] = person(server, "member1")
    w["m2"] = person(server, "member2")
    return w


# -- schema -----------------------------------------------------------------

def test_schema_seeds_features_and_grants(server, db):
    tables = set(db.tables())
    for t in ("partners", "features", "partner_features", "partner_admins",
              "partner_access", "partner_code_failures"):
        assert t in tables
    names = {r[0] for r in db.query("SELECT name FROM features")}
    assert {"automatic_access_code", "therapy", "live_chat"} <= names
    assert db.count("role_permissions", "role = 'partner_admin' AND "
                    "permission = 'partner_access:create:related'") == 1
    assert db.count("role_permissions", "role = 'member' AND "
                    "permission = 'partner_access:assign:own'") == 1
    assert db.count("role_permissions", "role = 'member' AND "
                    "permission LIKE 'partner_access:create:%'") == 0


# -- partners, features, admins ----------------------------------------------

def test_partners_are_managed_by_admins_only(server, world):
    w = world
    body = {"name": "Hinge"}
    r = server.post("/v1/partners", json=body)
    problem(r, 401, "UNAUTHORIZED")
    for who in ("m1", "pa_a"):
        problem(server.post("/v1/partners", headers=hdr(w[who]), json=body), 403, "FORBIDDEN")
        problem(server.get("/v1/partners", headers=hdr(w[who])), 403, "FORBIDDEN")
    # Unique without regard to case, on create and on change.
    problem(server.post("/v1/partners", headers=hdr(w["admin"]), json={"name": "bUMBLE"}),
            409, "NAME_TAKEN")
    r = server.request("PATCH", f"/v1/partners/{w['b']['id']}", headers=hdr(w["admin"]),
                       json={"name": "BUMBLE"})
    problem(r, 409, "NAME_TAKEN")
    # Bounded, well-formed input.
    for bad, field in (({"name": "x" * 65}, "name"), ({"name": "a/b"}, "name"),
                       ({"name": " padded"}, "name"),
                       ({"name": "Ok", "logo_url": "javascript:alert(1)"}, "logo_url"),
                       ({"name": "Ok", "website": "ftp://x.org"}, "website"),
                       ({"name": "Ok", "social_links": ["https://x.org"]}, "social_links"),
                       ({"name": "Ok", "social_links": {"Bad Key": "https://x.org"}},
                        "social_links"),
                       ({"name": "Ok", "social_links": {"x": "not a url"}}, "social_links"),
                       ({"name": "Ok", "social_links": {f"n{i}": "https://x.org"
                                                        for i in range(17)}}, "social_links"),
                       ({"name": "Ok", "nonsense": 1}, "nonsense")):
        r = server.post("/v1/partners", headers=hdr(w["admin"]), json=bad)
        body = problem(r, 422, "VALIDATION_FAILED")
        assert field in [e["field"] for e in body["errors"]], body
    r = server.request("PATCH", f"/v1/partners/{w['a']['id']}", headers=hdr(w["admin"]),
                       json={"footer_line1": "New footer", "social_links": {
                           "tiktok": "https://tiktok.com/@x"}})
    assert r.status_code == 200, r.text
    assert r.json()["footer_line1"] == "New footer"
    r = server.get("/v1/partners?name=Bumble", headers=hdr(w["admin"]))
    assert [p["id"] for p in r.json()["data"]] == [w["a"]["id"]]
    # A partner is never deleted: deactivate it instead.
    r = server.request("DELETE", f"/v1/partners/{w['a']['id']}", headers=hdr(w["admin"]))
    assert r.status_code == 405, r.text


def test_public_branding_by_name_is_anonymous_and_branding_only(server, world):
    w = world
    switch_on(server, w["admin"], w["a"], "automatic_access_code")
    pf = switch_on(server, w["admin"], w["a"], "live_chat")
    r = server.request("PATCH", f"/v1/partner-features/{pf['id']}", headers=hdr(w["admin"]),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    for name in ("Bumble", "bumble", "BUMBLE"):
        r = server.get(f"/v1/partners/{name}")
        assert r.status_code == 200, r.text
        b = r.json()
        assert set(b) == {"name", "logo_url", "logo_alt", "website", "footer_line1",
                          "footer_line2", "social_links", "brand_colour", "features"}, b
        assert b["name"] == "Bumble" and b["logo_alt"] == "Bumble logo"
        assert b["social_links"] == {"instagram": "https://instagram.com/x"}
        assert b["features"] == ["automatic_access_code"]   # live_chat is off
    text = server.get("/v1/partners/Bumble").text
    for secret in (w["a"]["id"], w["pa_a"]["id"], w["pa_a"]["admin_row"]["id"]):
        assert secret not in text
    # A bad token does not matter on a public route; an unknown name is 404.
    r = server.get("/v1/partners/Bumble", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 200
    problem(server.get("/v1/partners/Nobody"), 404, "NOT_FOUND")
    # Names with blanks and symbols travel percent-encoded.
    branded_partner(server, w["admin"], "Mind & Co. Café")
    r = server.get("/v1/partners/mind%20%26%20co.%20Caf%C3%A9")
    assert r.status_code == 200 and r.json()["name"] == "Mind & Co. Café", r.text
    problem(server.get("/v1/partners/" + "x" * 300), 404, "NOT_FOUND")
    r = server.request("PATCH", f"/v1/partners/{w['b']['id']}", headers=hdr(w["admin"]),
                       json={"is_active": False})
    assert r.status_code == 200
    problem(server.get("/v1/partners/Badoo"), 404, "NOT_FOUND")


BRANDING = {"name", "logo_url", "logo_alt", "website", "footer_line1", "footer_line2",
            "social_links", "brand_colour", "features"}


def test_admins_read_a_partner_by_id_and_anyone_else_its_branding(server, world):
    """GET /v1/partners/{id}: a UUID is an id, anything else a name."""
    w = world
    a, b = w["a"], w["b"]
    # Admins: the partner as declared, with its ETag (PATCH by id took it
    # already; GET by id answered 404, the id taken for a name).
    r = server.get(f"/v1/partners/{a['id']}", headers=hdr(w["admin"]))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == a["id"] and got["name"] == "Bumble" and got["is_active"] is True
    assert {"created_at", "updated_at", "created_by"} <= set(got), got
    assert got == server.get("/v1/partners?name=Bumble",
                             headers=hdr(w["admin"])).json()["data"][0]
    etag = r.headers["ETag"]
    r = server.get(f"/v1/partners/{a['id']}", headers={**hdr(w["admin"]),
                                                       "If-None-Match": etag})
    assert r.status_code == 304, r.text
    r = server.request("PATCH", f"/v1/partners/{a['id']}", headers={
        **hdr(w["admin"]), "If-Match": etag}, json={"footer_line1": "By id"})
    assert r.status_code == 200, r.text
    assert server.get(f"/v1/partners/{a['id']}",
                      headers=hdr(w["admin"])).json()["footer_line1"] == "By id"
    # A deactivated partner: admins still read it by id; nobody else.
    r = server.request("PATCH", f"/v1/partners/{b['id']}", headers=hdr(w["admin"]),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    r = server.get(f"/v1/partners/{b['id']}", headers=hdr(w["admin"]))
    assert r.status_code == 200 and r.json()["is_active"] is False, r.text
    # Anyone else by id: the public branding, the same as by name.
    by_name = server.get("/v1/partners/Bumble").json()
    for who in (None, w["m1"], w["pa_a"]):
        h = {} if who is None else hdr(who)
        r = server.get(f"/v1/partners/{a['id']}", headers=h)
        assert r.status_code == 200, (who, r.text)
        assert set(r.json()) == BRANDING and r.json() == by_name, r.json()
        problem(server.get(f"/v1/partners/{b['id']}", headers=h), 404, "NOT_FOUND")
    # By id a token is used, so one that is not valid is refused (by name
    # it is never looked at).
    problem(server.get(f"/v1/partners/{a['id']}", headers=hdr("not-a-token")),
            401, "UNAUTHORIZED")
    assert server.get("/v1/partners/Bumble", headers=hdr("not-a-token")).status_code == 200
    # A UUID in upper case is the same id (ids are kept in lower case), for
    # reads and changes, for admins and for anyone else.
    up = a["id"].upper()
    r = server.get(f"/v1/partners/{up}", headers=hdr(w["admin"]))
    assert r.status_code == 200 and r.json()["id"] == a["id"], r.text
    assert server.get(f"/v1/partners/{up}").json() == by_name
    r = server.request("PATCH", f"/v1/partners/{up}", headers={
        **hdr(w["admin"]), "If-Match": r.headers["ETag"]}, json={"footer_line1": "Upper"})
    assert r.status_code == 200 and r.json()["footer_line1"] == "Upper", r.text
    # An id nobody has; by name, admins get the branding as anyone does.
    missing = "0190f2a4-1111-7000-8000-00000000000a"
    for h in ({}, hdr(w["admin"])):
        problem(server.get(f"/v1/partners/{missing}", headers=h), 404, "NOT_FOUND")
    r = server.get("/v1/partners/bumble", headers=hdr(w["admin"]))
    assert r.status_code == 200 and set(r.json()) == BRANDING, r.text
    # So no name may read as a UUID, in any case.
    for name in (missing, missing.upper()):
        body = problem(server.post("/v1/partners", headers=hdr(w["admin"]),
                                   json={"name": name}), 422, "VALIDATION_FAILED")
        assert body["errors"][0]["field"] == "name", body
        r = server.request("PATCH", f"/v1/partners/{a['id']}", headers=hdr(w["admin"]),
                           json={"name": name})
        problem(r, 422, "VALIDATION_FAILED")
    # The document says so, on one path with the change by id.
    doc = server.get("/v1/openapi.json").json()
    item = doc["paths"]["/v1/partners/{id}"]
    assert {"get", "patch"} <= set(item) and "/v1/partners/{name}" not in doc["paths"]
    assert "UUID" in item["get"]["summary"] and item["get"]["security"] == []


@pytest.mark.dialect
def test_partner_features_are_unique_per_partner_and_feature(server, world):
    w = world
    switch_on(server, w["admin"], w["a"], "therapy")
    r = server.post("/v1/partner-features", headers=hdr(w["admin"]), json={
        "partner_id": w["a"]["id"], "feature_id": feature_id(server, w["admin"], "therapy")})
    problem(r, 409, "CONFLICT")
    switch_on(server, w["admin"], w["b"], "therapy")   # another partner: fine
    problem(server.post("/v1/partner-features", headers=hdr(w["pa_a"]), json={
        "partner_id": w["a"]["id"], "feature_id": feature_id(server, w["admin"], "live_chat")}),
        403, "FORBIDDEN")
    r = server.post("/v1/features", headers=hdr(w["admin"]),
                    json={"name": "Not Snake Case"})
    problem(r, 422, "VALIDATION_FAILED")
    r = server.post("/v1/features", headers=hdr(w["admin"]), json={"name": "therapy"})
    problem(r, 409, "CONFLICT")


def test_partner_admins_need_the_role_and_see_their_own_row(server, world):
    w = world
    r = server.post("/v1/partner-admins", headers=hdr(w["admin"]),
                    json={"user_id": w["m1"]["id"], "partner_id": w["a"]["id"]})
    body = problem(r, 422, "VALIDATION_FAILED")
    assert body["errors"][0]["code"] == "not_partner_admin"
    # One partner per partner admin.
    r = server.post("/v1/partner-admins", headers=hdr(w["admin"]),
                    json={"user_id": w["pa_a"]["id"], "partner_id": w["b"]["id"]})
    problem(r, 409, "CONFLICT")
    r = server.get("/v1/partner-admins", headers=hdr(w["pa_a"]))
    assert r.status_code == 200, r.text
    assert [x["user_id"] for x in r.json()["data"]] == [w["pa_a"]["id"]]
    problem(server.get(f"/v1/partner-admins/{w['pa_b']['admin_row']['id']}",
                       headers=hdr(w["pa_a"])), 404, "NOT_FOUND")
    problem(server.post("/v1/partner-admins", headers=hdr(w["pa_a"]),
                        json={"user_id": w["pa_a"]["id"], "partner_id": w["a"]["id"]}),
            403, "FORBIDDEN")


# -- creating codes ------------------------------------------------------------

def test_partner_admin_creates_codes_for_their_own_partner_only(server, world, db):
    w = world
    acc = new_code(server, w["pa_a"])
    code = acc["code"]
    assert re.fullmatch(f"[{ALPHABET}]{{6}}", code), code
    assert acc["partner_id"] == w["a"]["id"] and acc["partner_name"] == "Bumble"
    assert acc["created_by"] == w["pa_a"]["id"] and acc["user_id"] is None
    assert acc["therapy_sessions_remaining"] == 6 and acc["therapy_sessions_redeemed"] == 0
    assert acc["is_active"] is True and acc["activated_at"] is None
    # The code is shown once: never stored, never read back.
    row = db.query(f"SELECT * FROM partner_access WHERE id = '{acc['id']}'")[0]
    assert all(code not in (v or "") and code.lower() not in (v or "") for v in row)
    h = db.scalar(f"SELECT code_hash FROM partner_access WHERE id = '{acc['id']}'")
    assert re.fullmatch("[0-9a-f]{64}", h)
    assert h not in (hashlib.sha256(code.encode()).hexdigest(),
                     hashlib.sha256(f"partner_access:{code}".encode()).hexdigest())
    r = server.get(f"/v1/partner-access/{acc['id']}", headers=hdr(w["pa_a"]))
    assert r.status_code == 200 and "code" not in r.json() and "code_hash" not in r.json()
    # Another partner: refused; the other partner admin cannot see the row.
    problem(server.post("/v1/partner-access", headers=hdr(w["pa_a"]),
                        json={"partner_id": w["b"]["id"]}), 403, "FORBIDDEN")
    for verb, path in (("GET", f"/v1/partner-access/{acc['id']}"),
                       ("PATCH", f"/v1/partner-access/{acc['id']}"),
                       ("DELETE", f"/v1/partner-access/{acc['id']}")):
        kw = {"json": {"is_active": False}} if verb == "PATCH" else {}
        problem(server.request(verb, path, headers=hdr(w["pa_b"]), **kw), 404, "NOT_FOUND")
    new_code(server, w["pa_b"])
    r = server.get("/v1/partner-access", headers=hdr(w["pa_a"]))
    assert r.status_code == 200
    assert {x["partner_id"] for x in r.json()["data"]} == {w["a"]["id"]}
    r = server.get(f"/v1/partner-access?partner_id={w['b']['id']}", headers=hdr(w["pa_a"]))
    assert r.json()["data"] == []
    r = server.get("/v1/partner-access", headers=hdr(w["admin"]))
    assert {x["partner_id"] for x in r.json()["data"]} == {w["a"]["id"], w["b"]["id"]}
    # Members create nothing; anonymous callers are asked to authenticate.
    problem(server.post("/v1/partner-access", headers=hdr(w["m1"]), json={}), 403, "FORBIDDEN")
    problem(server.post("/v1/partner-access", json={}), 401, "UNAUTHORIZED")
    # Every staff write is audited, never with the code.
    rows = db.query(f"SELECT action, changes FROM audit_log WHERE entity_id = '{acc['id']}'")
    assert [r[0] for r in rows] == ["partner_access.create"]
    assert code not in rows[0][1]


@pytest.mark.parametrize("role,value,status", [
    ("pa_a", 0, 201), ("pa_a", 6, 201), ("pa_a", 7, 422), ("pa_a", -1, 422),
    ("admin", 0, 201), ("admin", 50, 201), ("admin", 51, 422), ("admin", -1, 422),
])
def test_therapy_session_bounds_by_role(server, world, role, value, status):
    w = world
    body = {"therapy_sessions_remaining": value, "feature_therapy": True}
    if role == "admin":
        body["partner_id"] = w["a"]["id"]
    r = server.post("/v1/partner-access", headers=hdr(w[role]), json=body)
    if status == 201:
        assert r.status_code == 201, r.text
        assert r.json()["therapy_sessions_remaining"] == value
    else:
        b = problem(r, 422, "VALIDATION_FAILED")
        assert b["errors"][0]["field"] == "therapy_sessions_remaining"
    # Changing one: admins within 0-50; a partner admin never (refilling a
    # spent allowance is for admins).
    acc = new_code(server, w["pa_a"], therapy_sessions_remaining=0)
    etag = server.get(f"/v1/partner-access/{acc['id']}", headers=hdr(w[role])).headers["ETag"]
    r = server.request("PATCH", f"/v1/partner-access/{acc['id']}",
                       headers={**hdr(w[role]), "If-Match": etag},
                       json={"therapy_sessions_remaining": value})
    if status == 201 and role == "admin":
        assert r.status_code == 200, r.text
        assert r.json()["therapy_sessions_remaining"] == value
    else:
        b = problem(r, 422, "VALIDATION_FAILED")
        if role == "pa_a" and 0 <= value <= 6:
            assert b["errors"][0]["code"] == "staff_only", b


def test_create_input_is_checked(server, world):
    w = world
    for body, field in (({"therapy_sessions_remaining": "6"}, "therapy_sessions_remaining"),
                        ({"feature_therapy": "yes"}, "feature_therapy"),
                        ({"code": "ABCDEF"}, "code"), ({"user_id": w["m1"]["id"]}, "user_id"),
                        ({"partner_id": "not-a-uuid"}, "partner_id")):
        b = problem(server.post("/v1/partner-access", headers=hdr(w["pa_a"]), json=body),
                    422, "VALIDATION_FAILED")
        assert field in [e["field"] for e in b["errors"]], b
    # Admins name the partner; an inactive one is refused.
    b = problem(server.post("/v1/partner-access", headers=hdr(w["admin"]), json={}),
                422, "VALIDATION_FAILED")
    assert b["errors"][0]["field"] == "partner_id"
    server.request("PATCH", f"/v1/partners/{w['b']['id']}", headers=hdr(w["admin"]),
                   json={"is_active": False})
    b = problem(server.post("/v1/partner-access", headers=hdr(w["admin"]),
                            json={"partner_id": w["b"]["id"]}), 422, "VALIDATION_FAILED")
    assert b["errors"][0]["code"] == "inactive"


def test_codes_are_random_over_the_alphabet_and_case_insensitive(server, world):
    w = world
    codes = [new_code(server, w["admin"], partner_id=w["a"]["id"])["code"] for _ in range(40)]
    assert len(set(codes)) == 40
    assert set("".join(codes)) <= set(ALPHABET)
    assert not set("".join(codes)) & set("0O1IL")
    r = validate(server, "  " + codes[0].lower() + " ")
    assert r.status_code == 200, r.text
    assert r.json() == {"valid": True, "partner_name": "Bumble", "feature_live_chat": True,
                        "feature_therapy": True, "therapy_sessions_remaining": 6}
    r = validate(server, codes[1], partner="bumble")
    assert r.status_code == 200, r.text


# -- validate-code and assign: every outcome -----------------------------------

@pytest.mark.parametrize("code", ["", "ABCDE", "ABCDEFG", "ABCD0E", "ABCDOE", "ABCD1E",
                                  "ABCDIE", "ABCDLE", "abc-de", "ÄBCDEF", 123456, None,
                                  ["ABCDEF"], "A" * 100])
def test_invalid_code_format(server, code):
    problem(server.post("/v1/partner-access/validate-code", json={"code": code}),
            400, "INVALID_CODE")
    problem(server.post("/v1/partner-access/validate-code", json={}), 400, "INVALID_CODE")


def test_validate_and_assign_answer_every_error_code(server, world, db):
    w = world
    admin, m1, m2 = w["admin"], w["m1"], w["m2"]
    missing = absent_code(db)
    problem(validate(server, missing), 400, "DOES_NOT_EXIST")
    problem(assign(server, m1, missing), 400, "DOES_NOT_EXIST")
    # Another partner's code is not this partner's.
    acc = new_code(server, w["pa_a"])
    problem(validate(server, acc["code"], partner="Badoo"), 400, "DOES_NOT_EXIST")
    problem(validate(server, acc["code"], partner=w["b"]["id"]), 400, "DOES_NOT_EXIST")
    problem(assign(server, m1, acc["code"], partner="Badoo"), 400, "DOES_NOT_EXIST")
    # Unknown members are refused.
    problem(server.post("/v1/partner-access/validate-code",
                        json={"code": acc["code"], "extra": 1}), 422, "VALIDATION_FAILED")
    # Redeemed: the same user ALREADY_APPLIED, anyone else ALREADY_IN_USE.
    r = assign(server, m1, acc["code"].lower())
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["partner_name"] == "Bumble" and got["feature_therapy"] is True
    assert got["activated_at"] is not None and "created_by" not in got
    problem(assign(server, m1, acc["code"]), 409, "ALREADY_APPLIED")
    problem(validate(server, acc["code"], who=m1), 409, "ALREADY_APPLIED")
    problem(assign(server, m2, acc["code"]), 409, "ALREADY_IN_USE")
    problem(validate(server, acc["code"], who=m2), 409, "ALREADY_IN_USE")
    problem(validate(server, acc["code"]), 409, "ALREADY_IN_USE")
    # Inactive access, and an access of an inactive partner.
    off = new_code(server, w["pa_a"])
    r = server.request("PATCH", f"/v1/partner-access/{off['id']}", headers=hdr(w["pa_a"]),
                       json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    problem(validate(server, off["code"]), 400, "INACTIVE")
    problem(assign(server, m2, off["code"]), 400, "INACTIVE")
    b_code = new_code(server, w["pa_b"])
    server.request("PATCH", f"/v1/partners/{w['b']['id']}", headers=hdr(admin),
                   json={"is_active": False})
    problem(validate(server, b_code["code"]), 400, "INACTIVE")
    # Expired: made more than a year ago.
    old = new_code(server, w["pa_a"])
    db.execute(f"UPDATE partner_access SET created_at = created_at - {YEAR_MS} "
               f"WHERE id = '{old['id']}'")
    problem(validate(server, old["code"]), 400, "CODE_EXPIRED")
    problem(assign(server, m2, old["code"]), 400, "CODE_EXPIRED")
    # Deleted: gone.
    gone = new_code(server, w["pa_a"])
    r = server.request("DELETE", f"/v1/partner-access/{gone['id']}", headers=hdr(w["pa_a"]))
    assert r.status_code == 204, r.text
    problem(validate(server, gone["code"]), 400, "DOES_NOT_EXIST")
    problem(server.get(f"/v1/partner-access/{gone['id']}", headers=hdr(admin)), 404, "NOT_FOUND")
    # Who may assign: members (and admins); not anonymous, not partner admins.
    fresh = new_code(server, w["pa_a"])
    problem(server.post("/v1/partner-access/assign", json={"code": fresh["code"]}),
            401, "UNAUTHORIZED")
    problem(assign(server, w["pa_a"], fresh["code"]), 403, "FORBIDDEN")
    # Redemption is audited.
    assert db.count("audit_log", f"action = 'partner_access.assign' AND "
                    f"entity_id = '{acc['id']}'") == 1
    for a in (off, gone):
        assert db.count("audit_log", f"entity_id = '{a['id']}' AND action IN "
                        "('partner_access.update', 'partner_access.delete')") == 1


def test_members_see_their_own_accesses_from_several_partners(server, world):
    w = world
    a1 = new_code(server, w["pa_a"], feature_therapy=False, therapy_sessions_remaining=0)
    b1 = new_code(server, w["pa_b"])
    other = new_code(server, w["pa_a"])
    assert assign(server, w["m1"], a1["code"]).status_code == 200
    assert assign(server, w["m1"], b1["code"]).status_code == 200
    assert assign(server, w["m2"], other["code"]).status_code == 200
    r = server.get("/v1/me/partner-access", headers=hdr(w["m1"]))
    assert r.status_code == 200, r.text
    mine = r.json()["data"]
    assert [x["id"] for x in mine] == [a1["id"], b1["id"]]
    assert {x["partner_name"] for x in mine} == {"Bumble", "Badoo"}
    assert all("created_by" not in x and "user_id" not in x for x in mine)
    r = server.get("/v1/partner-access", headers=hdr(w["m1"]))
    assert sorted(x["id"] for x in r.json()["data"]) == sorted([a1["id"], b1["id"]])
    problem(server.get(f"/v1/partner-access/{other['id']}", headers=hdr(w["m1"])),
            404, "NOT_FOUND")
    problem(server.request("PATCH", f"/v1/partner-access/{a1['id']}", headers=hdr(w["m1"]),
                           json={"therapy_sessions_remaining": 5}), 403, "FORBIDDEN")
    problem(server.get("/v1/me/partner-access"), 401, "UNAUTHORIZED")
    # The partner admin's list: filters and paging.
    r = server.get("/v1/partner-access?redeemed=true&limit=1", headers=hdr(w["pa_a"]))
    page = r.json()
    assert len(page["data"]) == 1 and page["next_cursor"] == page["data"][0]["id"]
    r = server.get(f"/v1/partner-access?redeemed=true&cursor={page['next_cursor']}",
                   headers=hdr(w["pa_a"]))
    assert len(r.json()["data"]) == 1 and r.json()["next_cursor"] is None
    r = server.get(f"/v1/partner-access?user_id={w['m2']['id']}", headers=hdr(w["pa_a"]))
    assert [x["id"] for x in r.json()["data"]] == [other["id"]]
    for q in ("limit=0", "limit=201", "cursor=nope", "redeemed=maybe", "is_active=1"):
        problem(server.get(f"/v1/partner-access?{q}", headers=hdr(w["pa_a"])),
                422, "VALIDATION_FAILED")


# -- concurrency -----------------------------------------------------------------

@pytest.mark.dialect
def test_fifty_parallel_redemptions_of_one_code_have_exactly_one_winner(server, world, db):
    w = world
    acc = new_code(server, w["pa_a"])
    users = [person(server, f"racer{i}") for i in range(50)]
    barrier = threading.Barrier(len(users))
    results = [None] * len(users)

    def go(i):
        with requests.Session() as s:
            barrier.wait()
            r = s.post(server.url("/v1/partner-access/assign"), json={"code": acc["code"]},
                       headers=hdr(users[i]), timeout=60)
            results[i] = (r.status_code, r.json().get("code"))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(users))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert all(r is not None for r in results), results
    winners = [i for i, r in enumerate(results) if r[0] == 200]
    assert len(winners) == 1, results
    assert sorted(r for r in results if r[0] != 200) == [(409, "ALREADY_IN_USE")] * 49
    assert db.scalar(f"SELECT user_id FROM partner_access WHERE id = '{acc['id']}'") == \
        users[winners[0]]["id"]
    assert db.count("audit_log", f"action = 'partner_access.assign' AND "
                    f"entity_id = '{acc['id']}'") == 1


# -- throttling ------------------------------------------------------------------

@pytest.mark.dialect
def test_guessing_is_throttled_per_account_and_per_address(server, world, db):
    w = world
    good = new_code(server, w["pa_a"])
    # Codes that exist do not use up the allowance.
    for _ in range(35):
        assert validate(server, good["code"]).status_code == 200
    # Ten failures per account.
    for _ in range(10):
        problem(assign(server, w["m1"], absent_code(db)), 400, "DOES_NOT_EXIST")
    r = assign(server, w["m1"], absent_code(db))
    problem(r, 429, "RATE_LIMITED")
    assert 1 <= int(r.headers["Retry-After"]) <= 900
    # Locked: even a good code waits.
    problem(assign(server, w["m1"], good["code"]), 429, "RATE_LIMITED")
    problem(validate(server, good["code"], who=w["m1"]), 429, "RATE_LIMITED")
    # Another account from the same address still may (10 of 30 used).
    problem(validate(server, absent_code(db), who=w["m2"]), 400, "DOES_NOT_EXIST")
    # Thirty per address, anonymous or not, counted exactly in parallel.
    results = []
    lock = threading.Lock()

    def guess():
        with requests.Session() as s:
            r = s.post(server.url("/v1/partner-access/validate-code"),
                       json={"code": absent_code(db)}, timeout=30)
            with lock:
                results.append(r)

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = sorted(r.json()["code"] for r in results)
    assert codes.count("DOES_NOT_EXIST") == 19 and codes.count("RATE_LIMITED") == 11, codes
    assert all("Retry-After" in r.headers for r in results if r.status_code == 429)
    assert db.scalar("SELECT failures FROM partner_code_failures WHERE subject LIKE 'ip:%'") \
        == "30"
    # The address is counted by its keyed blind index, never in clear.
    subjects = [r[0] for r in db.query("SELECT subject FROM partner_code_failures")]
    assert not [x for x in subjects if "127.0.0.1" in x], subjects
    assert [x for x in subjects if x.startswith("ip:")] and all(
        re.fullmatch(r"ip:[0-9a-f]{64}", x) for x in subjects if x.startswith("ip:")), subjects
    problem(validate(server, good["code"]), 429, "RATE_LIMITED")
    problem(validate(server, good["code"], who=w["m2"]), 429, "RATE_LIMITED")
    # Registration with a code counts against the address too.
    r = server.post("/v1/auth/register", json=register_body(
        "late@example.org", partner_access_code=good["code"]))
    problem(r, 429, "RATE_LIMITED")
    # The window ends.
    db.execute("UPDATE partner_code_failures SET window_start = window_start - 900001")
    assert validate(server, good["code"]).status_code == 200
    assert assign(server, w["m1"], good["code"]).status_code == 200


# -- registration ----------------------------------------------------------------

def users_count(db):
    return db.count("users")


def test_the_export_holds_partner_accesses_as_declared(server, world):
    """records.partner_access is the resource's declaration, not a list of
    columns of its own: exactly its fields (the schema's, staff-only ones
    too, never the code's hash), and what /v1/me/partner-access shows."""
    w = world
    acc = new_code(server, w["pa_a"], therapy_sessions_remaining=3)
    r = assign(server, w["m1"], acc["code"])
    assert r.status_code == 200, r.text
    schemas = server.get("/v1/openapi.json").json()["components"]["schemas"]
    declared = set(schemas["partner_access"]["properties"])
    assert "code_hash" not in declared and "partner_name" in declared
    exp = server.get("/v1/me/export", headers=hdr(w["m1"]))
    assert exp.status_code == 200, exp.text
    held = exp.json()["records"]["partner_access"]
    assert [x["id"] for x in held] == [acc["id"]]
    # the declared fields; not "code", answered once by the create only
    assert set(held[0]) == declared - {"code"}
    mine = server.get("/v1/me/partner-access", headers=hdr(w["m1"]))
    assert mine.status_code == 200, mine.text
    [row] = mine.json()["data"]
    assert {k: held[0][k] for k in row} == row
    assert held[0]["user_id"] == w["m1"]["id"]
    assert acc["code"] not in exp.text and "code_hash" not in exp.text


@pytest.mark.dialect
def test_registering_with_a_code_redeems_it_in_the_same_transaction(server, world, db):
    w = world
    acc = new_code(server, w["pa_a"], therapy_sessions_remaining=4)
    email = f"new.{secrets.token_hex(3)}@example.org"
    r = server.post("/v1/auth/register", json=register_body(
        email, partner_access_code=acc["code"].lower()))
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    token = login(server, email)
    mine = server.get("/v1/me/partner-access", headers={"Authorization": f"Bearer {token}"})
    assert [(x["id"], x["therapy_sessions_remaining"]) for x in mine.json()["data"]] == \
        [(acc["id"], 4)]
    # The GDPR export holds it too, without the code or its hash.
    exp = server.get("/v1/me/export", headers={"Authorization": f"Bearer {token}"})
    assert exp.status_code == 200, exp.text
    held = exp.json()["records"]["partner_access"]
    assert [(x["id"], x["therapy_sessions_remaining"], x["feature_therapy"]) for x in held] \
        == [(acc["id"], 4, acc["feature_therapy"])]
    assert acc["code"] not in exp.text and "code_hash" not in exp.text
    assert db.scalar(f"SELECT user_id FROM partner_access WHERE id = '{acc['id']}'") == uid
    # A code that cannot be redeemed refuses the registration: no user made.
    before = users_count(db)
    for code, status, pcode in ((acc["code"], 409, "ALREADY_IN_USE"),
                                ("ABC", 400, "INVALID_CODE"),
                                (absent_code(db), 400, "DOES_NOT_EXIST")):
        r = server.post("/v1/auth/register", json=register_body(
            f"x.{secrets.token_hex(3)}@example.org", partner_access_code=code))
        problem(r, status, pcode)
    other = new_code(server, w["pa_a"])
    r = server.post("/v1/auth/register", json=register_body(
        f"x.{secrets.token_hex(3)}@example.org", partner_access_code=other["code"],
        partner="Badoo"))
    problem(r, 400, "DOES_NOT_EXIST")
    expired = new_code(server, w["pa_a"])
    db.execute(f"UPDATE partner_access SET created_at = created_at - {YEAR_MS} "
               f"WHERE id = '{expired['id']}'")
    r = server.post("/v1/auth/register", json=register_body(
        f"x.{secrets.token_hex(3)}@example.org", partner_access_code=expired["code"]))
    problem(r, 400, "CODE_EXPIRED")
    # A valid code with a taken email: nothing redeemed.
    r = server.post("/v1/auth/register", json=register_body(
        email, partner_access_code=other["code"]))
    problem(r, 409, "EMAIL_TAKEN")
    assert db.scalar(f"SELECT user_id FROM partner_access WHERE id = '{other['id']}'") is None
    assert users_count(db) == before
    # And with the right partner named, it works.
    r = server.post("/v1/auth/register", json=register_body(
        f"y.{secrets.token_hex(3)}@example.org", partner_access_code=other["code"],
        partner_id=w["a"]["id"]))
    assert r.status_code == 201, r.text


def test_registering_to_a_partner_with_automatic_access(server, world, db):
    w = world
    switch_on(server, w["admin"], w["a"], "automatic_access_code")
    email = f"auto.{secrets.token_hex(3)}@example.org"
    r = server.post("/v1/auth/register", json=register_body(email, partner="bumble"))
    assert r.status_code == 201, r.text
    token = login(server, email)
    me = {"token": token}
    mine = server.get("/v1/me/partner-access", headers=hdr(me)).json()["data"]
    assert len(mine) == 1
    a = mine[0]
    assert a["partner_name"] == "Bumble" and a["feature_live_chat"] is True
    assert a["feature_therapy"] is False and a["therapy_sessions_remaining"] == 0
    assert a["is_active"] is True and a["activated_at"] is not None
    assert db.scalar(f"SELECT code_hash FROM partner_access WHERE id = '{a['id']}'") is None
    # The same by id; and then a code from another partner: several partners.
    email2 = f"auto2.{secrets.token_hex(3)}@example.org"
    r = server.post("/v1/auth/register", json=register_body(email2, partner_id=w["a"]["id"]))
    assert r.status_code == 201, r.text
    b = new_code(server, w["pa_b"])
    assert assign(server, me, b["code"]).status_code == 200
    names = [x["partner_name"] for x in
             server.get("/v1/me/partner-access", headers=hdr(me)).json()["data"]]
    assert names == ["Bumble", "Badoo"]
    # No automatic access: a code is needed. Unknown or inactive partners.
    before = users_count(db)
    r = server.post("/v1/auth/register", json=register_body("n1@example.org", partner="Badoo"))
    b = problem(r, 422, "VALIDATION_FAILED")
    assert b["errors"][0]["field"] == "partner_access_code"
    r = server.post("/v1/auth/register", json=register_body("n2@example.org", partner="Nobody"))
    problem(r, 422, "VALIDATION_FAILED")
    r = server.post("/v1/auth/register", json=register_body(
        "n3@example.org", partner="Badoo", partner_id=w["a"]["id"]))
    problem(r, 422, "VALIDATION_FAILED")
    r = server.post("/v1/auth/register", json=register_body("n4@example.org",
                                                            partner_id="nope"))
    problem(r, 422, "VALIDATION_FAILED")
    server.request("PATCH", f"/v1/partners/{w['a']['id']}", headers=hdr(w["admin"]),
                   json={"is_active": False})
    r = server.post("/v1/auth/register", json=register_body("n5@example.org", partner="Bumble"))
    problem(r, 400, "INACTIVE")
    assert users_count(db) == before


# -- deactivation ---------------------------------------------------------------

@pytest.mark.dialect
def test_deactivating_a_partner_deactivates_its_admins_and_codes(server, world, db):
    w = world
    unused = new_code(server, w["pa_a"])
    used = new_code(server, w["pa_a"])
    assert assign(server, w["m1"], used["code"]).status_code == 200
    b_code = new_code(server, w["pa_b"])
    r = server.request("PATCH", f"/v1/partners/{w['a']['id']}", headers=hdr(w["admin"]),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    assert db.scalar(f"SELECT is_active FROM partner_admins WHERE id = "
                     f"'{w['pa_a']['admin_row']['id']}'") == "0"
    assert db.count("partner_access", f"partner_id = '{w['a']['id']}' AND is_active = 1") == 0
    assert db.count("partner_access", f"partner_id = '{w['b']['id']}' AND is_active = 1") == 1
    assert db.scalar(f"SELECT is_active FROM partner_admins WHERE id = "
                     f"'{w['pa_b']['admin_row']['id']}'") == "1"
    problem(validate(server, unused["code"]), 400, "INACTIVE")
    mine = server.get("/v1/me/partner-access", headers=hdr(w["m1"])).json()["data"]
    assert [x["is_active"] for x in mine] == [False]
    # The partner admin can do nothing any more for the partner.
    problem(server.post("/v1/partner-access", headers=hdr(w["pa_a"]), json={}),
            403, "FORBIDDEN")
    problem(server.get("/v1/partner-access", headers=hdr(w["pa_a"])), 403, "FORBIDDEN")
    problem(server.get(f"/v1/partner-access/{unused['id']}", headers=hdr(w["pa_a"])),
            404, "NOT_FOUND")
    assert validate(server, b_code["code"]).status_code == 200
    rows = db.query(f"SELECT changes FROM audit_log WHERE action = 'partners.deactivate' "
                    f"AND entity_id = '{w['a']['id']}'")
    assert len(rows) == 1
    assert '"partner_access_deactivated":2' in rows[0][0].replace(" ", "")
    assert '"partner_admins_deactivated":1' in rows[0][0].replace(" ", "")
    # Staff writes of partners are audited.
    assert db.count("audit_log", f"action = 'partners.update' AND "
                    f"entity_id = '{w['a']['id']}'") == 1
    assert db.count("audit_log", f"action = 'partners.create' AND "
                    f"entity_id = '{w['a']['id']}'") == 1
