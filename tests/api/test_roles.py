"""Roles and their permissions are data an admin reads and changes: GET
/v1/roles, GET /v1/roles/{name}, PUT /v1/roles/{name}/permissions, GET
/v1/permissions, and `carebase roles list | permissions | set`. A change is
validated against the permissions there are, audited, never takes
roles:update:all from the admin role, and holds for sessions already
signed in at their next request in the process that made it; in another
process at once on SQLite, on PostgreSQL once its NOTIFY arrives (README,
Lists kept read)."""
import pytest

from conftest import hdr, person, problem, race, told, undo_migration, wait_until

ROLES = {"admin", "partner_admin", "therapist", "instructor", "member"}


def role(server, who, name):
    r = server.get(f"/v1/roles/{name}", headers=hdr(who))
    assert r.status_code == 200, r.text
    return r


def put(server, who, name, perms, **headers):
    return server.request("PUT", f"/v1/roles/{name}/permissions",
                          headers=hdr(who, **headers), json={"permissions": perms})


def test_admins_read_every_role_with_its_permissions(server, admin):
    r = server.get("/v1/roles", headers=hdr(admin))
    assert r.status_code == 200, r.text
    roles = {x["name"]: x for x in r.json()["data"]}
    assert set(roles) >= ROLES
    assert {"roles:read:all", "roles:update:all", "email_log:read:all"} <= set(
        roles["admin"]["permissions"])
    assert roles["admin"]["is_staff"] is True and roles["member"]["is_staff"] is False
    assert "auth_sessions:read:own" in roles["member"]["permissions"]
    assert roles["member"]["permissions"] == sorted(roles["member"]["permissions"])
    one = role(server, admin, "member")
    assert one.json() == roles["member"]
    assert one.headers["ETag"].startswith('W/"')
    names = [p["name"] for p in server.get("/v1/permissions", headers=hdr(admin)).json()["data"]]
    assert names == sorted(names) and "roles:update:all" in names
    assert "email_log:read:all" in names


@pytest.mark.parametrize("who", ["member", "therapist", "partner_admin", "instructor"])
def test_only_admins_read_or_change_roles(server, who):
    p = person(server, who, None if who == "member" else who)
    for method, path in [("GET", "/v1/roles"), ("GET", "/v1/roles/member"),
                         ("GET", "/v1/permissions")]:
        r = server.request(method, path, headers=hdr(p))
        assert r.status_code == 403, (path, r.text)
    r = put(server, p, "member", ["users:read:all"])
    assert r.status_code == 403, r.text


def test_a_change_replaces_the_set_and_is_audited(server, admin):
    before = role(server, admin, "instructor").json()["permissions"]
    want = [p for p in before if p != "users:update:own"] + ["audit_log:read:all",
                                                              "audit_log:read:all"]
    r = put(server, admin, "instructor", want)
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["permissions"] == sorted(set(want))
    assert r.headers["ETag"] == role(server, admin, "instructor").headers["ETag"]
    assert role(server, admin, "instructor").json() == after
    log = server.get("/v1/audit-log?entity_type=roles&entity_id=instructor",
                     headers=hdr(admin)).json()["data"]
    assert len(log) == 1 and log[0]["action"] == "roles.update"
    assert log[0]["actor_ref"] is not None
    assert log[0]["changes"]["added"] == ["audit_log:read:all"]
    assert log[0]["changes"]["removed"] == ["users:update:own"]
    # The same set again changes nothing and records nothing.
    assert put(server, admin, "instructor", want).json() == after
    assert len(server.get("/v1/audit-log?entity_type=roles", headers=hdr(admin))
               .json()["data"]) == 1


def test_an_empty_set_is_a_set(server, admin):
    r = put(server, admin, "partner_admin", [])
    assert r.status_code == 200, r.text
    assert r.json()["permissions"] == []


