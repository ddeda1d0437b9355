"""Therapy bookings by the booking system's webhook (issue 6, part 5):
POST /v1/webhooks/simplybook authenticated by a token (X-Simplybook-Token or
Authorization: Bearer) and a fresh timestamp when one is sent; NEW_BOOKING
spends one session of the user's oldest active access with therapy (exactly 6
of 50 parallel bookings against an allowance of 6), a duplicate never spends
twice, no sessions left is 403 and stores nothing; UPDATED_BOOKING keeps the
old start in rescheduled_from; CANCELLED_BOOKING and the in-app cancel give
the session back once; every body is kept in the inbox with its outcome and
can be replayed; who sees which bookings, and the sealed client email.
Runs on SQLite and PostgreSQL."""

import json
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from conftest import (PASSWORD, SIMPLYBOOK_SECRET, access_counts, booking_hook, booking_payload,
                      grant, hdr, inbox_row, iso, make_partner, person, problem)


def ms(dt):
    return int(dt.timestamp() * 1000)


def snapshot(db):
    """What a refused webhook must not change."""
    return (db.query("SELECT id, therapy_sessions_remaining, therapy_sessions_redeemed, "
                     "updated_at FROM partner_access ORDER BY id"),
            db.query("SELECT id, action, start_date_time, rescheduled_from, cancelled_at, "
                     "updated_at FROM therapy_bookings ORDER BY id"),
            db.count("audit_log", "action LIKE 'therapy_bookings.%'"))


@pytest.fixture
def server(start_server, db):
    env = {"CAREBASE_SIMPLYBOOK_WEBHOOK_SECRET": SIMPLYBOOK_SECRET, "CAREBASE_THREADS": "8",
           "CAREBASE_POOL_MAX": "12"}
    return start_server(db=db, env=env)


@pytest.fixture
def world(server):
    w = {"admin": person(server, "admin", "admin")}
    w["p"] = make_partner(server, w["admin"], "Bumble")
    w["q"] = make_partner(server, w["admin"], "Badoo")
    w["m"] = person(server, "member")
    w["acc"] = grant(server, w["admin"], w["p"], w["m"], sessions=6)
    return w


# -- NEW_BOOKING ---------------------------------------------------------------

@pytest.mark.dialect
def test_new_booking_spends_one_session_and_seals_the_email(server, db, world):
    w = world
    body = booking_payload(w["m"]["email"].upper())          # the blind index ignores case
    r = booking_hook(server, body)
    assert r.status_code == 200, r.text
    out = r.json()
    # The webhook's members at the top level, as the points upload's (issue
    # 15): no "result" wrapper; the inbox row beside them.
    assert set(out) == {"inbox_id", "outcome", "duplicate", "booking",
                        "therapy_sessions_remaining"}, out
    assert out["inbox_id"] == r.headers["X-Webhook-Inbox-Id"]
    assert out["outcome"] == "processed" and out["duplicate"] is False
    assert out["therapy_sessions_remaining"] == 5
    bk = out["booking"]
    assert bk["user_id"] == w["m"]["id"] and bk["partner_access_id"] == w["acc"]["id"]
    assert bk["partner_id"] == w["p"]["id"] and bk["partner_name"] == "Bumble"
    assert bk["status"] == "booked" and bk["action"] == "NEW_BOOKING"
    assert bk["start_date_time"] == body["start_date_time"]
    assert "client_email" not in bk                 # never to the booking system
    assert access_counts(db, w["acc"]["id"]) == (5, 1)
    assert r.headers["X-Webhook-Inbox-Id"] == out["inbox_id"]
    row = inbox_row(db, out["inbox_id"])
    assert (row["source"], row["outcome"], row["http_status"]) == ("simplybook", "processed", 200)
    assert "X-Simplybook-Token" not in row["headers"]
    # Sealed at rest: neither the booking nor the inbox holds the address in clear.
    sealed = db.query(f"SELECT client_email, client_email_index FROM therapy_bookings "
                      f"WHERE id = '{bk['id']}'")[0]
    assert sealed[1] and len(sealed[1]) == 64
    assert w["m"]["email"].split("@")[0] not in str(sealed[0]).lower()
    body_col = db.query(f"SELECT body FROM webhook_inbox WHERE id = '{out['inbox_id']}'")[0][0]
    assert w["m"]["email"].split("@")[0].upper() not in str(body_col).upper()
    # The client and admins read the address; audited as a system write.
    mine = server.get("/v1/me/therapy-bookings", headers=hdr(w["m"])).json()["data"]
    assert [b["id"] for b in mine] == [bk["id"]]
    assert mine[0]["client_email"] == body["client_email"]
    r = server.get(f"/v1/therapy-bookings/{bk['id']}", headers=hdr(w["admin"]))
    assert r.status_code == 200 and r.json()["client_email"] == body["client_email"]
    assert db.count("audit_log", f"action = 'therapy_bookings.create' AND "
                    f"entity_id = '{bk['id']}'") == 1


