"""A person's own pages of the web application (issue 18 item 3) in a
browser (tests/api/web_browser.py: headless Chromium driven by
python3-selenium) against the real server, signed in through the sign-in
page (the session cookie): each page reached by its path and used as a
person would, with the keyboard where it matters, on a phone's width
(360 px) and a desktop's. On every page: no serious or critical axe-core
violation, and no Content-Security-Policy violation in the console. SQLite
only: the pages call the same API the other tests check on both databases.

The demo seed (`carebase seed`) gives most journeys their data: its member
has a partner access with therapy sessions, a course with progress, therapy
sessions with shared and private notes, a PHQ-9, a resource and an HRV
recording; its guardian has a child with recorded consent.
"""

import datetime
import json
import re
import secrets
import time

import pytest

from conftest import (SIMPLYBOOK_SECRET, booking_hook, booking_payload, hdr, login,
                      undo_migration, wait_until)
from web_browser import browser, page  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.sqlite_only, pytest.mark.tooling]

DEMO_PASSWORD = "carebase-demo-2026"
MEMBER = "member@demo.carebase.dev"
GUARDIAN = "guardian@demo.carebase.dev"
PHQ9 = "00000000-0000-7000-8000-000000000009"
PHONE = (360, 740)
DESKTOP = (1280, 900)


# --------------------------------------------------------------------------
# the browser: web_browser.py's (one chromium per module, a Page per test)


@pytest.fixture
def server(start_seeded):
    """The server of page: the demo seed's accounts and data (a copy of the
    worker's seeded database), and the booking webhook's secret."""
    return start_seeded(env={"CAREBASE_SIMPLYBOOK_WEBHOOK_SECRET": SIMPLYBOOK_SECRET})


def find(drv, css, timeout=20, at_least=1):
    from selenium.webdriver.common.by import By
    end = time.monotonic() + timeout
    while True:
        found = [e for e in drv.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]
        if len(found) >= at_least:
            return found
        if time.monotonic() >= end:
            raise AssertionError(f"{css} not shown in {timeout}s:\n"
                                 f"{drv.find_element(By.TAG_NAME, 'body').text[:3000]}")
        time.sleep(0.1)


def text_shown(drv, pattern, timeout=20):
    """Wait until the page's visible text matches pattern; the text."""
    from selenium.webdriver.common.by import By
    rx = re.compile(pattern)
    end = time.monotonic() + timeout
    while True:
        body = drv.find_element(By.TAG_NAME, "body").text
        if rx.search(body):
            return body
        if time.monotonic() >= end:
            raise AssertionError(f"{pattern!r} not shown in {timeout}s:\n{body[:3000]}")
        time.sleep(0.1)


def button(drv, label, timeout=20):
    """The shown button whose text is label."""
    end = time.monotonic() + timeout
    while True:
        for b in find(drv, "button", timeout=timeout):
            if b.text.strip() == label and b.is_enabled():
                return b
        if time.monotonic() >= end:
            raise AssertionError(f"no button {label!r}")
        time.sleep(0.1)


def set_value(drv, el, value):
    """Type value into el as a person would, at once: the value set through
    the element's own setter, then the input event the page listens to
    (a date and time input takes its parts key by key otherwise)."""
    drv.execute_script(
        "const [el, v] = arguments;"
        "Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(el, v);"
        "el.dispatchEvent(new Event('input', {bubbles: true}));", el, value)


def visit(page, path, ready, size=DESKTOP):
    """Open path at a window size and wait for the css ready."""
    page.drv.set_window_size(*size)
    page.drv.get(page.server.url(path))
    return find(page.drv, ready)


def requested(drv):
    """The URLs the page fetched since the last call (Resource Timing: every
    request the document made, the API's included), then forgotten."""
    return drv.execute_script(
        "const u = performance.getEntriesByType('resource').map(e => e.name);"
        "performance.clearResourceTimings(); return u;")


def sign_in(page, email, password=DEMO_PASSWORD):
    """Signed in through the sign-in page (the session cookie); the driver."""
    page.sign_in(email, password)
    return page.drv


def no_overflow(drv):
    """Nothing wider than the window (a phone must not scroll sideways)."""
    w = drv.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert w[0] <= w[1], f"the page is {w[0]} px wide in a {w[1]} px window"


# --------------------------------------------------------------------------
# 3. therapy allowance and bookings


