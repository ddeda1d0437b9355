"""The browser's session by cookie (docs/WEB.md, "Sessions in the browser"):
POST /v1/auth/login with X-Carebase-Client: web answers without the token
and sets carebase_session (HttpOnly) and carebase_csrf (readable by the
page); a request without Authorization is authenticated by the cookie as by
the token, and a cookie-authenticated change needs X-CSRF-Token equal to the
session's CSRF value and no foreign Origin (403 CSRF_FAILED). Bearer tokens
work as before, and win when both come."""
import pytest

from conftest import PASSWORD, hdr, person, problem, read_answer

WEB = {"X-Carebase-Client": "web"}
MEMBER_LIFETIME_S = 2592000     # session_absolute_member_s's default


def set_cookies(r):
    """{name: (value, {attribute, ...})} of r's Set-Cookie headers, each once."""
    out = {}
    for line in r.raw.headers.getlist("Set-Cookie"):
        pair, *attrs = [p.strip() for p in line.split(";")]
        name, _, value = pair.partition("=")
        assert name not in out, f"{name} set twice: {r.raw.headers.getlist('Set-Cookie')}"
        out[name] = (value, set(attrs))
    return out


def web_login(server, who):
    """Sign who in as the browser does: {"session", "csrf", "body"}."""
    r = server.post("/v1/auth/login", json={"email": who["email"], "password": PASSWORD},
                    headers=WEB)
    assert r.status_code == 200, r.text
    # The test client's own cookie jar stays out of it: each request below
    # sends the Cookie header it means to.
    server.session.cookies.clear()
    c = set_cookies(r)
    return {"session": c["carebase_session"][0], "csrf": c["carebase_csrf"][0],
            "body": r.json(), "response": r}


def jar(w, **extra):
    """The Cookie header of a web_login w (and extra headers)."""
    return {"Cookie": f"carebase_session={w['session']}; carebase_csrf={w['csrf']}",
            **extra}


def own_origin(server):
    return server.base_url


def test_web_login_sets_both_cookies_and_answers_no_token(server):
    alice = person(server, "alice")
    w = web_login(server, alice)
    c = set_cookies(w["response"])
    assert set(c) == {"carebase_session", "carebase_csrf"}
    value, attrs = c["carebase_session"]
    assert attrs == {"Path=/", f"Max-Age={MEMBER_LIFETIME_S}", "HttpOnly", "Secure",
                     "SameSite=Strict"}
    assert len(value) == 43 and value.replace("-", "").replace("_", "").isalnum()
    value, attrs = c["carebase_csrf"]
    assert attrs == {"Path=/", f"Max-Age={MEMBER_LIFETIME_S}", "Secure", "SameSite=Strict"}
    assert len(value) == 43 and value != w["session"]
    body = w["body"]
    assert "token" not in body and "token_type" not in body, body
    assert w["session"] not in w["response"].text
    assert body["user"]["id"] == alice["id"] and body["idle_timeout_s"] > 0
    # Without the header the answer is as it always was: the token, no cookie.
    r = server.post("/v1/auth/login", json={"email": alice["email"], "password": PASSWORD})
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer"
    assert len(r.json()["token"]) == 43
    assert r.raw.headers.getlist("Set-Cookie") == []


