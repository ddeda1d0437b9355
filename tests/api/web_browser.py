"""The browser test harness of the web application's pages (docs/WEB.md):
Debian's headless chromium driven by python3-selenium (chromium-driver),
one browser per test module (starting one takes seconds), and a Page per
test that drives it against that test's server.

    from web_browser import browser, page      # the fixtures
    pytestmark = [pytest.mark.sqlite_only]      # pages are the same on both

    def test_x(page, admin):
        page.open("/sign-in")
        page.fill("email", ...); page.submit()
        page.wait_text("Hello")
        assert page.axe() == [] and page.csp_violations() == []

Without chromium, chromium-driver or python3-selenium, every test that
takes the fixture is skipped with the reason. axe-core is web/node_modules'
(pinned in web/package.json), injected into the page by the driver.

The API's answers the pages get are checked against the document as the
tests' own are (issue 19; Traffic below): a Page's answer that does not
match fails its test, naming the operation, status and what is wrong."""
import base64
import json
import os
import shutil
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import openapi_contract

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Impacts that fail a test; "moderate" and "minor" are reported by axe() only
# when asked for.
AXE_FAILING = ("serious", "critical")
WAIT_S = 20


# The driver's commands that may load another document (a page's click, a
# key, a script may as well as get), before which the performance log is
# read: a response's body is Chromium's only while its document lives.
NAVIGATING = frozenset((
    "get", "refresh", "goBack", "goForward", "clickElement", "sendKeysToElement",
    "w3cExecuteScript", "w3cExecuteScriptAsync", "executeAsyncScript",
    "actions", "close", "quit"))
# The test's own moves to another document: before them the answers its
# pages still await are waited for (SETTLE_S at most), so that a load the
# page began and the test did not wait for (therapy.jsx's two, account.jsx's
# sessions) is not cut by the test; one the move cuts all the same is the
# test's doing, warned of, not a failure of the page's.
TEST_NAVIGATING = frozenset(("get", "refresh", "goBack", "goForward", "close"))
# How long the end of a test, or a move of its own, waits for the answers its
# pages still await: as long as any wait of a test, which it costs only when
# an answer is late.
SETTLE_S = WAIT_S
# How long no watched request must be awaited before the test's own move
# goes ahead (Traffic.quiesce): a page's chained load starts within it.
QUIET_S = 0.25
# A file to which each Page's tally is appended (a JSON line): how many
# answers were checked, for the figures (unset: none is written).
TALLY_LOG = os.environ.get("CAREBASE_WEB_API_TALLY")


def _driver():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("no python3-selenium (scripts/install-deps installs it)")

    class Chrome(webdriver.Chrome):
        """Chromium whose API traffic is read before any command that may
        take its bodies away (NAVIGATING)."""
        traffic = None

        def execute(self, driver_command, params=None):
            if self.traffic is not None and driver_command in TEST_NAVIGATING:
                self.traffic.quiesce()
            elif self.traffic is not None and driver_command in NAVIGATING:
                self.traffic.drain()
            return super().execute(driver_command, params)

    exe = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if exe is None or driver is None:
        pytest.skip("no chromium and chromium-driver (scripts/install-deps installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--disable-extensions", "--window-size=1280,900"):
        opts.add_argument(a)
    # The performance log is the Network domain's events (requests, their
    # answers, their ends), which Traffic reads; the Page domain's are not
    # needed.
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    opts.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True,
                                                      "enablePage": False})
    drv = Chrome(service=Service(driver), options=opts)
    drv.traffic = Traffic(drv)
    return drv


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for the module's tests (quit at its end)."""
    drv = _driver()
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture
def page(request, browser, server):
    """A Page on this test's server, with no cookie left by another test
    (every server is 127.0.0.1, and cookies do not tell ports apart)."""
    p = Page(browser, server)
    browser.get("about:blank")
    p.reset()
    yield p
    p.finish(request.node.nodeid)