def test_a_partner_member_sees_the_allowance_drop_with_a_booking_and_come_back_on_cancel(
        page, server):
    token = login(server, MEMBER, DEMO_PASSWORD)
    left = sum(a["therapy_sessions_remaining"]
               for a in server.get("/v1/me/partner-access", headers=hdr(token)).json()["data"])
    assert left == 6
    drv = sign_in(page, MEMBER)
    for size in (PHONE, DESKTOP):
        visit(page, "/therapy", f"[data-allowance='{left}']", size)
        text_shown(drv, "You have no bookings")
        no_overflow(drv)
        assert page.axe() == []

    # A booking arrives from the booking system: one session is spent.
    code = "SB-" + secrets.token_hex(4)
    r = booking_hook(server, booking_payload(MEMBER, code=code))
    assert r.status_code == 200, r.text
    drv.refresh()
    find(drv, f"[data-allowance='{left - 1}']")
    row = find(drv, f"[data-booking='{code}']")[0]
    assert "Therapy session" in row.text and "Dr Ada Lovelace" in row.text

    # Cancelled from the page, with the keyboard: the session comes back.
    from selenium.webdriver.common.keys import Keys
    row.find_element("css selector", "button").send_keys(Keys.ENTER)
    dialog = find(drv, "dialog[open]")[0]
    assert "Cancel this booking?" in dialog.text
    assert page.axe() == []
    dialog.find_element("css selector", "button.danger").send_keys(Keys.ENTER)
    find(drv, f"[data-allowance='{left}']")
    text_shown(drv, "cancelled")
    b = server.get("/v1/me/therapy-bookings", headers=hdr(token)).json()["data"]
    assert [x["status"] for x in b if x["booking_code"] == code] == ["cancelled"]
    assert page.csp_violations() == []


# --------------------------------------------------------------------------
# 5. forms


def test_a_client_fills_a_phq9_sees_field_errors_then_the_score_and_band(page, server):
    drv = sign_in(page, MEMBER)
    visit(page, "/forms", f"a[href='/forms/{PHQ9}']", PHONE)
    text_shown(drv, "Your answers")
    find(drv, f"a[href='/forms/{PHQ9}']")[0].click()      # the application's own link
    find(drv, "form.questionnaire fieldset", at_least=9)
    assert drv.current_url.endswith(f"/forms/{PHQ9}")

    # Sent half filled: the server's errors land on the fields left out.
    radios = lambda q: drv.find_elements("css selector", f"input[name='{q}']")  # noqa: E731
    for q in ("q1", "q2", "q3", "q4"):
        radios(q)[2].click()                                 # "More than half the days"
    button(drv, "Send my answers").click()
    text_shown(drv, "fields? marked below")
    bad = find(drv, "fieldset[aria-invalid='true']", at_least=5)
    assert len(bad) == 5
    assert all("is required" in f.text for f in bad)
    assert page.axe() == []

    # Filled in: the score and its band, as the server scored them.
    for q, pick in (("q5", 3), ("q6", 1), ("q7", 0), ("q8", 0), ("q9", 0)):
        radios(q)[pick].click()
    button(drv, "Send my answers").click()
    score = find(drv, "[data-score]")[0]
    band = find(drv, "[data-band]")[0]
    assert score.text == str(2 * 4 + 3 + 1) and band.get_attribute("data-band") == "moderate"
    assert "of 27" in text_shown(drv, "your answers are sent")
    visit(page, "/forms", "[data-band]")
    assert page.axe() == []
    assert page.csp_violations() == []


# --------------------------------------------------------------------------
# 4. therapy sessions: shared notes only


def test_a_clients_session_page_shows_the_shared_note_and_never_asks_for_the_private_one(
        page, server):
    therapist = login(server, "therapist@demo.carebase.dev", DEMO_PASSWORD)
    sessions = server.get("/v1/therapy-sessions", headers=hdr(therapist)).json()["data"]
    held = [s for s in sessions if s["shared_notes"]][0]
    private = "PRIVATE-" + secrets.token_hex(8)
    r = server.request("PUT", f"/v1/therapy-sessions/{held['id']}/private-notes",
                     headers=hdr(therapist), json={"private_notes": private})
    assert r.status_code == 200, r.text

    drv = sign_in(page, MEMBER)
    requested(drv)                                           # forget the sign-in
    visit(page, "/therapy/sessions", f"a[href='/therapy/sessions/{held['id']}']")
    find(drv, f"a[href='/therapy/sessions/{held['id']}']")[0].click()
    note = find(drv, ".notes")[0]
    assert note.text == held["shared_notes"]
    drv.set_window_size(*PHONE)
    no_overflow(drv)
    assert page.axe() == []

    # Every request the page made: the session read, never its private notes.
    api = [u for u in requested(drv) if "/v1/" in u]
    assert any(u.endswith(f"/v1/therapy-sessions/{held['id']}") for u in api), api
    assert not [u for u in api if "private-notes" in u], api
    assert private not in drv.page_source
    assert page.csp_violations() == []


