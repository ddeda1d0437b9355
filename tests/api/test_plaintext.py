"""Personal data is sealed at rest: values planted through the API (email,
names, phone, date of birth, location, a mail to the person, and the
client details of a sign-in) appear nowhere in clear in the raw SQLite
files or in a PostgreSQL dump."""
import json
import secrets

import pytest

from conftest import (CHAT_WEBSITE, FakeChat, PASSWORD, add_user, hdr, login, prove_address,
                      session_from, wait_until, with_mail)

# What each dialect stores of a sealed column (bytea on PostgreSQL, read
# back by pg_dump) is the point here.
pytestmark = pytest.mark.dialect


def planted_address(tag):
    """An address of 127/8 (this machine's) made from tag, to send from."""
    n = int(tag, 16)
    return f"127.{n % 250 + 3}.{n // 250 % 250 + 3}.{n // 62500 % 250 + 3}"


def send_from(srv, address, method, path, body=None, headers=None):
    """One request to srv from address (127/8); (status, decoded body)."""
    h = {"Content-Type": "application/json", **(headers or {})}
    with session_from(address) as s:
        r = s.request(method, srv.url(path), timeout=30, headers=h,
                      data=json.dumps(body) if body is not None else None)
    return r.status_code, (r.json() if r.content else None)


def assert_nowhere_in_clear(db, planted):
    raw = db.raw()
    assert raw, "nothing was read"
    for name, value in planted.items():
        for form in (value.encode(), value.encode("utf-16-le"), value.encode().hex().encode()):
            assert form not in raw, f"{name} found in clear in the database"


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


def test_chat_profile_addresses_are_not_in_the_database_in_clear(start_server, db, smtp_sink):
    """The chat profile sync remembers the addresses the provider holds a
    profile under (to delete it after an email change or an erasure): the
    old and new address appear nowhere in clear, neither in the sync row
    while the delete of the old profile keeps failing nor in the queued
    chat.profile_delete job after the erasure."""
    tag = secrets.token_hex(5)
    old, new = f"chatold{tag}@example.org", f"chatnew{tag}@example.org"
    chat = FakeChat()
    try:
        s = start_server(db=db, env=with_mail({
            "CAREBASE_CHAT_SYNC_URL": chat.url, "CAREBASE_CHAT_SYNC_WEBSITE_ID": CHAT_WEBSITE,
            "CAREBASE_CHAT_SYNC_DELAY_MS": "100", "CAREBASE_CHAT_SYNC_TIMEOUT_S": "1",
            "CAREBASE_JOB_BACKOFF_BASE_MS": "200"}, smtp_sink))
        s.sink = smtp_sink
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
        prove_address(s, new)          # a changed address moves once proven
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


def test_session_client_details_are_not_in_the_database_in_clear(start_server, db):
    """A sign-in's client address, User-Agent and device fingerprint are
    sealed in auth_sessions under the person's key: listed opened to the
    person and to an admin, found nowhere in clear in the database."""
    tag = secrets.token_hex(5)
    n = int(tag, 16)
    address = f"127.{n % 250 + 3}.{n // 250 % 250 + 3}.{n // 62500 % 250 + 3}"
    planted = {"ip": address, "user_agent": f"Zyxbrowser/{tag} (Plantos)",
               "device_fingerprint": f"Zyxdevice{tag}"}
    s = start_server(db=db)
    email, admin_email = f"sess{tag}@example.org", f"admin{tag}@example.org"
    add_user(s, "admin", admin_email)
    admin = hdr(login(s, admin_email))
    assert s.post("/v1/auth/register", json={"email": email, "password": PASSWORD,
                                             "accept_terms": True}).status_code == 201
    # Signed in from the planted address (an address of 127/8 of this machine).
    with session_from(address) as client:
        r = client.post(s.url("/v1/auth/login"), timeout=30,
                        json={"email": email, "password": PASSWORD},
                        headers={"User-Agent": planted["user_agent"],
                                 "X-Device-Fingerprint": planted["device_fingerprint"]})
    body = r.json()
    assert r.status_code == 200, body
    mine = s.get("/v1/me/sessions", headers=hdr(body["token"])).json()["data"]
    uid = s.get("/v1/me", headers=hdr(body["token"])).json()["id"]
    theirs = s.get(f"/v1/users/{uid}/sessions", headers=admin).json()["data"]
    for listed in (mine, theirs):
        assert [{k: x[k] for k in planted} for x in listed] == [planted]
    s.stop()

    raw = db.raw()
    assert raw, "nothing was read"
    for name, value in planted.items():
        for form in (value.encode(), value.encode("utf-16-le"), value.encode().hex().encode()):
            assert form not in raw, f"{name} found in clear in the database"