def test_user_found_by_user_id(server, db, world):
    w = world
    r = booking_hook(server, booking_payload("someone.else@example.org", user_id=w["m"]["id"]))
    assert r.status_code == 200, r.text
    assert r.json()["booking"]["user_id"] == w["m"]["id"]
    assert access_counts(db, w["acc"]["id"]) == (5, 1)


@pytest.mark.dialect
def test_duplicate_new_booking_never_spends_twice(server, db, world):
    w = world
    body = booking_payload(w["m"]["email"])
    first = booking_hook(server, body)
    assert first.status_code == 200, first.text
    for _ in range(2):
        r = booking_hook(server, body)
        assert r.status_code == 200, r.text
        assert r.json()["duplicate"] is True
        assert r.json()["booking"]["id"] == first.json()["booking"]["id"]
    assert access_counts(db, w["acc"]["id"]) == (5, 1)
    assert db.count("therapy_bookings") == 1
    # The same code for another person is a conflict, not a duplicate.
    other = person(server, "other")
    grant(server, w["admin"], w["p"], other, sessions=2)
    r = booking_hook(server, dict(body, client_email=other["email"]))
    body_ = problem(r, 409, "BOOKING_CODE_TAKEN")
    assert body_["outcome"] == "refused"
    assert db.count("therapy_bookings") == 1


def test_no_sessions_left_is_403_and_stores_nothing(server, db, world):
    w = world
    poor = person(server, "poor")
    grant(server, w["admin"], w["p"], poor, sessions=0)
    grant(server, w["admin"], w["q"], poor, sessions=3, therapy=False)
    before = snapshot(db)
    r = booking_hook(server, booking_payload(poor["email"]))
    body = problem(r, 403, "NO_THERAPY_SESSIONS_LEFT")
    assert body["outcome"] == "refused"
    assert inbox_row(db, body["inbox_id"])["outcome"] == "refused"
    assert snapshot(db) == before
    # A user with no access at all, and an inactive access, likewise.
    nobody = person(server, "nobody")
    problem(booking_hook(server, booking_payload(nobody["email"])), 403,
            "NO_THERAPY_SESSIONS_LEFT")
    r = server.request("PATCH", f"/v1/partner-access/{w['acc']['id']}", headers=hdr(w["admin"]),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    problem(booking_hook(server, booking_payload(w["m"]["email"])), 403,
            "NO_THERAPY_SESSIONS_LEFT")
    assert db.count("therapy_bookings") == 0


def test_unknown_user_is_refused(server, db, world):
    before = snapshot(db)
    body = problem(booking_hook(server, booking_payload("stranger@example.org")), 404,
                   "USER_NOT_FOUND")
    assert body["outcome"] == "refused"
    problem(booking_hook(server, booking_payload(
        "x@example.org", user_id="0190e2a0-0000-7000-8000-000000000001")), 404, "USER_NOT_FOUND")
    assert snapshot(db) == before


def test_oldest_access_is_spent_first_across_partners(server, db, world):
    w = world
    ann = person(server, "ann")
    # The older access (created first) is redeemed second: age is created_at.
    r = server.post("/v1/partner-access", headers=hdr(w["admin"]), json={
        "partner_id": w["q"]["id"], "feature_therapy": True, "therapy_sessions_remaining": 2})
    older = r.json()
    time.sleep(0.01)
    newer = grant(server, w["admin"], w["p"], ann, sessions=3)
    assert server.post("/v1/partner-access/assign", headers=hdr(ann),
                       json={"code": older["code"]}).status_code == 200
    spent = []
    for _ in range(5):
        r = booking_hook(server, booking_payload(ann["email"]))
        assert r.status_code == 200, r.text
        spent.append(r.json()["booking"]["partner_access_id"])
    assert spent == [older["id"]] * 2 + [newer["id"]] * 3
    assert access_counts(db, older["id"]) == (0, 2) and access_counts(db, newer["id"]) == (0, 3)
    problem(booking_hook(server, booking_payload(ann["email"])), 403, "NO_THERAPY_SESSIONS_LEFT")
    r = server.get(f"/v1/therapy-bookings?partner_id={w['q']['id']}", headers=hdr(w["admin"]))
    assert len(r.json()["data"]) == 2


@pytest.mark.dialect
def test_fifty_parallel_new_bookings_against_six_sessions(server, db, world):
    w = world
    n = 50
    barrier = threading.Barrier(n)
    results = [None] * n

    def go(i):
        with requests.Session() as s:
            body = booking_payload(w["m"]["email"], code=f"race-{i}")
            barrier.wait()
            r = booking_hook(server, body, session=s)
            results[i] = (r.status_code, r.json().get("code"))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None for r in results), results
    ok = [r for r in results if r[0] == 200]
    assert len(ok) == 6, results
    assert sorted(r for r in results if r[0] != 200) == \
        [(403, "NO_THERAPY_SESSIONS_LEFT")] * (n - 6)
    assert access_counts(db, w["acc"]["id"]) == (0, 6)
    assert db.count("therapy_bookings") == 6
    assert db.count("webhook_inbox", "source = 'simplybook' AND outcome = 'processed'") == 6
    assert db.count("webhook_inbox", "source = 'simplybook' AND outcome = 'refused'") == n - 6