def test_if_match_guards_against_a_change_made_since_the_read(server, admin):
    etag = role(server, admin, "member").headers["ETag"]
    perms = role(server, admin, "member").json()["permissions"]
    r = put(server, admin, "member", perms + ["users:read:own"], **{"If-Match": etag})
    assert r.status_code == 200, r.text
    r = put(server, admin, "member", perms, **{"If-Match": etag})
    assert r.status_code == 412, r.text
    assert r.json()["code"] == "PRECONDITION_FAILED"
    assert "users:read:own" in role(server, admin, "member").json()["permissions"]
    r = put(server, admin, "member", perms, **{"If-Match": r.headers.get("ETag") or
                                               role(server, admin, "member").headers["ETag"]})
    assert r.status_code == 200, r.text


def test_unknown_permissions_are_refused_each_with_an_entry(server, admin):
    before = role(server, admin, "member").json()
    r = put(server, admin, "member", ["users:read:own", "users:fly:all", "nothing"])
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "UNKNOWN_PERMISSION"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("permissions[1]", "unknown_permission"), ("permissions[2]", "unknown_permission")]
    assert role(server, admin, "member").json() == before


@pytest.mark.parametrize("body,field,code", [
    ({}, "permissions", "required"),
    ({"permissions": "users:read:own"}, "permissions", "type"),
    ({"permissions": ["users:read:own", 7]}, "permissions[1]", "type"),
    ({"permissions": [""]}, "permissions[0]", "type"),
    ({"permissions": ["x" * 129]}, "permissions[0]", "type"),
    ({"permissions": [], "role": "admin"}, "role", "unknown"),
    ([], "", "type"),
])
def test_a_body_that_is_not_a_set_of_names_is_refused(server, admin, body, field, code):
    r = server.request("PUT", "/v1/roles/member/permissions", headers=hdr(admin), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "VALIDATION_FAILED"
    assert (field, code) in [(e["field"], e["code"]) for e in r.json()["errors"]], r.json()


def test_an_unknown_role_is_not_found(server, admin):
    assert server.get("/v1/roles/pilot", headers=hdr(admin)).status_code == 404
    r = put(server, admin, "pilot", ["users:read:own"])
    assert r.status_code == 404, r.text
    assert put(server, admin, "x" * 40, []).status_code == 404


def test_the_admin_role_keeps_roles_update(server, admin):
    perms = role(server, admin, "admin").json()["permissions"]
    r = put(server, admin, "admin", [p for p in perms if p != "roles:update:all"])
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "ADMIN_LOCKOUT"
    assert put(server, admin, "admin", []).json()["code"] == "ADMIN_LOCKOUT"
    assert role(server, admin, "admin").json()["permissions"] == perms
    # Anything else of the admin role may change, and come back.
    r = put(server, admin, "admin", [p for p in perms if p != "roles:read:all"])
    assert r.status_code == 200, r.text
    assert server.get("/v1/roles", headers=hdr(admin)).status_code == 403
    r = put(server, admin, "admin", perms)
    assert r.status_code == 200, r.text
    assert server.get("/v1/roles", headers=hdr(admin)).status_code == 200


def test_a_change_holds_at_once_for_sessions_signed_in(server, admin):
    """No waiting for a cache: the instructor's token, signed in before the
    change, gains and loses the permission at its next request."""
    m = person(server, "teacher", "instructor")
    perms = role(server, admin, "instructor").json()["permissions"]
    assert server.get("/v1/audit-log", headers=hdr(m)).status_code == 403
    assert put(server, admin, "instructor", perms + ["audit_log:read:all"]).status_code == 200
    assert server.get("/v1/audit-log", headers=hdr(m)).status_code == 200
    assert put(server, admin, "instructor", perms).status_code == 200
    assert server.get("/v1/audit-log", headers=hdr(m)).status_code == 403


def test_a_change_on_the_command_line_holds_for_the_server_once_told(start_server, db):
    """Another process changed them: the server sees the epoch move (on
    PostgreSQL once the command's NOTIFY reaches it: a TTL of a minute, so
    that nothing else makes the change hold within the second polled) and
    reads the permissions again before deciding."""
    server = start_server(db=db, env={"CAREBASE_LIST_CACHE_TTL_MS": "60000"})
    admin = person(server, "admin", "admin")
    m = person(server, "teacher", "instructor")
    perms = role(server, admin, "instructor").json()["permissions"]
    # The server's cache is warm with the old set.
    assert server.get("/v1/audit-log", headers=hdr(m)).status_code == 403
    out = server.cli_ok("roles", "set", "instructor", *perms, "audit_log:read:all").stdout
    assert "1 added, 0 removed" in out, out
    told(lambda: server.get("/v1/audit-log", headers=hdr(m)).status_code == 200,
         "the grant held")
    server.cli_ok("roles", "set", "instructor", *perms)
    told(lambda: server.get("/v1/audit-log", headers=hdr(m)).status_code == 403,
         "the grant taken back")
    log = server.get("/v1/audit-log?entity_type=roles&entity_id=instructor",
                     headers=hdr(admin)).json()["data"]
    assert [e["action"] for e in log] == ["roles.update", "roles.update"]
    assert all(e["actor_ref"] is None for e in log)       # the command line


def test_the_command_line_lists_and_sets_roles(server):
    out = server.cli_ok("roles", "list").stdout.splitlines()
    assert out[0] == "role\tis_staff\tpermissions"
    rows = {line.split("\t")[0]: line.split("\t") for line in out[1:]}
    assert set(rows) >= ROLES
    assert rows["admin"][1] == "true"
    assert "roles:update:all" in rows["admin"][2].split(",")
    perms = server.cli_ok("roles", "permissions").stdout.splitlines()
    assert perms[0] == "permission\tdescription"
    assert any(p.startswith("email_log:read:all\t") for p in perms)

    r = server.cli("roles", "set", "member", "users:read:own", "users:fly:all")
    assert r.returncode != 0
    assert "no permission is named users:fly:all" in r.stderr
    r = server.cli("roles", "set", "admin", "roles:read:all")
    assert r.returncode != 0 and "keeps roles:update:all" in r.stderr
    r = server.cli("roles", "set", "pilot", "users:read:own")
    assert r.returncode != 0 and "no role is named pilot" in r.stderr
    r = server.cli("roles", "set", "member")
    assert r.returncode != 0 and "usage" in r.stderr
    server.cli_ok("roles", "set", "instructor", "--none")
    rows = {line.split("\t")[0]: line.split("\t")
            for line in server.cli_ok("roles", "list").stdout.splitlines()[1:]}
    assert rows["instructor"][2] == ""
    assert "roles list" in server.cli_ok("help").stdout


@pytest.mark.dialect
def test_two_processes_serialise_changes_and_each_holds_the_others(start_server, db):
    """Two servers on one database: a change through one holds at the other's
    next request, and changes made at once through both are made one after
    the other, each audited, the chain whole."""
    s1, s2 = start_server(db=db), start_server(db=db)
    admin = person(s1, "admin", "admin")
    m = person(s1, "teacher", "instructor")
    base = role(s1, admin, "therapist").json()["permissions"]
    inst = role(s1, admin, "instructor").json()["permissions"]
    assert s2.get("/v1/audit-log", headers=hdr(m)).status_code == 403   # s2's cache warm
    assert put(s1, admin, "instructor", inst + ["audit_log:read:all"]).status_code == 200
    assert s2.get("/v1/audit-log", headers=hdr(m)).status_code == 200

    sets = [base + ["audit_log:read:all"], base + ["users:read:all"]]

    def call(i, session, url):
        return session.put(f"{url}/v1/roles/therapist/permissions", headers=hdr(admin),
                           json={"permissions": sets[i % 2]}).status_code

    assert race([s1.base_url, s2.base_url], 8, call) == [200] * 8
    final = role(s2, admin, "therapist").json()["permissions"]
    assert final in [sorted(set(x)) for x in sets]
    log = s1.get("/v1/audit-log?entity_type=roles&entity_id=therapist&limit=200",
                 headers=hdr(admin)).json()["data"]
    assert 1 <= len(log) <= 8
    s1.cli_ok("audit", "verify")


# -- what a role may be granted ---------------------------------------------

ADMIN_ONLY = ["roles:read:all", "roles:update:all", "users:create:all",
              "users:update:all", "users:delete:all", "users:erase:all",
              # the console's operations (migration 0054)
              "webhook_inbox:read:all", "webhook_inbox:replay:all",
              "failed_jobs:read:all", "failed_jobs:retry:all"]


@pytest.mark.parametrize("name", ["member", "therapist", "partner_admin", "instructor"])
def test_no_role_but_admin_is_granted_what_decides_who_may_do_what(server, admin, name):
    """roles:* would let a role grant itself anything; users:create|update:all
    give any user any role (admin too); users:delete|erase:all remove the
    admins; the console's operations run webhooks and jobs again. Refused
    for every role but admin, an entry per name."""
    before = role(server, admin, name).json()
    for perm in ADMIN_ONLY:
        body = problem(put(server, admin, name, before["permissions"] + [perm]), 422,
                       "PERMISSION_NOT_GRANTABLE")
        i = len(before["permissions"])
        assert [(e["field"], e["code"]) for e in body["errors"]] == [
            (f"permissions[{i}]", "admin_only")], body
        assert perm in body["errors"][0]["detail"]
    assert role(server, admin, name).json() == before


def test_a_member_given_roles_update_cannot_make_itself_admin(server, admin):
    """The escalation the rule closes: before it, a member role granted
    roles:update:all could grant itself users:update:all and make its
    member an admin."""
    m = person(server, "mallory")
    perms = role(server, admin, "member").json()["permissions"]
    problem(put(server, admin, "member", perms + ["roles:update:all"]), 422,
            "PERMISSION_NOT_GRANTABLE")
    problem(put(server, m, "member", perms + ["users:update:all"]), 403, "FORBIDDEN")
    r = server.request("PATCH", f"/v1/users/{m['id']}", headers=hdr(m), json={"role": "admin"})
    assert r.status_code in (403, 422), r.text
    assert server.get("/v1/users/" + m["id"], headers=hdr(admin)).json()["role"] == "member"


def test_a_role_that_is_not_staff_is_granted_no_all(server, admin):
    """:all reaches everyone's rows, their sealed fields too: for staff roles
    (roles.is_staff) only. Catalogues that name no one stay grantable."""
    perms = role(server, admin, "member").json()["permissions"]
    assert {"forms:read:all", "exercises:read:all", "data_types:read:all"} <= set(perms)
    body = problem(put(server, admin, "member",
                       perms + ["users:read:all", "audit_log:read:all", "users:read:own"]),
                   422, "PERMISSION_NOT_GRANTABLE")
    n = len(perms)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        (f"permissions[{n}]", "staff_only"), (f"permissions[{n + 1}]", "staff_only")], body
    assert role(server, admin, "member").json()["permissions"] == perms
    # What a member may hold still changes: its own rows, catalogues.
    r = put(server, admin, "member", [p for p in perms if p != "forms:read:all"] +
            ["users:read:own"])
    assert r.status_code == 200, r.text
    assert put(server, admin, "member", perms).status_code == 200
    # A staff role may be granted an :all read; the admin role anything.
    inst = role(server, admin, "instructor").json()["permissions"]
    assert put(server, admin, "instructor", inst + ["users:read:all"]).status_code == 200
    adm = role(server, admin, "admin").json()["permissions"]
    assert put(server, admin, "admin", adm).status_code == 200


