"""GDPR: export of everything held about a person, and erasure (crypto-shredding).

Export: GET /v1/me/export (the caller) and GET /v1/users/{id}/export (admins).
Erasure: DELETE /v1/me with the current password, POST /v1/users/{id}/erase
(admins). After erasure the person cannot log in, their token is refused, their
data key is gone, they vanish from lists and exports, and the audit chain is
still whole.
"""

import json
import pathlib
import secrets

import pytest

from conftest import PASSWORD, hdr, login, me, person, problem, register, wait_until
from training_helpers import booked

# --------------------------------------------------------------------------
# helpers (people accounts come from the people module)


@pytest.fixture
def people(server):
    """An admin and two members whose first names are markers to look for."""
    alice, bob = ("Alicemarker" + secrets.token_hex(2), "Bobmarker" + secrets.token_hex(2))
    return {"admin": person(server, "admin", "admin"),
            "alice": person(server, alice, first_name=alice),
            "bob": person(server, bob, first_name=bob)}


def audit_verify(server):
    r = server.cli("audit", "verify")
    return r.returncode, r.stdout + r.stderr


# --------------------------------------------------------------------------
# export


def test_export_needs_a_token(server):
    problem(server.get("/v1/me/export"), 401, "UNAUTHORIZED")


@pytest.mark.dialect
def test_export_holds_the_callers_data_and_nothing_of_anyone_else(server, people):
    alice, bob = people["alice"], people["bob"]
    r = server.get("/v1/me/export", headers=hdr(alice["token"]))
    assert r.status_code == 200, r.text
    assert r.headers.get("Cache-Control") == "no-store"
    doc = r.json()
    for key in ("exported_at", "user", "relationships", "auth_sessions",
                "password_resets", "email_log", "audit_log"):
        assert key in doc, key
    user = doc["user"]
    assert user["id"] == alice["id"]
    assert user["email"] == alice["email"]
    assert user["first_name"] == alice["first_name"]
    assert "password_hash" not in user and "email_index" not in user
    assert len(doc["auth_sessions"]) >= 1
    for s in doc["auth_sessions"]:
        assert "token_hash" not in s
        # Stored sealed; the export holds them opened.
        assert s["ip"] == "127.0.0.1" and s["user_agent"], s
    text = json.dumps(doc)
    for secret_of_bob in (bob["email"], bob["first_name"], bob["id"]):
        assert secret_of_bob not in text
    assert "$argon2" not in text


def mail_of(doc):
    """The mail in an export but the verification every member who signs
    up is sent (test_mail_templates.py)."""
    return [m for m in doc["email_log"] if m["template"] != "email_verify"]


def test_export_lists_mail_sent_to_the_person(server, people):
    alice = people["alice"]
    r = server.post("/v1/auth/password-reset", json={"email": alice["email"]})
    assert r.status_code == 202, r.text
    wait_until(lambda: server.db.count("password_resets", f"user_id = '{alice['id']}'") == 1,
               timeout=10, what="the reset job")
    doc = server.get("/v1/me/export", headers=hdr(alice["token"])).json()
    assert any(m["recipient"] == alice["email"] for m in doc["email_log"]), doc["email_log"]
    assert len(doc["password_resets"]) == 1
    reset = doc["password_resets"][0]
    # The address that asked, stored sealed under her key, opened for her.
    assert set(reset) == {"id", "created_at", "expires_at", "used_at", "ip"}
    assert reset["ip"] == "127.0.0.1"
    bob_doc = server.get("/v1/me/export", headers=hdr(people["bob"]["token"])).json()
    assert mail_of(bob_doc) == [] and bob_doc["password_resets"] == []


def test_admin_exports_any_user_and_it_is_audited(server, people):
    admin, alice, bob = people["admin"], people["alice"], people["bob"]
    r = server.get(f"/v1/users/{alice['id']}/export", headers=hdr(admin["token"]))
    assert r.status_code == 200, r.text
    assert r.json()["user"]["email"] == alice["email"]
    # Members may not export others.
    problem(server.get(f"/v1/users/{alice['id']}/export", headers=hdr(bob["token"])),
            403, "FORBIDDEN")
    # Unknown id: 404.
    problem(server.get("/v1/users/0190a5c4-0000-7000-8000-000000000000/export",
                       headers=hdr(admin["token"])), 404, "NOT_FOUND")
    # Reads' audit rows are written by the audit writer, within audit_flush_ms.
    wait_until(lambda: server.db.count(
        "audit_log", f"action = 'users.export' AND entity_id = '{alice['id']}'") == 1,
        timeout=5, what="the export's audit row")
    assert server.db.count("audit_log", f"action = 'users.export' AND entity_id = '{alice['id']}'") == 1


