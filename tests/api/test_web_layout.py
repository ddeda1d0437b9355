"""The shell's layout keeps still while a page's data comes (docs/WEB.md,
"The shell"; docs/BENCHMARKS.md, "Web pages: Lighthouse"): a page is drawn
"Loading…" first and then its data, so a footer in the first screen would
be pushed down as the data arrives, a layout shift (Lighthouse measured
CLS 0.13 on /courses on a phone, which cost it 5 to 10 performance
points). The footer therefore starts below the first screen, however short
the page, at phone and desktop widths.

Browser tests run on the SQLite tier only (the pages are the same on
PostgreSQL)."""
import pytest

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
