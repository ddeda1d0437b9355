"""Issue 14, item 4: webhook calls refused for their credentials (a wrong
token or signature, or no secret configured: the default) keep metadata
only, never the body, and one client address keeps at most
webhook_refused_max_per_address such rows; past it calls are answered the
same and counted (carebase_webhook_refusals_dropped_total), not stored.
Calls that pass their credentials are kept with their body as before."""

import hashlib
import hmac
import json
import secrets

import pytest

from conftest import metric_sum, problem, session_from

STORYBLOK = "/v1/webhooks/storyblok"
SIMPLYBOOK = "/v1/webhooks/simplybook"
SECRET = "hardening-webhook-secret-" + "x" * 16


def post_from(srv, source, path, body, headers):
    """POST raw bytes from source (an address of 127/8): (status, body, headers)."""
    with session_from(source) as s:
        r = s.post(srv.url(path), data=body, timeout=30,
                   headers=dict({"Content-Type": "application/json"}, **headers))
    return r.status_code, r.json(), {k.lower(): v for k, v in r.headers.items()}


def row(db, inbox_id):
    r = db.query("SELECT body IS NULL, body_bytes, signature_ok, outcome, http_status, "
                 "error, headers, client_addr, client_key, attempts "
                 f"FROM webhook_inbox WHERE id = '{inbox_id}'")
    assert r, f"no inbox row {inbox_id}"
    keys = ("no_body", "body_bytes", "signature_ok", "outcome", "http_status", "error",
            "headers", "client_addr", "client_key", "attempts")
    out = dict(zip(keys, r[0]))
    out["no_body"] = out["no_body"] in ("1", "t", "True", "true")
    return out


def a_body(marker):
    return json.dumps({"action": "published", "story_id": 1,
                       "text": marker + "y" * 10000}).encode()


CASES = [
    # (name, env, path, headers, status, code)
    ("not configured", {}, STORYBLOK, {}, 503, "WEBHOOK_NOT_CONFIGURED"),
    ("bad signature", {"CAREBASE_STORYBLOK_WEBHOOK_SECRET": SECRET}, STORYBLOK,
     {"webhook-signature": "0" * 40}, 401, "SIGNATURE_INVALID"),
    ("wrong token", {"CAREBASE_SIMPLYBOOK_WEBHOOK_SECRET": SECRET}, SIMPLYBOOK,
     {"X-Simplybook-Token": SECRET + "nope"}, 401, "TOKEN_INVALID"),
]


@pytest.mark.parametrize("name,env,path,headers,status,code", CASES,
                         ids=[c[0] for c in CASES])
def test_a_call_refused_for_its_credentials_keeps_no_body(start_server, name, env, path,
                                                          headers, status, code):
    srv = start_server(env=env)
    marker = "refused-" + secrets.token_hex(8)
    body = a_body(marker)
    got, p, h = post_from(srv, "127.0.0.1", path, body, dict(headers, **{
        "User-Agent": "attacker/" + marker}))
    assert (got, p["code"]) == (status, code), p
    rid = h["x-webhook-inbox-id"]
    assert srv.db.scalar(f"SELECT body FROM webhook_inbox WHERE id = '{rid}'") is None
    r = row(srv.db, rid)
    assert (int(r["body_bytes"]), r["signature_ok"], r["outcome"], int(r["http_status"])) == \
        (len(body), "0", "refused", status), r
    assert r["error"] and marker not in r["error"]
    assert json.loads(r["headers"]) == {}          # not even the User-Agent
    assert (r["client_addr"], r["client_key"]) == ("127.0.0.1", "127.0.0.1")
    # Nothing of the call anywhere in the table.
    assert marker not in json.dumps(srv.db.query("SELECT * FROM webhook_inbox"))
    line = next(x for x in srv.cli_ok("webhooks", "list").stdout.splitlines()
                if x.startswith(rid))
    assert "\tnone\t" in line
    r2 = srv.cli("webhooks", "replay", rid)
    assert r2.returncode != 0 and "never processed" in r2.stdout + r2.stderr


@pytest.mark.dialect
def test_one_address_keeps_at_most_the_bound(start_server):
    srv = start_server(env={"CAREBASE_WEBHOOK_REFUSED_MAX_PER_ADDRESS": "3",
                            "CAREBASE_SIMPLYBOOK_WEBHOOK_SECRET": SECRET})
    ids = []
    for i in range(6):
        status, p, h = post_from(srv, "127.0.0.2", STORYBLOK, a_body(f"m{i}"), {})
        assert (status, p["code"]) == (503, "WEBHOOK_NOT_CONFIGURED"), p
        ids.append(h.get("x-webhook-inbox-id"))
    # The first three are recorded; the rest answered alike, counted only.
    assert all(ids[:3]) and ids[3:] == [None, None, None], ids
    assert srv.db.count("webhook_inbox", "client_key = '127.0.0.2'") == 3
    assert metric_sum(srv.metrics(), "carebase_webhook_refusals_dropped_total") == 3
    # The bound is per address: another one still records, ...
    status, p, h = post_from(srv, "127.0.0.3", SIMPLYBOOK, b"{}",
                             {"X-Simplybook-Token": "wrong"})
    assert status == 401 and h.get("x-webhook-inbox-id"), (p, h)
    assert srv.db.count("webhook_inbox", "client_key = '127.0.0.3'") == 1
    # ... and a call that passes its credentials is kept as before, body
    # and all, from the address past its bound.
    status, p, h = post_from(srv, "127.0.0.2", SIMPLYBOOK, b"{nope",
                             {"X-Simplybook-Token": SECRET})
    problem_code = p["code"]
    assert (status, problem_code) == (400, "MALFORMED_REQUEST"), p
    r = row(srv.db, h["x-webhook-inbox-id"])
    assert not r["no_body"] and r["signature_ok"] == "1" and r["outcome"] == "refused", r
    assert r["client_addr"] == "127.0.0.2"
    assert srv.db.count("webhook_inbox", "client_key = '127.0.0.2'") == 4
    assert srv.get("/healthz").status_code == 200


def test_a_bound_of_zero_records_no_refusal(start_server):
    srv = start_server(env={"CAREBASE_WEBHOOK_REFUSED_MAX_PER_ADDRESS": "0"})
    r = srv.post(STORYBLOK, data=a_body("z"), headers={"Content-Type": "application/json"})
    p = problem(r, 503, "WEBHOOK_NOT_CONFIGURED")
    assert "X-Webhook-Inbox-Id" not in r.headers and "inbox_id" not in p
    assert srv.db.count("webhook_inbox") == 0
    assert metric_sum(srv.metrics(), "carebase_webhook_refusals_dropped_total") == 1


def test_a_storyblok_call_signed_right_is_kept(start_server):
    srv = start_server(env={"CAREBASE_STORYBLOK_WEBHOOK_SECRET": SECRET})
    body = b'{"action": "archived", "story_id": 1}'
    sig = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    r = srv.post(STORYBLOK, data=body, headers={"Content-Type": "application/json",
                                                "webhook-signature": sig})
    problem(r, 422, "VALIDATION_FAILED")
    got = row(srv.db, r.headers["X-Webhook-Inbox-Id"])
    assert not got["no_body"] and got["signature_ok"] == "1", got
