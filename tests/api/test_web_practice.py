"""A therapist's pages of the web application (issue 18 item 4,
web/src/app/pages/practice/) in a browser (tests/api/web_browser.py:
headless Chromium) against the real server, signed in through the sign-in
page: the week calendar books a session, moves it to another day, and a
session that has started is completed or cancelled with a reason; a
session's shared and private notes are written, and the client's browser
sees the shared note and never the private one; a PHQ-9 sent to the client
and answered shows on the client page's chart; the library makes a
resource and assigns it, and the client's list shows it; a client's
recording is charted and zoomed. Every page: no serious or critical
axe-core violation, no Content-Security-Policy violation, nothing wider
than a 360 px phone. SQLite only: the pages call the API the other tests
check on both databases.

One server, seeded with the demo (`carebase seed`: a therapist leading a
member with past sessions, a PHQ-9 answer and an HRV recording), serves
every test of the module: each test makes its own sessions at times no
other test uses.
"""

import secrets

import pytest

from conftest import ago, hdr, login
from web_browser import browser, page  # noqa: F401 (fixtures)

# tooling: a browser's time (out of the ASan tier); one xdist group, so
# the module's server and browser are made once, on one worker.
pytestmark = [pytest.mark.sqlite_only, pytest.mark.tooling,
              pytest.mark.xdist_group("web_practice")]

DEMO_PASSWORD = "carebase-demo-2026"
THERAPIST = "therapist@demo.carebase.dev"
MEMBER = "member@demo.carebase.dev"
PHQ9 = "00000000-0000-7000-8000-000000000009"
RECORDING = "00000000-0000-7000-8000-0000000000f1"
PHONE = (360, 740)
DESKTOP = (1280, 900)


@pytest.fixture(scope="module")
def server(module_server):
    """The module's one server: a copy of the worker's demo-seeded
    database (conftest's module_server)."""
    return module_server(seeded=True)


@pytest.fixture(scope="module")
def people(server):
    """Bearer tokens of the therapist and the member, their ids, and the
    therapist's profile."""
    t = login(server, THERAPIST, DEMO_PASSWORD)
    m = login(server, MEMBER, DEMO_PASSWORD)
    me_t = server.get("/v1/me", headers=hdr(t)).json()
    me_m = server.get("/v1/me", headers=hdr(m)).json()
    prof = [p for p in server.get("/v1/therapists", headers=hdr(t)).json()["data"]
            if p["user_id"] == me_t["id"]][0]
    return {"therapist": t, "member": m, "member_id": me_m["id"], "profile": prof}


def enter(page, email, path):
    """Signed in as email, the page at path (a full load). The sign-in page
    is test_web_public's: here the session's cookies come from the API's
    web sign-in, as the page would get them, which spares a page load."""
    r = page.server.post("/v1/auth/login", json={"email": email, "password": DEMO_PASSWORD},
                         headers={"X-Carebase-Client": "web"})
    assert r.status_code == 200, r.text
    for c in r.cookies:
        page.drv.add_cookie({"name": c.name, "value": c.value, "path": "/",
                             "secure": True, "httpOnly": c.name == "carebase_session"})
    page.open(path)


def shown(page, css, at_least=1):
    """The shown elements matching css, once there are at_least of them."""
    from selenium.webdriver.common.by import By
    page.wait(css)
    import time
    end = time.monotonic() + 20
    while True:
        els = [e for e in page.drv.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]
        if len(els) >= at_least:
            return els
        if time.monotonic() > end:
            raise AssertionError(f"{css} not shown: {page.text()[:2000]}")
        time.sleep(0.05)


def visit(page, path, ready, size=DESKTOP):
    """Go to path as a link of the application does (no reload: the
    router's popstate), at a window size, and wait for the css ready."""
    page.drv.set_window_size(*size)
    page.drv.execute_script(
        "history.pushState(null, '', arguments[0]);"
        "dispatchEvent(new PopStateEvent('popstate'));", path)
    return shown(page, ready)[0]


def checked(page, axe_widths=(DESKTOP[0],)):
    """The page as drawn: nothing wider than the window on a phone nor on a
    desktop, and no serious axe violation (axe takes a second or two a
    run: at the desktop's width unless asked for more; the markup is the
    same at both, the layout only differs)."""
    for w, h in (PHONE, DESKTOP):
        page.drv.set_window_size(w, h)
        width = page.drv.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{page.path()} is {width[0]} px wide at {w} px"
        if w in axe_widths:
            assert page.axe() == [], f"{page.path()} at {w} px"