# --------------------------------------------------------------------------
# erasure


def test_self_erasure_needs_the_current_password(server, people):
    alice = people["alice"]
    r = server.request("DELETE", "/v1/me", headers=hdr(alice["token"]),
                       json={"password": "not the password at all"})
    problem(r, 403, "WRONG_PASSWORD")
    r = server.request("DELETE", "/v1/me", headers=hdr(alice["token"]), json={})
    problem(r, 422, "VALIDATION_FAILED")
    r = server.request("DELETE", "/v1/me", headers=hdr(alice["token"]),
                       json={"password": PASSWORD, "role": "admin"})
    assert r.status_code in (400, 422), r.text
    assert me(server, alice["token"])["id"] == alice["id"]


def erased_everywhere(server, people, victim):
    admin = people["admin"]
    # Login fails, the old token is refused.
    r = server.post("/v1/auth/login", json={"email": victim["email"], "password": PASSWORD})
    assert r.status_code in (401, 403), r.text
    assert server.get("/v1/me", headers=hdr(victim["token"])).status_code == 401
    # Exports and reads answer 404; lists do not show them.
    problem(server.get(f"/v1/users/{victim['id']}/export", headers=hdr(admin["token"])),
            404, "NOT_FOUND")
    assert server.get(f"/v1/users/{victim['id']}",
                      headers=hdr(admin["token"])).status_code == 404
    ids = []
    cursor = None
    while True:
        q = "/v1/users?limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = server.get(q, headers=hdr(admin["token"]))
        assert page.status_code == 200, page.text
        ids += [u["id"] for u in page.json()["data"]]
        cursor = page.json().get("next_cursor")
        if not cursor:
            break
    assert victim["id"] not in ids
    assert admin["id"] in ids
    # The database no longer opens their fields: the key is gone and the
    # personal columns are empty; the row is marked deleted.
    db = server.db
    assert db.count("user_keys", f"user_id = '{victim['id']}'") == 0
    row = db.query("SELECT email, email_index, password_hash, first_name, audit_ref, "
                   f"is_active, deleted_at FROM users WHERE id = '{victim['id']}'")[0]
    assert row[:5] == (None, None, None, None, None)
    assert row[5] == "0" and row[6] is not None
    assert db.count("auth_sessions",
                    f"user_id = '{victim['id']}' AND ended_at IS NULL") == 0
    assert db.count("password_resets", f"user_id = '{victim['id']}'") == 0
    n = db.count("audit_log", f"action = 'users.erase' AND entity_id = '{victim['id']}'")
    assert n == 1
    rc, out = audit_verify(server)
    assert rc == 0 and "chain intact" in out, out