# --------------------------------------------------------------------------
# 1. account


def test_the_account_page_edits_details_changes_the_password_and_ends_other_sessions(
        page, server):
    other = login(server, MEMBER, DEMO_PASSWORD)                # another device
    drv = sign_in(page, MEMBER)
    visit(page, "/account", "#h-profile", PHONE)
    no_overflow(drv)
    first = find(drv, "input[name='first_name']")[0]
    assert first.get_attribute("value") == "Morgan"

    # A field error from the server, under its field.
    email = find(drv, "input[name='email']")[0]
    email.clear()
    email.send_keys("not an address")
    find(drv, "input[name='current_password']")[0].send_keys(DEMO_PASSWORD)
    button(drv, "Save details").click()
    err = find(drv, "input[name='email'][aria-invalid='true']")[0]
    note = drv.find_element("id", err.get_attribute("aria-describedby").split()[-1])
    assert note.text, "the email's error is not shown"
    assert page.axe() == []
    email.clear()
    email.send_keys(MEMBER)
    first.clear()
    first.send_keys("Morgana")
    button(drv, "Save details").click()
    text_shown(drv, "Saved.")
    assert server.get("/v1/me", headers=hdr(other)).json()["first_name"] == "Morgana"

    # Signed in twice: this device and the other; the other is signed out.
    drv.set_window_size(*DESKTOP)
    find(drv, "#h-sessions ~ ul li", at_least=2)
    button(drv, "Sign out everywhere else").click()
    text_shown(drv, "Signed out of 1 other device")
    assert server.get("/v1/me", headers=hdr(other)).status_code == 401

    # The password: too short is refused on its field, then changed.
    find(drv, "#h-password ~ form input[name='current_password']")[0].send_keys(DEMO_PASSWORD)
    new = find(drv, "input[name='new_password']")[0]
    new.send_keys("short")
    button(drv, "Change password").click()
    find(drv, "input[name='new_password'][aria-invalid='true']")
    new.clear()
    new.send_keys("a much longer passphrase 2027")
    button(drv, "Change password").click()
    text_shown(drv, "Your password is changed")
    assert login(server, MEMBER, "a much longer passphrase 2027")
    assert page.csp_violations() == []


def test_the_account_page_sets_a_time_zone_and_times_elsewhere_are_shown_in_it(page, server):
    """The zone chosen on /account is saved through PATCH /v1/me; a session's
    time on /therapy/sessions is then shown in that zone, not the
    browser's (chosen so the two differ by hours)."""
    drv = sign_in(page, MEMBER)
    here = drv.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone")
    zone = "Asia/Tokyo" if here != "Asia/Tokyo" else "America/New_York"
    visit(page, "/account", "#h-profile")
    select = find(drv, "select[name='time_zone']")[0]
    options = [o.get_attribute("value") for o in select.find_elements("css selector", "option")]
    assert options[:2] == ["", here], options[:3]             # the browser's suggested
    assert zone in options, len(options)
    drv.execute_script("const [el, v] = arguments; el.value = v;"
                       "el.dispatchEvent(new Event('change', {bubbles: true}));", select, zone)
    button(drv, "Save details").click()
    text_shown(drv, "Saved.")
    token = login(server, MEMBER, DEMO_PASSWORD)
    assert server.get("/v1/me", headers=hdr(token)).json()["time_zone"] == zone
    assert page.axe() == []

    visit(page, "/therapy/sessions", "time[datetime]")
    shown = find(drv, "time[datetime]")[0]
    iso = shown.get_attribute("datetime")
    fmt = ("return new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', "
           "timeStyle: 'short', timeZone: arguments[1]}).format(new Date(arguments[0]))")
    assert shown.text == drv.execute_script(fmt, iso, zone)
    assert shown.text != drv.execute_script(fmt, iso, here)
    assert page.csp_violations() == []