def local_iso(page, day_offset, hour):
    """The UTC time of day_offset days from today at hour, local time in
    the browser, and that local day "YYYY-MM-DD"."""
    return page.drv.execute_script(
        "const [n, h] = arguments; const t = new Date();"
        "const d = new Date(t.getFullYear(), t.getMonth(), t.getDate() + n, h, 0, 0, 0);"
        "const p = (x) => String(x).padStart(2, '0');"
        "return [d.toISOString().replace(/Z$/, '').replace(/\\.\\d+$/, '') + '.000Z',"
        " `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`];",
        day_offset, hour)


def button(page, label, scope="#main"):
    """Click the shown button labelled label (in scope: the open dialog's)."""
    for b in shown(page, f"{scope} button"):
        if b.text.strip() == label and b.is_enabled():
            b.click()
            return
    raise AssertionError(f"no button {label!r}: {page.text(scope)[:1500]}")


def session_of(server, people, sid):
    return server.get(f"/v1/therapy-sessions/{sid}", headers=hdr(people["therapist"])).json()


# --------------------------------------------------------------------------
# 1. the calendar: book, move, complete, cancel


def test_the_calendar_books_a_session_and_moves_it_to_another_day(page, server, people):
    page.sign_in(THERAPIST, DEMO_PASSWORD)
    visit(page, "/practice", "ol.week li.day")
    assert len(shown(page, "ol.week li.day", 7)) == 7
    assert page.drv.find_elements("css selector", "li.day.today[aria-current=date]")
    checked(page, (PHONE[0], DESKTOP[0]))
    # On a phone the week is a list of its days.
    page.drv.set_window_size(*PHONE)
    assert page.drv.execute_script(
        "return getComputedStyle(document.querySelector('ol.week')).display") == "block"
    page.drv.set_window_size(*DESKTOP)

    start, day = local_iso(page, 9, 14)
    # A time left out is the page's own error, beside its field.
    page.set_value("input[name=start_date]", day)
    page.set_value("input[name=start_time]", "")
    button(page, "Book the session")
    err = shown(page, "input[name=start_time] ~ .field-error")[0]
    assert "Choose a day and a time" in err.text
    page.set_value("input[name=start_time]", "14:00")
    button(page, "Book the session")
    link = shown(page, "#main [role=status] a")[0]
    sid = link.get_attribute("href").rsplit("/", 1)[1]
    s = session_of(server, people, sid)
    assert (s["start_time"], s["status"], s["client_id"]) == (start, "scheduled",
                                                              people["member_id"])
    # The calendar moved to that week and shows it on its day.
    slot = shown(page, f"li.day[data-day='{day}'] a[data-session='{sid}']")[0]
    assert "Morgan Member" in slot.text and "14:00" in slot.text

    # The same time again: the API's overlap, shown above the button.
    button(page, "Book the session")
    page.wait_text("another session at that time", "#main form [role=alert]")

    # Moved to the next day from its page: a new session, the old one moved.
    slot.click()
    page.wait_path(f"/practice/sessions/{sid}")
    shown(page, "input[name=start_date]")
    assert "Mark completed" not in page.text("#main")     # not started yet
    checked(page)
    moved, next_day = local_iso(page, 10, 14)
    page.set_value("input[name=start_date]", next_day)
    button(page, "Move the session")
    page.wait_text("the session it replaces")              # the new session's page
    new_id = page.path().rsplit("/", 1)[1]
    assert new_id != sid
    assert session_of(server, people, sid)["status"] == "rescheduled"
    new = session_of(server, people, new_id)
    assert (new["start_time"], new["rescheduled_from_id"]) == (moved, sid)
    # Back in the calendar (this week): forward a week at a time to it.
    page.click_link("Your calendar")
    shown(page, "li.day.today")
    for _ in range(3):
        if page.drv.find_elements("css selector", f"li.day[data-day='{next_day}']"):
            break
        button(page, "Next week")
    shown(page, f"li.day[data-day='{next_day}'] a[data-session='{new_id}']")
    button(page, "Today")
    shown(page, "li.day.today")
    assert page.csp_violations() == []


