"""The partner admin's pages and the admin console (issue 18 items 5 and 6)
in a browser (tests/api/web_browser.py: headless Chromium driven by
python3-selenium) against the real server, signed in through the sign-in
page (the session cookie). A partner admin makes three codes and downloads
them as the CSV file the page makes; a code registers a member through the
API; the member shows with their sessions; an admin changes them with
If-Match, and is told when a booking changed them meanwhile. An admin finds
a person, changes their role, deactivates them (confirmed), makes a staff
member, runs the audit chain check (the server's walk), replays a webhook
from the inbox and retries a failed job (each confirmed first); every console page at a phone's width
and a desktop's. On every page: no serious or critical axe-core violation,
nothing wider than the window, and no Content-Security-Policy violation.
A partner admin reads their partner's reports (a table, and the CSV file
the API makes) and never another partner's row. An admin makes a course
schedule (a refusal shown beside its field first), marks an attendee
present on its attendance sheet, completes it and issues a certificate by
hand, and downloads its PDF.
A member who opens /admin is told it is not for them. SQLite only: the
pages call the API the other tests check on both databases.

One server (the demo seed, and a partner admin of its partner) serves the
whole module: starting and seeding one per test would cost seconds each.
Each test makes the people it changes.
"""

import csv
import datetime
import io
import json
import secrets
import time
import uuid
import zoneinfo
from pathlib import Path

import pytest

import openapi_contract
from conftest import (PASSWORD, SIMPLYBOOK_SECRET, add_user,
                      booking_hook, booking_payload, hdr, login, person, register,
                      verify_address)
from training_helpers import set_setting
from web_browser import browser, page  # noqa: F401 (fixtures)

# One worker runs the module (xdist_group, --dist loadgroup): one server and
# one browser for its tests. A browser's journeys are tooling (scripts/test
# leaves them out of the sanitizer tiers; their API calls are tested there).
pytestmark = [pytest.mark.sqlite_only, pytest.mark.tooling, pytest.mark.xdist_group("web_admin")]

DEMO_PASSWORD = "carebase-demo-2026"
ADMIN = "admin@demo.carebase.dev"
MEMBER = "member@demo.carebase.dev"
PHONE = (360, 740)
DESKTOP = (1280, 900)


@pytest.fixture(scope="module")
def server(module_server):
    """The module's server: a copy of the demo seed's database (conftest's
    module_server), the booking webhook's secret, and a partner admin of
    the demo partner (server.partner_admin: its email and token)."""
    srv = module_server(env={"CAREBASE_SIMPLYBOOK_WEBHOOK_SECRET": SIMPLYBOOK_SECRET},
                        seeded=True)
    admin = login(srv, ADMIN, DEMO_PASSWORD)
    partner = srv.get("/v1/partners", headers=hdr(admin)).json()["data"][0]
    email = f"pa.{secrets.token_hex(3)}@example.org"
    add_user(srv, "partner_admin", email)
    token = login(srv, email)
    uid = srv.get("/v1/me", headers=hdr(token)).json()["id"]
    r = srv.post("/v1/partner-admins", headers=hdr(admin),
                 json={"user_id": uid, "partner_id": partner["id"]})
    assert r.status_code == 201, r.text
    srv.admin_token = admin
    srv.partner = partner
    srv.partner_admin = {"email": email, "token": token}
    return srv


# --------------------------------------------------------------------------
# driving the pages


def shown(drv, css, timeout=20, at_least=1):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    end = time.monotonic() + timeout
    while True:
        try:
            found = [e for e in drv.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]
        except StaleElementReferenceException:
            found = []      # redrawn meanwhile: look again
        if len(found) >= at_least:
            return found
        if time.monotonic() >= end:
            raise AssertionError(f"{css} not shown in {timeout}s:\n"
                                 f"{drv.find_element(By.TAG_NAME, 'body').text[:3000]}")
        time.sleep(0.05)


def button(drv, label, within="main", timeout=20):
    """The shown, enabled button whose text is label."""
    from selenium.webdriver.common.by import By
    end = time.monotonic() + timeout
    while True:
        for b in drv.find_elements(By.CSS_SELECTOR, f"{within} button"):
            if b.is_displayed() and b.is_enabled() and b.text.strip() == label:
                return b
        if time.monotonic() >= end:
            raise AssertionError(f"no button {label!r} in {within}")
        time.sleep(0.05)


def type_into(drv, css, value):
    el = shown(drv, css)[0]
    el.clear()
    el.send_keys(value)
    return el


def choose(drv, css, value):
    from selenium.webdriver.support.ui import Select
    Select(shown(drv, css)[0]).select_by_value(value)


def confirm(drv, label):
    """Press the confirming button of the open dialog."""
    button(drv, label, within="dialog[open]").click()
    end = time.monotonic() + 20
    while drv.execute_script("return !!document.querySelector('dialog[open]')"):
        if time.monotonic() > end:
            raise AssertionError("the dialog stayed open: " + shown(drv, "dialog[open]")[0].text)
        time.sleep(0.05)