def test_the_command_line_refuses_the_same_grants(server, admin):
    perms = role(server, admin, "member").json()["permissions"]
    r = server.cli("roles", "set", "member", *perms, "roles:update:all")
    assert r.returncode != 0
    assert "PERMISSION_NOT_GRANTABLE" in r.stderr and "roles:update:all" in r.stderr, r.stderr
    assert "only the admin role" in r.stderr
    r = server.cli("roles", "set", "member", *perms, "users:read:all")
    assert r.returncode != 0
    assert "PERMISSION_NOT_GRANTABLE" in r.stderr and "users:read:all" in r.stderr, r.stderr
    r = server.cli("roles", "set", "therapist", "users:update:all")
    assert r.returncode != 0 and "users:update:all" in r.stderr, r.stderr
    assert role(server, admin, "member").json()["permissions"] == perms
    out = server.cli_ok("roles", "set", "instructor", "users:read:all", "users:read:own").stdout
    assert "2 permissions" in out, out


def test_a_grant_made_behind_the_rule_grants_nothing(server, admin, db):
    """A row written by hand (or before the rule) is ignored by every
    process's cache: the member still cannot read everyone. (An epoch
    moved by hand is read again at the next request on SQLite; on
    PostgreSQL, where it is read again only when a write is told, within
    list_cache_ttl_ms: README, Lists kept read.)"""
    m = person(server, "mallory")
    assert server.get("/v1/audit-log", headers=hdr(m)).status_code == 403
    db.execute("INSERT INTO role_permissions (role, permission) VALUES "
               "('member', 'audit_log:read:all'); "
               "UPDATE role_permissions_epoch SET epoch = epoch + 1")

    def reloaded():
        assert server.get("/v1/audit-log", headers=hdr(m)).status_code == 403
        return "perms_not_grantable" in server.log()
    wait_until(reloaded, timeout=5, what="the grants read again")