def test_a_started_session_is_completed_or_cancelled_with_a_reason(page, server, people):
    t = hdr(people["therapist"])
    body = {"therapist_id": people["profile"]["id"], "client_id": people["member_id"],
            "type": "regular", "format": "video"}
    held = server.post("/v1/therapy-sessions", headers=t,
                       json={**body, "start_time": ago(3), "end_time": ago(2)}).json()
    missed = server.post("/v1/therapy-sessions", headers=t,
                         json={**body, "start_time": ago(6), "end_time": ago(5)}).json()
    absent = server.post("/v1/therapy-sessions", headers=t,
                         json={**body, "start_time": ago(8), "end_time": ago(7)}).json()
    enter(page, THERAPIST, f"/practice/sessions/{held['id']}")
    shown(page, "dd[data-status=scheduled]")
    assert "Move the session" not in page.text("#main")   # started: no reschedule
    button(page, "Mark completed")
    shown(page, "dialog[open]")
    assert "Mark this session completed?" in page.text("dialog[open]")
    assert page.axe() == []
    button(page, "Mark completed", "dialog[open]")
    page.wait("dd[data-status=completed]")
    assert session_of(server, people, held["id"])["status"] == "completed"

    # Cancelled after its start: the reason the API asks for, then given.
    visit(page, f"/practice/sessions/{missed['id']}", "dd[data-status=scheduled]")
    button(page, "Cancel session")
    shown(page, "dialog[open] textarea[name=reason]")
    button(page, "Cancel the session", "dialog[open]")
    err = shown(page, "dialog[open] textarea[name=reason] ~ .field-error")[0]
    assert err.text
    area = page.drv.find_element("css selector", "dialog[open] textarea[name=reason]")
    assert area.get_attribute("aria-invalid") == "true"
    assert page.axe() == []
    area.send_keys("The client was taken ill.")
    button(page, "Cancel the session", "dialog[open]")
    page.wait("dd[data-status=cancelled]")
    page.wait_text("The client was taken ill.")
    s = session_of(server, people, missed["id"])
    assert (s["status"], s["cancel_reason"]) == ("cancelled", "The client was taken ill.")

    # A no-show, confirmed with the keyboard.
    from selenium.webdriver.common.keys import Keys
    visit(page, f"/practice/sessions/{absent['id']}", "dd[data-status=scheduled]")
    [b for b in shown(page, "#main button") if b.text == "Mark no-show"][0].send_keys(Keys.ENTER)
    shown(page, "dialog[open]")
    page.drv.find_element("css selector", "dialog[open] button.danger").send_keys(Keys.ENTER)
    page.wait("dd[data-status=no_show]")
    assert session_of(server, people, absent["id"])["status"] == "no_show"
    assert page.csp_violations() == []


# --------------------------------------------------------------------------
# 2. notes: shared for the client, private for the therapist only


def test_shared_and_private_notes_and_the_client_sees_only_the_shared(page, server, people):
    t = hdr(people["therapist"])
    s = server.post("/v1/therapy-sessions", headers=t, json={
        "therapist_id": people["profile"]["id"], "client_id": people["member_id"],
        "type": "regular", "format": "video",
        "start_time": ago(10), "end_time": ago(9)}).json()
    shared = "Keep the sleep diary " + secrets.token_hex(4)
    private = "PRIVATE-" + secrets.token_hex(8)
    enter(page, THERAPIST, f"/practice/sessions/{s['id']}")
    shown(page, "textarea[name=private_notes]")
    assert "private" in page.text("section.private h2").lower()
    shown(page, "textarea[name=shared_notes]")[0].send_keys(shared)
    button(page, "Save shared notes")
    page.wait_text("Shared notes saved.")
    shown(page, "textarea[name=private_notes]")[0].send_keys(private)
    button(page, "Save private notes")
    page.wait_text("Private notes saved.")
    checked(page)
    assert page.csp_violations() == []
    assert session_of(server, people, s["id"])["shared_notes"] == shared
    r = server.get(f"/v1/therapy-sessions/{s['id']}/private-notes", headers=t)
    assert r.json()["private_notes"] == private
    # Read back after a reload: both kept.
    page.drv.refresh()
    shown(page, "textarea[name=private_notes]")
    assert page.drv.execute_script(
        "return document.querySelector('textarea[name=private_notes]').value") == private
    # Another session's page, reached without a reload, starts with its own
    # (empty) notes (the shell draws each path's page afresh): nothing
    # typed for one session is shown, or saved, as another's.
    other = server.post("/v1/therapy-sessions", headers=t, json={
        "therapist_id": people["profile"]["id"], "client_id": people["member_id"],
        "type": "regular", "format": "video",
        "start_time": ago(13), "end_time": ago(12)}).json()
    visit(page, f"/practice/sessions/{other['id']}",
          f"[data-session='{other['id']}'] textarea[name=private_notes]")
    assert page.drv.execute_script(
        "return [...document.querySelectorAll('#main textarea')].map(t => t.value)") == ["", ""]

    # The client's browser, a session of its own.
    page.reset()
    enter(page, MEMBER, f"/therapy/sessions/{s['id']}")
    shown(page, ".notes")
    assert page.text(".notes") == shared
    urls = page.drv.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert not [u for u in urls if "private-notes" in u], urls
    assert private not in page.drv.page_source
    # The therapist's pages are not the client's.
    visit(page, f"/practice/sessions/{s['id']}", "#main h1")
    page.wait_text("Not available to you")
    assert private not in page.drv.page_source
    assert page.csp_violations() == []


# --------------------------------------------------------------------------
# 3. a form sent, answered and charted; 4. the library