def visit(page, path, ready, size=DESKTOP):
    page.drv.set_window_size(*size)
    page.drv.get(page.server.url(path))
    return shown(page.drv, ready)


def checked(page, axe=True):
    """The page as drawn fits the window and (with axe, the slow part: run
    once a page, at a phone's width) has no serious axe violation."""
    if axe:
        assert page.axe() == []
    w = page.drv.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")
    wide = page.drv.execute_script(
        "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
        " > window.innerWidth + 1).slice(0, 5).map(e => e.tagName + '.' + e.className)")
    assert w[0] <= w[1], f"{page.path()} is {w[0]} px wide in a {w[1]} px window: {wide}"


def downloads_to(drv, folder):
    """Files the page saves go to folder (Chromium's download behaviour)."""
    drv.execute_cdp_cmd("Browser.setDownloadBehavior",
                        {"behavior": "allow", "downloadPath": str(folder)})


DOWNLOADED_MEDIA = {".csv": "text/csv", ".pdf": "application/pdf",
                    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def downloaded(folder, suffix, timeout=20):
    end = time.monotonic() + timeout
    while True:
        # Chromium may name the file before it writes it: wait for bytes.
        done = [p for p in Path(folder).iterdir()
                if p.name.endswith(suffix) and p.stat().st_size > 0]
        if done:
            # The file as saved is checked as the API's answer would be:
            # its body the browser read as a Blob is not kept for the
            # traffic check (web_browser.py).
            media = DOWNLOADED_MEDIA.get(suffix)
            if suffix == ".json":
                # A JSON file a page saved came as a Blob too (which the
                # traffic check names a failure for JSON it could not read):
                # it is JSON at least.
                try:
                    json.loads(done[0].read_bytes())
                except ValueError as e:
                    pytest.fail(f"downloaded {done[0].name} is not JSON: {e}", pytrace=False)
            elif media is not None:
                try:
                    openapi_contract.check_file(f"downloaded {done[0].name}", media,
                                                done[0].read_bytes())
                except openapi_contract.ContractError as e:
                    pytest.fail(str(e), pytrace=False)
            return done[0]
        if time.monotonic() > end:
            raise AssertionError(f"no {suffix} file in {folder}: {list(Path(folder).iterdir())}")
        time.sleep(0.1)


def access_row(server, access_id):
    r = server.get(f"/v1/partner-access/{access_id}", headers=hdr(server.admin_token))
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------
# 5. the partner admin: codes, the CSV, members and their sessions


def test_partner_admin_makes_codes_and_an_admin_changes_a_members_sessions(
        page, server, tmp_path):
    drv = page.drv
    page.sign_in(server.partner_admin["email"], PASSWORD)
    visit(page, "/partner/codes", "input[name=count]", PHONE)
    checked(page, axe=False)

    # A count out of bounds is refused beside its field, before any request.
    type_into(drv, "input[name=count]", "0")
    button(drv, "Make codes").click()
    err = shown(drv, ".field-bad .field-error")[0]
    assert "1 to 50" in err.text
    count = shown(drv, "input[name=count]")[0]
    assert count.get_attribute("aria-invalid") == "true"
    assert err.get_attribute("id") in count.get_attribute("aria-describedby")

    type_into(drv, "input[name=count]", "3")
    type_into(drv, "input[name=therapy_sessions_remaining]", "5")
    button(drv, "Make codes").click()
    codes = [li.get_attribute("data-code") for li in shown(drv, "[data-code]", at_least=3)]
    assert len(codes) == 3 and len(set(codes)) == 3
    checked(page)   # the codes shown, and the field's error before

    # The CSV is a Blob the page made, saved as a file.
    downloads_to(drv, tmp_path)
    button(drv, "Download as CSV").click()
    text = downloaded(tmp_path, ".csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["code"] for r in rows] == codes
    assert {r["partner"] for r in rows} == {server.partner["name"]}
    assert {r["therapy_sessions"] for r in rows} == {"5"}

    # A code registers a member through the API; the access is theirs.
    email = f"coded.{secrets.token_hex(3)}@example.org"
    r = register(server, email, PASSWORD, partner_access_code=codes[1], first_name="Robin",
                 date_of_birth="1990-01-01", country="GB")
    assert r.status_code == 201, r.text
    member = login(server, email)
    mine = server.get("/v1/me/partner-access", headers=hdr(member)).json()["data"]
    assert len(mine) == 1 and mine[0]["therapy_sessions_remaining"] == 5
    access = mine[0]["id"]
    verify_address(server, server.get("/v1/me", headers=hdr(member)).json()["id"])

    # The partner admin sees the member with their sessions, and may not
    # change them (the API lets admins only): the form offers no field.
    for size in (PHONE, DESKTOP):
        visit(page, "/partner/members", f"tr[data-access='{access}'] td[data-left='5']", size)
        checked(page, axe=size == PHONE)
    shown(drv, f"tr[data-access='{access}'] button")[0].click()
    shown(drv, "#h-edit")
    assert not drv.find_elements("css selector", "input[name=therapy_sessions_remaining]")
    assert page.csp_violations() == []

    # An admin changes them against the version read (If-Match).
    drv.delete_all_cookies()
    page.sign_in(ADMIN, DEMO_PASSWORD)
    visit(page, "/partner/members", f"tr[data-access='{access}']")
    shown(drv, f"tr[data-access='{access}'] button")[0].click()
    type_into(drv, "input[name=therapy_sessions_remaining]", "4")
    checked(page)
    button(drv, "Save").click()
    shown(drv, f"tr[data-access='{access}'] td[data-left='4']")
    assert access_row(server, access)["therapy_sessions_remaining"] == 4

    # Read, then a booking spends one meanwhile: the change is refused (412)
    # and the page says so, and reloads the access on asking.
    shown(drv, f"tr[data-access='{access}'] button")[0].click()
    field = shown(drv, "input[name=therapy_sessions_remaining]")[0]
    assert field.get_attribute("value") == "4"
    r = booking_hook(server, booking_payload(email))
    assert r.status_code == 200, r.text
    assert access_row(server, access)["therapy_sessions_remaining"] == 3
    type_into(drv, "input[name=therapy_sessions_remaining]", "6")
    button(drv, "Save").click()
    alert = shown(drv, "#h-edit ~ * [role=alert], section [role=alert]")[0]
    assert "changed meanwhile" in alert.text
    assert access_row(server, access)["therapy_sessions_remaining"] == 3
    button(drv, "Reload").click()
    end = time.monotonic() + 20
    while shown(drv, "input[name=therapy_sessions_remaining]")[0].get_attribute("value") != "3":
        assert time.monotonic() < end, "the reloaded access does not show 3"
        time.sleep(0.05)
    type_into(drv, "input[name=therapy_sessions_remaining]", "6")
    button(drv, "Save").click()
    shown(drv, f"tr[data-access='{access}'] td[data-left='6']")
    assert access_row(server, access)["therapy_sessions_remaining"] == 6
    assert page.csp_violations() == []


# --------------------------------------------------------------------------
# 6. the admin console


def test_admin_finds_a_person_changes_their_role_and_deactivates_them(page, server):
    drv = page.drv
    casey = person(server, "casey")
    page.sign_in(ADMIN, DEMO_PASSWORD)
    for size in (PHONE, DESKTOP):
        visit(page, "/admin/users", "#f-search-email", size)
        shown(drv, "[data-user]")
        checked(page, axe=size == PHONE)

    type_into(drv, "#f-search-email", casey["email"])
    button(drv, "Search").click()
    shown(drv, f"li[data-user='{casey['id']}']")
    end = time.monotonic() + 20
    while len(shown(drv, "li[data-user]")) != 1:
        assert time.monotonic() < end, "the search found more than the one address"
        time.sleep(0.05)

    row = f"li[data-user='{casey['id']}']"
    choose(drv, f"{row} select", "therapist")
    button(drv, "Change role", within=row).click()
    shown(drv, "dialog[open]")
    checked(page)
    confirm(drv, "Change role")
    shown(drv, f"{row} .tag")
    me = server.get(f"/v1/users/{casey['id']}", headers=hdr(server.admin_token)).json()
    assert me["role"] == "therapist"
    # The role change ended their sessions.
    assert server.get("/v1/me", headers=hdr(casey)).status_code == 401

    # Deactivating asks first; cancelling changes nothing.
    button(drv, "Deactivate", within=row).click()
    button(drv, "Cancel", within="dialog[open]").click()
    assert server.get(f"/v1/users/{casey['id']}",
                      headers=hdr(server.admin_token)).json()["is_active"] is True
    button(drv, "Deactivate", within=row).click()
    confirm(drv, "Deactivate")
    page.wait_text("Deactivated: ")
    assert server.get(f"/v1/users/{casey['id']}",
                      headers=hdr(server.admin_token)).json()["is_active"] is False

    # Erasing takes the typed word: without it nothing is sent.
    type_into(drv, "#f-search-email", casey["email"])
    shown(drv, "form[role=search] .field.check input")[0].click()
    button(drv, "Search").click()
    button(drv, "Erase", within=row).click()
    button(drv, "Erase", within="dialog[open]").click()
    assert "exactly" in shown(drv, "dialog[open] .field-error")[0].text
    button(drv, "Cancel", within="dialog[open]").click()
    assert server.get(f"/v1/users/{casey['id']}",
                      headers=hdr(server.admin_token)).status_code == 200

    # A staff member made with an invitation; a bad address is marked.
    type_into(drv, "form[aria-labelledby=h-new-staff] input[name=email]", "not-an-address")
    button(drv, "Make and invite").click()
    err = shown(drv, "form[aria-labelledby=h-new-staff] .field-error")[0]
    assert err.text
    staff = f"new.staff.{secrets.token_hex(3)}@example.org"
    type_into(drv, "form[aria-labelledby=h-new-staff] input[name=email]", staff)
    choose(drv, "#f-new-role", "instructor")
    button(drv, "Make and invite").click()
    page.wait_text(f"{staff} was made and sent an invitation")
    found = server.get("/v1/users", params={"email": staff},
                       headers=hdr(server.admin_token)).json()["data"]
    assert [u["role"] for u in found] == ["instructor"]
    assert page.csp_violations() == []


def test_admin_runs_the_audit_chain_check_and_a_report(page, server, tmp_path):
    drv = page.drv
    page.sign_in(ADMIN, DEMO_PASSWORD)
    visit(page, "/admin/audit", "table caption")
    checked(page)
    button(drv, "Check the chain").click()
    ok = shown(drv, "[data-chain]")[0]
    assert ok.get_attribute("data-chain") == "ok", ok.text
    assert "The chain holds" in ok.text and "head " in ok.text, ok.text

    # A report run, listed, and its result downloaded.
    visit(page, "/admin/reports", "#f-report option[value=signups_by_partner]")
    choose(drv, "#f-report", "signups_by_partner")
    button(drv, "Run").click()
    end = time.monotonic() + 30
    while not drv.find_elements("css selector", "[data-run][data-status=succeeded]"):
        assert time.monotonic() < end, "the report run did not succeed"
        time.sleep(0.3)
        # "Refresh (some still running)" while a run is queued or running.
        refresh = [b for b in drv.find_elements("css selector", "main button")
                   if b.is_displayed() and b.text.strip().startswith("Refresh")]
        if refresh and refresh[0].is_enabled():
            refresh[0].click()
    checked(page)
    downloads_to(drv, tmp_path)
    shown(drv, "[data-run][data-status=succeeded] button")[0].click()
    got = downloaded(tmp_path, ".csv").read_text()
    assert got.lstrip("\ufeff").splitlines()[0] == "period,partner_id,partner,signups"
    assert page.csp_violations() == []


def test_admin_replays_a_webhook_and_retries_a_failed_job(page, server):
    drv = page.drv
    db = server.db
    # A booking webhook, then marked failed by hand (as a dependency down
    # would leave it): the inbox page offers it for replay.
    r = booking_hook(server, booking_payload(f"hook.{secrets.token_hex(3)}@example.org"))
    rid = r.headers["X-Webhook-Inbox-Id"]
    db.execute("UPDATE webhook_inbox SET outcome = 'failed', http_status = 503, "
               f"error = 'made to fail by the test' WHERE id = '{rid}'")
    attempts = int(db.scalar(f"SELECT attempts FROM webhook_inbox WHERE id = '{rid}'"))
    page.sign_in(ADMIN, DEMO_PASSWORD)
    visit(page, "/admin/webhooks", f"[data-webhook='{rid}']", PHONE)
    checked(page)
    button(drv, "Replay", within=f"[data-webhook='{rid}']").click()
    confirm(drv, "Replay")
    shown(drv, "[data-replayed]")
    assert int(db.scalar(f"SELECT attempts FROM webhook_inbox WHERE id = '{rid}'")) == \
        attempts + 1
    assert db.count("audit_log", f"action = 'webhook_inbox.replay' AND entity_id = '{rid}' "
                    "AND actor_role = 'admin'") == 1

    # A failed job (a prune that gave up), retried from its page: it runs.
    fid = str(uuid.uuid4())
    db.execute("INSERT INTO failed_jobs (id, job_id, queue, kind, payload, error, attempts, "
               f"failed_at) VALUES ('{fid}', '{uuid.uuid4()}', 'default', 'webhooks.prune', "
               f"'{{}}', 'gave up for the test', 3, {int(time.time() * 1000)})")
    visit(page, "/admin/jobs", f"[data-failed-job='{fid}']", PHONE)
    checked(page)
    button(drv, "Retry", within=f"[data-failed-job='{fid}']").click()
    confirm(drv, "Retry")
    shown(drv, f"[data-retried='{fid}']")
    assert db.count("failed_jobs", f"id = '{fid}'") == 0
    assert db.count("audit_log", f"action = 'failed_jobs.retry' AND entity_id = '{fid}'") == 1
    assert page.csp_violations() == []


CONSOLE = [
    ("/admin", "ul.cards a"),
    ("/admin/relationships", "[data-relationship]"),
    ("/admin/partners", "[data-partner]"),
    ("/admin/courses", "table caption"),
    ("/admin/email", "table caption, .empty-state"),
    ("/admin/webhooks", "table caption, .empty-state"),
    ("/admin/jobs", "table caption, .empty-state"),
    ("/admin/training", "[data-schedule]"),
]


def test_every_console_page_is_usable_on_a_phone_and_a_desktop(page, server):
    page.sign_in(ADMIN, DEMO_PASSWORD)
    for path, ready in CONSOLE:
        for size in (PHONE, DESKTOP):
            visit(page, path, ready, size)
            checked(page, axe=size == PHONE)

    # Training: the seeded schedule's (empty) attendance sheet, and the
    # schedule confirmed through its dialog.
    drv = page.drv
    row = shown(drv, "[data-schedule]")[0]
    sid = row.get_attribute("data-schedule")
    row = f"[data-schedule='{sid}']"
    button(drv, "Bookings", within=row).click()
    page.wait_text("No one has booked yet.")
    button(drv, "Confirm", within=row).click()
    confirm(drv, "Confirm")
    shown(drv, f"{row}[data-status=confirmed]")
    r = server.get(f"/v1/course-schedules/{sid}", headers=hdr(server.admin_token))
    assert r.json()["status"] == "confirmed"
    assert page.csp_violations() == []


def test_a_member_opening_the_console_is_told_it_is_not_for_them(page, server):
    page.sign_in(MEMBER, DEMO_PASSWORD)
    for path in ("/admin", "/admin/users", "/partner/codes", "/partner/reports"):
        visit(page, path, "#main h1")
        page.wait_text("Not available to you", "#main h1")
    assert page.axe() == []
    assert page.csp_violations() == []


# --------------------------------------------------------------------------
# a partner admin's reports


def test_a_partner_admin_reads_their_partners_reports_only(page, server, tmp_path):
    drv = page.drv
    admin = server.admin_token
    # Another partner with a member of its own: its row is an admin's only.
    other = f"Other Partner {secrets.token_hex(3)}"
    r = server.post("/v1/partners", headers=hdr(admin), json={"name": other})
    assert r.status_code == 201, r.text
    other_id = r.json()["id"]
    r = server.post("/v1/partner-access", headers=hdr(admin),
                    json={"partner_id": other_id, "feature_therapy": True,
                          "therapy_sessions_remaining": 2})
    assert r.status_code == 201, r.text
    r = register(server, f"other.{secrets.token_hex(3)}@example.org", PASSWORD,
                 partner_access_code=r.json()["code"], first_name="Olive",
                 date_of_birth="1990-01-01", country="GB")
    assert r.status_code == 201, r.text

    page.sign_in(server.partner_admin["email"], PASSWORD)
    visit(page, "/partner/reports", "select[name=report] option[value=signups_by_partner]", PHONE)
    checked(page)
    # The reports open to partners only.
    offered = {o.get_attribute("value")
               for o in drv.find_elements("css selector", "select[name=report] option")}
    assert offered == {"", "signups_by_partner", "access_codes_by_partner",
                       "therapy_bookings_by_partner"}
    assert not drv.find_elements("css selector", "select[name=partner_id]")
    # Show without a report: the page's own error, beside the field.
    button(drv, "Show").click()
    assert "Choose a report" in shown(drv, "select[name=report] ~ .field-error")[0].text

    choose(drv, "select[name=report]", "signups_by_partner")
    button(drv, "Show").click()
    names = {td.text for td in shown(drv, "[data-report=signups_by_partner] td[data-col=partner]")}
    assert names == {server.partner["name"]}
    assert other not in drv.find_element("css selector", "main").text
    checked(page)
    downloads_to(drv, tmp_path)
    button(drv, "Download as CSV").click()
    text = downloaded(tmp_path, ".csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    # The partner's rows, then the totals (no partner id).
    assert {r["partner"] for r in rows if r["partner_id"]} == {server.partner["name"]}
    assert {r["partner_id"] for r in rows if r["partner_id"]} == {server.partner["id"]}
    assert other not in text
    for size in (PHONE, DESKTOP):
        drv.set_window_size(*size)
        checked(page, axe=False)
    assert page.csp_violations() == []

    # An admin sees every partner's, or picks one.
    drv.delete_all_cookies()
    page.sign_in(ADMIN, DEMO_PASSWORD)
    visit(page, "/partner/reports", f"select[name=partner_id] option[value='{other_id}']")
    choose(drv, "select[name=report]", "signups_by_partner")
    button(drv, "Show").click()
    end = time.monotonic() + 20
    while other not in {td.text for td in shown(drv, "td[data-col=partner]")}:
        assert time.monotonic() < end, "every partner's rows do not show the other partner"
        time.sleep(0.05)
    choose(drv, "select[name=partner_id]", other_id)
    button(drv, "Show").click()
    end = time.monotonic() + 20
    while {td.text for td in shown(drv, "td[data-col=partner]")} != {other}:
        assert time.monotonic() < end, "the admin's pick does not narrow the rows"
        time.sleep(0.05)
    checked(page)
    assert page.csp_violations() == []


# --------------------------------------------------------------------------
# training: a schedule changed (a capacity below its bookings refused beside
# the field), bookings confirmed and cancelled, a manual refund approved and
# recorded as paid back


def efaw_parts(server):
    """The seeded EFAW course, a venue and a trainer: a schedule's parts."""
    admin = server.admin_token
    course = [c for c in server.get("/v1/training-courses", headers=hdr(admin)).json()["data"]
              if c["course_type"] == "EFAW"][0]
    venue = server.get("/v1/venues", headers=hdr(admin)).json()["data"][0]
    trainer = server.get("/v1/trainers", headers=hdr(admin)).json()["data"][0]
    return course, venue, trainer


def test_admin_edits_a_schedule_its_bookings_and_a_manual_refund(page, server):
    drv = page.drv
    admin = server.admin_token
    course, venue, trainer = efaw_parts(server)
    ny = zoneinfo.ZoneInfo("America/New_York")
    day = datetime.date.today() + datetime.timedelta(days=85)
    at = lambda h: datetime.datetime(day.year, day.month, day.day, h, 0, tzinfo=ny)  # noqa: E731
    iso = lambda t: t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    r = server.post("/v1/course-schedules", headers=hdr(admin), json={
        "course_id": course["id"], "venue_id": venue["id"], "trainer_id": trainer["id"],
        "start_time": iso(at(9)), "end_time": iso(at(15)), "capacity": 4})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    # The member holds two seats (pending); another person one.
    member = login(server, MEMBER, DEMO_PASSWORD)
    r = server.post("/v1/training-bookings", headers=hdr(member), json={
        "schedule_id": sid, "attendees": [
            {"name": "Morgan Member", "email": MEMBER},
            {"name": "Guest Two", "email": f"guest.{secrets.token_hex(3)}@example.org"}]})
    assert r.status_code == 201, r.text
    paid = r.json()
    other = person(server, "oona")
    r = server.post("/v1/training-bookings", headers=hdr(other["token"]), json={
        "schedule_id": sid, "attendees": [{"name": "Oona Other", "email": other["email"]}]})
    assert r.status_code == 201, r.text
    dropped = r.json()

    page.sign_in(ADMIN, DEMO_PASSWORD)
    drv.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "America/New_York"})
    try:
        row = f"[data-schedule='{sid}']"
        form = f"form[data-edit-schedule='{sid}']"
        visit(page, "/admin/training", row, PHONE)
        button(drv, "Edit", within=row).click()
        # Filled from the row, its times in the person's zone.
        assert shown(drv, f"{form} input[name=start_time]")[0].get_attribute("value") == "09:00"
        assert shown(drv, f"{form} input[name=start_day]")[0].get_attribute("value") == day.isoformat()
        assert shown(drv, f"{form} input[name=capacity]")[0].get_attribute("value") == "4"
        # Below the three seats held: the API's refusal, beside the field.
        page.set_value(f"{form} input[name=capacity]", "2")
        button(drv, "Save the changes", within=form).click()
        err = shown(drv, f"{form} input[name=capacity] ~ .field-error")[0]
        assert "3 seats are booked or held" in err.text, err.text
        assert shown(drv, f"{form} input[name=capacity]")[0].get_attribute("aria-invalid") == "true"
        checked(page)
        assert server.get(f"/v1/course-schedules/{sid}", headers=hdr(admin)).json()["capacity"] == 4
        # Within the seats held: one more hour later, and three seats.
        page.set_value(f"{form} input[name=capacity]", "3")
        page.set_value(f"{form} input[name=start_time]", "10:00")
        page.set_value(f"{form} input[name=end_time]", "16:00")
        button(drv, "Save the changes", within=form).click()
        end = time.monotonic() + 20
        while drv.find_elements("css selector", form):
            assert time.monotonic() < end, "the edit form stayed open"
            time.sleep(0.05)
    finally:
        drv.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})
    s = server.get(f"/v1/course-schedules/{sid}", headers=hdr(admin)).json()
    when = lambda v: datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))  # noqa: E731
    assert (s["capacity"], when(s["start_time"]), when(s["end_time"])) == (3, at(10), at(16))
    assert server.db.count("audit_log", "action = 'course_schedules.update' AND "
                           f"entity_id = '{sid}'") >= 1

    # The member's booking confirmed as paid offline, the other's cancelled,
    # each from the bookings' table and confirmed first.
    visit(page, "/admin/training", row, DESKTOP)
    button(drv, "Bookings", within=row).click()
    cell = f"td[data-booking='{paid['id']}']"
    button(drv, "Confirm", within=cell).click()
    shown(drv, "dialog[open]")
    confirm(drv, "Confirm the booking")
    shown(drv, f"{cell}[data-status=confirmed]")
    b = server.get(f"/v1/training-bookings/{paid['id']}", headers=hdr(admin)).json()
    assert (b["status"], b["payment_status"]) == ("confirmed", "paid")
    cell2 = f"td[data-booking='{dropped['id']}']"
    button(drv, "Cancel", within=cell2).click()
    confirm(drv, "Cancel the booking")
    shown(drv, f"{cell2}[data-status=cancelled]")
    assert server.get(f"/v1/training-bookings/{dropped['id']}",
                      headers=hdr(admin)).json()["status"] == "cancelled"
    checked(page, axe=False)

    # The member asks for their money back: a manual refund (paid offline),
    # approved on the page, then recorded as paid back with a note.
    r = server.post("/v1/refunds", headers=hdr(member),
                    json={"booking_id": paid["id"], "reason": "Cannot come"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert r.json()["method"] == "manual"
    visit(page, "/admin/training", f"[data-refund='{rid}']", PHONE)
    button(drv, "Approve", within=f"[data-refund='{rid}']").click()
    confirm(drv, "Approve")
    owed = f"[data-manual-refund='{rid}']"
    shown(drv, owed)
    assert server.get(f"/v1/refunds/{rid}", headers=hdr(admin)).json()["status"] == "approved"
    # All of it: the booking is cancelled at approval, its seats free.
    assert server.get(f"/v1/training-bookings/{paid['id']}",
                      headers=hdr(admin)).json()["status"] == "cancelled"
    button(drv, "Paid back", within=owed).click()
    # No note: said beside the field, nothing sent.
    button(drv, "Record as paid back", within="dialog[open]").click()
    assert "how it was paid back" in shown(drv, "dialog[open] textarea[name=note] ~ .field-error, "
                                                "dialog[open] input[name=note] ~ .field-error")[0].text
    checked(page)
    page.set_value("dialog[open] input[name=note]", "Bank transfer BT-1234")
    confirm(drv, "Record as paid back")
    end = time.monotonic() + 20
    while drv.find_elements("css selector", owed):
        assert time.monotonic() < end, "the paid back refund is still listed"
        time.sleep(0.05)
    assert server.get(f"/v1/refunds/{rid}", headers=hdr(admin)).json()["status"] == "completed"
    assert server.get(f"/v1/training-bookings/{paid['id']}",
                      headers=hdr(admin)).json()["payment_status"] == "refunded"
    assert page.csp_violations() == []


# --------------------------------------------------------------------------
# training: a schedule made, attendance marked, a certificate issued by hand
# (last in the module: it leaves a completed schedule first in the list)


def test_admin_makes_a_schedule_marks_attendance_and_issues_a_certificate(
        page, server, tmp_path):
    drv = page.drv
    admin = server.admin_token
    course, venue, trainer = efaw_parts(server)
    page.sign_in(ADMIN, DEMO_PASSWORD)
    # The times are read in the person's zone (time.js's, the one <Time>
    # shows), here a browser in New York whatever the machine's zone.
    drv.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "America/New_York"})
    try:
        visit(page, "/admin/training", "details.new-schedule summary", PHONE)
        shown(drv, "details.new-schedule summary")[0].click()
        shown(drv, "select[name=course_id] option[value='%s']" % course["id"])
        hints = {e.text for e in shown(drv, "form[aria-labelledby=h-new-schedule] .hint, "
                                             "form[aria-labelledby=h-new-schedule] small")}
        assert "In America/New_York" in hints, hints
        day = time.strftime("%Y-%m-%d", time.localtime(time.time() + 80 * 86400))
        choose(drv, "select[name=course_id]", course["id"])
        choose(drv, "select[name=venue_id]", venue["id"])
        choose(drv, "select[name=trainer_id]", trainer["id"])
        # No start day: said beside the start day.
        button(drv, "Make the schedule").click()
        assert "start day" in shown(drv, "input[name=start_day] ~ .field-error")[0].text
        assert not drv.find_elements("css selector", "input[name=start_time] ~ .field-error")
        sid, s = make_schedule(page, day)
    finally:
        drv.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})
    # 09:00 to 15:00 in New York, that day.
    ny = zoneinfo.ZoneInfo("America/New_York")
    y, m, d = map(int, day.split("-"))
    want = datetime.datetime(y, m, d, 9, 0, tzinfo=ny).astimezone(datetime.timezone.utc)
    got = datetime.datetime.fromisoformat(s["start_time"].replace("Z", "+00:00"))
    assert got == want, (s["start_time"], want)
    assert (s["course_id"], s["venue_id"], s["trainer_id"], s["capacity"]) == \
        (course["id"], venue["id"], trainer["id"], 4)
    assert s["end_time"] > s["start_time"]
    _attendance_and_certificate(page, server, tmp_path, sid)


