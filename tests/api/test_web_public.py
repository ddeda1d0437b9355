"""The web application's public pages in a browser (docs/WEB.md): a person
registers with a partner's access code, lands on the home page that says who
they are, signs out and in again; a wrong password is shown on the form; a
password reset goes from the request to the mailed link's page; a partner's
branded page shows its name, logo and footer; a missing page is a page; the
router moves between pages without a reload. axe-core finds no serious or
critical violation on any public page, at phone and desktop widths, and the
console shows no Content-Security-Policy refusal.

Browser tests run on the SQLite tier only: the pages and their calls are the
same on PostgreSQL, which the API tests cover."""
import re

import pytest

from conftest import PASSWORD, hdr, make_partner, new_code, person, register, sign_in
from web_browser import browser, page, page_on  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.sqlite_only, pytest.mark.tooling]

NEW_PASSWORD = "a brand new passphrase 2026"


def partner_with_code(server, admin, name, **fields):
    """A partner, its partner admin, and an access code the partner admin made."""
    partner = make_partner(server, admin, name, **fields)
    pa = person(server, "partneradmin", "partner_admin")
    r = server.post("/v1/partner-admins", headers=hdr(admin),
                    json={"user_id": pa["id"], "partner_id": partner["id"]})
    assert r.status_code == 201, r.text
    code = new_code(server, pa, partner, feature_live_chat=False, feature_therapy=False,
                    therapy_sessions_remaining=0)
    return partner, code


def no_stored_token(page):
    return page.drv.execute_script("return localStorage.length + sessionStorage.length") == 0


def test_register_with_an_access_code_sign_out_and_sign_in(page, server, admin):
    partner, code = partner_with_code(server, admin, "Calm Harbour")
    page.open("/register")
    assert page.axe() == []
    page.fill("first_name", "Robin")
    page.fill("email", "robin@example.org")
    page.fill("password", PASSWORD)
    page.fill("date_of_birth", "1990-04-02")
    page.fill("country", "GB")
    page.fill("partner_access_code", code["code"])
    page.fill("accept_terms", True)
    page.submit()
    page.wait_text("You are signed in as robin@example.org, a member.")
    assert page.path() == "/"
    assert page.text("h1") == "Hello, Robin"
    assert page.axe() == []
    assert no_stored_token(page)

    # The code was redeemed by the new account.
    r = server.post("/v1/auth/login", json={"email": "robin@example.org", "password": PASSWORD})
    mine = server.get("/v1/me/partner-access", headers=hdr(r.json()["token"])).json()
    assert [a["id"] for a in mine["data"]] == [code["id"]], mine

    page.click_link("Sign out")
    page.wait_path("/sign-in")
    page.wait_text("Forgotten your password?")
    assert "Sign out" not in page.text("header")
    page.sign_in("robin@example.org", PASSWORD)
    assert "Hello, Robin" in page.text("h1")
    # The session is the cookies: a reload keeps it, and the page's script
    # can read the CSRF value but not the session.
    page.open("/")
    page.wait_text("You are signed in as robin@example.org")
    cookies = page.drv.execute_script("return document.cookie")
    assert "carebase_csrf=" in cookies and "carebase_session" not in cookies
    assert no_stored_token(page)
    assert page.csp_violations() == []


def test_a_wrong_password_is_shown_on_the_form(page, server):
    register(server, "kim@example.org")
    page.open("/sign-in")
    page.fill("email", "kim@example.org")
    page.fill("password", "not the password at all")
    page.submit()
    assert "the email or password is not right" in page.form_alert()
    assert page.path() == "/sign-in"
    assert page.drv.find_element("css selector", "#f-email").get_attribute("value") == "kim@example.org"
    assert page.axe() == []
    assert page.csp_violations() == []


def test_a_registration_error_is_shown_beside_its_field(page):
    page.open("/register")
    page.fill("email", "someone@example.org")
    page.fill("password", PASSWORD)
    page.submit()                       # the terms not accepted
    assert "terms" in page.field_error("accept_terms")
    assert page.axe() == []