@pytest.fixture
def page_on(request, browser, start_server):
    """page_on(server): a Page on a server the test started itself
    (start_server), finished at the test's end as the page fixture's is,
    so that its last answers are checked in its own test, not drained in
    the next one from a server gone by then (taking start_server makes
    its servers outlive this fixture's end)."""
    made = []

    def make(srv):
        p = Page(browser, srv)
        made.append(p)
        return p
    yield make
    failed = []
    for p in made:
        try:
            p.finish(request.node.nodeid)
        except pytest.fail.Exception as e:
            failed.append(str(e))
        except Exception as e:  # noqa: BLE001 (one page's end does not skip the next's)
            failed.append(f"finishing a page: {type(e).__name__}: {e}")
    if failed:
        pytest.fail("\n".join(failed), pytrace=False)


class Tally:
    """What a Page's answers from one server came to: those checked, and
    those whose body was gone (checked without it), cut short or never
    answered; the contract's problems among them."""

    def __init__(self, server):
        self.server = server
        self.checked = 0
        self.unread = 0
        self.cut = 0
        self.unanswered = 0
        self.problems = []
        self.bodiless = []      # "METHOD path status: why" of non-JSON ones
        self.lost = []          # "METHOD path: why" of requests never answered
        # "METHOD path: why" of answers a move of the test's own cut (its
        # get, refresh, back, forward or close: TEST_NAVIGATING), or that
        # the page left as the test said it would (Page.leaving): warned of.
        self.left = []
        # (method, path, since) of each Page.leaving(): a request so made
        # after since (wall clock seconds) is left, not lost.
        self.leaves = []

    def counts(self):
        return {"checked": self.checked, "unread": self.unread, "cut": self.cut,
                "unanswered": self.unanswered, "problems": len(self.problems),
                "bodiless": self.bodiless, "lost": self.lost, "left": self.left}


