"""Issue 14, item 7: login throttling that does not lock out the right
password, and the client address behind a reverse proxy.

Failures are counted per (account, client address) with the backoff and
lock, per account with a much higher ceiling, and per address; successes
are not counted. The client address is the peer's, or, when the peer is
listed in trusted_proxies, the right-most X-Forwarded-For address that is
not a listed proxy.

Other client addresses are real: the requests leave from 127.0.0.2,
127.0.0.3, ... (all of 127/8 is loopback on Linux)."""

import json

import pytest

from conftest import PASSWORD, hdr, ip_subject, register, session_from, text_index

# Throttling is about hashing and timing: the production cost, run alone.
pytestmark = [pytest.mark.production_password_cost, pytest.mark.serial]

WRONG = "wrong password here!"


def login_from(srv, source, email, password=PASSWORD, headers=None):
    """POST /v1/auth/login from source (an address of 127/8): (status, body, headers)."""
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    with session_from(source) as s:
        r = s.post(srv.url("/v1/auth/login"), timeout=30, headers=h,
                   data=json.dumps({"email": email, "password": password}))
    return r.status_code, (r.json() if r.content else None), r.headers


def subjects(db, prefix):
    return {r[0]: int(r[1]) for r in
            db.query(f"SELECT subject, failures FROM login_failures "
                     f"WHERE subject LIKE '{prefix}%' ORDER BY subject")}


def test_right_password_from_another_address_works_while_one_is_throttled(start_server):
    srv = start_server(env={"CAREBASE_LOGIN_BACKOFF_AFTER": "1000",
                            "CAREBASE_LOGIN_MAX_FAILURES_HOUR": "2"})
    assert register(srv, "ann@example.org").status_code == 201
    # The helper's index is the server's (an email's is the same hash).
    assert text_index(srv, "ann@example.org") in [
        r[0] for r in srv.db.query("SELECT email_index FROM users")]
    # Someone at 127.0.0.2 guesses: after two failures that address is
    # locked out of the account for the hour, even with the right password.
    for _ in range(2):
        assert login_from(srv, "127.0.0.2", "ann@example.org", WRONG)[0] == 401
    status, body, headers = login_from(srv, "127.0.0.2", "ann@example.org")
    assert status == 429 and body["code"] == "RATE_LIMITED", body
    assert int(headers["Retry-After"]) >= 60
    # Ann, at her own address, is not locked out.
    status, body, _ = login_from(srv, "127.0.0.1", "ann@example.org")
    assert status == 200, body
    # ... and the guesser still is.
    assert login_from(srv, "127.0.0.2", "ann@example.org")[0] == 429
    # Her success forgot nothing of theirs; the account's count stays too.
    guesser, ann = ip_subject(srv, "127.0.0.2"), ip_subject(srv, "127.0.0.1")
    assert [k for k in subjects(srv.db, "account:") if k.endswith(":" + guesser)]
    assert not [k for k in subjects(srv.db, "account:") if k.endswith(":" + ann)]
    assert [v for k, v in subjects(srv.db, "account:").items() if ":ip:" not in k] == [2]


def test_the_account_wide_ceiling_locks_for_every_address(start_server):
    srv = start_server(env={"CAREBASE_LOGIN_BACKOFF_AFTER": "1000",
                            "CAREBASE_LOGIN_ACCOUNT_MAX_FAILURES_HOUR": "3"})
    assert register(srv, "ann@example.org").status_code == 201
    for source in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        assert login_from(srv, source, "ann@example.org", WRONG)[0] == 401
    status, body, headers = login_from(srv, "127.0.0.1", "ann@example.org")
    assert status == 429 and body["code"] == "RATE_LIMITED", body
    assert 60 <= int(headers["Retry-After"]) <= 3600