def test_with_0053_pending_the_account_page_saves_details_without_a_time_zone(page, server):
    """The server's database without migration 0053 (undone, as `carebase
    migrate down` would): /v1/me answers without time_zone, so the page
    shows no zone select and saves the details without naming one (a
    write naming it is 503 FIELD_UNAVAILABLE)."""
    server.stop()
    undo_migration(server.db, "0053_brand_colour_time_zone")
    server.start(migrate=False)
    drv = sign_in(page, MEMBER)
    visit(page, "/account", "#h-profile")
    find(drv, "input[name='first_name']")
    assert drv.find_elements("css selector", "select[name='time_zone']") == []
    field = find(drv, "input[name='last_name']")[0]
    field.clear()
    field.send_keys("Zoneless")
    button(drv, "Save details").click()
    text_shown(drv, "Saved.")
    me = server.get("/v1/me", headers=hdr(login(server, MEMBER, DEMO_PASSWORD))).json()
    assert me["last_name"] == "Zoneless" and "time_zone" not in me
    assert page.csp_violations() == []


def test_the_account_page_downloads_the_data_and_deletes_the_account_after_typed_words(
        page, server, tmp_path):
    drv = sign_in(page, MEMBER)
    drv.execute_cdp_cmd("Browser.setDownloadBehavior",
                        {"behavior": "allow", "downloadPath": str(tmp_path)})
    visit(page, "/account", "#h-export")
    button(drv, "Download my data").click()
    got = wait_until(lambda: [p for p in tmp_path.glob("carebase-export-*.json")
                              if p.stat().st_size > 0], timeout=20, what="the export file")
    data = json.loads(got[0].read_text())
    assert MEMBER in json.dumps(data)

    button(drv, "Delete my account…").click()
    dialog = find(drv, "dialog[open]")[0]
    confirm = dialog.find_element("css selector", "button.danger")
    dialog.find_element("css selector", "input[name='password']").send_keys(DEMO_PASSWORD)
    confirm.click()                                    # the word not typed: nothing
    find(drv, "input[name='confirm_word'][aria-invalid='true']")
    assert page.axe() == []
    assert login(server, MEMBER, DEMO_PASSWORD)
    dialog.find_element("css selector", "input[name='confirm_word']").send_keys(
        "delete my account")
    # The page goes to "/" as DELETE /v1/me answers (window.location.assign):
    # the performance log has the request but not its end, which went with
    # the old document. That it was answered is checked below (the account
    # is gone); its answer's shape is test_me's.
    page.leaving("DELETE", "/v1/me")
    confirm.click()
    wait_until(lambda: drv.execute_script("return location.pathname") == "/",
               timeout=20, what="the way out after the erasure")
    r = server.post("/v1/auth/login", json={"email": MEMBER, "password": DEMO_PASSWORD})
    assert r.status_code == 401, r.text
    assert page.csp_violations() == []


# --------------------------------------------------------------------------
# 2, 6, 7, 8, 9: courses, resources, recordings, family, notifications


def test_a_course_page_shows_its_lessons_and_marks_one_done(page, server):
    drv = sign_in(page, MEMBER)
    visit(page, "/courses", "progress", PHONE)
    text_shown(drv, "1 of 3 sessions done")
    find(drv, "a[href^='/courses/']")[0].click()
    rows = find(drv, "li[data-session]", at_least=3)
    text = " ".join(r.text for r in rows)
    assert "completed" in text and "started" in text and "not started" in text
    todo = [r for r in rows if "not started" in r.text][0]
    assert page.axe() == []
    todo.find_element("css selector", "button:last-child").click()          # Mark done
    text_shown(drv, r"(?s)Sleep and stress\s+completed")
    visit(page, "/courses", "progress")
    text_shown(drv, "2 of 3 sessions done")
    assert page.axe() == []
    assert page.csp_violations() == []


def test_resources_assigned_are_listed_and_marked_done(page, server):
    drv = sign_in(page, MEMBER)
    visit(page, "/resources", "ul.cards li", PHONE)
    text_shown(drv, "Box breathing, step by step")
    link = find(drv, "ul.cards a[target='_blank']")[0]
    assert link.get_attribute("href").startswith("https://www.nhs.uk/")
    assert "noopener" in link.get_attribute("rel")
    assert page.axe() == []
    button(drv, "Mark done").click()
    text_shown(drv, "completed")
    assert page.csp_violations() == []