def test_the_cookie_authenticates_reads_without_csrf(server):
    alice = person(server, "alice")
    w = web_login(server, alice)
    r = server.get("/v1/me", headers={"Cookie": f"carebase_session={w['session']}"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == alice["id"]
    # Among other cookies, and quoted, it is found all the same.
    r = server.get("/v1/me", headers={
        "Cookie": f"theme=dark; carebase_session=\"{w['session']}\" ;other=1"})
    assert r.status_code == 200, r.text
    # GET /v1/auth/session: signed in by cookie, with the CSRF value, and
    # the csrf cookie set again (a page that lost it gets it back).
    r = server.get("/v1/auth/session", headers=jar(w))
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["user_id"] == alice["id"] and s["authenticated_by"] == "cookie"
    assert s["csrf_token"] == w["csrf"]
    c = set_cookies(r)
    assert set(c) == {"carebase_csrf"} and c["carebase_csrf"][0] == w["csrf"]
    assert "Secure" in c["carebase_csrf"][1] and "HttpOnly" not in c["carebase_csrf"][1]
    r = server.get("/v1/auth/csrf", headers={"Cookie": f"carebase_session={w['session']}"})
    assert r.status_code == 200 and r.json() == {"csrf_token": w["csrf"]}
    assert set_cookies(r)["carebase_csrf"][0] == w["csrf"]
    # By bearer: the same session answer, no CSRF value, no cookie.
    r = server.get("/v1/auth/session", headers=hdr(alice))
    assert r.status_code == 200 and r.json()["authenticated_by"] == "bearer"
    assert r.json()["csrf_token"] is None and r.raw.headers.getlist("Set-Cookie") == []
    # Signed out: 401, as every route that needs a session.
    problem(server.get("/v1/auth/session"), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("case", ["none", "wrong", "empty", "right"])
def test_a_change_by_cookie_needs_the_sessions_csrf_value(server, case):
    alice = person(server, "alice")
    w = web_login(server, alice)
    headers = jar(w)
    if case == "wrong":
        headers["X-CSRF-Token"] = w["csrf"][:-1] + ("A" if w["csrf"][-1] != "A" else "B")
    elif case == "empty":
        headers["X-CSRF-Token"] = ""
    elif case == "right":
        headers["X-CSRF-Token"] = w["csrf"]
    r = server.request("PATCH", "/v1/me", json={"first_name": "Changed"}, headers=headers)
    if case == "right":
        assert r.status_code == 200, r.text
        assert r.json()["first_name"] == "Changed"
        return
    problem(r, 403, "CSRF_FAILED")
    assert server.get("/v1/me", headers=hdr(alice)).json()["first_name"] == "Alice"


def test_a_change_by_cookie_from_another_origin_is_refused(server):
    alice = person(server, "alice")
    w = web_login(server, alice)
    for origin in ("http://evil.example", "null", own_origin(server) + ".evil.example",
                   "https://evil.example:" + str(server.port)):
        r = server.request("PATCH", "/v1/me", json={"first_name": "Evil"},
                           headers=jar(w, **{"X-CSRF-Token": w["csrf"], "Origin": origin}))
        problem(r, 403, "CSRF_FAILED")
    assert server.get("/v1/me", headers=hdr(alice)).json()["first_name"] == "Alice"
    # This server's own pages send their own origin: accepted.
    r = server.request("PATCH", "/v1/me", json={"first_name": "Own"},
                       headers=jar(w, **{"X-CSRF-Token": w["csrf"],
                                         "Origin": own_origin(server)}))
    assert r.status_code == 200, r.text


def test_the_refusal_comes_before_the_body_is_read(server):
    """A cookie change without X-CSRF-Token is refused from its headers: a
    body awaited with Expect: 100-continue gets the 403, not 100 Continue."""
    import socket
    alice = person(server, "alice")
    w = web_login(server, alice)
    body = b'{"first_name": "Late"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"PATCH /v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Cookie: carebase_session=" + w["session"].encode() + b"\r\n"
                     b"Expect: 100-continue\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        head = read_answer(sock)
    server.check_raw("PATCH", "/v1/me", head)
    assert head.startswith(b"HTTP/1.1 403"), head[:200]
    assert b"CSRF_FAILED" in head or b"csrf_failed" in head


def test_bearer_tokens_need_no_csrf_and_win_over_the_cookie(server):
    alice, bob = person(server, "alice"), person(server, "bob")
    w = web_login(server, alice)
    # A bearer change: no X-CSRF-Token, a foreign Origin: as before.
    r = server.request("PATCH", "/v1/me", json={"first_name": "Bearer"},
                       headers=hdr(bob, Origin="http://evil.example"))
    assert r.status_code == 200, r.text
    # Both: the Authorization header is the caller, the cookie is not read.
    r = server.get("/v1/me", headers=hdr(bob, **jar(w)))
    assert r.status_code == 200 and r.json()["id"] == bob["id"]
    r = server.request("PATCH", "/v1/me", json={"first_name": "Bob2"}, headers=hdr(bob, **jar(w)))
    assert r.status_code == 200 and r.json()["id"] == bob["id"]
    # A bad header is not made good by a good cookie.
    r = server.get("/v1/me", headers={"Authorization": "Bearer " + "x" * 43, **jar(w)})
    problem(r, 401, "UNAUTHORIZED")


def test_logout_by_cookie_ends_the_session_and_clears_both_cookies(server):
    alice = person(server, "alice")
    w = web_login(server, alice)
    problem(server.post("/v1/auth/logout", headers=jar(w)), 403, "CSRF_FAILED")
    r = server.post("/v1/auth/logout", headers=jar(w, **{"X-CSRF-Token": w["csrf"]}))
    assert r.status_code == 204, r.text
    c = set_cookies(r)
    assert c["carebase_session"] == ("", {"Path=/", "Max-Age=0", "HttpOnly", "Secure",
                                          "SameSite=Strict"})
    assert c["carebase_csrf"] == ("", {"Path=/", "Max-Age=0", "Secure", "SameSite=Strict"})
    # The cookie no longer authenticates; the refusal clears it again.
    r = server.get("/v1/me", headers=jar(w))
    problem(r, 401, "SESSION_EXPIRED")
    assert set(set_cookies(r)) == {"carebase_session", "carebase_csrf"}
    # The bearer session of the same person is not touched.
    assert server.get("/v1/me", headers=hdr(alice)).status_code == 200
    # A bearer logout clears no cookie.
    r = server.post("/v1/auth/logout", headers=hdr(alice))
    assert r.status_code == 204 and r.raw.headers.getlist("Set-Cookie") == []


def test_a_revoked_sessions_cookie_does_not_authenticate(server):
    alice = person(server, "alice")
    w = web_login(server, alice)
    ours = server.get("/v1/auth/session", headers=jar(w)).json()["session_id"]
    # Ended from another device (the bearer session): the cookie fails at once.
    r = server.request("DELETE", f"/v1/me/sessions/{ours}", headers=hdr(alice))
    assert r.status_code == 204, r.text
    problem(server.get("/v1/me", headers=jar(w)), 401, "SESSION_EXPIRED")
    # Signing out everywhere else ends a cookie session like any other.
    w2 = web_login(server, alice)
    assert server.get("/v1/me", headers=jar(w2)).status_code == 200
    r = server.post("/v1/me/sessions/end-others", headers=hdr(alice))
    assert r.status_code == 200, r.text
    problem(server.get("/v1/me", headers=jar(w2)), 401, "SESSION_EXPIRED")


def test_one_sessions_csrf_value_does_not_pass_for_another(server):
    alice, mallory = person(server, "alice"), person(server, "mallory")
    a1, a2, m = web_login(server, alice), web_login(server, alice), web_login(server, mallory)
    assert len({a1["csrf"], a2["csrf"], m["csrf"]}) == 3
    for other in (a2, m):
        r = server.request("PATCH", "/v1/me", json={"first_name": "Crossed"},
                           headers={"Cookie": f"carebase_session={a1['session']}; "
                                              f"carebase_csrf={other['csrf']}",
                                    "X-CSRF-Token": other["csrf"]})
        problem(r, 403, "CSRF_FAILED")
    # Each passes for its own session.
    for w in (a1, a2, m):
        r = server.request("PATCH", "/v1/me", json={"first_name": "Own"},
                           headers=jar(w, **{"X-CSRF-Token": w["csrf"]}))
        assert r.status_code == 200, r.text


def test_the_cookie_header_is_bounded_and_unambiguous(server):
    alice, bob = person(server, "alice"), person(server, "bob")
    a, b = web_login(server, alice), web_login(server, bob)
    # Two session cookies with two values (one planted from a parent
    # domain): neither is taken, and ours is cleared.
    r = server.get("/v1/me", headers={
        "Cookie": f"carebase_session={a['session']}; carebase_session={b['session']}"})
    problem(r, 401, "UNAUTHORIZED")
    assert set_cookies(r)["carebase_session"][0] == ""
    # The same value twice is one cookie.
    r = server.get("/v1/me", headers={
        "Cookie": f"carebase_session={a['session']}; carebase_session={a['session']}"})
    assert r.status_code == 200 and r.json()["id"] == alice["id"]
    # A value that is no token.
    for bad in ("short", a["session"] + "x", a["session"][:-1] + "!"):
        problem(server.get("/v1/me", headers={"Cookie": f"carebase_session={bad}"}),
                401, "UNAUTHORIZED")
    # Over 200 cookies, or over 8 KiB of them: refused, whatever they hold.
    many = "; ".join(f"c{i}=1" for i in range(201))
    problem(server.get("/v1/me", headers={
        "Cookie": f"carebase_session={a['session']}; {many}"}), 431, "COOKIE_TOO_LARGE")
    big = "pad=" + "x" * (8 * 1024)
    problem(server.get("/v1/me", headers={
        "Cookie": f"carebase_session={a['session']}; {big}"}), 431, "COOKIE_TOO_LARGE")
    # Within the bounds, many other cookies do not hide it.
    some = "; ".join(f"c{i}=1" for i in range(150))
    r = server.get("/v1/me", headers={"Cookie": f"{some}; carebase_session={a['session']}"})
    assert r.status_code == 200, r.text
    # With a bearer token the cookies are not read at all.
    r = server.get("/v1/me", headers=hdr(alice, Cookie=many))
    assert r.status_code == 200, r.text


def test_the_document_declares_the_cookie_and_the_csrf_header(server):
    doc = server.get("/v1/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["cookieAuth"] | {"description": ""} == {
        "type": "apiKey", "in": "cookie", "name": "carebase_session", "description": ""}
    assert {"cookieAuth": []} in doc["security"]
    csrf = doc["components"]["parameters"]["CsrfToken"]
    assert csrf["name"] == "X-CSRF-Token" and csrf["in"] == "header"
    ref = {"$ref": "#/components/parameters/CsrfToken"}
    patch = doc["paths"]["/v1/me"]["patch"]
    assert ref in patch["parameters"] and "403" in patch["responses"]
    logout = doc["paths"]["/v1/auth/logout"]["post"]
    assert ref in logout["parameters"] and "CSRF_FAILED" in logout["responses"]["403"]["description"]
    # A resource's writes take it too, its reads do not.
    assert ref not in doc["paths"]["/v1/me"]["get"].get("parameters", [])
    login = doc["paths"]["/v1/auth/login"]["post"]
    assert login["security"] == []
    assert [p["name"] for p in login["parameters"]] == ["X-Carebase-Client"]
    assert "token" not in login["responses"]["200"]["content"]["application/json"][
        "schema"]["required"]