# -- the epoch's table, pending or undone -----------------------------------

AFTER_0022 = ["0027_roles_sessions_hardening", "0026_cancelled_spelling",
              "0024_chat_access", "0023_roles_and_mail_log"]


def down_to_0022(db):
    """As `carebase migrate down` would, by another process, to 0022."""
    for name in AFTER_0022:
        if db.count("schema_migrations", f"name = '{name}'"):
            undo_migration(db, name)


@pytest.mark.dialect
def test_undoing_0023_under_a_running_server_is_no_500(server, admin, db):
    """Migrated down to 0022 by another process: the server finds the
    epoch's table gone (asked of the catalog again), answers at most one
    503 while it does, then goes on with the TTL alone."""
    assert server.get("/v1/roles", headers=hdr(admin)).status_code == 200
    down_to_0022(db)
    seen = []
    for _ in range(4):
        r = server.get("/v1/roles", headers=hdr(admin))
        seen.append(r.status_code)
        if r.status_code == 503:
            assert r.json()["code"] == "PERMISSIONS_UNAVAILABLE", r.text
    assert 500 not in seen and seen[-1] == 200 and seen.count(503) <= 1, seen
    server.cli_ok("migrate")
    assert server.get("/v1/roles", headers=hdr(admin)).status_code in (200, 503)
    assert server.get("/v1/roles", headers=hdr(admin)).status_code == 200


