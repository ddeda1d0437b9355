"""The access matrix: every people route called as anonymous, the owner,
another member, a guardian, a practitioner, a partner admin and an admin.
Nobody sees or changes what they should not, and a row outside the caller's
scope answers 404 exactly as a row that does not exist."""

import pytest

from conftest import hdr, person, years_ago

ACTORS = ("anon", "owner", "other", "guardian", "child", "practitioner", "partner_admin",
          "admin")
MISSING = "01a20000-0000-7000-8000-000000000000"

# (method, path, body, {actor: status}); {owner}, {child} and {missing} are
# filled in. Actors not named expect the "*" entry.
MATRIX = [
    ("GET", "/v1/me", None,
     {"anon": 401, "*": 200}),
    ("GET", "/v1/users/{owner}", None,
     {"anon": 401, "owner": 200, "practitioner": 200, "admin": 200, "*": 404}),
    ("GET", "/v1/users/{child}", None,
     {"anon": 401, "child": 200, "guardian": 200, "admin": 200, "*": 404}),
    ("GET", "/v1/users/{missing}", None,
     {"anon": 401, "*": 404}),
    ("PATCH", "/v1/users/{owner}", {"location": "Leeds"},
     {"anon": 401, "owner": 200, "admin": 200, "practitioner": 403, "*": 404}),
    ("PATCH", "/v1/users/{child}", {"location": "Leeds"},
     {"anon": 401, "child": 200, "guardian": 403, "admin": 200, "*": 404}),
    ("PATCH", "/v1/users/{missing}", {"location": "Leeds"},
     {"anon": 401, "*": 404}),
    # /v1/me is the caller's own row at scope own: role and is_active are
    # staff-only fields there even for admins (they use /v1/users/{id}).
    ("PATCH", "/v1/me", {"role": "admin"},
     {"anon": 401, "*": 422}),
    ("PATCH", "/v1/me", {"is_active": False, "location": "x"},
     {"anon": 401, "*": 422}),
    ("PATCH", "/v1/users/{owner}", {"role": "admin"},
     {"anon": 401, "owner": 422, "admin": None, "practitioner": 403, "*": 404}),
    ("DELETE", "/v1/users/{owner}", None,
     {"anon": 401, "owner": 403, "practitioner": 403, "admin": None, "*": 404}),
    ("POST", "/v1/users", {"email": "new.person@example.org", "first_name": "New"},
     {"anon": 401, "admin": None, "*": 403}),
    ("GET", "/v1/users/{owner}/export", None,
     {"anon": 401, "admin": 200, "*": 403}),
    ("POST", "/v1/users/{owner}/erase", None,
     {"anon": 401, "admin": None, "*": 403}),
    ("GET", "/v1/audit-log", None,
     {"anon": 401, "admin": 200, "*": 403}),
    ("GET", "/v1/relationships", None,
     {"anon": 401, "partner_admin": 403, "*": 200}),
    ("GET", "/v1/relationships/{guardianship}", None,
     {"anon": 401, "guardian": 200, "child": 200, "admin": 200, "*": 404}),
    ("GET", "/v1/relationships/{care}", None,
     {"anon": 401, "owner": 200, "practitioner": 200, "admin": 200, "*": 404}),
    ("POST", "/v1/relationships", {"lead_id": "{other}", "follower_id": "{owner}",
                                   "kind": "guardian_of"},
     {"anon": 401, "admin": None, "*": 403}),
    ("POST", "/v1/relationships/{guardianship}/end", None,
     {"anon": 401, "guardian": None, "admin": None, "child": 403, "*": 404}),
    ("GET", "/v1/me/health-consent", None,
     {"anon": 401, "*": 200}),
    ("GET", "/v1/users", None,
     {"anon": 401, "*": 200}),
    ("DELETE", "/v1/users/{child}", None,
     {"anon": 401, "child": 403, "guardian": 403, "admin": None, "*": 404}),
    ("DELETE", "/v1/me", {"password": "not the password at all"},
     {"anon": 401, "*": 403}),
    ("POST", "/v1/me/password", {"current_password": "not the password at all",
                                 "new_password": "another long passphrase 42"},
     {"anon": 401, "*": (401, 403)}),
    ("GET", "/v1/me/export", None,
     {"anon": 401, "*": 200}),
]