@pytest.mark.dialect
def test_self_erasure_shreds_the_person(server, people):
    alice, bob = people["alice"], people["bob"]
    # Some mail to erase too.
    assert server.post("/v1/auth/password-reset",
                       json={"email": alice["email"]}).status_code == 202
    ref = server.db.scalar(f"SELECT audit_ref FROM users WHERE id = '{alice['id']}'")
    r = server.request("DELETE", "/v1/me", headers=hdr(alice["token"]),
                       json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    erased_everywhere(server, people, alice)
    # A person acting on their own account is recorded as "self", with no
    # pseudonym: no row ties their pseudonym to their id, so nothing that
    # pseudonym did elsewhere can be traced back to them after erasure.
    actor, role = server.db.query(
        "SELECT actor_ref, actor_role FROM audit_log WHERE action = 'users.erase'")[0]
    assert actor is None and role == "self"
    assert server.db.count("audit_log", f"actor_ref = '{ref}' AND entity_id = '{alice['id']}'") == 0
    assert server.db.count("users", f"audit_ref = '{ref}'") == 0
    # Others are untouched.
    assert me(server, bob["token"])["id"] == bob["id"]
    doc = server.get("/v1/me/export", headers=hdr(bob["token"])).json()
    assert doc["user"]["email"] == bob["email"]


@pytest.mark.dialect
def test_admin_erasure(server, people):
    admin, alice, bob = people["admin"], people["alice"], people["bob"]
    problem(server.post(f"/v1/users/{alice['id']}/erase", headers=hdr(bob["token"])),
            403, "FORBIDDEN")
    r = server.post(f"/v1/users/{alice['id']}/erase", headers=hdr(admin["token"]))
    assert r.status_code == 204, r.text
    erased_everywhere(server, people, alice)
    actor = server.db.scalar("SELECT actor_ref FROM audit_log WHERE action = 'users.erase'")
    admin_ref = server.db.scalar(f"SELECT audit_ref FROM users WHERE id = '{admin['id']}'")
    assert actor == admin_ref
    # Again: the person no longer exists.
    problem(server.post(f"/v1/users/{alice['id']}/erase", headers=hdr(admin["token"])),
            404, "NOT_FOUND")
    assert me(server, bob["token"])["id"] == bob["id"]


def test_erasure_removes_relationships_and_mail(server, people):
    admin, alice, bob = people["admin"], people["alice"], people["bob"]
    r = server.post("/v1/relationships", headers=hdr(admin["token"]),
                    json={"lead_id": bob["id"], "follower_id": alice["id"],
                          "kind": "practitioner_of"})
    assert r.status_code == 201, r.text
    assert server.post("/v1/auth/password-reset",
                       json={"email": alice["email"]}).status_code == 202
    index = server.db.scalar(f"SELECT email_index FROM users WHERE id = '{alice['id']}'")
    # The reset's own row (the sign-up's verification mail has one too).
    wait_until(lambda: server.db.count("email_log", f"recipient_index = '{index}' AND "
                                       "template = 'password_reset'") >= 1,
               timeout=10, what="the reset job to queue the mail")
    r = server.post(f"/v1/users/{alice['id']}/erase", headers=hdr(admin["token"]))
    assert r.status_code == 204, r.text
    assert server.db.count("email_log", f"recipient_index = '{index}'") == 0
    assert server.db.count("relationships", f"follower_id = '{alice['id']}'") == 0


@pytest.mark.sqlite_only
def test_raw_file_never_holds_the_email_and_only_the_erased_key_goes(server, people):
    alice = people["alice"]
    path = server.db.path
    before = path.read_bytes()
    assert alice["email"].encode() not in before
    r = server.post(f"/v1/users/{alice['id']}/erase", headers=hdr(people["admin"]["token"]))
    assert r.status_code == 204, r.text
    db = server.db
    assert db.count("user_keys", f"user_id = '{alice['id']}'") == 0
    assert db.count("user_keys", f"user_id = '{people['bob']['id']}'") == 1


def test_mail_to_an_earlier_address_is_exported_and_erased(server, people):
    alice = people["alice"]
    old, new = alice["email"], f"new.{secrets.token_hex(3)}@example.org"
    assert server.post("/v1/auth/password-reset", json={"email": old}).status_code == 202
    # The reset is a job that looks the address up: let it run first.
    wait_until(lambda: server.db.count("email_log", f"user_id = '{alice['id']}' AND "
                                       "template = 'password_reset'") == 1,
               what="the reset mail to be queued")
    r = server.request("PATCH", "/v1/me", headers=hdr(alice["token"]),
                       json={"email": new, "current_password": PASSWORD})
    assert r.status_code == 200, r.text
    # The mail went to the old address; the export still lists it, and
    # the notice of the change that went there too (test_mail_templates.py).
    doc = server.get("/v1/me/export", headers=hdr(alice["token"])).json()
    assert sorted((m["template"], m["recipient"]) for m in mail_of(doc)) == [
        ("email_changed", old), ("password_reset", old)], doc["email_log"]
    assert server.db.count("email_log", f"user_id = '{alice['id']}' AND "
                           "template = 'password_reset'") == 1
    r = server.request("DELETE", "/v1/me", headers=hdr(alice["token"]),
                       json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    assert server.db.count("email_log", f"template != 'email_verify' OR "
                           f"user_id = '{alice['id']}'") == 0


def test_mail_for_no_user_belongs_to_nobody(server, people):
    r = server.cli("mail", "test", "--to=someone@example.org")
    assert r.returncode == 0, r.stdout + r.stderr
    assert server.db.count("email_log", "user_id IS NULL") == 1
    doc = server.get("/v1/me/export", headers=hdr(people["alice"]["token"])).json()
    assert mail_of(doc) == []


SESSION_KEYS = {"id", "ip", "user_agent", "device_fingerprint", "created_at",
                "last_activity_at", "expires_at", "ended_at", "end_reason"}
MAIL_KEYS = {"id", "template", "status", "attempts", "sent_at", "error", "created_at",
             "updated_at", "recipient", "subject"}


@pytest.mark.dialect
def test_mail_to_the_persons_address_with_no_user_named_is_theirs(server, people):
    """Mail whose row names no user but went to the person's address is in
    their export beside their account, as their sessions are, each with
    exactly its exported members, and goes with their erasure."""
    alice, bob = people["alice"], people["bob"]
    r = server.cli("mail", "test", f"--to={alice['email']}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert server.db.count("email_log", "user_id IS NULL") == 1
    doc = server.get("/v1/me/export", headers=hdr(alice["token"])).json()
    assert [m["recipient"] for m in mail_of(doc)] == [alice["email"]], doc["email_log"]
    assert set(mail_of(doc)[0]) == MAIL_KEYS, doc["email_log"][0]
    assert mail_of(doc)[0]["subject"] == "carebase test message"
    assert doc["auth_sessions"] and all(set(s) == SESSION_KEYS for s in doc["auth_sessions"])
    assert "email_log" not in doc["records"] and "auth_sessions" not in doc["records"]
    assert mail_of(server.get("/v1/me/export", headers=hdr(bob["token"])).json()) == []
    r = server.request("DELETE", "/v1/me", headers=hdr(alice["token"]),
                       json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    assert server.db.count("email_log", f"template != 'email_verify' OR "
                           f"user_id = '{alice['id']}'") == 0
    assert server.db.count("auth_sessions", f"user_id = '{alice['id']}' AND (ip IS NOT NULL "
                           "OR user_agent IS NOT NULL OR device_fingerprint IS NOT NULL)") == 0


@pytest.mark.dialect
def test_a_soft_deleted_user_can_be_exported_and_erased(server, people):
    admin, alice = people["admin"], people["alice"]
    r = server.request("DELETE", f"/v1/users/{alice['id']}", headers=hdr(admin["token"]))
    assert r.status_code == 204, r.text
    assert server.db.scalar(f"SELECT deleted_at FROM users WHERE id = '{alice['id']}'")
    r = server.get(f"/v1/users/{alice['id']}/export", headers=hdr(admin["token"]))
    assert r.status_code == 200, r.text
    assert r.json()["user"]["email"] == alice["email"]
    r = server.post(f"/v1/users/{alice['id']}/erase", headers=hdr(admin["token"]))
    assert r.status_code == 204, r.text
    db = server.db
    assert db.count("user_keys", f"user_id = '{alice['id']}'") == 0
    row = db.query("SELECT email, email_index, password_hash, first_name, last_name, "
                   f"audit_ref FROM users WHERE id = '{alice['id']}'")[0]
    assert row == (None,) * 6, row
    assert db.count("audit_log", f"action = 'users.erase' AND entity_id = '{alice['id']}'") == 1
    # Erased now: not again, and no export.
    problem(server.post(f"/v1/users/{alice['id']}/erase", headers=hdr(admin["token"])),
            404, "NOT_FOUND")
    problem(server.get(f"/v1/users/{alice['id']}/export", headers=hdr(admin["token"])),
            404, "NOT_FOUND")
    rc, out = audit_verify(server)
    assert rc == 0 and "chain intact" in out, out


# -- x19g (issue 19): the export's answer is declared and closed ---------------

DEMO_PASSWORD = "carebase-demo-2026"


# The sections whose rows take a scenario of their own (payments through
# Stripe, a trainer's attendance and certificates, the booking system's
# and the chat provider's webhooks): the test that exports them, asserting
# rows, its answer checked by the contract hook as every answer is.
ELSEWHERE = {
    "records.attendance_records": "test_training_certificates.py",
    "records.certificates": "test_training_certificates.py",
    "records.chat_profile_sync": "test_chatsync.py",
    "records.notifications": "test_training_notifications.py",
    "records.payment_transactions": "test_training_payments.py",
    "records.refunds": "test_training_refunds.py",
    "records.special_requirements": "test_training_bookings.py",
    "records.therapy_bookings": "test_bookings.py",
    "records.webhook_inbox": "test_inbox_privacy.py",
}


def stale_elsewhere(elsewhere=None):
    """The ELSEWHERE (or elsewhere) entries whose test file is gone or does
    not read an export ("/export") and the section by its quoted name: an
    entry gone stale would excuse a section nothing fills."""
    stale = []
    for section, name in sorted((ELSEWHERE if elsewhere is None else elsewhere).items()):
        f = pathlib.Path(__file__).parent / name
        text = f.read_text() if f.is_file() else ""
        if "/export" not in text or f'"{section.split(".")[-1]}"' not in text:
            stale.append(section)
    return stale


def test_elsewhere_names_tests_that_export_their_section():
    """Each ELSEWHERE file reads an export and names its section; a stale
    entry (the file gone, or not about that section) fails."""
    assert stale_elsewhere() == []
    assert stale_elsewhere({"records.webhook_inbox": "test_no_such_file.py",
                            "records.refunds": "test_inbox_privacy.py",
                            "records.therapy_bookings": "test_bookings.py"}) == [
        "records.refunds", "records.webhook_inbox"]


def export_sections(doc):
    """{section: rows} of an export: its relationships, audit log, the
    account's own tables beside user, and each member of records."""
    top = {k: v for k, v in doc.items() if isinstance(v, list)}
    return {**top, **{f"records.{k}": v for k, v in doc["records"].items()}}


def test_every_section_of_the_export_is_checked_against_the_document_with_rows(
        start_seeded):
    """The contract hook (openapi_contract.py) checks every answer against
    the document, whose export is closed (export_records, export_tables,
    users_exported, each GDPR hook's schema): exported with rows in every
    section, the demo seed's people (as an admin, and the member as
    themselves) and what this test adds are each an answer it checks, so
    a row of any section the document does not declare fails here. Every
    section the document declares has a row in one of them, or in the
    test ELSEWHERE names."""
    srv = start_seeded()
    admin = login(srv, "admin@demo.carebase.dev", DEMO_PASSWORD)
    member = login(srv, "member@demo.carebase.dev", DEMO_PASSWORD)
    # What the seed has not: mail and a reset link, a family invitation,
    # a new account's verification link, a preference, an inquiry and a
    # booking of the seed's schedule (its attendees, its funnel's events).
    assert srv.post("/v1/auth/password-reset",
                    json={"email": "member@demo.carebase.dev"}).status_code == 202
    r = srv.post("/v1/me/family/invite", headers=hdr(member),
                 json={"email": f"kin-{secrets.token_hex(3)}@example.org"})
    assert r.status_code == 202, r.text
    assert register(srv, f"new-{secrets.token_hex(3)}@example.org").status_code == 201
    r = srv.post("/v1/notification-preferences", headers=hdr(member),
                 json={"notification_type": "reminder", "channel": "email", "enabled": False})
    assert r.status_code == 201, r.text
    sched = srv.get("/v1/course-schedules").json()["data"][0]
    r = srv.post("/v1/booking-inquiries", headers=hdr(member), json={
        "schedule_id": sched["id"], "first_name": "Mem", "last_name": "Ber",
        "email": "member@demo.carebase.dev", "number_of_people": 1})
    assert r.status_code == 201, r.text
    booked(srv, {"token": member, **me(srv, member)}, sched)
    doc = srv.get("/v1/openapi.json").json()
    schemas = doc["components"]["schemas"]
    declared = ({k for k in schemas["export_tables"]["properties"]}
                | {"relationships", "audit_log"}
                | {f"records.{k}" for k in schemas["export_records"]["properties"]})
    ids = [u["id"] for u in srv.get("/v1/users?limit=100", headers=hdr(admin)).json()["data"]]
    filled = set()
    for uid in ids:
        r = srv.get(f"/v1/users/{uid}/export", headers=hdr(admin))
        assert r.status_code == 200, r.text
        filled |= {k for k, v in export_sections(r.json()).items() if v}
    r = srv.get("/v1/me/export", headers=hdr(member))
    assert r.status_code == 200, r.text
    assert set(export_sections(r.json())) == declared
    assert set(ELSEWHERE) <= declared, set(ELSEWHERE) - declared
    assert declared - filled <= set(ELSEWHERE), " ".join(sorted(declared - filled))
