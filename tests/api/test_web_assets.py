"""The web pages and their files, embedded in the binary (docs/WEB.md): /docs,
the API reference, is HTML under a strict Content-Security-Policy with no
inline script or style; the scripts and stylesheets it names are served from
/assets/ with a year's caching, their types and an ETag (304 when the client
holds them, gzipped when it takes that); other page paths answer the web
application; /v1/ keeps its JSON 404; nothing outside the embedded files is
ever served. A headless Chromium, when installed, loads /docs and the
application and finds them working under that policy."""
import gzip
import http.client
import time
from html.parser import HTMLParser

import pytest

from conftest import person
import web_browser

# Files compiled into the binary: what is checked here is the same on
# either database (the /docs test signs one member in, to try an operation
# behind a session). The tests only read what the server serves: they share
# one server (module_server, on one xdist worker), not one each.
pytestmark = [pytest.mark.dbless, pytest.mark.xdist_group("web_assets")]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")
IMMUTABLE = "public, max-age=31536000, immutable"
PAGE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture(scope="module")
def server(module_server):
    """The module's server: the default configuration (conftest's
    module_server)."""
    return module_server()


class Page(HTMLParser):
    """What a page loads and holds: script and stylesheet URLs, inline
    script and style (there must be none), and event-handler attributes."""

    def __init__(self, text):
        super().__init__()
        self.scripts, self.styles, self.inline = [], [], []
        self._in = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in a:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>")
        if tag == "script":
            if a.get("src"):
                self.scripts.append(a["src"])
            self._in = tag
        elif tag == "style":
            self._in = tag
        elif tag == "link" and a.get("rel") == "stylesheet":
            self.styles.append(a["href"])
        elif tag == "a" and (a.get("href") or "").lower().startswith("javascript:"):
            self.inline.append("<a href=javascript:...>")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "style" or (self._in == "script" and data.strip()):
            self.inline.append(f"<{self._in}>{data[:60]}")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self._in = None


def assert_page_headers(r):
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Content-Security-Policy"] == CSP
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "no-cache"


def assert_not_found(r):
    assert r.status_code == 404, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["code"] == "NOT_FOUND"


def test_docs_is_a_page_under_the_strict_policy_with_nothing_inline(server):
    r = server.get("/docs", headers=PAGE)
    assert_page_headers(r)
    page = Page(r.text)
    assert page.inline == []
    assert page.scripts and page.styles, r.text
    for url in page.scripts + page.styles:
        assert url.startswith("/assets/"), url
    # The same page for a client that asks for anything.
    assert server.get("/docs").text == r.text


def test_the_files_of_docs_are_served_immutable_with_their_types(server):
    page = Page(server.get("/docs").text)
    for url, kind in [(u, "text/javascript") for u in page.scripts] + \
                     [(u, "text/css") for u in page.styles]:
        r = server.get(url)
        assert r.status_code == 200, (url, r.text[:200])
        assert r.headers["Content-Type"] == f"{kind}; charset=utf-8", url
        assert r.headers["Cache-Control"] == IMMUTABLE, url
        assert r.headers["ETag"].startswith('"'), url
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert len(r.content) > 1000, url
    js = b"".join(server.get(u).content for u in page.scripts)
    # Swagger UI, reading this server's own document.
    assert b"swagger" in js.lower() and b"/v1/openapi.json" in js