class Traffic:
    """The browser's requests to /v1/ of the servers watched, read from
    chromedriver's performance log, and each answer checked when it ends by
    the contract hook's own checker (conftest's Server.contract_problem,
    openapi_contract.check): its operation, status, query, request body
    (the request's postData), media type and body (asked for with
    Network.getResponseBody). A mismatch is kept in the page's Tally and in
    the server's contract_problems, which the server's clean-up reports if
    no Page.finish() did first (a Page a test made itself).

    Bodies last only as long as their document: the log is read before
    every NAVIGATING command (reading it takes the events chromedriver has
    not yet handled too) and at a test's end. A body that cannot be had all
    the same (a file the page read as a Blob, of which DevTools keeps no
    copy; a load the page began itself; an answer cut short) is counted,
    not skipped: its status, query and type are still checked, and the
    test's end warns of it."""

    def __init__(self, drv):
        self.drv = drv
        # The Tallies of the Pages not yet finished; each server's URL is
        # looked up as each request is read (_tally), for a server started
        # again on another port (conftest's Server.start) is still watched.
        self.watched = []
        self.pending = {}       # Network requestId -> what was asked
        self.moved_at = None    # time.time() of the test's last own move

    def watch(self, server):
        tally = Tally(server)
        self.watched.append(tally)
        return tally

    def unwatch(self, tally):
        self.watched = [t for t in self.watched if t is not tally]
        for rid in [rid for rid, rec in self.pending.items() if rec["tally"] is tally]:
            del self.pending[rid]

    def quiesce(self, timeout=SETTLE_S):
        """Before a move of the test's own to another document: drains
        until no watched request is awaited (but those a Page.leaving()
        excused) for QUIET_S running, so a load a page chains on an answer
        (the next page of a list) is seen before the move; one still
        awaited after timeout is counted unanswered (a page that hangs
        fails its test). A request sent in the second before the move and
        cut by it is warned of as the test's doing (_event: moved_at)."""
        end = time.monotonic() + timeout
        quiet = None
        while True:
            self.drain()
            now = time.monotonic()
            left = [rid for rid, rec in self.pending.items() if not rec["excused"]]
            if left and now > end:
                for rid in left:
                    self._lost(self.pending.pop(rid),
                               f"still awaited after {timeout} s, before the test's own move")
                left = []
            if left:
                quiet = None
            elif quiet is None:
                quiet = now
            elif now - quiet >= QUIET_S:
                self.moved_at = time.time()
                return
            time.sleep(0.05)

    def drain(self):
        """Reads the events logged so far, checking each answer that ended."""
        for entry in self.drv.get_log("performance"):
            # One event that cannot be read or checked is a problem of
            # its own: the rest of the batch is still read (the log, once
            # read, is gone).
            rec = None
            try:
                msg = json.loads(entry["message"])["message"]
                rid = (msg.get("params") or {}).get("requestId")
                rec = self.pending.get(rid)
                self._event(msg.get("method"), msg.get("params") or {})
            except Exception as e:  # noqa: BLE001 (recorded, not lost)
                why = (f"in the browser: a performance log event could not be "
                       f"checked: {type(e).__name__}: {e}: {str(entry)[:300]}")
                # Charged to the page of the request it is of when that was
                # awaited, else to every page watched; the request is done.
                if rec is not None:
                    self.pending.pop(rid, None)
                for tally in [rec["tally"]] if rec is not None else self.watched:
                    tally.problems.append(why)

    def settle(self, tally, timeout=SETTLE_S):
        """Drains until no request of tally's is awaited, or timeout: those
        still awaited then are counted unanswered. One a Page.leaving()
        excused is not waited for (the page went on without it)."""
        end = time.monotonic() + timeout
        while True:
            self.drain()
            mine = [rid for rid, rec in self.pending.items() if rec["tally"] is tally]
            left = [rid for rid in mine if not self.pending[rid]["excused"]]
            if not left or time.monotonic() > end:
                for rid in mine:
                    self._lost(self.pending.pop(rid), f"still awaited after {timeout} s"
                               if rid in left else "still awaited at the test's end")
                return
            time.sleep(0.05)

    def _event(self, method, p):
        rid = p.get("requestId")
        if method == "Network.requestWillBeSent":
            # A redirect is one more requestWillBeSent of the same id: the
            # answer that redirected ended there, with no body to read.
            if "redirectResponse" in p and rid in self.pending:
                rec = self.pending.pop(rid)
                rec["response"] = p["redirectResponse"]
                self._check(rid, rec, body=b"")
            req = p.get("request") or {}
            tally = self._tally(req.get("url", ""))
            if tally is not None:
                verb = req.get("method", "GET")
                path = urlsplit(req["url"]).path
                wall = float(p.get("wallTime") or time.time())
                excused = False
                for i, (m, pa, since) in enumerate(tally.leaves):
                    if m == verb and pa == path and wall >= since:
                        # Excuses the one request it was said for.
                        del tally.leaves[i]
                        excused = True
                        break
                # Sent after quiesce's last read, just before the test's
                # own move: cut by it, the test's doing.
                moved = self.moved_at
                navigated = moved is not None and moved - 1.0 <= wall <= moved
                self.pending[rid] = {"tally": tally, "method": verb,
                                     "url": req["url"], "headers": req.get("headers") or {},
                                     "post": req.get("postData"),
                                     "has_post": req.get("hasPostData", False),
                                     "response": None, "wire": 0,
                                     "excused": excused, "navigated": navigated}
        elif method == "Network.responseReceived" and rid in self.pending:
            self.pending[rid]["response"] = p.get("response")
        elif method == "Network.dataReceived" and rid in self.pending:
            self.pending[rid]["wire"] += int(p.get("encodedDataLength") or 0)
        elif method == "Network.loadingFinished" and rid in self.pending:
            self._check(rid, self.pending.pop(rid))
        elif method == "Network.loadingFailed" and rid in self.pending:
            rec = self.pending.pop(rid)
            status = int((rec["response"] or {}).get("status", 0))
            if rec["response"] is None:
                # Refused, cancelled or cut before any answer: none to check.
                self._lost(rec, p.get("errorText") or "failed")
            elif status in (204, 304):
                # Nothing of it was to come after its head (a 204 the page
                # went on from with a new load is "cancelled" then).
                self._check(rid, rec, body=b"")
            else:
                rec["tally"].cut += 1
                self._check(rid, rec, body=None, cut=True)

    def _lost(self, rec, why):
        tally = rec["tally"]
        tally.unanswered += 1
        self._blame(rec, why, tally.lost)

    @staticmethod
    def _blame(rec, why, otherwise, prefix=""):
        """Puts "METHOD path: why" among the answers the test left (a move
        of its own cut it, or its page left it as the test said), else in
        otherwise (a failure of the test's)."""
        said = f"{rec['method']} {urlsplit(rec['url']).path}: {why}"
        if rec["excused"]:
            rec["tally"].left.append(f"{said} (left as the test said, Page.leaving)")
        elif rec["navigated"]:
            rec["tally"].left.append(f"{said} (left by the test's navigation)")
        else:
            otherwise.append(prefix + said)

    def _tally(self, url):
        for tally in self.watched:
            if url.startswith(tally.server.url("/v1/")):
                return tally
        return None

    def _cdp(self, cmd, args):
        from selenium.common.exceptions import WebDriverException
        try:
            return self.drv.execute_cdp_cmd(cmd, args)
        except WebDriverException:
            return None

    def _check(self, rid, rec, body=False, cut=False):
        """Checks one ended answer; body False: ask the browser for it,
        None: it is gone (cut: the answer ended early)."""
        why = "cut short" if cut else "gone"
        tally, resp = rec["tally"], rec["response"]
        if resp is None:
            self._lost(rec, "ended with no answer")
            return
        status = int(resp.get("status", 0))
        json_media = openapi_contract._is_json(openapi_contract._media(
            next((v for k, v in (resp.get("headers") or {}).items()
                  if k.lower() == "content-type"), "")))
        if body is False:
            if rec["method"] == "HEAD" or status in (204, 304):
                body = b""
            else:
                got = self._cdp("Network.getResponseBody", {"requestId": rid})
                if got is None:
                    body = None
                elif got.get("base64Encoded"):
                    body = base64.b64decode(got.get("body", ""))
                else:
                    body = got.get("body", "").encode("utf-8")
                # A body the page read as a Blob (a file it saves) is not
                # kept for DevTools: asked for, it is empty, though bytes
                # of it came (for JSON, which a page reads as text, that
                # is named as the failure it is, below).
                if body == b"" and rec["wire"] > 0:
                    body, why = None, "read as a Blob"
        post = rec["post"]
        if post is None and rec["has_post"]:
            got = self._cdp("Network.getRequestPostData", {"requestId": rid})
            post = got.get("postData") if got else None
        unread = body is None
        if unread and not cut:
            tally.unread += 1
        if unread and json_media:
            # A page reads JSON as text, which DevTools keeps: one gone or
            # cut short is not an answer the page could use (unless the
            # test's own move to another document took it away).
            self._blame(rec, f"answered {status} JSON whose body is {why}", tally.problems,
                        "in the browser: ")
        elif unread:
            tally.bodiless.append(f"{rec['method']} {urlsplit(rec['url']).path} {status}: {why}")
        # A header's values come joined by newlines.
        headers = [(k, v) for k, vs in (resp.get("headers") or {}).items()
                   for v in str(vs).split("\n")]
        r = openapi_contract.response_from_parts(rec["method"], rec["url"], status, headers,
                                                 body or b"")
        if post is not None:
            r.request.headers.update(rec["headers"])
            r.request.body = post.encode("utf-8")
        problem = tally.server.contract_problem(rec["method"], r, unread=unread)
        tally.checked += 1
        if problem is not None:
            problem = f"in the browser: {problem}"
            tally.problems.append(problem)
            tally.server.contract_problems.append(problem)


