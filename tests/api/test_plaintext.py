"""Personal data is sealed at rest: values planted through the API (email,
names, phone, date of birth, location, and a mail to the person) appear
nowhere in clear in the raw SQLite files or in a PostgreSQL dump."""
import secrets

import pytest

from conftest import CHAT_WEBSITE, FakeChat, PASSWORD, add_user, hdr, login, wait_until

# What each dialect stores of a sealed column (bytea on PostgreSQL, read
# back by pg_dump) is the point here.
pytestmark = pytest.mark.dialect


def test_planted_personal_values_are_not_in_the_database_in_clear(start_server, db):
    tag = secrets.token_hex(5)
    planted = {
        "email": f"plant{tag}@example.org",
        "first_name": f"Zyxfirst{tag}",
        "last_name": f"Zyxlast{tag}",
        "phone": f"+4477009{int(tag, 16) % 100000:05d}",
        "location": f"Plantville{tag}",
    }
    s = start_server(db=db, env={"CAREBASE_SMTP_URL": "smtp://127.0.0.1:9",
                                 "CAREBASE_SMTP_TLS": "none"})
    r = s.post("/v1/auth/register", json={
        "email": planted["email"], "password": PASSWORD, "accept_terms": True,
        "first_name": planted["first_name"], "last_name": planted["last_name"]})
    assert r.status_code in (200, 201), r.text
    auth = hdr(login(s, planted["email"]))
    r = s.request("PATCH", "/v1/me", json={"phone": planted["phone"],
                                           "location": planted["location"],
                                           "date_of_birth": "1987-06-05"}, headers=auth)
    assert r.status_code == 200, r.text
    # a mail to the person: recipient and variables land in email_log
    assert s.post("/v1/auth/password-reset", json={"email": planted["email"]}).status_code == 202
    s.stop()

    raw = db.raw()
    assert raw, "nothing was read"
    for name, value in planted.items():
        for form in (value.encode(), value.encode("utf-16-le"), value.encode().hex().encode()):
            assert form not in raw, f"{name} found in clear in the database"
    assert b"1987-06-05" not in raw


def test_booking_details_are_not_in_the_database_in_clear(start_server, db):
    """A booking webhook's client address, time zone and provider (name and
    address) are sealed in therapy_bookings, and the inbox body too."""
    tag = secrets.token_hex(5)
    secret = "sb-" + secrets.token_hex(8)
    planted = {
        "client_email": f"client{tag}@example.org",
        "client_timezone": f"Etc/Zyxzone{tag}",
        "service_provider_name": f"Dr Zyxprovider{tag}",
        "service_provider_email": f"provider{tag}@therapists.example.org",
    }
    s = start_server(db=db, env={"CAREBASE_SIMPLYBOOK_WEBHOOK_SECRET": secret})
    admin_email = f"admin{tag}@example.org"
    add_user(s, "admin", admin_email)
    admin = hdr(login(s, admin_email))
    r = s.post("/v1/auth/register", json={"email": planted["client_email"], "password": PASSWORD,
                                          "accept_terms": True})
    assert r.status_code in (200, 201), r.text
    member = hdr(login(s, planted["client_email"]))
    partner = s.post("/v1/partners", headers=admin, json={"name": f"P{tag}"}).json()
    acc = s.post("/v1/partner-access", headers=admin, json={
        "partner_id": partner["id"], "feature_therapy": True, "feature_live_chat": True,
        "therapy_sessions_remaining": 2}).json()
    assert s.post("/v1/partner-access/assign", headers=member,
                  json={"code": acc["code"]}).status_code == 200
    body = dict(planted, action="NEW_BOOKING", booking_code=f"bk{tag}",
                service_name="Therapy session", start_date_time="2099-05-01T10:00:00Z",
                end_date_time="2099-05-01T11:00:00Z")
    r = s.post("/v1/webhooks/simplybook", json=body, headers={"X-Simplybook-Token": secret})
    assert r.status_code == 200, r.text
    bk = r.json()["booking"]
    # The API answers as before: the booking system sees the provider and
    # time zone, the client also their address.
    for k in ("client_timezone", "service_provider_name", "service_provider_email"):
        assert bk[k] == planted[k], k
    mine = s.get("/v1/me/therapy-bookings", headers=member).json()["data"][0]
    for k, v in planted.items():
        assert mine[k] == v, k
    s.stop()

    raw = db.raw()
    assert raw, "nothing was read"
    for name, value in planted.items():
        for form in (value.encode(), value.encode("utf-16-le"), value.encode().hex().encode()):
            assert form not in raw, f"{name} found in clear in the database"


def test_chat_profile_addresses_are_not_in_the_database_in_clear(start_server, db):
    """The chat profile sync remembers the addresses the provider holds a
    profile under (to delete it after an email change or an erasure): the
    old and new address appear nowhere in clear, neither in the sync row
    while the delete of the old profile keeps failing nor in the queued
    chat.profile_delete job after the erasure."""
    tag = secrets.token_hex(5)
    old, new = f"chatold{tag}@example.org", f"chatnew{tag}@example.org"
    chat = FakeChat()
    try:
        s = start_server(db=db, env={
            "CAREBASE_CHAT_SYNC_URL": chat.url, "CAREBASE_CHAT_SYNC_WEBSITE_ID": CHAT_WEBSITE,
            "CAREBASE_CHAT_SYNC_DELAY_MS": "100", "CAREBASE_CHAT_SYNC_TIMEOUT_S": "1",
            "CAREBASE_JOB_BACKOFF_BASE_MS": "200"})
        admin_email = f"admin{tag}@example.org"
        add_user(s, "admin", admin_email)
        admin = hdr(login(s, admin_email))
        assert s.post("/v1/auth/register", json={"email": old, "password": PASSWORD,
                                                 "accept_terms": True}).status_code == 201
        member = hdr(login(s, old))
        partner = s.post("/v1/partners", headers=admin, json={"name": f"P{tag}"}).json()
        acc = s.post("/v1/partner-access", headers=admin, json={
            "partner_id": partner["id"], "feature_live_chat": True}).json()
        assert s.post("/v1/partner-access/assign", headers=member,
                      json={"code": acc["code"]}).status_code == 200
        wait_until(lambda: old in chat.people and chat.people[old], what="the first push")
        chat.delete_script = [503] * 100
        r = s.request("PATCH", "/v1/me", headers=member,
                      json={"email": new, "current_password": PASSWORD})
        assert r.status_code == 200, r.text
        wait_until(lambda: len(chat.deletes(old)) >= 2, what="failed deletes of the old profile")

        def scan():
            raw = db.raw()
            assert raw, "nothing was read"
            for value in (old, new):
                for form in (value.encode(), value.encode("utf-16-le"),
                             value.encode().hex().encode()):
                    assert form not in raw, f"{value} found in clear in the database"

        assert db.count("chat_profile_sync", "pushed_identity IS NOT NULL") == 1
        scan()
        member = hdr(login(s, new))
        n = len(chat.deletes(old))
        r = s.request("DELETE", "/v1/me", headers=member, json={"password": PASSWORD})
        assert r.status_code == 204, r.text
        wait_until(lambda: db.count("jobs", "kind = 'chat.profile_delete'") == 1 and
                   len(chat.deletes(old)) >= n + 2, what="the erasure's delete to be retried")
        scan()
        s.stop()
        scan()
    finally:
        chat.stop()
