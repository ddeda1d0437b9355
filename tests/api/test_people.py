"""Users: /v1/me (read, change, mass assignment refused, email change needs
the current password), admin deactivation ending sessions, the first admin
from the command line, `carebase user list`, and the demo seed."""

import datetime
import subprocess

import pytest

from conftest import BIN, PASSWORD, hdr, login, person, problem, register, sign_in


def member(srv, email="ann@example.org", **fields):
    """A member registered with only the fields given, signed in: (id, token)."""
    fields = {"first_name": None, "date_of_birth": None, "country": None, **fields}
    who = person(srv, email.split("@")[0], email=email, **fields)
    return who["id"], who["token"]


def admin_token(srv, email="boss@example.org"):
    """An admin's token."""
    return person(srv, "boss", "admin", email=email)["token"]


def test_me_reads_own_account(server):
    uid, tok = member(server, first_name="Ann", last_name="Lee", country="GB")
    r = server.get("/v1/me", headers=hdr(tok))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["id"] == uid
    assert (me["first_name"], me["last_name"], me["country"]) == ("Ann", "Lee", "GB")
    assert me["role"] == "member" and me["is_active"] is True
    assert me["terms_version"] == "2026-01"
    for secret in ("password_hash", "email_index", "audit_ref"):
        assert secret not in me
    assert r.headers.get("ETag")
    assert server.get("/v1/me").status_code == 401


@pytest.mark.parametrize("patch,status,code", [
    ({"first_name": "Annie"}, 200, None),
    ({"locale": "en-GB", "email_reminders_frequency": "weekly"}, 200, None),
    ({"demographics": {"ethnicity": "prefer not to say"}}, 200, None),
    ({"role": "admin"}, 422, "VALIDATION_FAILED"),
    ({"is_active": False}, 422, "VALIDATION_FAILED"),
    ({"partner_id": "0190d1c2-0000-7000-8000-000000000000"}, 422, "VALIDATION_FAILED"),
    ({"password_hash": "x"}, 422, "VALIDATION_FAILED"),
    ({"terms_version": "1999"}, 422, "VALIDATION_FAILED"),
    ({"email_reminders_frequency": "hourly"}, 422, "VALIDATION_FAILED"),
    ({"email": "new@example.org"}, 403, "CURRENT_PASSWORD_REQUIRED"),
    ({"email": "new@example.org", "current_password": "wrong password here"}, 403,
     "INVALID_CURRENT_PASSWORD"),
])
def test_me_patch(server, patch, status, code):
    uid, tok = member(server)
    r = server.request("PATCH", "/v1/me", headers=hdr(tok), json=patch)
    if code is None:
        assert r.status_code == status, r.text
        for k, v in patch.items():
            assert r.json()[k] == v
    else:
        problem(r, status, code)
        assert server.db.scalar("SELECT role FROM users") == "member"