def test_a_hashed_file_answers_304_to_its_etag_and_gzip_to_who_takes_it(server):
    url = Page(server.get("/docs").text).scripts[0]
    plain = server.get(url, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    tag = plain.headers["ETag"]
    for inm in (tag, f'"x", {tag}', f"W/{tag}", "*"):
        r = server.get(url, headers={"Accept-Encoding": "identity",
                                     "If-None-Match": inm})
        assert r.status_code == 304, (inm, r.status_code)
        assert r.content == b""
        assert r.headers["ETag"] == tag
        assert r.headers["Cache-Control"] == IMMUTABLE
    r = server.get(url, headers={"Accept-Encoding": "identity",
                                 "If-None-Match": '"0000000000000000"'})
    assert r.status_code == 200 and r.content == plain.content

    # gzip: smaller on the wire, the same bytes once unpacked, its own tag.
    r = server.get(url, headers={"Accept-Encoding": "gzip"}, stream=True)
    raw = r.raw.read(decode_content=False)
    assert r.headers["Content-Encoding"] == "gzip"
    assert len(raw) < len(plain.content)
    assert gzip.decompress(raw) == plain.content
    gz_tag = r.headers["ETag"]
    assert gz_tag != tag
    r = server.get(url, headers={"Accept-Encoding": "gzip",
                                 "If-None-Match": gz_tag})
    assert r.status_code == 304
    for ae in ("gzip;q=0", "br", "gzip; q=0.0, identity"):
        r = server.get(url, headers={"Accept-Encoding": ae})
        assert "Content-Encoding" not in r.headers, ae
        assert r.content == plain.content


def test_the_page_answers_304_while_it_is_the_same(server):
    r = server.get("/docs")
    again = server.get("/docs", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["Cache-Control"] == "no-cache"
    assert again.headers["Content-Security-Policy"] == CSP


def test_page_paths_answer_the_application_and_api_paths_their_404(server):
    for path in ("/", "/sign-in", "/therapy/sessions/123", "/a/b/c?x=1"):
        r = server.get(path, headers=PAGE)
        assert_page_headers(r)
        page = Page(r.text)
        assert page.inline == [] and page.scripts and page.styles
        assert 'id="app"' in r.text
        for url in page.scripts + page.styles:
            assert server.get(url).headers["Cache-Control"] == IMMUTABLE, url
    # A client that does not ask for a page, another method, an API path
    # or a missing asset: the JSON 404, as before.
    assert_not_found(server.get("/sign-in"))
    assert_not_found(server.get("/sign-in", headers={"Accept": "application/json"}))
    for path in ("/v1/nope", "/v1/users/x/y/z", "/v1", "/assets/nope.js",
                 "/assets/app.js", "/assets/sub/dir.js"):
        assert_not_found(server.get(path, headers=PAGE))
        assert_not_found(server.get(path))
    r = server.post("/sign-in", headers=PAGE)
    assert r.status_code in (404, 405) and "json" in r.headers["Content-Type"]


def raw_get(server, path, accept="*/*"):
    """path sent as written (http.client: requests would resolve its dot
    segments); the answer is checked against the document all the same."""
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        c.putrequest("GET", path, skip_accept_encoding=True)
        c.putheader("Accept", accept)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        server.check_answer("GET", path, r, body)
        return r.status, r.getheader("Content-Type"), body
    finally:
        c.close()


@pytest.mark.parametrize("path", [
    "/assets/..%2f..%2fetc%2fpasswd",
    "/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/assets/..%252f..%252fetc%252fpasswd",
    "/assets/..%5c..%5cetc%5cpasswd",
    "/assets/%2fetc%2fpasswd",
    "/assets/....%2f%2f....%2f%2fetc%2fpasswd",
    "/assets/docs.html",
    "/assets/..%2fdocs.html",
    "/assets/..%2findex.html",
])
def test_an_escape_from_assets_finds_nothing(server, path):
    for accept in ("*/*", PAGE["Accept"]):
        status, ctype, body = raw_get(server, path, accept)
        assert status == 404, (path, accept, status, body[:200])
        assert ctype == "application/problem+json"
        assert b"root:" not in body


@pytest.mark.parametrize("path", [
    "/assets/../../etc/passwd",
    "/assets/%2e%2e/%2e%2e/etc/passwd",
    "/docs/../../../etc/passwd",
    "/assets/./app.js",
])
def test_a_dot_segment_is_refused_before_any_route(server, path):
    """The router refuses "." and ".." segments, encoded or not, for every
    path (400 MALFORMED_PATH), before the page fallback could see them."""
    for accept in ("*/*", PAGE["Accept"]):
        status, ctype, body = raw_get(server, path, accept)
        assert status == 400, (path, accept, status, body[:200])
        assert ctype == "application/problem+json"
        assert b"MALFORMED_PATH" in body and b"root:" not in body


# --------------------------------------------------------------------------
# In a browser: python3-selenium driving Debian's chromium (scripts/install-deps)

def browser():
    """web_browser's Chromium: its performance log is what the traffic
    check reads (the /docs page's openapi.json, "Try it out"'s calls and
    the application shell's session call are checked as a page's are)."""
    return web_browser._driver()


def wait_for(drv, css, at_least=1, timeout=120):
    from selenium.webdriver.common.by import By
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = drv.find_elements(By.CSS_SELECTOR, css)
        if len(found) >= at_least:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{css} not found in {timeout}s: {drv.page_source[:2000]}")


def policy_violations(logs):
    return [e["message"] for e in logs
            if "Content Security Policy" in e["message"]
            or "Refused to" in e["message"]]


def summary_paths(drv):
    """The paths of the operations drawn (read at once: the list redraws);
    the document's webhooks (calls carebase makes, drawn by name under
    their own heading) left out."""
    return {t.replace("\u200b", "") for t in drv.execute_script(
        "return [...document.querySelectorAll('.opblock-summary-path')]"
        ".map(e => e.textContent)") if t.replace("\u200b", "").startswith("/")}


@pytest.mark.tooling
def test_docs_and_the_application_work_in_a_browser_under_the_policy(server):
    """Swagger UI draws only the operations in view (the list is long), so
    the test finds operations through the search box and an anchor."""
    from selenium.webdriver.common.by import By
    doc = server.get("/v1/openapi.json").json()
    login = doc["paths"]["/v1/auth/login"]["post"]
    anchor = f"operations-{login['tags'][0]}-{login['operationId']}"
    drv = browser()
    watched = web_browser.Page(drv, server)
    try:
        drv.set_window_size(1400, 1000)
        drv.get(server.url("/docs"))
        wait_for(drv, ".opblock")
        ids = drv.execute_script(
            "return [...document.querySelectorAll('.opblock')].map(e => e.id)")
        assert ids and all(i.startswith("operations-") for i in ids), ids
        assert wait_for(drv, "h3.opblock-tag")
        assert drv.find_element(By.CSS_SELECTOR, ".servers select").text.startswith(
            server.url("")), "try it goes elsewhere"
        # The search box: by the words of a path, not only by tag.
        box = wait_for(drv, "input.operation-filter-input")[0]
        box.send_keys("auth login")
        end = time.monotonic() + 20
        while time.monotonic() < end and summary_paths(drv) != {"/v1/auth/login"}:
            time.sleep(0.2)
        assert summary_paths(drv) == {"/v1/auth/login"}
        logs = drv.get_log("browser")
        assert policy_violations(logs) == [], logs

        # An anchor per operation: the link opens it, with its example body.
        drv.get("about:blank")
        drv.get(server.url(f"/docs#/{login['tags'][0]}/{login['operationId']}"))
        wait_for(drv, f"#{anchor}.is-open .try-out")
        text = drv.execute_script(
            f"return document.getElementById('{anchor}').textContent")
        assert "email" in text and "password" in text, text[:2000]
        logs = drv.get_log("browser")
        assert policy_violations(logs) == [], logs

        # "Try it out" on a GET operation: Execute sends it to this server
        # and the live answer is drawn (rv19 item 14).
        health = doc["paths"]["/healthz"]["get"]
        anchor = f"operations-{health['tags'][0]}-{health['operationId']}"
        drv.get("about:blank")
        drv.get(server.url(f"/docs#/{health['tags'][0]}/{health['operationId']}"))
        wait_for(drv, f"#{anchor}.is-open .try-out__btn")[0].click()
        wait_for(drv, f"#{anchor} button.execute")[0].click()
        cell = wait_for(drv, f"#{anchor} .live-responses-table tbody .response-col_status",
                        timeout=30)[0]
        assert cell.text.strip().startswith("200"), cell.text
        live = drv.execute_script(
            f"return document.querySelector('#{anchor} .live-responses-table')"
            ".textContent")
        assert '"status": "ok"' in live or '"status":"ok"' in live, live[:2000]
        logs = drv.get_log("browser")
        assert policy_violations(logs) == [], logs

        # "Try it out" on an operation behind a session (e19u item 4): the
        # token entered in the Authorize dialog goes with Execute, and
        # the caller's own account is drawn.
        who = person(server, "member")
        me_op = doc["paths"]["/v1/me"]["get"]
        anchor = f"operations-{me_op['tags'][0]}-{me_op['operationId']}"
        drv.get("about:blank")
        drv.get(server.url("/docs"))
        wait_for(drv, ".opblock")
        # Found by the search box, so that it is drawn (in view) when the
        # dialog closes.
        wait_for(drv, "input.operation-filter-input")[0].send_keys(me_op["operationId"])
        wait_for(drv, f"#{anchor}")
        wait_for(drv, ".auth-wrapper .btn.authorize")[0].click()
        # The bearerAuth scheme's part of the dialog (cookieAuth's and
        # the webhooks' are beside it).
        bearer = ("[...document.querySelectorAll('.modal-ux .auth-container')]"
                  ".find(e => e.querySelector('h4').textContent.includes('bearerAuth'))")
        drv.execute_script(f"return {bearer}.querySelector('input')").send_keys(who["token"])
        drv.execute_script(f"{bearer}.querySelector('button.authorize').click()")
        drv.find_element(By.CSS_SELECTOR, ".modal-ux .close-modal").click()
        if not drv.find_elements(By.CSS_SELECTOR, f"#{anchor}.is-open"):
            wait_for(drv, f"#{anchor} .opblock-summary-control")[0].click()
        wait_for(drv, f"#{anchor} .try-out__btn")[0].click()
        wait_for(drv, f"#{anchor} button.execute")[0].click()
        cell = wait_for(drv, f"#{anchor} .live-responses-table tbody .response-col_status",
                        timeout=30)[0]
        assert cell.text.strip().startswith("200"), cell.text
        live = drv.execute_script(
            f"return document.querySelector('#{anchor} .live-responses-table')"
            ".textContent")
        assert who["email"] in live and who["id"] in live, live[:2000]
        # Swagger UI's request, as drawn: sent with the bearer token.
        curl = drv.execute_script(
            f"return document.querySelector('#{anchor} .curl-command')?.textContent || ''")
        assert f"Bearer {who['token']}" in curl, curl[:2000]
        logs = drv.get_log("browser")
        assert policy_violations(logs) == [], logs

        # The application's shell renders (its script ran) under the same
        # policy: a path with no page is its not-found page.
        drv.get(server.url("/some/page"))
        h1 = wait_for(drv, "#app main h1")[0]
        assert h1.text == "Page not found"
        assert "/some/page" in drv.find_element(By.ID, "app").text
        logs = drv.get_log("browser")
        assert policy_violations(logs) == [], logs
    finally:
        try:
            watched.finish("test_docs_and_the_application_work_in_a_browser_under_the_policy")
        finally:
            drv.quit()