def test_a_password_reset_from_the_request_to_the_mailed_link(start_server, smtp_sink, page_on):
    srv = start_server(env={"CAREBASE_SMTP_URL": f"smtp://127.0.0.1:{smtp_sink.port}",
                            "CAREBASE_SMTP_TLS": "none",
                            "CAREBASE_PUBLIC_URL": "https://app.example.test"})
    register(srv, "ann@example.org")
    smtp_sink.wait_for(1)               # the sign-up's verification
    smtp_sink.clear()
    page = page_on(srv)
    page.reset()
    page.open("/sign-in")
    page.click_link("Forgotten your password?")
    page.wait_path("/forgot-password")
    page.fill("email", "ann@example.org")
    page.submit()
    page.wait_text("a link to choose a new password is on its way")
    msg = smtp_sink.wait_for(1)[0]
    text = msg.get_body(("plain",)).get_content()
    m = re.search(r"https://app\.example\.test(/reset-password\?token=[A-Za-z0-9_-]+)", text)
    assert m, text
    page.open(m.group(1))
    assert page.axe() == []
    page.fill("new_password", NEW_PASSWORD)
    page.submit()
    page.wait_text("Your password is changed")
    assert sign_in(srv, "ann@example.org").status_code == 401
    page.click_link("Sign in")
    page.wait_path("/sign-in")
    page.sign_in("ann@example.org", NEW_PASSWORD)
    assert page.csp_violations() == []


def test_a_partners_branded_page_and_its_join_link(page, server, admin):
    logo = server.url("/favicon-of-calm.png")
    make_partner(server, admin, "Calm Harbour", logo_url=logo, logo_alt="Calm Harbour's lighthouse",
                 footer_line1="Calm Harbour, 1 Quay Street", footer_line2="Charity 1234567",
                 website="https://calm.example.org")
    for width in (360, 1280):
        page.open("/partners/calm harbour", width=width)
        page.wait_text("Calm Harbour, 1 Quay Street")
        assert page.text("h1") == "Calm Harbour"
        img = page.wait("img.partner-logo")
        assert img.get_attribute("src") == logo
        assert img.get_attribute("alt") == "Calm Harbour's lighthouse"
        assert "Charity 1234567" in page.text()
        assert page.axe() == []
        assert page.drv.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth")
    page.click_link("Join with Calm Harbour")
    page.wait_text("Join Calm Harbour")
    assert page.path() == "/join/calm%20harbour"
    page.wait("#f-email")
    assert page.axe() == []
    page.open("/partners/Nobody Here")
    page.wait_text("There is no partner called")
    # The logo is a missing image on this server, not a policy refusal.
    assert page.csp_violations() == []


def test_a_missing_page_is_a_page_and_links_move_without_a_reload(page, server):
    page.open("/no/such/page")
    assert page.text("h1") == "Page not found"
    assert "/no/such/page" in page.text("main")
    assert page.axe() == []
    page.drv.execute_script("window.sameDocument = true")
    page.click_link("home page")
    page.wait_path("/")
    page.wait_text("Welcome to carebase")
    page.click_link("Create an account")
    page.wait_path("/register")
    page.wait("#f-email")
    page.drv.back()
    page.wait_path("/")
    page.wait_text("Welcome to carebase")
    page.drv.forward()
    page.wait_path("/register")
    page.wait("#f-email")
    assert page.drv.execute_script("return window.sameDocument") is True
    # Focus moved to the new page's heading, for screen readers.
    assert page.drv.execute_script("return document.activeElement.tagName") == "H1"
    assert page.csp_violations() == []


PUBLIC_PAGES = [
    ("/", "Welcome to carebase"),
    ("/sign-in", "Sign in"),
    ("/register", "Create an account"),
    ("/forgot-password", "Forgotten password"),
    ("/reset-password?token=abc", "Choose a new password"),
    ("/reset-password", "This link is incomplete"),
    ("/verify-email?token=abc", "Confirm your address"),
    ("/set-password?token=abc", "Choose your password"),
    ("/not-me?token=abc", "This is not me"),
    ("/verify/no-such-token", "No such certificate"),
    ("/partners/nobody", "Partner not found"),
    ("/nothing/here", "Page not found"),
]