def test_email_change_with_current_password(server):
    uid, tok = member(server)
    member(server, "taken@example.org")
    problem(server.request("PATCH", "/v1/me", headers=hdr(tok),
                           json={"email": "taken@example.org", "current_password": PASSWORD}),
            409, "EMAIL_TAKEN")
    r = server.request("PATCH", "/v1/me", headers=hdr(tok),
                       json={"email": "moved@example.org", "current_password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "moved@example.org"
    assert sign_in(server, "moved@example.org").status_code == 200
    assert sign_in(server, "ann@example.org").status_code == 401


def test_email_change_through_users_route_refused(server):
    uid, tok = member(server)
    r = server.request("PATCH", f"/v1/users/{uid}", headers=hdr(tok),
                       json={"email": "sneaky@example.org"})
    assert r.status_code in (403, 422), r.text
    assert sign_in(server, "ann@example.org").status_code == 200


def test_admin_deactivation_ends_sessions(server):
    uid, tok = member(server)
    boss = admin_token(server)
    r = server.request("PATCH", f"/v1/users/{uid}", headers=hdr(boss),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    assert server.get("/v1/me", headers=hdr(tok)).status_code == 401
    assert server.db.count("auth_sessions", f"user_id = '{uid}' AND ended_at IS NULL") == 0


@pytest.mark.dialect
def test_the_last_active_admin_cannot_be_removed(server):
    boss = admin_token(server)
    me = server.get("/v1/me", headers=hdr(boss)).json()["id"]
    for change in ({"role": "member"}, {"is_active": False}):
        r = server.request("PATCH", f"/v1/users/{me}", headers=hdr(boss), json=change)
        assert r.status_code == 409 and r.json()["code"] == "LAST_ADMIN", r.text
    r = server.request("DELETE", f"/v1/users/{me}", headers=hdr(boss))
    assert r.status_code == 409 and r.json()["code"] == "LAST_ADMIN", r.text
    r = server.post(f"/v1/users/{me}/erase", headers=hdr(boss))
    assert r.status_code == 409 and r.json()["code"] == "LAST_ADMIN", r.text
    r = server.request("DELETE", "/v1/me", headers=hdr(boss), json={"password": PASSWORD})
    assert r.status_code == 409 and r.json()["code"] == "LAST_ADMIN", r.text
    assert server.get("/v1/me", headers=hdr(boss)).json()["role"] == "admin"
    # With a second admin, the first may go.
    other = admin_token(server, "boss2@example.org")
    r = server.request("PATCH", f"/v1/users/{me}", headers=hdr(other),
                       json={"role": "member"})
    assert r.status_code == 200, r.text
    # A member being erased needs no admin at all.
    uid, tok = member(server)
    r = server.request("DELETE", "/v1/me", headers=hdr(tok), json={"password": PASSWORD})
    assert r.status_code in (200, 202, 204), r.text


def test_a_deleted_accounts_email_stays_reserved_until_erased(server):
    uid, tok = member(server)
    boss = admin_token(server)
    r = server.request("DELETE", f"/v1/users/{uid}", headers=hdr(boss))
    assert r.status_code == 204, r.text
    assert server.get("/v1/me", headers=hdr(tok)).status_code == 401
    r = register(server, "ann@example.org")
    assert r.status_code == 409 and r.json()["code"] == "EMAIL_TAKEN", r.text
    r = server.post(f"/v1/users/{uid}/erase", headers=hdr(boss))
    assert r.status_code in (200, 204), r.text
    r = register(server, "ann@example.org")
    assert r.status_code == 201 and r.json()["id"] != uid, r.text


def test_a_role_change_ends_the_persons_sessions(server):
    uid, tok = member(server)
    boss = admin_token(server)
    r = server.request("PATCH", f"/v1/users/{uid}", headers=hdr(boss),
                       json={"role": "therapist"})
    assert r.status_code == 200, r.text
    # The old token carried the old role and timeouts: it is gone.
    assert server.get("/v1/me", headers=hdr(tok)).status_code == 401
    assert server.db.count("auth_sessions", f"user_id = '{uid}' AND "
                           "end_reason = 'role_changed'") >= 1
    tok = login(server, "ann@example.org")
    assert server.get("/v1/me", headers=hdr(tok)).json()["role"] == "therapist"
    # Other edits keep the session.
    r = server.request("PATCH", f"/v1/users/{uid}", headers=hdr(boss),
                       json={"first_name": "Annie"})
    assert r.status_code == 200 and server.get("/v1/me", headers=hdr(tok)).status_code == 200


# --------------------------------------------------------------------------
# the command line


def test_cli_user_add_and_list(start_server):
    srv = start_server(start=False)
    r = srv.cli_ok("user", "add", "--role=admin", "--email=first@example.org",
                   f"--password={PASSWORD}")
    uid = r.stdout.strip()
    assert len(uid) == 36
    # Password from standard input, and the --flag value form.
    p = subprocess.run([BIN, "user", "add", "--role", "therapist", "--email",
                        "t@example.org"], input=PASSWORD + "\n", env=dict(srv.env),
                       capture_output=True, text=True, timeout=30, cwd=srv.tmp_path)
    assert p.returncode == 0, p.stderr
    out = srv.cli_ok("user", "list").stdout
    assert uid in out and "admin" in out and "therapist" in out
    assert "first@example.org" not in out and "t@example.org" not in out
    roles = sorted(r[0] for r in srv.db.query("SELECT role FROM users"))
    assert roles == ["admin", "therapist"]


@pytest.mark.parametrize("args,why", [
    (["--role=admin", "--email=a@example.org", "--password=short"], "too_short"),
    (["--role=admin", "--email=a@example.org", "--password=winniethepooh"], "common"),
    (["--role=wizard", "--email=a@example.org", f"--password={PASSWORD}"], "role"),
    (["--role=admin", "--email=not-an-address", f"--password={PASSWORD}"], "email"),
    (["--email=a@example.org", f"--password={PASSWORD}"], "usage"),
])
def test_cli_user_add_refusals(start_server, args, why):
    srv = start_server(start=False)
    r = srv.cli("user", "add", *args)
    assert r.returncode != 0
    assert why in r.stderr, r.stderr
    assert srv.db.count("users") == 0


def test_cli_duplicate_email(start_server):
    srv = start_server(start=False)
    srv.cli_ok("user", "add", "--role=admin", "--email=a@example.org", f"--password={PASSWORD}")
    r = srv.cli("user", "add", "--role=member", "--email=A@example.org", f"--password={PASSWORD}")
    assert r.returncode != 0 and "taken" in r.stderr


# --------------------------------------------------------------------------
# the demo seed


def test_seed_makes_demo_accounts_once(start_server):
    srv = start_server(start=False)
    out = srv.cli_ok("seed").stdout
    for who in ("admin", "therapist", "guardian", "child", "member", "instructor", "partner"):
        assert f"{who}@demo.carebase.dev" in out
    assert "carebase-demo-2026" in out
    again = srv.cli_ok("seed").stdout
    assert "existed" in again
    # The seven demo accounts and the training business's admin (its seed).
    assert srv.db.count("users") == 8
    assert srv.db.count("relationships", "kind = 'guardian_of' AND status = 'active' "
                        "AND consent_at IS NOT NULL") == 1
    srv.start(migrate=False)
    r = sign_in(srv, "admin@demo.carebase.dev", "carebase-demo-2026")
    assert r.status_code == 200 and r.json()["user"]["role"] == "admin"
    child = sign_in(srv, "child@demo.carebase.dev", "carebase-demo-2026").json()["user"]
    assert child["country"] == "GB"
    born = datetime.date.fromisoformat(child["date_of_birth"])
    today = datetime.date.today()
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    assert age == 12


def test_me_patch_honours_if_match(server):
    uid, tok = member(server)
    r = server.get("/v1/me", headers=hdr(tok))
    etag = r.headers["ETag"]
    stale = '"0000000000000000"'
    problem(server.request("PATCH", "/v1/me", json={"first_name": "Nope"},
                           headers={**hdr(tok), "If-Match": stale}),
            412, "PRECONDITION_FAILED")
    assert server.get("/v1/me", headers=hdr(tok)).json()["first_name"] is None
    r = server.request("PATCH", "/v1/me", json={"first_name": "Annie"},
                       headers={**hdr(tok), "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] != etag
    # The row changed since etag was read.
    problem(server.request("PATCH", "/v1/me", json={"first_name": "Late"},
                           headers={**hdr(tok), "If-Match": etag}),
            412, "PRECONDITION_FAILED")
    r = server.request("PATCH", "/v1/me", json={"first_name": "Any"},
                       headers={**hdr(tok), "If-Match": "*"})
    assert r.status_code == 200, r.text
    r = server.request("PATCH", "/v1/me", json={"first_name": "Listed"},
                       headers={**hdr(tok), "If-Match": f'{stale}, {r.headers["ETag"]}'})
    assert r.status_code == 200, r.text
    assert r.json()["first_name"] == "Listed"


def test_users_filter_by_email(server):
    boss = admin_token(server)
    ann_id, ann = member(server, "ann@example.org")
    bob_id, bob = member(server, "bob@example.org")
    r = server.get("/v1/users?email=bob@example.org", headers=hdr(boss))
    assert r.status_code == 200, r.text
    assert [u["id"] for u in r.json()["data"]] == [bob_id]
    # Addresses are matched as the blind index normalises them.
    r = server.get("/v1/users?email=BOB@example.org", headers=hdr(boss))
    assert [u["id"] for u in r.json()["data"]] == [bob_id]
    r = server.get("/v1/users?email=nobody@example.org", headers=hdr(boss))
    assert r.status_code == 200 and r.json()["data"] == []
    # A member sees only rows in their scope.
    r = server.get("/v1/users?email=bob@example.org", headers=hdr(ann))
    assert r.status_code in (200, 403), r.text
    if r.status_code == 200:
        assert r.json()["data"] == []
        r = server.get("/v1/users?email=ann@example.org", headers=hdr(ann))
        assert [u["id"] for u in r.json()["data"]] == [ann_id]