class Page:
    def __init__(self, drv, server):
        self.drv = drv
        self.server = server
        self._logs = []
        traffic = getattr(drv, "traffic", None)
        self.tally = traffic.watch(server) if traffic is not None else None

    def finish(self, name=None):
        """The end of the page's test: the answers still awaited are waited
        for (SETTLE_S at most), then any answer that did not match the
        document fails the test; bodies that could not be read are warned
        of. name: the test's, for TALLY_LOG. Once: a second call does
        nothing."""
        traffic, tally = getattr(self.drv, "traffic", None), self.tally
        if traffic is None or tally is None:
            return
        try:
            traffic.settle(tally)
        finally:
            # A driver that fails here leaves no page watched for the next
            # test to be charged with.
            traffic.unwatch(tally)
            self.tally = None
        if TALLY_LOG:
            with open(TALLY_LOG, "a") as f:
                f.write(json.dumps({"test": name, **tally.counts()}) + "\n")
        # A request with no answer (cancelled by a load, refused by the
        # browser, still awaited after SETTLE_S) has nothing to check, and
        # the page had none to show: it fails the test, unless the test's
        # own move cut it or the test said its page leaves without it
        # (leaving()): those are warned of.
        problems = list(tally.problems)
        problems += [f"in the browser: {lost}, never answered" for lost in tally.lost]
        if tally.left:
            warnings.warn(f"{name}: answers the page did not get, by the test's doing: "
                          f"{'; '.join(tally.left)}")
        if tally.bodiless:
            warnings.warn(f"{name}: {len(tally.bodiless)} of the browser's {tally.checked} "
                          f"API answers checked without their bodies, which could not be "
                          f"had: {'; '.join(tally.bodiless)}")
        if problems:
            for why in problems:
                if why in self.server.contract_problems:
                    self.server.contract_problems.remove(why)
            pytest.fail("the API answered the browser otherwise than its document says:\n"
                        + "\n".join(dict.fromkeys(problems)), pytrace=False)

    def leaving(self, method, path):
        """The page is about to leave with a request in flight on purpose
        (an account deleted, which signs it out at once): the request
        METHOD path (/v1/...) the page makes after this call is not waited
        for at the test's end, and is warned of, not failed, if it is never
        answered or its body is gone. Any other request still fails."""
        traffic = getattr(self.drv, "traffic", None)
        if self.tally is None or traffic is None:
            return
        # The requests made so far are read first, so that only one made
        # after this call can match (the browser's wall clock says when).
        traffic.drain()
        self.tally.leaves.append((method.upper(), path, time.time()))

    # -- moving about -------------------------------------------------------
    def reset(self):
        """Forget cookies and the console seen so far."""
        self.drv.get(self.server.url("/healthz"))
        self.drv.delete_all_cookies()
        self.console()
        self._logs = []

    def open(self, path, width=None):
        """Load path as a visitor would (a full load), at width px if given,
        and wait for the application to draw it."""
        if width:
            self.drv.set_window_size(width, 800)
        self.drv.get(self.server.url(path))
        self.wait("#main h1")

    def path(self):
        return self.drv.execute_script("return location.pathname + location.search")

    def wait(self, css, timeout=WAIT_S):
        """The first element matching css, once there is one."""
        from selenium.webdriver.common.by import By
        end = time.monotonic() + timeout
        while True:
            found = self.drv.find_elements(By.CSS_SELECTOR, css)
            if found:
                return found[0]
            if time.monotonic() > end:
                raise AssertionError(f"{css} not found in {timeout}s on {self.path()}:\n"
                                     f"{self.text()[:2000]}")
            time.sleep(0.05)

    def text(self, css="body"):
        return self.drv.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", css)

    def wait_text(self, text, css="body", timeout=WAIT_S):
        """Wait until text shows in css (the whole page by default)."""
        end = time.monotonic() + timeout
        while text not in self.text(css):
            if time.monotonic() > end:
                raise AssertionError(f"{text!r} not in {css} in {timeout}s on {self.path()}:\n"
                                     f"{self.text(css)[:2000]}")
            time.sleep(0.05)

    def wait_path(self, path, timeout=WAIT_S):
        end = time.monotonic() + timeout
        while self.path() != path:
            if time.monotonic() > end:
                raise AssertionError(f"still at {self.path()}, not {path}: {self.text()[:1000]}")
            time.sleep(0.05)

    def click_link(self, text):
        """Click the link (or button) whose text is text."""
        from selenium.webdriver.common.by import By
        for el in self.drv.find_elements(By.CSS_SELECTOR, "a, button"):
            if el.text.strip() == text and el.is_displayed():
                el.click()
                return
        raise AssertionError(f"no link {text!r} on {self.path()}: {self.text()[:1000]}")

    # -- forms --------------------------------------------------------------
    def fill(self, name, value):
        """Type value into the form field called name (ui.jsx's Field: id f-NAME)."""
        el = self.wait(f"#f-{name}")
        if el.get_attribute("type") == "checkbox":
            if bool(value) != el.is_selected():
                el.click()
            return
        if el.get_attribute("type") == "date":
            # A date input takes its value in the browser's locale order:
            # set it as the page would read it.
            self.drv.execute_script("arguments[0].value = arguments[1]", el, value)
            return
        el.clear()
        el.send_keys(value)

    def set_value(self, css, value):
        """Give the control matching css value as a person typing it would,
        at once: set through the element's own setter, then the input and
        change events a page listens to (a date or time input takes its
        parts key by key otherwise; a controlled select needs change)."""
        el = self.wait(css)
        self.drv.execute_script(
            "const [el, v] = arguments;"
            "const proto = Object.getPrototypeOf(el);"
            "Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, v);"
            "el.dispatchEvent(new Event('input', {bubbles: true}));"
            "el.dispatchEvent(new Event('change', {bubbles: true}));", el, value)
        return el

    def submit(self):
        self.wait("form button[type=submit]").click()

    def field_error(self, name, timeout=WAIT_S):
        """The error shown beside field name (and named by its aria-describedby)."""
        err = self.wait(f"#f-{name}-error", timeout)
        field = self.wait(f"#f-{name}")
        assert field.get_attribute("aria-invalid") == "true"
        assert f"f-{name}-error" in (field.get_attribute("aria-describedby") or "").split()
        return err.text

    def form_alert(self):
        """The text of the form's message at its top (role=alert)."""
        self.wait("form [role=alert] p")
        return self.text("form [role=alert]")

    def sign_in(self, email, password):
        """Sign in through the page, and wait for the home page."""
        self.open("/sign-in")
        self.fill("email", email)
        self.fill("password", password)
        self.submit()
        self.wait_text("You are signed in as")

    # -- what the browser saw ------------------------------------------------
    def console(self):
        """The console's entries since the last call (kept for csp_violations)."""
        new = self.drv.get_log("browser")
        self._logs += new
        return new

    def csp_violations(self):
        """Every Content-Security-Policy refusal the console showed."""
        self.console()
        return [e["message"] for e in self._logs
                if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]

    def axe(self, impacts=AXE_FAILING):
        """Runs axe-core over the page as it is drawn: its violations of
        those impacts, each as "id: help (targets)"."""
        if not AXE.exists():
            pytest.skip(f"no {AXE.relative_to(ROOT)} (cd web && npm ci)")
        # Sending axe-core's half a megabyte takes a second or more: once
        # per document (a move inside the application keeps it).
        if self.drv.execute_script("return typeof window.axe === 'undefined'"):
            self.drv.execute_script(AXE.read_text())
        self.drv.set_script_timeout(60)
        res = self.drv.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " targets: v.nodes.map(n => n.target.join(' '))}))))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), targets: []}]));")
        return [f"{v['id']}: {v['help']} ({', '.join(v['targets'][:5])})"
                for v in res if v["impact"] in impacts]