def test_a_phq9_sent_to_the_client_is_answered_and_charted(page, server, people):
    enter(page, THERAPIST, "/practice/clients")
    shown(page, f"a[data-client='{people['member_id']}']")
    checked(page)
    shown(page, f"a[data-client='{people['member_id']}']")[0].click()
    chart = shown(page, f"figure.score-chart[data-form='{PHQ9}'] svg")[0]
    before = int(chart.get_attribute("data-points"))
    page.set_value("select[name=form_id]", PHQ9)
    shown(page, "textarea[name=notes]")[0].send_keys("Before our next session, please.")
    button(page, "Send the form")
    page.wait_text("PHQ-9 sent to Morgan Member.")
    m = hdr(people["member"])
    sent = [a for a in server.get("/v1/resource-assignments", headers=m).json()["data"]
            if a["notes"] == "Before our next session, please."]
    assert len(sent) == 1

    # The client answers (through the API): 15 of 27.
    opts = ["Not at all", "Several days", "More than half the days", "Nearly every day"]
    picks = [3, 3, 2, 2, 2, 1, 1, 1, 0]
    r = server.post("/v1/form-responses", headers=m, json={
        "form_id": PHQ9, "client_id": people["member_id"],
        "responses": {f"q{i + 1}": opts[p] for i, p in enumerate(picks)}})
    assert r.status_code == 201, r.text
    assert r.json()["score"]["total"] == sum(picks) == 15
    page.drv.refresh()
    chart = shown(page, f"figure.score-chart[data-form='{PHQ9}'] svg")[0]
    assert int(chart.get_attribute("data-points")) == before + 1
    assert len(page.drv.find_elements("css selector", f"figure[data-form='{PHQ9}'] circle")) \
        == before + 1
    row = shown(page, f"figure[data-form='{PHQ9}'] tr[data-score='15']")[0]
    assert "15 of 27" in row.text
    assert "the latest 15 of 27" in page.drv.execute_script(
        f"return document.querySelector(\"figure[data-form='{PHQ9}'] svg title\").textContent")
    checked(page)

    # The form shows on the client's resources, linking to its page.
    page.reset()
    enter(page, MEMBER, "/resources")
    shown(page, f"a[href$='/forms/{PHQ9}']")
    page.wait_text("Before our next session, please.")
    assert page.csp_violations() == []


def test_the_library_makes_a_resource_assigns_it_and_the_client_lists_it(page, server, people):
    title = "Sleep hygiene " + secrets.token_hex(3)
    enter(page, THERAPIST, "/practice/library")
    shown(page, "input[name=title]")
    page.set_value("input[name=title]", title)
    page.set_value("input[name=url]", "javascript:alert(1)")
    button(page, "Add to the library")
    err = shown(page, "input[name=url] ~ .field-error")[0]
    assert err.text
    assert page.drv.find_element("css selector", "input[name=url]").get_attribute(
        "aria-invalid") == "true"
    assert page.axe() == []
    page.set_value("input[name=url]", "https://www.nhs.uk/live-well/sleep-and-tiredness/")
    button(page, "Add to the library")
    page.wait_text(f"“{title}” added.")
    shown(page, "select[name=resource_id]")
    rid = [r for r in server.get("/v1/resources", headers=hdr(people["therapist"]))
           .json()["data"] if r["title"] == title][0]["id"]
    page.set_value("select[name=resource_id]", rid)
    shown(page, "form[aria-label='Assign a resource'] textarea[name=notes]")[0].send_keys(
        "Read it this week.")
    button(page, "Assign")
    page.wait_text(f"“{title}” assigned to Morgan Member.")
    page.wait_text(title, "#main table")
    checked(page)
    assert page.csp_violations() == []

    page.reset()
    enter(page, MEMBER, "/resources")
    shown(page, "ul.cards")
    page.wait_text(title)
    page.wait_text("Read it this week.")


# --------------------------------------------------------------------------
# 5. a client's recording


def test_a_clients_recording_is_charted_and_zoomed(page, server, people):
    enter(page, THERAPIST, f"/practice/clients/{people['member_id']}")
    shown(page, f"a[href='/practice/recordings/{RECORDING}']")
    shown(page, f"a[href='/practice/recordings/{RECORDING}']")[0].click()
    page.wait_path(f"/practice/recordings/{RECORDING}")
    svg = shown(page, "figure.chart svg[data-buckets]")[0]
    whole = page.text("figure.chart figcaption")
    desc = page.drv.execute_script("return document.querySelector('#chart-desc').textContent")
    assert "300 points" in desc
    checked(page)
    button(page, "First half")
    import time
    end = time.monotonic() + 20
    while "300 points" in page.drv.execute_script(
            "return document.querySelector('#chart-desc') ?"
            " document.querySelector('#chart-desc').textContent : '300 points'"):
        assert time.monotonic() < end, "the chart did not zoom"
        time.sleep(0.05)
    assert svg is not None and whole
    assert page.csp_violations() == []
