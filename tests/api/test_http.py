"""HTTP transport: problem documents, headers, request ids, CORS, rate limits,
body limits, TLS and graceful shutdown."""

import json
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import urllib3

from conftest import problem

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
README = Path(__file__).resolve().parents[2] / "README.md"


# -- problem documents ------------------------------------------------------

@pytest.mark.parametrize("method,path,status,code", [
    ("GET", "/no-such-route", 404, "NOT_FOUND"),
    ("GET", "/v1/no-such-resource", 404, "NOT_FOUND"),
    ("DELETE", "/nothing/here", 404, "NOT_FOUND"),
    ("POST", "/healthz", 405, "METHOD_NOT_ALLOWED"),
    ("DELETE", "/readyz", 405, "METHOD_NOT_ALLOWED"),
])
def test_errors_are_problem_documents(server, method, path, status, code):
    r = server.request(method, path)
    body = problem(r, status, code)
    assert body["instance"] == path
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str)


def readme_problem_examples():
    """The problem documents README.md's API conventions show under **Errors**,
    each with the request the text says answers it ("`GET /v1/nothing` answers:",
    "`POST /path` with `{...}` answers:"): [(method, path, body or None, document)]."""
    part = README.read_text().split("- **Errors**", 1)[1].split("\n- **", 1)[0]
    found = re.finditer(r"`(GET|POST|PATCH|DELETE) (/\S*)`\s+(?:with\s+`(\{.*?\})`\s+)?"
                        r"answers:\s*```json\n(.*?)```", part, re.S)
    return [(m[1], m[2], json.loads(m[3]) if m[3] else None, json.loads(m[4]))
            for m in found]


