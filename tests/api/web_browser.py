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
(pinned in web/package.json), injected into the page by the driver."""
import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Impacts that fail a test; "moderate" and "minor" are reported by axe() only
# when asked for.
AXE_FAILING = ("serious", "critical")
WAIT_S = 20


def _driver():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("no python3-selenium (scripts/install-deps installs it)")
    exe = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if exe is None or driver is None:
        pytest.skip("no chromium and chromium-driver (scripts/install-deps installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--disable-extensions", "--window-size=1280,900"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for the module's tests (quit at its end)."""
    drv = _driver()
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture
def page(browser, server):
    """A Page on this test's server, with no cookie left by another test
    (every server is 127.0.0.1, and cookies do not tell ports apart)."""
    p = Page(browser, server)
    browser.get("about:blank")
    p.reset()
    yield p


class Page:
    def __init__(self, drv, server):
        self.drv = drv
        self.server = server
        self._logs = []

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