def test_a_recording_is_charted_and_zoomed_to_a_chosen_range(page, server):
    drv = sign_in(page, MEMBER)
    visit(page, "/recordings", "a[href^='/recordings/']", PHONE)
    text_shown(drv, "300 points")
    assert page.axe() == []
    find(drv, "a[href^='/recordings/']")[0].click()
    svg = find(drv, "svg[role='img']")[0]
    whole = int(svg.get_attribute("data-buckets"))
    assert whole > 100
    assert "300 points" in drv.find_element("css selector", "svg desc").get_attribute(
        "textContent")
    assert drv.find_element("css selector", "polyline.chart-line").get_attribute("points")
    no_overflow(drv)
    assert page.axe() == []
    requested(drv)
    button(drv, "First half").click()
    wait_until(lambda: "300 points" not in drv.find_element(
        "css selector", "svg desc").get_attribute("textContent"), what="the zoom")
    asked = [u for u in requested(drv) if "/points?" in u]
    assert asked and "buckets=" in asked[-1] and "from=" in asked[-1]
    n = int(re.search(r"(\d+) points", drv.find_element(
        "css selector", "svg desc").get_attribute("textContent")).group(1))
    assert 100 < n < 200, n
    # A range typed in: the end before the start is refused on the page.
    frm = find(drv, "#range-from")[0].get_attribute("value")
    set_value(drv, find(drv, "#range-to")[0], frm)
    button(drv, "Show this range").click()
    text_shown(drv, "Choose a start before the end")
    assert page.csp_violations() == []


def test_a_guardian_sees_their_child_and_the_consent_they_gave(page, server):
    drv = sign_in(page, GUARDIAN)
    visit(page, "/family", "#h-children", PHONE)
    body = text_shown(drv, "Charlie Child")
    assert re.search(r"You gave consent .* on a signed form", body), body
    no_overflow(drv)
    assert page.axe() == []
    # A child added from the page: their account and its consent, at once.
    kid = (datetime.date.today() - datetime.timedelta(days=365 * 8)).isoformat()
    find(drv, "input[name='first_name']")[0].send_keys("Robin")
    date = find(drv, "input[name='date_of_birth']")[0]
    drv.execute_script("arguments[0].focus()", date)
    y, m, d = kid.split("-")
    date.send_keys(d + m + y)
    button(drv, "Add the child").click()
    text_shown(drv, "The child's account is made")
    find(drv, "li[data-relationship]", at_least=2)
    body = text_shown(drv, "Robin")
    assert len(re.findall("You gave consent", body)) == 2, body
    assert page.csp_violations() == []


def test_notifications_are_listed_opened_and_marked_read(page, server):
    token = login(server, MEMBER, DEMO_PASSWORD)
    admin = login(server, "admin@demo.carebase.dev", DEMO_PASSWORD)
    drv = sign_in(page, MEMBER)
    visit(page, "/notifications", ".empty-state", PHONE)
    text_shown(drv, "You have no notifications")

    # The seed's course in Leeds, booked by the member and confirmed by
    # staff: a notification of the confirmed booking.
    sched = server.get("/v1/course-schedules").json()["data"][0]
    r = server.post("/v1/training-bookings", headers=hdr(token),
                  json={"schedule_id": sched["id"],
                        "attendees": [{"name": "Morgan", "email": MEMBER}]})
    assert r.status_code == 201, r.text
    r = server.post(f"/v1/training-bookings/{r.json()['id']}/confirm", headers=hdr(admin))
    assert r.status_code == 200, r.text
    mine = wait_until(lambda: server.get("/v1/me/notifications", headers=hdr(token))
                      .json()["data"], what="the notification")
    drv.refresh()
    text_shown(drv, "1 unread")
    row = find(drv, "li.unread")[0]
    assert mine[0]["title"] in row.text
    assert page.axe() == []
    button(drv, "Mark all read").click()
    text_shown(drv, "All read")
    assert not drv.find_elements("css selector", "li.unread")
    assert all(n["is_read"] for n in
               server.get("/v1/me/notifications", headers=hdr(token)).json()["data"])
    assert page.csp_violations() == []