def test_the_readme_shows_the_problem_documents_the_server_sends(server):
    """README's example problem documents are what the server answers to the
    requests it names: the same members, the same values (request_id is the
    request's own, as X-Request-Id says), so the two cannot drift apart."""
    examples = readme_problem_examples()
    assert [(m, p) for m, p, _, _ in examples] == [
        ("GET", "/v1/nothing"), ("POST", "/v1/auth/register")], examples
    for method, path, body, shown in examples:
        r = server.request(method, path, **({"json": body} if body is not None else {}))
        assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
        got = r.json()
        assert set(got) == set(shown), (method, path, sorted(got), sorted(shown))
        assert got["request_id"] == r.headers["X-Request-Id"]
        uuid.UUID(shown["request_id"])          # the README's is a real one too
        assert {k: v for k, v in got.items() if k != "request_id"} == \
            {k: v for k, v in shown.items() if k != "request_id"}, (got, shown)
        assert r.status_code == shown["status"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_method_not_allowed_lists_get_in_allow(server, path):
    r = server.post(path)
    problem(r, 405, "METHOD_NOT_ALLOWED")
    allow = [m.strip() for m in r.headers.get("Allow", "").split(",")]
    assert "GET" in allow, r.headers


def test_body_over_the_limit_is_413_and_server_keeps_serving(start_server):
    # The limit applies before the route's own body rules: a GET with a
    # declared 4 KiB body on a 2 KiB server is refused for its size.
    s = start_server(env={"CAREBASE_BODY_LIMIT": "2048"})
    r = s.request("GET", "/healthz", data=b"x" * 4096,
                  headers={"Content-Type": "application/json"})
    problem(r, 413, "PAYLOAD_TOO_LARGE")
    # the same server (a new connection and the old session) still answers
    assert requests.get(s.url("/healthz"), timeout=5).status_code == 200
    assert s.get("/healthz").status_code == 200
    # a body under the limit is not refused for its size
    r = s.request("GET", "/healthz", data=b"x" * 1000,
                  headers={"Content-Type": "application/json"})
    assert r.status_code != 413, r.text


# -- headers every response carries -----------------------------------------

def test_request_head_over_24_kib_is_431_and_server_keeps_serving(server):
    # Request line and headers share one bound (24 KiB): under it the
    # request is served, over it the answer is a 431 problem, in words.
    r = server.get("/healthz", headers={"X-Big": "a" * 20000})
    assert r.status_code == 200, r.text
    r = server.get("/healthz", headers={"X-Big": "a" * 25000})
    problem(r, 431, "HEADERS_TOO_LARGE")
    r = server.get("/healthz?q=" + "b" * 25000)
    problem(r, 431, "HEADERS_TOO_LARGE")
    # several headers count together
    r = server.get("/healthz", headers={"X-A%d" % i: "c" * 5000
                                        for i in range(6)})
    problem(r, 431, "HEADERS_TOO_LARGE")
    # far over the connection's memory: refused by the HTTP layer
    r = requests.get(server.url("/healthz"), headers={"X-Big": "d" * 80000},
                     timeout=5)
    assert r.status_code == 431
    assert server.get("/healthz").status_code == 200


@pytest.mark.parametrize("method,path", [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/no-such-route"),
    ("POST", "/healthz"),
    ("GET", "/v1/no-such-resource"),
])
def test_every_response_has_request_id_and_nosniff(server, method, path):
    r = server.request(method, path)
    assert REQUEST_ID_RE.match(r.headers.get("X-Request-Id", "")), r.headers
    assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers


@pytest.mark.parametrize("path", ["/v1/no-such-resource", "/v1/"])
def test_v1_responses_are_not_cached(server, path):
    r = server.get(path)
    assert "no-store" in r.headers.get("Cache-Control", ""), r.headers


def test_request_ids_differ_between_requests(server):
    ids = {server.get("/healthz").headers["X-Request-Id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("incoming,echoed", [
    ("abc-123", True),
    ("A.b_c-9", True),
    ("x" * 64, True),
    ("has spaces in it", False),
    ("x" * 200, False),
    ("semi;colon", False),
    ("", False),
])
def test_incoming_request_id_is_echoed_only_when_valid(server, incoming, echoed):
    r = server.get("/no-such-route", headers={"X-Request-Id": incoming})
    got = r.headers.get("X-Request-Id", "")
    assert REQUEST_ID_RE.match(got), got
    if echoed:
        assert got == incoming
    else:
        assert got != incoming
    assert r.json()["request_id"] == got


# -- CORS ---------------------------------------------------------------------

ALLOWED = "https://app.example.org"


@pytest.fixture
def cors_server(start_server):
    return start_server(env={"CAREBASE_CORS_ORIGINS": ALLOWED})


@pytest.mark.parametrize("origin,allowed", [
    (ALLOWED, True),
    ("https://evil.example.org", False),
    ("https://app.example.org.evil.net", False),
    ("http://app.example.org", False),
])
def test_cors_allows_only_listed_origins(cors_server, origin, allowed):
    r = cors_server.get("/healthz", headers={"Origin": origin})
    assert r.status_code == 200
    if allowed:
        assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED, r.headers
        assert "origin" in r.headers.get("Vary", "").lower(), r.headers
    else:
        assert "Access-Control-Allow-Origin" not in r.headers, r.headers


def test_cors_preflight_from_allowed_origin_lists_methods(cors_server):
    r = cors_server.request("OPTIONS", "/healthz", headers={
        "Origin": ALLOWED,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "content-type",
    })
    assert r.status_code in (200, 204), (r.status_code, r.text)
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED, r.headers
    methods = r.headers.get("Access-Control-Allow-Methods", "")
    assert "GET" in methods, r.headers


def test_cors_off_by_default(server):
    r = server.get("/healthz", headers={"Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in r.headers


# -- rate limits --------------------------------------------------------------

@pytest.mark.serial
def test_rate_limit_answers_429_with_retry_after_and_spares_healthz(start_server):
    s = start_server(env={"CAREBASE_RATE_LIMIT": "2", "CAREBASE_RATE_BURST": "3"})
    statuses = []
    limited = None
    for _ in range(12):
        r = s.get("/v1/no-such-resource")
        statuses.append(r.status_code)
        if r.status_code == 429:
            limited = r
            break
    assert statuses[0] == 404, statuses
    assert limited is not None, f"never limited: {statuses}"
    problem(limited, 429, "RATE_LIMITED")
    retry_after = limited.headers.get("Retry-After", "")
    assert retry_after.isdigit() and int(retry_after) >= 1, limited.headers
    for _ in range(10):
        assert s.get("/healthz").status_code == 200


# -- TLS ----------------------------------------------------------------------

@pytest.fixture
def cert(tmp_path):
    crt, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(crt)],
        capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return crt, key


def test_tls_serves_https_with_hsts_and_refuses_plain_http(start_server, cert):
    crt, key = cert
    s = start_server(env={"CAREBASE_TLS_CERT": crt, "CAREBASE_TLS_KEY": key})
    assert s.base_url.startswith("https://"), s.base_url
    r = requests.get(s.url("/healthz"), verify=str(crt), timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    hsts = r.headers.get("Strict-Transport-Security", "")
    assert "max-age=" in hsts, r.headers
    plain = s.base_url.replace("https://", "http://")
    try:
        r = requests.get(plain + "/healthz", timeout=3)
    except requests.RequestException:
        pass
    else:
        pytest.fail(f"plain HTTP to the TLS port answered {r.status_code}")
    # and TLS still works after the plain-text attempt
    assert requests.get(s.url("/healthz"), verify=str(crt), timeout=5).status_code == 200


def test_tls_needs_both_cert_and_key(start_server, cert):
    crt, _ = cert
    s = start_server(start=False, migrate=False)
    r = s.cli("serve", env={"CAREBASE_TLS_CERT": crt}, timeout=10)
    assert r.returncode != 0
    assert "tls_key" in r.stderr


# -- graceful shutdown --------------------------------------------------------

@pytest.mark.serial
def test_sigterm_lets_requests_finish_and_exits_zero(start_server):
    s = start_server(env={"CAREBASE_SHUTDOWN_TIMEOUT_S": "5"})
    stop = threading.Event()
    results = []  # (kind, detail)
    lock = threading.Lock()

    def hammer():
        sess = requests.Session()
        while not stop.is_set():
            try:
                r = sess.get(s.url("/readyz"), timeout=5)
                body = r.content
                ok = r.status_code == 200 and json.loads(body) == {"status": "ready"}
                kind = "ok" if ok else "bad"
                detail = (r.status_code, body[:200])
            except requests.exceptions.ConnectionError as e:
                kind, detail = "conn", repr(e)[:200]
                time.sleep(0.01)
            except Exception as e:  # truncated body, bad JSON, timeouts
                kind, detail = "bad", repr(e)[:300]
            with lock:
                results.append((kind, detail))
        sess.close()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.6)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    try:
        rc = s.proc.wait(5 + 3)
    except subprocess.TimeoutExpired:
        rc = None
    elapsed = time.monotonic() - t0
    time.sleep(max(0.0, 0.9 - elapsed))
    stop.set()
    for t in threads:
        t.join(10)
    assert rc == 0, f"exit code {rc} after {elapsed:.1f}s\n{s.log()[-2000:]}"
    bad = [d for k, d in results if k == "bad"]
    oks = sum(1 for k, _ in results if k == "ok")
    print(f"shutdown: {oks} ok, {sum(1 for k, _ in results if k == 'conn')} refused, "
          f"{len(bad)} bad; exit after {elapsed:.2f}s")
    assert oks > 0, results[:5]
    assert not bad, f"{len(bad)} bad of {len(results)}: {bad[:5]}"
    assert "event=shutdown" in s.log()


def test_sigint_also_stops_cleanly(server):
    assert server.get("/healthz").status_code == 200
    assert server.stop(signal.SIGINT, timeout=8) == 0
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(server.url("/healthz"), timeout=2)


urllib3.disable_warnings()