def test_a_reset_links_requesting_address_is_sealed_and_in_the_persons_export(start_server,
                                                                               db):
    """The address that asks for a password reset link goes to the job
    sealed (as the email does) and is kept in the reset's row sealed under
    the person's key: opened in their export, in clear neither in the
    queued job's payload nor in password_resets."""
    tag = secrets.token_hex(5)
    address = planted_address(tag)
    s = start_server(db=db, env={"CAREBASE_JOB_WORKERS": "0"})
    email = f"reset{tag}@example.org"
    assert s.post("/v1/auth/register", json={"email": email, "password": PASSWORD,
                                             "accept_terms": True}).status_code == 201
    uid = s.get("/v1/me", headers=hdr(login(s, email))).json()["id"]
    status, _ = send_from(s, address, "POST", "/v1/auth/password-reset", {"email": email})
    assert status == 202
    [(payload,)] = db.query("SELECT payload FROM jobs WHERE kind = 'people.password_reset'")
    assert address not in payload and '"ip"' not in payload, payload
    assert_nowhere_in_clear(db, {"ip": address})
    s.spawn("worker")
    wait_until(lambda: db.count("password_resets", f"user_id = '{uid}'") == 1,
               what="the reset job")
    doc = s.get("/v1/me/export", headers=hdr(login(s, email))).json()
    assert [r["ip"] for r in doc["password_resets"]] == [address]
    s.stop()
    assert_nowhere_in_clear(db, {"ip": address})


def test_the_request_log_holds_the_clients_network_unless_told_otherwise(start_server):
    """Each request's log line names the client's address, personal data:
    by default only its network (an IPv4 /24; an IPv6 /48), log_ip=none
    leaves it out, log_ip=full writes it whole."""
    tag = secrets.token_hex(5)
    address = planted_address(tag)
    network = address.rsplit(".", 1)[0] + ".0/24"
    lines = {}
    for how in (None, "none", "full"):
        s = start_server(env={"CAREBASE_LOG_IP": how} if how else None)
        status, _ = send_from(s, address, "GET", "/v1/openapi.json")
        assert status == 200
        s.stop()
        [line] = [ln for ln in s.log().splitlines()
                  if "event=request" in ln and 'path="/v1/openapi.json"' in ln]
        lines[how] = line
    assert f" ip={network}" in lines[None] and address not in lines[None], lines[None]
    assert " ip=- " in lines["none"] + " " and address not in lines["none"], lines["none"]
    assert f" ip={address}" in lines["full"], lines["full"]
    r = start_server(start=False).cli("config", env={"CAREBASE_LOG_IP": "partial"})
    assert r.returncode != 0 and "log_ip" in r.stderr, r.stderr