# -- UPDATED_BOOKING and CANCELLED_BOOKING ---------------------------------------

def test_updated_booking_keeps_the_old_start(server, db, world):
    w = world
    t0 = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)
    body = booking_payload(w["m"]["email"], start=t0)
    bid = booking_hook(server, body).json()["booking"]["id"]
    t1 = t0 + timedelta(days=1)
    upd = dict(body, action="UPDATED_BOOKING", start_date_time=iso(t1),
               end_date_time=iso(t1 + timedelta(minutes=50)), service_provider_name="Dr Grace")
    r = booking_hook(server, upd)
    assert r.status_code == 200, r.text
    bk = r.json()["booking"]
    assert bk["id"] == bid and bk["action"] == "UPDATED_BOOKING"
    assert bk["rescheduled_from"] == iso(t0) and bk["start_date_time"] == iso(t1)
    assert bk["end_date_time"] == iso(t1 + timedelta(minutes=50))
    assert bk["service_provider_name"] == "Dr Grace"
    # The same update again (a retry) keeps rescheduled_from; a new start moves it on.
    assert booking_hook(server, upd).json()["booking"]["rescheduled_from"] == iso(t0)
    t2 = t1 + timedelta(hours=3)
    r = booking_hook(server, dict(upd, start_date_time=iso(t2),
                                  end_date_time=iso(t2 + timedelta(hours=1))))
    assert r.json()["booking"]["rescheduled_from"] == iso(t1)
    row = db.query(f"SELECT start_date_time, rescheduled_from FROM therapy_bookings "
                   f"WHERE id = '{bid}'")[0]
    assert (int(row[0]), int(row[1])) == (ms(t2), ms(t1))
    assert access_counts(db, w["acc"]["id"]) == (5, 1)          # updates spend nothing
    problem(booking_hook(server, dict(upd, booking_code="no-such-code")), 404, "BOOKING_NOT_FOUND")
    # completed_at follows the end: moved into the past it is completed at its
    # end, moved back into the future it is not.
    assert db.scalar(f"SELECT completed_at FROM therapy_bookings WHERE id = '{bid}'") is None
    past = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    r = booking_hook(server, dict(upd, start_date_time=iso(past),
                                  end_date_time=iso(past + timedelta(hours=1))))
    assert r.status_code == 200, r.text
    assert r.json()["booking"]["completed_at"] == iso(past + timedelta(hours=1))
    r = booking_hook(server, dict(upd, start_date_time=iso(t2),
                                  end_date_time=iso(t2 + timedelta(hours=1))))
    assert r.json()["booking"]["completed_at"] is None
    # A booking that ended (completed) and is then cancelled is not completed.
    r = booking_hook(server, dict(upd, start_date_time=iso(past),
                                  end_date_time=iso(past + timedelta(hours=1))))
    assert r.json()["booking"]["completed_at"] is not None
    r = booking_hook(server, {"action": "CANCELLED_BOOKING", "booking_code": body["booking_code"]})
    assert r.status_code == 200, r.text
    assert r.json()["booking"]["completed_at"] is None
    assert db.scalar(f"SELECT completed_at FROM therapy_bookings WHERE id = '{bid}'") is None