def test_successes_do_not_use_up_the_address_budget(start_server):
    srv = start_server(env={"CAREBASE_LOGIN_IP_MAX_FAILURES_HOUR": "3"})
    assert register(srv, "ann@example.org").status_code == 201
    # Many people signing in right from one address (an office, a proxy).
    for _ in range(5):
        assert login_from(srv, "127.0.0.2", "ann@example.org")[0] == 200
    office = ip_subject(srv, "127.0.0.2")
    assert subjects(srv.db, "ip:").get(office, 0) == 0
    # Failures still count, and lock the address at the budget.
    for i in range(3):
        assert login_from(srv, "127.0.0.2", f"p{i}@example.org")[0] == 401
    assert login_from(srv, "127.0.0.2", "p9@example.org")[0] == 429
    assert subjects(srv.db, "ip:")[office] == 3
    # Another address is not affected.
    assert login_from(srv, "127.0.0.3", "ann@example.org")[0] == 200


def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(start_server):
    srv = start_server()
    status, _, _ = login_from(srv, "127.0.0.1", "ghost@example.org",
                              headers={"X-Forwarded-For": "203.0.113.9"})
    assert status == 401
    assert set(subjects(srv.db, "ip:")) == {ip_subject(srv, "127.0.0.1")}
    # Trusting another address does not make this peer trusted either.
    srv2 = start_server(env={"CAREBASE_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.2"})
    login_from(srv2, "127.0.0.1", "ghost@example.org",
               headers={"X-Forwarded-For": "203.0.113.9"})
    assert set(subjects(srv2.db, "ip:")) == {ip_subject(srv2, "127.0.0.1")}


def test_x_forwarded_for_is_honoured_from_a_trusted_proxy(start_server):
    srv = start_server(env={"CAREBASE_TRUSTED_PROXIES": "127.0.0.2, 203.0.113.0/24",
                            "CAREBASE_LOGIN_IP_MAX_FAILURES_HOUR": "1"})
    proxy = "127.0.0.2"
    # The right-most address that is not a listed proxy; a client's own
    # X-Forwarded-For entries left of it are not believed.
    cases = [
        ("198.51.100.7", "198.51.100.7"),
        ("192.0.2.1, 198.51.100.8, 203.0.113.5", "198.51.100.8"),
        ("2001:db8::1", "v6:20010db800000000"),
    ]
    for xff, client in cases:
        status, body, _ = login_from(srv, proxy, "ghost@example.org",
                                     headers={"X-Forwarded-For": xff})
        assert status == 401, (xff, body)
        subject = ip_subject(srv, client)
        assert subject in subjects(srv.db, "ip:"), (xff, subjects(srv.db, "ip:"))
    # Each client behind the proxy has its own budget (1 here).
    assert login_from(srv, proxy, "ghost@example.org",
                      headers={"X-Forwarded-For": "198.51.100.7"})[0] == 429
    assert login_from(srv, proxy, "ghost@example.org",
                      headers={"X-Forwarded-For": "198.51.100.99"})[0] == 401
    # Not an address: the proxy itself is the client.
    assert login_from(srv, proxy, "ghost@example.org",
                      headers={"X-Forwarded-For": "unknown"})[0] == 401
    assert ip_subject(srv, "127.0.0.2") in subjects(srv.db, "ip:")
    # The session records the forwarded address.
    assert register(srv, "ann@example.org").status_code == 201
    status, body, _ = login_from(srv, proxy, "ann@example.org",
                                 headers={"X-Forwarded-For": "198.51.100.50"})
    assert status == 200, body
    mine = srv.get("/v1/me/sessions", headers=hdr(body["token"])).json()["data"]
    assert [s["ip"] for s in mine] == ["198.51.100.50"]
    # Stored sealed, never in clear (test_plaintext scans for it).
    assert srv.db.count("auth_sessions", "ip = '198.51.100.50'") == 0


def test_a_bad_trusted_proxies_value_stops_start_up(start_server):
    srv = start_server(start=False)
    r = srv.cli("migrate", env={"CAREBASE_TRUSTED_PROXIES": "10.0.0.1, proxy.local"})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "trusted_proxies" in r.stderr and "proxy.local" in r.stderr
