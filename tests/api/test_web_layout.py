"""The shell's layout keeps still while a page's data comes (docs/WEB.md,
"The shell"; docs/BENCHMARKS.md, "Web pages: Lighthouse"): a page is drawn
"Loading…" first and then its data, so a footer in the first screen would
be pushed down as the data arrives, a layout shift (Lighthouse measured
CLS 0.13 on /courses on a phone, which cost it 5 to 10 performance
points). The footer therefore starts below the first screen, however short
the page, at phone and desktop widths; and nothing is drawn before the
session is known, as a visitor's navigation grows to three lines on a
phone when a signed-in person's replaces it (CLS 0.14 on /courses).

Browser tests run on the SQLite tier only (the pages are the same on
PostgreSQL)."""
import pytest

from conftest import PASSWORD, person
from web_browser import browser, page  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.sqlite_only]


@pytest.mark.parametrize("width", [390, 1280])
def test_the_footer_starts_below_the_first_screen(page, width):
    # The not-found page is the shortest there is: a heading and a line.
    page.open("/no-such-page", width=width)
    page.wait_text("Page not found")
    top, screen = page.drv.execute_script(
        "const f = document.querySelector('footer.bottom');"
        "return [f.getBoundingClientRect().top + window.scrollY, window.innerHeight];")
    assert top >= screen, f"the footer starts at {top}px, in the first screen ({screen}px)"


# Every layout shift the page made since it loaded (the browser's own
# measure, which Lighthouse sums as CLS), shifts right after an input aside.
SHIFTS = """
const done = arguments[arguments.length - 1];
const seen = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    if (!e.hadRecentInput)
      seen.push([e.value, e.sources.map((s) => s.node ? s.node.nodeName + '.' + s.node.className : '?')]);
}).observe({type: 'layout-shift', buffered: true});
setTimeout(() => done(seen), 500);
"""


def test_a_signed_in_page_does_not_shift_when_the_session_comes(page, server):
    """The session's answer comes 300 ms late (as on a phone's network), so
    the page is drawn before it if it is drawn at all."""
    member = person(server, "shifty", "member")
    page.sign_in(member["email"], PASSWORD)
    drv = page.drv
    drv.execute_cdp_cmd("Network.enable", {})
    drv.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 300, "downloadThroughput": -1, "uploadThroughput": -1})
    try:
        page.open("/courses", width=390)
        page.wait_text("Sign out")
        shifts = drv.execute_async_script(SHIFTS)
    finally:
        drv.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    assert sum(v for v, _ in shifts) < 0.01, shifts