@pytest.mark.dialect
def test_a_change_with_0023_pending_is_503_migrations_pending(server, admin, db):
    perms = role(server, admin, "instructor").json()["permissions"]
    down_to_0022(db)
    # Any 503 while the server finds the table gone; then the PUT's own.
    for _ in range(2):
        r = put(server, admin, "instructor", perms + ["audit_log:read:all"])
        if r.json().get("code") != "PERMISSIONS_UNAVAILABLE":
            break
    problem(r, 503, "MIGRATIONS_PENDING")
    assert role(server, admin, "instructor").json()["permissions"] == perms
    r = server.cli("roles", "set", "instructor", *perms, "audit_log:read:all")
    assert r.returncode != 0 and "migrations are pending" in r.stderr, r.stderr
    server.cli_ok("migrate")
    assert put(server, admin, "instructor", perms + ["audit_log:read:all"]).status_code == 200


@pytest.mark.dialect
def test_a_failed_reload_behind_the_epoch_refuses_rather_than_grants_stale(server, admin, db):
    """The epoch moved but the permissions cannot be read: the request is
    refused (503), not decided on the grants of before; it is answered
    again once they can be read."""
    t = person(server, "teacher", "instructor")
    perms = role(server, admin, "instructor").json()["permissions"]
    assert put(server, admin, "instructor", perms + ["audit_log:read:all"]).status_code == 200
    assert server.get("/v1/audit-log", headers=hdr(t)).status_code == 200
    db.execute("ALTER TABLE role_permissions RENAME TO role_permissions_away; "
               "UPDATE role_permissions_epoch SET epoch = epoch + 1")
    for _ in range(2):
        problem(server.get("/v1/audit-log", headers=hdr(t)), 503, "PERMISSIONS_UNAVAILABLE")
    db.execute("ALTER TABLE role_permissions_away RENAME TO role_permissions")
    assert server.get("/v1/audit-log", headers=hdr(t)).status_code == 200