def test_audit_records_keep_no_clients_address_or_agent_in_clear(start_server, db):
    """No erasure can take a value out of the hash-chained audit log, so it
    keeps no client's address or User-Agent in clear. A member acting on
    their own data (ending a session, changing their password) has them
    sealed under their key: opened in the log for admins and in their own
    export, unreadable once they are erased. A staff member acting on
    someone else's data has them as a keyed blind index: null in the log,
    the same index for the same address. The chain verifies throughout."""
    tag, tag2 = secrets.token_hex(5), secrets.token_hex(5)
    member_ip, staff_ip = planted_address(tag), planted_address(tag2)
    member_ua, staff_ua = f"Zyxmember/{tag}", f"Zyxstaff/{tag2}"
    s = start_server(db=db)
    admin_email, email = f"admin{tag}@example.org", f"audited{tag}@example.org"
    add_user(s, "admin", admin_email)
    assert s.post("/v1/auth/register", json={"email": email, "password": PASSWORD,
                                             "accept_terms": True}).status_code == 201

    def member(method, path, token=None, body=None):
        h = {"User-Agent": member_ua, **({"Authorization": f"Bearer {token}"} if token else {})}
        return send_from(s, member_ip, method, path, body, h)

    def staff(method, path, token=None, body=None):
        h = {"User-Agent": staff_ua, **({"Authorization": f"Bearer {token}"} if token else {})}
        return send_from(s, staff_ip, method, path, body, h)

    status, body = staff("POST", "/v1/auth/login", body={"email": admin_email,
                                                        "password": PASSWORD})
    assert status == 200, body
    admin = body["token"]
    tokens = []
    for _ in range(3):
        status, body = member("POST", "/v1/auth/login", body={"email": email,
                                                              "password": PASSWORD})
        assert status == 200, body
        tokens.append(body["token"])
    uid = s.get("/v1/me", headers=hdr(tokens[0])).json()["id"]
    ids = [x["id"] for x in s.get("/v1/me/sessions", headers=hdr(tokens[0])).json()["data"]
           if not x["current"]]
    assert len(ids) == 2
    # The member ends a session of theirs; an admin ends another and
    # deactivates and reactivates the account.
    assert member("DELETE", f"/v1/me/sessions/{ids[0]}", tokens[0])[0] == 204
    assert staff("DELETE", f"/v1/users/{uid}/sessions/{ids[1]}", admin)[0] == 204
    status, body = member("POST", "/v1/me/password", tokens[0],
                          {"current_password": PASSWORD, "new_password": "Zyx new pass 2026!"})
    assert status == 204, body
    for active in (False, True):
        status, body = staff("PATCH", f"/v1/users/{uid}", admin, {"is_active": active})
        assert status == 200, body
    token = login(s, email, "Zyx new pass 2026!")
    s.stop()
    assert_nowhere_in_clear(db, {"member ip": member_ip, "staff ip": staff_ip,
                                 "member agent": member_ua, "staff agent": staff_ua})
    s.start(migrate=False)

    def log(action):
        r = s.get(f"/v1/audit-log?action={action}", headers=hdr(admin))
        assert r.status_code == 200, r.text
        return r.json()["data"]

    ends = {x["actor_role"]: x for x in log("auth_sessions.end")}
    assert set(ends) == {"member", "admin"}, ends
    mine, theirs = ends["member"], ends["admin"]
    assert (mine["ip"], mine["user_agent"]) == (member_ip, member_ua)
    assert mine["ip_index"] is None and mine["user_agent_index"] is None
    assert theirs["ip"] is None and theirs["user_agent"] is None
    assert len(theirs["ip_index"]) == 64 and len(theirs["user_agent_index"]) == 64
    r = s.get(f"/v1/audit-log?entity_type=users&entity_id={uid}", headers=hdr(admin))
    updates = [x for x in r.json()["data"] if x["actor_role"] == "admin"]
    assert len(updates) == 2 and all(
        (u["ip_index"], u["user_agent_index"]) == (theirs["ip_index"],
                                                   theirs["user_agent_index"])
        for u in updates), updates
    [changed] = log("password_change")
    assert changed["actor_role"] == "self"
    assert (changed["ip"], changed["user_agent"]) == (member_ip, member_ua)
    # An address finds the rows that keep it as an index: the staff's.
    r = s.get(f"/v1/audit-log?ip={staff_ip}", headers=hdr(admin))
    assert r.status_code == 200, r.text
    found = r.json()["data"]
    assert {x["seq"] for x in found} == {x["seq"] for x in updates + [theirs]}, found
    assert s.get(f"/v1/audit-log?ip={member_ip}", headers=hdr(admin)).json()["data"] == []
    p = s.get("/v1/audit-log?ip=not-an-address", headers=hdr(admin)).json()
    assert p["code"] == "VALIDATION_FAILED" and [e["field"] for e in p["errors"]] == ["ip"]
    doc = s.get("/v1/me/export", headers=hdr(token)).json()
    own = [x for x in doc["audit_log"] if x["action"] == "password_change"]
    assert [(x["ip"], x["user_agent"]) for x in own] == [(member_ip, member_ua)]
    assert s.cli("audit", "verify").returncode == 0
    # Erased, the member's details in the log are unreadable for good.
    r = s.request("DELETE", "/v1/me", headers=hdr(token), json={"password": "Zyx new pass 2026!"})
    assert r.status_code == 204, r.text
    [changed] = log("password_change")
    assert changed["ip"] is None and changed["user_agent"] is None
    assert s.cli("audit", "verify").returncode == 0