def test_every_public_page_passes_axe_on_a_phone_and_a_desktop(page):
    """axe at a phone's width (the rules do not change with the width); at
    both widths nothing is wider than the window."""
    for width in (360, 1280):
        for path, text in PUBLIC_PAGES:
            page.open(path, width=width)
            page.wait_text(text)
            if width == 360:
                assert page.axe() == [], (path, width)
            assert page.drv.execute_script(
                "return document.documentElement.scrollWidth <= window.innerWidth"), (path, width)
    assert page.csp_violations() == []


def test_a_mailed_token_that_is_not_valid_says_so_on_its_page(page):
    for path, field in (("/verify-email?token=abc", None), ("/set-password?token=abc", "password"),
                        ("/reset-password?token=abc", "new_password"), ("/not-me?token=abc", None)):
        page.open(path)
        if field:
            page.fill(field, NEW_PASSWORD)
        page.submit()
        alert = page.form_alert()
        assert alert.strip(), path
        assert page.axe() == [], path
    assert page.csp_violations() == []


def test_api_js_sends_the_session_headers_and_keeps_no_token(page, server):
    """What every call carries (api.js): the cookies (credentials
    same-origin), X-Carebase-Client: web on sign-in, X-CSRF-Token from the
    carebase_csrf cookie on a write, none on a read."""
    register(server, "lee@example.org")
    page.open("/sign-in")
    page.drv.execute_script("""
        document.cookie = "carebase_csrf=csrf-from-cookie; path=/";
        window.seen = [];
        const real = window.fetch;
        window.fetch = (url, init) => {
            window.seen.push({url: String(url), method: init.method,
                              credentials: init.credentials, headers: init.headers});
            return real(url, init);
        };""")
    page.fill("email", "lee@example.org")       # no reload: fetch stays wrapped
    page.fill("password", PASSWORD)
    page.submit()
    page.wait_text("You are signed in as")
    seen = page.drv.execute_script("return window.seen")
    login = [s for s in seen if s["url"] == "/v1/auth/login"]
    me = [s for s in seen if s["url"] == "/v1/me"]
    assert len(login) == 1 and me, seen
    assert login[0]["method"] == "POST" and login[0]["credentials"] == "same-origin"
    assert login[0]["headers"]["X-Carebase-Client"] == "web"
    assert login[0]["headers"]["X-CSRF-Token"] == "csrf-from-cookie"
    assert me[0]["method"] == "GET" and me[0]["credentials"] == "same-origin"
    assert "X-CSRF-Token" not in me[0]["headers"]
    assert "X-Carebase-Client" not in me[0]["headers"]
    assert no_stored_token(page)


def test_a_partners_colour_is_its_band_and_buttons_without_a_style_attribute(page, server, admin):
    """brand_colour set through the CSSOM (--brand, --brand-ink): the band
    and the join button take it, with black or white text, whichever reads
    on it; the page's policy refuses nothing."""
    make_partner(server, admin, "Deep Green", brand_colour="#0b6e3a")
    make_partner(server, admin, "Pale Sun", brand_colour="#ffe066")
    for name, rgb, ink in (("deep green", "rgb(11, 110, 58)", "rgb(255, 255, 255)"),
                           ("pale sun", "rgb(255, 224, 102)", "rgb(0, 0, 0)")):
        page.open(f"/partners/{name}")
        page.wait(".partner.branded .partner-head")
        for css in (".partner-head", ".partner .button.primary"):
            assert page.drv.execute_script(
                "const s = getComputedStyle(document.querySelector(arguments[0]));"
                "return [s.backgroundColor, s.color]", css) == [rgb, ink], css
        # The brand colours are the only style set by script (CSSOM, which
        # the policy allows): on the page's .partner element, as the two
        # custom properties and nothing else; no other element has one.
        styled = page.drv.execute_script(
            "return [...document.querySelectorAll('[style]')].map(e =>"
            " [e.classList.contains('partner'),"
            "  [...Array(e.style.length).keys()].map(i => e.style[i]).sort()])")
        assert styled == [[True, ["--brand", "--brand-ink"]]], styled
        assert page.axe() == []
    assert page.csp_violations() == []