@pytest.fixture
def world(server):
    cast = {
        "admin": person(server, "admin", "admin"),
        "practitioner": person(server, "therapist", "therapist"),
        "partner_admin": person(server, "padmin", "partner_admin"),
        "guardian": person(server, "guardian", date_of_birth=years_ago(40), country="GB"),
        "child": person(server, "child", date_of_birth=years_ago(12), country="GB"),
        "owner": person(server, "owner", date_of_birth=years_ago(30), country="GB"),
        "other": person(server, "other", date_of_birth=years_ago(35), country="DE"),
    }
    admin = hdr(cast["admin"]["token"])
    rels = {}
    for name, lead, follower, kind in (("guardianship", "guardian", "child", "guardian_of"),
                                       ("care", "practitioner", "owner", "practitioner_of")):
        r = server.post("/v1/relationships", headers=admin, json={
            "lead_id": cast[lead]["id"], "follower_id": cast[follower]["id"], "kind": kind})
        assert r.status_code == 201, r.text
        rels[name] = r.json()["id"]
        r = server.post(f"/v1/relationships/{rels[name]}/consent", headers=admin,
                        json={"method": "signed_form"})
        assert r.status_code == 200, r.text
    cast["anon"] = None
    cast["_rels"] = rels
    return cast


def fill(text, cast):
    return text.format(owner=cast["owner"]["id"], child=cast["child"]["id"],
                       other=cast["other"]["id"], missing=MISSING, **cast["_rels"])


def call(server, cast, actor, method, path, body):
    path = fill(path, cast)
    if body is not None:
        body = {k: fill(v, cast) if isinstance(v, str) else v for k, v in body.items()}
    headers = {} if cast[actor] is None else hdr(cast[actor]["token"])
    return server.request(method, path, headers=headers, json=body)


def test_access_matrix(server, world):
    wrong = []
    for method, path, body, expect in MATRIX:
        for actor in ACTORS:
            want = expect.get(actor, expect["*"])
            if want is None:                # destructive for this actor: not called here
                continue
            r = call(server, world, actor, method, path, body)
            ok = r.status_code in want if isinstance(want, tuple) else r.status_code == want
            if not ok:
                wrong.append(f"{actor:14} {method} {path}: want {want}, got "
                             f"{r.status_code} {r.text[:160]}")
    assert not wrong, "access matrix:\n" + "\n".join(wrong)


def test_a_row_outside_scope_is_indistinguishable_from_a_missing_row(server, world):
    other = hdr(world["other"]["token"])
    hidden = server.get(f"/v1/users/{world['owner']['id']}", headers=other)
    missing = server.get(f"/v1/users/{MISSING}", headers=other)
    assert hidden.status_code == missing.status_code == 404
    a, b = hidden.json(), missing.json()
    for k in ("type", "title", "status", "code", "detail"):
        assert a[k] == b[k], (k, a[k], b[k])
    assert set(hidden.headers) - {"Date", "X-Request-Id", "Content-Length"} == \
        set(missing.headers) - {"Date", "X-Request-Id", "Content-Length"}


@pytest.mark.parametrize("actor,sees", [
    ("owner", {"owner"}),
    ("other", {"other"}),
    ("child", {"child"}),
    ("guardian", {"guardian", "child"}),
    ("practitioner", {"practitioner", "owner"}),
    ("partner_admin", {"partner_admin"}),
    ("admin", {"admin", "practitioner", "partner_admin", "guardian", "child", "owner", "other"}),
])
def test_user_lists_hold_only_the_rows_in_scope(server, world, actor, sees):
    r = server.get("/v1/users?limit=200", headers=hdr(world[actor]["token"]))
    if r.status_code == 403:
        assert sees == {actor}, r.text      # no list permission: may only see themself via /v1/me
        return
    assert r.status_code == 200, r.text
    got = {row["id"] for row in r.json()["data"]}
    want = {world[name]["id"] for name in sees}
    assert got == want


def test_each_caller_sees_only_relationships_they_are_part_of(server, world):
    for actor in ("owner", "other", "guardian", "child", "practitioner"):
        r = server.get("/v1/relationships", headers=hdr(world[actor]["token"]))
        if r.status_code == 403:
            continue
        assert r.status_code == 200, r.text
        for rel in r.json()["data"]:
            assert world[actor]["id"] in (rel["lead_id"], rel["follower_id"]), (actor, rel)


def test_admin_only_writes_succeed_for_admins(server, world):
    admin = hdr(world["admin"]["token"])
    r = server.post("/v1/users", headers=admin,
                    json={"email": "made.by.admin@example.org", "first_name": "Made"})
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    assert server.request("DELETE", f"/v1/users/{uid}", headers=admin).status_code == 204
    assert server.get(f"/v1/users/{uid}", headers=admin).status_code == 404