def test_cancelled_booking_gives_the_session_back_once(server, db, world):
    w = world
    body = booking_payload(w["m"]["email"])
    bid = booking_hook(server, body).json()["booking"]["id"]
    assert access_counts(db, w["acc"]["id"]) == (5, 1)
    cancel = {"action": "CANCELLED_BOOKING", "booking_code": body["booking_code"]}
    r = booking_hook(server, cancel)
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["already_cancelled"] is False and res["booking"]["status"] == "cancelled"
    assert res["booking"]["cancelled_at"] is not None
    assert access_counts(db, w["acc"]["id"]) == (6, 0)
    r = booking_hook(server, cancel)
    assert r.status_code == 200 and r.json()["already_cancelled"] is True
    assert access_counts(db, w["acc"]["id"]) == (6, 0)
    problem(booking_hook(server, dict(body, action="UPDATED_BOOKING")), 409, "BOOKING_CANCELLED")
    problem(booking_hook(server, dict(cancel, booking_code="nope")), 404, "BOOKING_NOT_FOUND")
    # Booking the same code again is a duplicate of the cancelled one: nothing spent.
    r = booking_hook(server, body)
    assert r.json()["duplicate"] is True
    assert access_counts(db, w["acc"]["id"]) == (6, 0)
    assert db.count("audit_log", f"action = 'therapy_bookings.cancel' AND "
                    f"entity_id = '{bid}'") == 1