def make_schedule(page, day):
    """Fill the new schedule form's times (the course, venue and trainer
    chosen): a refusal first, then made; (its id, its row)."""
    drv = page.drv
    page.set_value("input[name=start_day]", day)
    page.set_value("input[name=start_time]", "16:00")
    page.set_value("input[name=end_time]", "09:00")
    page.set_value("input[name=capacity]", "4")
    # The API's refusal, beside its field: it ends before it starts.
    button(drv, "Make the schedule").click()
    err = shown(drv, "input[name=end_time] ~ .field-error")[0]
    assert err.text
    assert shown(drv, "input[name=end_time]")[0].get_attribute("aria-invalid") == "true"
    checked(page)
    page.set_value("input[name=start_time]", "09:00")
    page.set_value("input[name=end_time]", "15:00")
    button(drv, "Make the schedule").click()
    sid = shown(drv, "[data-made-schedule]")[0].get_attribute("data-made-schedule")
    s = page.server.get(f"/v1/course-schedules/{sid}", headers=hdr(page.server.admin_token)).json()
    return sid, s


def _attendance_and_certificate(page, server, tmp_path, sid):
    drv = page.drv
    admin = server.admin_token

    # A member books two seats, confirmed by hand (paid offline); then the
    # course is moved to have happened, as time passing would. Certificates
    # are issued by hand here: not on completion.
    member = login(server, MEMBER, DEMO_PASSWORD)
    me = server.get("/v1/me", headers=hdr(member)).json()
    r = server.post("/v1/training-bookings", headers=hdr(member), json={
        "schedule_id": sid, "attendees": [
            {"name": "Morgan Member", "email": MEMBER},
            {"name": "Guest Two", "email": f"guest.{secrets.token_hex(3)}@example.org"}]})
    assert r.status_code == 201, r.text
    booking = r.json()
    r = server.post(f"/v1/training-bookings/{booking['id']}/confirm", headers=hdr(admin))
    assert r.status_code == 200, r.text
    set_setting(server, admin, "auto_issue_certificates", "false")
    try:
        now = int(time.time() * 1000)
        server.db.execute(f"UPDATE course_schedules SET start_time = {now - 8 * 3600000}, "
                          f"end_time = {now - 2 * 3600000} WHERE id = '{sid}'")
        row = f"[data-schedule='{sid}']"
        visit(page, "/admin/training", row, DESKTOP)
        button(drv, "Bookings", within=row).click()
        marks = shown(drv, f"{row} form.mark", at_least=2)
        first, second = [m.find_element("xpath", "./ancestor::tr").get_attribute("data-attendee")
                         for m in marks]
        # Each checkbox says whose it is.
        box = shown(drv, f"tr[data-attendee='{first}'] input[name=passed_assessment]")[0]
        assert box.get_attribute("aria-label").endswith("passed the assessment")
        assert box.get_attribute("aria-label") != "passed the assessment"
        # The first present and passed, the second absent.
        button(drv, "Mark", within=f"tr[data-attendee='{first}']").click()
        shown(drv, f"tr[data-attendee='{first}'] form.mark[data-marked=present]")
        page.set_value(f"tr[data-attendee='{second}'] select[name=status]", "absent")
        button(drv, "Mark", within=f"tr[data-attendee='{second}']").click()
        shown(drv, f"tr[data-attendee='{second}'] form.mark[data-marked=absent]")
        recs = server.get(f"/v1/attendance-records?schedule_id={sid}",
                          headers=hdr(admin)).json()["data"]
        assert {(x["attendee_id"], x["status"], x["certificate_eligible"]) for x in recs} == \
            {(first, "present", True), (second, "absent", False)}
        checked(page, axe=False)

        # Started, then completed, each confirmed.
        button(drv, "Start", within=row).click()
        confirm(drv, "Start")
        shown(drv, f"{row}[data-status=in_progress]")
        button(drv, "Complete", within=row).click()
        confirm(drv, "Complete")
        shown(drv, f"{row}[data-status=completed]")
        assert server.get(f"/v1/training-bookings/{booking['id']}",
                          headers=hdr(admin)).json()["status"] == "completed"
        assert server.get(f"/v1/certificates?schedule_id={sid}",
                          headers=hdr(admin)).json()["data"] == []

        # Issued by hand to the eligible attendee only, confirmed first.
        if not drv.find_elements("css selector", f"{row} table"):
            button(drv, "Bookings", within=row).click()
        assert not drv.find_elements("css selector",
                                     f"tr[data-attendee='{second}'] button[aria-label^='Issue']")
        button(drv, "Issue certificate", within=f"tr[data-attendee='{first}']").click()
        shown(drv, "dialog[open]")
        checked(page)
        confirm(drv, "Issue")
        pdf = shown(drv, f"tr[data-attendee='{first}'] [data-certificate-pdf]")[0]
        certs = server.get(f"/v1/certificates?schedule_id={sid}",
                           headers=hdr(admin)).json()["data"]
        assert [(c["attendee_id"], c["user_id"]) for c in certs] == [(first, me["id"])]
        assert pdf.get_attribute("data-certificate-pdf") == certs[0]["id"]
        assert server.db.count("audit_log", "action = 'certificates.create' AND "
                               f"entity_id = '{certs[0]['id']}'") == 1
        downloads_to(drv, tmp_path)
        pdf.click()
        got = downloaded(tmp_path, ".pdf")
        assert got.name == f"{certs[0]['certificate_number']}.pdf"
        assert got.read_bytes().startswith(b"%PDF")
        checked(page)

        # Listed with its expiry among the certificates, and revoked there
        # (a reason asked for first).
        item = f"[data-certificate='{certs[0]['id']}']"
        listed = shown(drv, item)[0]
        if certs[0]["expiry_date"]:
            assert "expires" in listed.text
        button(drv, "Revoke", within=item).click()
        button(drv, "Revoke", within="dialog[open]").click()
        shown(drv, "dialog[open] input[name=reason] ~ .field-error")
        page.set_value("dialog[open] input[name=reason]", "Issued in error")
        confirm(drv, "Revoke")
        shown(drv, f"{item} .tag")
        end = time.monotonic() + 20
        while "revoked" not in shown(drv, f"{item} .tag")[0].text:
            assert time.monotonic() < end, "the certificate is not shown revoked"
            time.sleep(0.05)
        c = server.get(f"/v1/certificates/{certs[0]['id']}", headers=hdr(admin)).json()
        assert c["status"] == "revoked"
        assert page.csp_violations() == []
    finally:
        set_setting(server, admin, "auto_issue_certificates", "true")