@pytest.mark.dialect
def test_parallel_cancels_give_back_once(server, db, world):
    w = world
    body = booking_payload(w["m"]["email"])
    bid = booking_hook(server, body).json()["booking"]["id"]
    cancel = {"action": "CANCELLED_BOOKING", "booking_code": body["booking_code"]}
    barrier = threading.Barrier(11)
    results = []

    def webhook():
        with requests.Session() as s:
            barrier.wait()
            results.append(booking_hook(server, cancel, session=s).status_code)

    def app():
        with requests.Session() as s:
            barrier.wait()
            results.append(s.post(server.url(f"/v1/therapy-bookings/{bid}/cancel"),
                                  headers=hdr(w["m"]), timeout=60).status_code)

    threads = [threading.Thread(target=webhook) for _ in range(10)] + [threading.Thread(target=app)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 11 and set(results) <= {200, 409}, results
    assert access_counts(db, w["acc"]["id"]) == (6, 0)


def test_in_app_cancel_once(server, db, world):
    w = world
    body = booking_payload(w["m"]["email"])
    bid = booking_hook(server, body).json()["booking"]["id"]
    stranger = person(server, "stranger")
    problem(server.post(f"/v1/therapy-bookings/{bid}/cancel", headers=hdr(stranger)),
            404, "NOT_FOUND")
    problem(server.post(f"/v1/therapy-bookings/{bid}/cancel"), 401, "UNAUTHORIZED")
    r = server.post(f"/v1/therapy-bookings/{bid}/cancel", headers=hdr(w["m"]))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["client_email"] == body["client_email"]
    assert access_counts(db, w["acc"]["id"]) == (6, 0)
    problem(server.post(f"/v1/therapy-bookings/{bid}/cancel", headers=hdr(w["m"])),
            409, "ALREADY_CANCELLED")
    r = booking_hook(server, {"action": "CANCELLED_BOOKING", "booking_code": body["booking_code"]})
    assert r.json()["already_cancelled"] is True
    assert access_counts(db, w["acc"]["id"]) == (6, 0)
    assert db.count("audit_log", f"action = 'therapy_bookings.cancel' AND "
                    f"entity_id = '{bid}'") == 1
    # A booking that has started is no longer cancelled in the app.
    past = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    old = booking_hook(server, booking_payload(w["m"]["email"], start=past))
    old = old.json()["booking"]["id"]
    problem(server.post(f"/v1/therapy-bookings/{old}/cancel", headers=hdr(w["m"])),
            409, "BOOKING_STARTED")
    # Admins cancel anyone's.
    fresh = booking_hook(server, booking_payload(w["m"]["email"]))
    fresh = fresh.json()["booking"]["id"]
    assert server.post(f"/v1/therapy-bookings/{fresh}/cancel",
                       headers=hdr(w["admin"])).status_code == 200


# -- who sees what ---------------------------------------------------------------

def test_visibility_by_role(server, db, world):
    w = world
    other = person(server, "other")
    grant(server, w["admin"], w["q"], other, sessions=2)
    mine = booking_hook(server, booking_payload(w["m"]["email"])).json()["booking"]
    theirs = booking_hook(server, booking_payload(other["email"])).json()["booking"]
    mine, theirs = mine["id"], theirs["id"]
    pa = person(server, "padmin", "partner_admin")
    r = server.post("/v1/partner-admins", headers=hdr(w["admin"]),
                    json={"user_id": pa["id"], "partner_id": w["p"]["id"]})
    assert r.status_code == 201, r.text
    # Admins: all, with addresses.
    rows = server.get("/v1/therapy-bookings", headers=hdr(w["admin"])).json()["data"]
    assert {b["id"] for b in rows} == {mine, theirs}
    assert all("@" in b["client_email"] for b in rows)
    # Partner admins: their partner's, without addresses.
    rows = server.get("/v1/therapy-bookings", headers=hdr(pa)).json()["data"]
    assert [b["id"] for b in rows] == [mine] and "client_email" not in rows[0]
    assert server.get(f"/v1/therapy-bookings/{theirs}", headers=hdr(pa)).status_code == 404
    r = server.get(f"/v1/therapy-bookings/{mine}", headers=hdr(pa))
    assert r.status_code == 200 and "client_email" not in r.json()
    problem(server.post(f"/v1/therapy-bookings/{mine}/cancel", headers=hdr(pa)), 404, "NOT_FOUND")
    # Members: their own only.
    rows = server.get("/v1/therapy-bookings", headers=hdr(w["m"])).json()["data"]
    assert [b["id"] for b in rows] == [mine]
    problem(server.get(f"/v1/therapy-bookings/{theirs}", headers=hdr(w["m"])), 404, "NOT_FOUND")
    problem(server.get("/v1/therapy-bookings"), 401, "UNAUTHORIZED")
    # Filters and paging.
    r = server.get("/v1/therapy-bookings?status=cancelled", headers=hdr(w["admin"]))
    assert r.json()["data"] == []
    r = server.get("/v1/therapy-bookings?limit=1", headers=hdr(w["admin"])).json()
    assert len(r["data"]) == 1 and r["next_cursor"] == r["data"][0]["id"]
    r2 = server.get(f"/v1/therapy-bookings?limit=1&cursor={r['next_cursor']}",
                    headers=hdr(w["admin"])).json()
    assert len(r2["data"]) == 1 and r2["next_cursor"] is None
    for q in ("limit=0", "limit=201", "cursor=nope", "status=maybe", "partner_id=x"):
        problem(server.get(f"/v1/therapy-bookings?{q}", headers=hdr(w["admin"])),
                422, "VALIDATION_FAILED")


def test_gdpr_export_and_erasure(server, db, world):
    w = world
    body = booking_payload(w["m"]["email"])
    bid = booking_hook(server, body).json()["booking"]["id"]
    r = server.get("/v1/me/export", headers=hdr(w["m"]))
    assert r.status_code == 200, r.text
    rows = r.json()["records"]["therapy_bookings"]
    assert [b["id"] for b in rows] == [bid] and rows[0]["client_email"] == body["client_email"]
    r = server.request("DELETE", "/v1/me", headers=hdr(w["m"]), json={"password": PASSWORD})
    assert r.status_code in (200, 204), r.text
    row = db.query(f"SELECT client_email, client_email_index, client_timezone, user_id "
                   f"FROM therapy_bookings WHERE id = '{bid}'")[0]
    assert row[:3] == (None, None, None) and row[3] == w["m"]["id"]
    rows = server.get("/v1/therapy-bookings", headers=hdr(w["admin"])).json()["data"]
    assert rows[0]["client_email"] is None


# -- refused webhooks ------------------------------------------------------------

def test_token_and_timestamp_are_checked(server, db, world):
    w = world
    before = snapshot(db)
    body = booking_payload(w["m"]["email"])
    now = int(time.time())
    cases = [
        ("no token", dict(token=None), 401, "TOKEN_MISSING"),
        ("wrong token", dict(token=SIMPLYBOOK_SECRET + "x"), 401, "TOKEN_INVALID"),
        ("short token", dict(token="s"), 401, "TOKEN_INVALID"),
        ("wrong bearer", dict(token=None, headers={"Authorization": "Bearer nope"}),
         401, "TOKEN_INVALID"),
        ("stale header", dict(headers={"X-Simplybook-Timestamp": str(now - 301)}),
         401, "STALE_TIMESTAMP"),
        ("future header", dict(headers={"X-Simplybook-Timestamp": str(now + 400)}),
         401, "STALE_TIMESTAMP"),
        ("stale body", dict(raw=json.dumps(dict(body, timestamp=now - 3600))),
         401, "STALE_TIMESTAMP"),
        ("stale iso body", dict(raw=json.dumps(dict(body, timestamp="2020-01-01T00:00:00Z"))),
         401, "STALE_TIMESTAMP"),
        ("bad stamp", dict(headers={"X-Simplybook-Timestamp": "yesterday"}),
         401, "TIMESTAMP_INVALID"),
        ("bad body stamp", dict(raw=json.dumps(dict(body, timestamp=[1]))),
         401, "TIMESTAMP_INVALID"),
    ]
    for name, kw, status, code in cases:
        p = problem(booking_hook(server, body, **kw), status, code)
        row = inbox_row(db, p["inbox_id"])
        assert (row["outcome"], row["signature_ok"], row["http_status"]) == \
            ("refused", 0, status), name
        # Never replayed.
        r = server.cli("webhooks", "replay", p["inbox_id"])
        assert r.returncode != 0 and "never processed" in (r.stdout + r.stderr), name
    assert snapshot(db) == before
    # Fresh timestamps and the bearer form pass.
    r = booking_hook(server, body, headers={"X-Simplybook-Timestamp": str(now)})
    assert r.status_code == 200, r.text
    stamped = booking_payload(w["m"]["email"], timestamp=iso(datetime.now(timezone.utc)))
    r = booking_hook(server, stamped, token=None,
                     headers={"Authorization": f"Bearer {SIMPLYBOOK_SECRET}"})
    assert r.status_code == 200, r.text
    assert inbox_row(db, r.json()["inbox_id"])["headers"].get("Authorization") is None


def test_unconfigured_secret_refuses_everything(start_server, db):
    srv = start_server(db=db, env={"CAREBASE_SIMPLYBOOK_WEBHOOK_SECRET": ""})
    p = problem(booking_hook(srv, booking_payload("a@example.org"), token=""), 503,
                "WEBHOOK_NOT_CONFIGURED")
    assert srv.get("/healthz").status_code == 200
    assert db.count("webhook_inbox", "outcome = 'refused'") == 1
    assert "inbox_id" not in p      # 5xx problems carry no extras; the header names the row


BAD_PAYLOADS = [
    ("not json", "{nope", 400, "MALFORMED_REQUEST", None),
    ("array", "[]", 400, "MALFORMED_REQUEST", None),
    ("duplicate keys", '{"action": "NEW_BOOKING", "action": "CANCELLED_BOOKING"}',
     400, "MALFORMED_REQUEST", None),
    ("no action", {"booking_code": "abc"}, 422, "VALIDATION_FAILED", "action"),
    ("bad action", {"action": "DELETED_BOOKING", "booking_code": "abc"},
     422, "VALIDATION_FAILED", "action"),
    ("no code", {"action": "CANCELLED_BOOKING"}, 422, "VALIDATION_FAILED", "booking_code"),
    ("bad code", {"action": "CANCELLED_BOOKING", "booking_code": "a b"},
     422, "VALIDATION_FAILED", "booking_code"),
    ("long code", {"action": "CANCELLED_BOOKING", "booking_code": "a" * 65},
     422, "VALIDATION_FAILED", "booking_code"),
    ("new without email", "drop:client_email", 422, "VALIDATION_FAILED", "client_email"),
    ("new without provider", "drop:service_provider_name", 422, "VALIDATION_FAILED",
     "service_provider_name"),
    ("bad email", "set:client_email=not-an-address", 422, "VALIDATION_FAILED", "client_email"),
    ("bad user id", "set:user_id=42", 422, "VALIDATION_FAILED", "user_id"),
    ("bad zone", "set:client_timezone=Europe/London; DROP", 422, "VALIDATION_FAILED",
     "client_timezone"),
    ("long name", "set:service_name=" + "x" * 201, 422, "VALIDATION_FAILED", "service_name"),
    ("control chars", "set:service_name=a\u0001b", 422, "VALIDATION_FAILED", "service_name"),
    ("bad start", "set:start_date_time=tomorrow", 422, "VALIDATION_FAILED", "start_date_time"),
    ("end before start", "set:end_date_time=2001-01-01T00:00:00Z", 422, "VALIDATION_FAILED",
     "end_date_time"),
    ("too long", "hours:25", 422, "VALIDATION_FAILED", "end_date_time"),
    ("update without times", {"action": "UPDATED_BOOKING", "booking_code": "abc"},
     422, "VALIDATION_FAILED", "start_date_time"),
]


@pytest.mark.parametrize("name,spec,status,code,field", BAD_PAYLOADS,
                         ids=[c[0] for c in BAD_PAYLOADS])
def test_malformed_payloads_are_refused_and_kept(server, db, world, name, spec, status, code,
                                                 field):
    w = world
    before = snapshot(db)
    if isinstance(spec, dict):
        raw = json.dumps(spec)
    elif spec.startswith("drop:"):
        body = booking_payload(w["m"]["email"])
        del body[spec[5:]]
        raw = json.dumps(body)
    elif spec.startswith("set:"):
        k, v = spec[4:].split("=", 1)
        raw = json.dumps(booking_payload(w["m"]["email"], **{k: v}))
    elif spec.startswith("hours:"):
        raw = json.dumps(booking_payload(w["m"]["email"], hours=int(spec[6:])))
    else:
        raw = spec
    p = problem(booking_hook(server, None, raw=raw), status, code)
    assert p["outcome"] == "refused"
    if field:
        assert field in [e["field"] for e in p["errors"]], p
    row = inbox_row(db, p["inbox_id"])
    assert (row["outcome"], row["signature_ok"], row["http_status"]) == ("refused", 1, status)
    assert snapshot(db) == before


def test_oversized_body_is_refused_and_kept_truncated(server, db, world):
    raw = json.dumps(booking_payload(world["m"]["email"], padding="x" * 70000))
    p = problem(booking_hook(server, None, raw=raw), 413, "PAYLOAD_TOO_LARGE")
    assert db.scalar(f"SELECT body_bytes FROM webhook_inbox WHERE id = '{p['inbox_id']}'") \
        == str(len(raw))
    assert db.count("therapy_bookings") == 0


# -- replay ----------------------------------------------------------------------

def test_replay_after_a_refusal_processes_once(server, db, world):
    w = world
    email = f"late.{secrets.token_hex(3)}@example.org"
    body = booking_payload(email)
    p = problem(booking_hook(server, body), 404, "USER_NOT_FOUND")
    assert p["inbox_id"] in server.cli_ok("webhooks", "list").stdout
    # The person registers and redeems a code afterwards; the stored body is run again.
    late = person(server, "late", email=email)
    acc = grant(server, w["admin"], w["p"], late, sessions=1)
    r = server.cli_ok("webhooks", "replay", p["inbox_id"])
    assert "processed" in r.stdout
    row = inbox_row(db, p["inbox_id"])
    assert (row["outcome"], row["http_status"], row["attempts"]) == ("processed", 200, 2)
    assert access_counts(db, acc["id"]) == (0, 1)
    assert db.count("therapy_bookings", f"user_id = '{late['id']}'") == 1
    # A processed row is replayed only with --force; a NEW_BOOKING again is a
    # duplicate: nothing spent twice.
    assert server.cli("webhooks", "replay", p["inbox_id"]).returncode != 0
    server.cli_ok("webhooks", "replay", p["inbox_id"], "--force")
    assert access_counts(db, acc["id"]) == (0, 1)
    assert db.count("therapy_bookings", f"user_id = '{late['id']}'") == 1
    assert db.count("audit_log", f"action = 'webhook_inbox.replay' AND "
                    f"entity_id = '{p['inbox_id']}'") == 2
