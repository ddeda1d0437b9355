"""Mail people can act on (issue 19 item 6): every template in text and
HTML inside one layout branded from the settings (business_name,
brand_logo_url, brand_colour), every link a page of the web application
(core/pages.h) under config public_url, the Message-ID under mail_from's
domain, sign-up address verification (single use, expiry, a throttled
resend, no other mail before it) and the welcome after it, staff
invitations to set a password, and `carebase mail preview`; what a
changed address, a deactivation and a refused registration do to links
and mail (review of issue 19)."""
import html.parser
import re
import time

import pytest

from conftest import (PASSWORD, admin, hdr, login, person, problem, register,
                      sign_in, wait_until, years_ago)

PUBLIC = "https://app.example.test"
BRAND = "Kestrel & Co <Care>"
COLOUR = "#aa3300"
LOGO = "https://cdn.example.test/logo.png"

# The web application's pages mail may link to (src/core/pages.c): a path
# that ends in "=" or "/" takes a token or an id.
PAGES = ["/reset-password?token=", "/verify-email?token=", "/set-password?token=",
         "/account", "/bookings/", "/certificates/", "/notifications",
         "/not-me?token=", "/reports/runs/"]

TEMPLATES = {"layout", "test", "password_reset", "password_changed", "family_invitation",
             "family_welcome", "family_email_refused", "email_verify", "welcome",
             "staff_invitation", "report_run_ready", "report_run_failed",
             "training_notify_booking_confirmed", "training_notify_reminder",
             "training_notify_cancelled", "training_notify_certificate_ready",
             "training_notify_refund_processed", "training_notify_certificate_expiring",
             "training_payment_refunded", "email_changed", "register_attempt"}

NEW_PW = "a brand new passphrase 2026"


def on_page(url):
    """True when url is public_url + one of PAGES (+ its argument)."""
    if not url.startswith(PUBLIC + "/"):
        return False
    path = url[len(PUBLIC):]
    for p in PAGES:
        if p.endswith(("=", "/")):
            if path.startswith(p) and re.fullmatch(r"[A-Za-z0-9_-]+", path[len(p):]):
                return True
        elif path == p:
            return True
    return False


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.imgs = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a":
            self.hrefs.append(a.get("href"))
        if tag == "img":
            self.imgs.append(a.get("src"))


def check_links(text, body_html):
    """Every URL in the text and every href in the HTML is a page."""
    urls = re.findall(r"https?://[^\s<>\"]+", text)
    assert urls, text
    for u in urls:
        assert on_page(u.rstrip(".")), (u, text)
    p = Links()
    p.feed(body_html)
    assert p.hrefs, body_html
    for h in p.hrefs:
        assert on_page(h), (h, body_html)
    return p


def brand(server, admin_who, name=BRAND, colour=COLOUR, logo=LOGO):
    for key, value in (("business_name", name), ("brand_colour", colour),
                       ("brand_logo_url", logo)):
        r = server.get(f"/v1/settings?key={key}", headers=hdr(admin_who))
        assert r.status_code == 200, r.text
        rows = r.json()["data"]
        assert rows, f"no setting {key}"
        r = server.request("PATCH", f"/v1/settings/{rows[0]['id']}",
                           headers=hdr(admin_who), json={"value": value})
        assert r.status_code == 200, r.text


def preview(server, name):
    r = server.cli("mail", "preview", name)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    m = re.match(r"template: (\S+)\nsubject: (.*)\n\n--- text ---\n(.*)\n--- html ---\n(.*)\n\Z",
                 out, re.S)
    assert m, out
    return m.group(2), m.group(3), m.group(4)


def sink_server(start_server, smtp_sink, **extra):
    env = {"CAREBASE_SMTP_URL": f"smtp://127.0.0.1:{smtp_sink.port}",
           "CAREBASE_SMTP_TLS": "none", "CAREBASE_PUBLIC_URL": PUBLIC,
           "CAREBASE_MAIL_FROM": "Kestrel <no-reply@mail.kestrel.test>"}
    env.update(extra)
    return start_server(env=env)


def mails(sink, template_word=None):
    """The messages so far as (subject, text, html, message)."""
    out = []
    for m in sink.messages():
        text = m.get_body(("plain",)).get_content()
        part = m.get_body(("html",))
        out.append((m["Subject"], text, part.get_content() if part else None, m))
    return out


def wait_mail(sink, subject_has, n=1, timeout=10.0):
    """The first message whose subject holds subject_has, after n are there."""
    found = []

    def there():
        found[:] = [x for x in mails(sink) if subject_has in x[0]]
        return len(found) >= n
    wait_until(there, timeout=timeout, what=f"mail about {subject_has!r}")
    return found[n - 1]


def token_of(text, page):
    m = re.search(re.escape(PUBLIC + page) + r"([A-Za-z0-9_-]{43})", text)
    assert m, text
    return m.group(1)


# -- settings and templates -------------------------------------------------

def test_brand_settings_are_typed_and_validated(server, admin):
    for key, bad in (("brand_colour", "red"), ("brand_colour", "#12345g"),
                     ("brand_logo_url", "javascript:alert(1)"),
                     ("brand_logo_url", "https://x.test/a b.png"),
                     ("brand_logo_url", "https://x.test/\"onload=.png")):
        rows = server.get(f"/v1/settings?key={key}", headers=hdr(admin)).json()["data"]
        assert rows and rows[0]["value_type"] == "string", key
        r = server.request("PATCH", f"/v1/settings/{rows[0]['id']}", headers=hdr(admin),
                           json={"value": bad})
        problem(r, 422, "VALIDATION_FAILED")
    brand(server, admin)
    # Public, as the web application shows the same brand.
    r = server.get("/v1/settings?key=brand_colour")
    assert r.status_code == 200 and r.json()["data"][0]["value"] == COLOUR


@pytest.mark.dbless
def test_every_template_previews_branded_with_pages_only(start_server, make_db):
    srv = start_server(env={"CAREBASE_PUBLIC_URL": PUBLIC})
    boss = person(srv, "admin", "admin")
    brand(srv, boss)
    r = srv.cli("mail", "preview")
    assert r.returncode == 0, r.stderr
    names = set(r.stdout.split())
    assert TEMPLATES <= names, TEMPLATES - names
    escaped = "Kestrel &amp; Co &lt;Care&gt;"
    for name in sorted(names):
        subject, text, body = preview(srv, name)
        assert "{{" not in subject + text + body and "}}" not in text + body, name
        assert subject, name
        assert BRAND in text, name
        assert escaped in body and BRAND not in body, name
        assert f"background:{COLOUR}" in body, name
        p = check_links(text, body)
        assert p.imgs == [LOGO], (name, p.imgs)
    # The layout's colour and logo hold for every message; without a logo
    # set, the name stands in for it.
    brand(srv, boss, logo=None)
    _, _, body = preview(srv, "password_reset")
    p = Links()
    p.feed(body)
    assert p.imgs == [] and escaped in body


def test_mail_preview_usage(server):
    r = server.cli("mail", "preview", "no_such_template")
    assert r.returncode == 2 and "no template" in r.stderr
    r = server.cli("mail", "preview", "test", "extra")
    assert r.returncode == 2
    r = server.cli("help", "mail")
    assert r.returncode == 0 and "mail preview" in r.stdout and "templates_dir" in r.stdout


def test_override_per_deployment_keeps_working(start_server, tmp_path):
    d = tmp_path / "tpl"
    d.mkdir()
    (d / "welcome.subject").write_text("Hi from {{brand_name}}\n")
    (d / "layout.txt").write_text("[{{brand_name}}]\n{{body}}[end]\n")
    srv = start_server(env={"CAREBASE_PUBLIC_URL": PUBLIC, "CAREBASE_TEMPLATES_DIR": str(d)})
    subject, text, body = preview(srv, "welcome")
    assert subject.startswith("Hi from ")
    assert text.startswith("[") and text.rstrip().endswith("[end]")
    assert "<html>" in body   # the HTML layout is still the built-in one


# -- sending ----------------------------------------------------------------

def test_message_id_under_the_senders_domain(start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink)
    srv.cli_ok("mail", "test", "--to=ops@example.org")
    msg = smtp_sink.wait_for(1)[0]
    mid = msg["Message-ID"]
    assert re.fullmatch(r"<[0-9a-f-]{36}@mail\.kestrel\.test>", mid), mid
    assert "localhost" not in mid and "@carebase>" not in mid
    assert msg.get_body(("html",)) is not None


def test_verification_flow(start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink)
    boss = person(srv, "admin", "admin")
    brand(srv, boss)
    r = register(srv, "ann@example.org", first_name="Ann")
    assert r.status_code == 201, r.text
    subject, text, body, _ = wait_mail(smtp_sink, "Confirm your address")
    assert BRAND in subject
    check_links(text, body)
    token = token_of(text, "/verify-email?token=")
    assert token not in str(srv.db.query("SELECT token_hash FROM email_tokens"))
    # Unverified: other mail is withheld, a password reset is not.
    ann = login(srv, "ann@example.org")
    r = srv.post("/v1/me/password", headers=hdr(ann),
                 json={"current_password": PASSWORD, "new_password": NEW_PW})
    assert r.status_code == 204, r.text
    r = srv.post("/v1/auth/password-reset", json={"email": "ann@example.org"})
    assert r.status_code == 202
    wait_mail(smtp_sink, "Reset your")
    time.sleep(0.5)
    assert not [m for m in mails(smtp_sink) if "was changed" in m[0]]
    assert srv.db.count("email_log", "template = 'password_changed'") == 0
    # Verified once; the welcome follows.
    problem(srv.post("/v1/auth/verify-email", json={"token": "x" * 43}), 422, "INVALID_TOKEN")
    r = srv.post("/v1/auth/verify-email", json={"token": token})
    assert r.status_code == 204, r.text
    subject, text, body, _ = wait_mail(smtp_sink, "Welcome to")
    assert "Hello Ann" in text
    check_links(text, body)
    problem(srv.post("/v1/auth/verify-email", json={"token": token}), 422, "INVALID_TOKEN")
    # Now other mail goes.
    ann = login(srv, "ann@example.org", NEW_PW)
    r = srv.post("/v1/me/password", headers=hdr(ann),
                 json={"current_password": NEW_PW, "new_password": PASSWORD})
    assert r.status_code == 204, r.text
    subject, text, body, _ = wait_mail(smtp_sink, "was changed")
    check_links(text, body)
    problem(srv.post("/v1/auth/verify-email/resend", headers=hdr(ann)), 409, "ALREADY_VERIFIED")


def test_verification_link_expires(start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink)
    assert register(srv, "bo@example.org").status_code == 201
    _, text, _, _ = wait_mail(smtp_sink, "Confirm your address")
    token = token_of(text, "/verify-email?token=")
    srv.db.execute("UPDATE email_tokens SET expires_at = 1")
    problem(srv.post("/v1/auth/verify-email", json={"token": token}), 422, "INVALID_TOKEN")
    assert int(srv.db.scalar("SELECT COUNT(*) FROM users WHERE email_verified_at IS NULL "
                             "AND role = 'member'")) == 1


def test_resend_is_throttled_and_replaces_the_link(start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink, CAREBASE_EMAIL_VERIFY_RESEND_S="2")
    assert register(srv, "cy@example.org").status_code == 201
    _, text, _, _ = wait_mail(smtp_sink, "Confirm your address")
    first = token_of(text, "/verify-email?token=")
    cy = login(srv, "cy@example.org")
    r = srv.post("/v1/auth/verify-email/resend", headers=hdr(cy))
    problem(r, 429, "RESEND_TOO_SOON")
    assert 1 <= int(r.headers["Retry-After"]) <= 2
    problem(srv.post("/v1/auth/verify-email/resend"), 401, "UNAUTHORIZED")
    time.sleep(2.1)
    r = srv.post("/v1/auth/verify-email/resend", headers=hdr(cy))
    assert r.status_code == 202, r.text
    _, text, _, _ = wait_mail(smtp_sink, "Confirm your address", n=2)
    second = token_of(text, "/verify-email?token=")
    assert second != first
    problem(srv.post("/v1/auth/verify-email", json={"token": first}), 422, "INVALID_TOKEN")
    assert srv.post("/v1/auth/verify-email", json={"token": second}).status_code == 204


def test_staff_invitation_through_the_api(start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink)
    boss = person(srv, "admin", "admin")
    brand(srv, boss)
    r = srv.post("/v1/users", headers=hdr(boss),
                 json={"email": "tess@example.org", "role": "therapist"})
    assert r.status_code == 201, r.text
    subject, text, body, _ = wait_mail(smtp_sink, "You are invited")
    assert BRAND in subject and "therapist" in text
    check_links(text, body)
    token = token_of(text, "/set-password?token=")
    problem(sign_in(srv, "tess@example.org", NEW_PW), 401, "INVALID_CREDENTIALS")
    problem(srv.post("/v1/auth/set-password", json={"token": token, "password": "short"}),
            422, "VALIDATION_FAILED")
    r = srv.post("/v1/auth/set-password", json={"token": token, "password": NEW_PW})
    assert r.status_code == 204, r.text
    assert sign_in(srv, "tess@example.org", NEW_PW).status_code == 200
    problem(srv.post("/v1/auth/set-password", json={"token": token, "password": NEW_PW}),
            422, "INVALID_TOKEN")
    # A link past its time fails.
    r = srv.post("/v1/users", headers=hdr(boss),
                 json={"email": "iris@example.org", "role": "instructor"})
    assert r.status_code == 201, r.text
    _, text, _, _ = wait_mail(smtp_sink, "You are invited", n=2)
    late = token_of(text, "/set-password?token=")
    srv.db.execute("UPDATE email_tokens SET expires_at = 1 WHERE used_at IS NULL")
    problem(srv.post("/v1/auth/set-password", json={"token": late, "password": NEW_PW}),
            422, "INVALID_TOKEN")


def test_staff_invitation_from_the_command_line(start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink)
    r = srv.cli("user", "add", "--role=instructor", "--email=ivo@example.org",
                "--invite", "--password=" + NEW_PW)
    assert r.returncode == 2, r.stderr
    r = srv.cli("user", "add", "--role=instructor", "--email=ivo@example.org", "--invite")
    assert r.returncode == 0, r.stderr
    _, text, body, _ = wait_mail(smtp_sink, "You are invited")
    check_links(text, body)
    token = token_of(text, "/set-password?token=")
    r = srv.post("/v1/auth/set-password", json={"token": token, "password": NEW_PW})
    assert r.status_code == 204, r.text
    assert login(srv, "ivo@example.org", NEW_PW)
    r = srv.cli("help", "user")
    assert "--invite" in r.stdout


# -- a changed address, a deactivated account, a refused registration -------

def to_of(msg):
    return str(msg[3]["To"])


def no_link_that_acts(text, body):
    assert "token=" not in text and "token=" not in body, text


def test_own_email_change_is_proven_again_and_ends_every_link(start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink)
    assert register(srv, "dee@example.org", first_name="Dee").status_code == 201
    _, text, _, _ = wait_mail(smtp_sink, "Confirm your address")
    assert srv.post("/v1/auth/verify-email",
                    json={"token": token_of(text, "/verify-email?token=")}).status_code == 204
    assert srv.post("/v1/auth/password-reset", json={"email": "dee@example.org"}).status_code == 202
    _, text, _, _ = wait_mail(smtp_sink, "Reset your")
    reset = token_of(text, "/reset-password?token=")
    dee = login(srv, "dee@example.org")
    r = srv.request("PATCH", "/v1/me", headers=hdr(dee),
                    json={"email": "dee.new@example.org", "current_password": PASSWORD})
    assert r.status_code == 200, r.text
    uid = r.json()["id"]
    assert srv.db.scalar(f"SELECT email_verified_at FROM users WHERE id = '{uid}'") is None
    # The new address gets a link; the old one a notice with none.
    msg = wait_mail(smtp_sink, "Confirm your address", n=2)
    assert to_of(msg) == "dee.new@example.org"
    fresh = token_of(msg[1], "/verify-email?token=")
    msg = wait_mail(smtp_sink, "email of your")
    assert to_of(msg) == "dee@example.org"
    check_links(msg[1], msg[2])
    no_link_that_acts(msg[1], msg[2])
    assert "dee.new" not in msg[1] and "dee.new" not in msg[2], msg[2]
    # One link and one notice for one change.
    assert srv.db.count("email_log", "template = 'email_verify'") == 2
    assert srv.db.count("email_log", "template = 'email_changed'") == 1
    # The reset link mailed to the old address answers as a used one.
    problem(srv.post("/v1/auth/password-reset/confirm",
                     json={"token": reset, "new_password": NEW_PW}), 422, "INVALID_TOKEN")
    assert srv.post("/v1/auth/verify-email", json={"token": fresh}).status_code == 204
    assert srv.db.scalar(f"SELECT email_verified_at FROM users WHERE id = '{uid}'") is not None
    # The same address in other case is no change.
    r = srv.request("PATCH", "/v1/me", headers=hdr(dee),
                    json={"email": "Dee.New@example.org", "current_password": PASSWORD})
    assert r.status_code == 200, r.text
    assert srv.db.scalar(f"SELECT email_verified_at FROM users WHERE id = '{uid}'") is not None


def test_an_address_given_to_an_account_without_one_is_proven_by_its_link(
        start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink)
    boss = person(srv, "admin", "admin")
    g = person(srv, "guardian", date_of_birth=years_ago(40), country="GB")
    r = srv.post("/v1/me/family/children", headers=hdr(g),
                 json={"first_name": "Kit", "date_of_birth": years_ago(8)})
    assert r.status_code == 201, r.text
    kit = r.json()["user"]["id"]
    # Set as proven (as a staff-made account is), then given an address:
    # a change from nothing is a change all the same.
    srv.db.execute(f"UPDATE users SET email_verified_at = 1 WHERE id = '{kit}'")
    r = srv.request("PATCH", f"/v1/users/{kit}", headers=hdr(boss),
                    json={"email": "kit.new@example.org"})
    assert r.status_code == 200, r.text
    assert srv.db.scalar(f"SELECT email_verified_at FROM users WHERE id = '{kit}'") is None
    wait_until(lambda: [m for m in mails(smtp_sink) if to_of(m) == "kit.new@example.org"],
               timeout=10, what="a link to the new address")
    (msg,) = [m for m in mails(smtp_sink) if to_of(m) == "kit.new@example.org"]
    assert "Confirm your address" in msg[0]
    assert srv.db.count("email_log", "template = 'email_changed'") == 0    # no old one
    assert srv.post("/v1/auth/verify-email",
                    json={"token": token_of(msg[1], "/verify-email?token=")}).status_code == 204
    assert srv.db.scalar(f"SELECT email_verified_at FROM users WHERE id = '{kit}'") is not None


def test_staff_email_change_reinvites_and_ends_the_old_invitation(start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink)
    boss = person(srv, "admin", "admin")
    r = srv.post("/v1/users", headers=hdr(boss),
                 json={"email": "tess@example.org", "role": "therapist"})
    assert r.status_code == 201, r.text
    tess = r.json()["id"]
    _, text, _, _ = wait_mail(smtp_sink, "You are invited")
    first = token_of(text, "/set-password?token=")
    r = srv.request("PATCH", f"/v1/users/{tess}", headers=hdr(boss),
                    json={"email": "tess@example.net"})
    assert r.status_code == 200, r.text
    msg = wait_mail(smtp_sink, "You are invited", n=2)
    assert to_of(msg) == "tess@example.net"
    second = token_of(msg[1], "/set-password?token=")
    notice = wait_mail(smtp_sink, "email of your")
    assert to_of(notice) == "tess@example.org"
    assert srv.db.count("email_log", "template = 'staff_invitation'") == 2
    assert srv.db.count("email_log", "template = 'email_changed'") == 1
    problem(srv.post("/v1/auth/set-password", json={"token": first, "password": NEW_PW}),
            422, "INVALID_TOKEN")
    assert srv.post("/v1/auth/set-password",
                    json={"token": second, "password": NEW_PW}).status_code == 204
    assert login(srv, "tess@example.net", NEW_PW)
    # A member whose address staff change proves the new one by its link.
    mo = person(srv, "mo")
    r = srv.request("PATCH", f"/v1/users/{mo['id']}", headers=hdr(boss),
                    json={"email": "mo.new@example.org"})
    assert r.status_code == 200, r.text
    assert srv.db.scalar(f"SELECT email_verified_at FROM users WHERE id = '{mo['id']}'") is None
    msg = wait_mail(smtp_sink, "Confirm your address", n=2)
    assert to_of(msg) == "mo.new@example.org"


def test_reactivated_account_gets_no_old_link_back(start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink)
    boss = person(srv, "admin", "admin")
    r = srv.post("/v1/users", headers=hdr(boss),
                 json={"email": "iris@example.org", "role": "instructor"})
    assert r.status_code == 201, r.text
    iris = r.json()["id"]
    _, text, _, _ = wait_mail(smtp_sink, "You are invited")
    invitation = token_of(text, "/set-password?token=")
    assert register(srv, "uma@example.org").status_code == 201
    _, text, _, _ = wait_mail(smtp_sink, "Confirm your address")
    verify = token_of(text, "/verify-email?token=")
    uma = srv.db.scalar("SELECT id FROM users WHERE role = 'member'")
    assert srv.post("/v1/auth/password-reset", json={"email": "uma@example.org"}).status_code == 202
    _, text, _, _ = wait_mail(smtp_sink, "Reset your")
    reset = token_of(text, "/reset-password?token=")
    def open_links(uid):
        return (srv.db.count("email_tokens", f"user_id = '{uid}' AND used_at IS NULL")
                + srv.db.count("password_resets", f"user_id = '{uid}' AND used_at IS NULL"))
    for uid in (iris, uma):
        assert open_links(uid) >= 1
        for active in (False, True):
            r = srv.request("PATCH", f"/v1/users/{uid}", headers=hdr(boss),
                            json={"is_active": active})
            assert r.status_code == 200, r.text
            assert open_links(uid) == 0     # ended at deactivation, for good
    problem(srv.post("/v1/auth/set-password", json={"token": invitation, "password": NEW_PW}),
            422, "INVALID_TOKEN")
    problem(srv.post("/v1/auth/verify-email", json={"token": verify}), 422, "INVALID_TOKEN")
    problem(srv.post("/v1/auth/password-reset/confirm",
                     json={"token": reset, "new_password": NEW_PW}), 422, "INVALID_TOKEN")
    # A new link works: the account itself is usable again.
    assert srv.post("/v1/auth/password-reset", json={"email": "uma@example.org"}).status_code == 202
    _, text, _, _ = wait_mail(smtp_sink, "Reset your", n=2)
    r = srv.post("/v1/auth/password-reset/confirm",
                 json={"token": token_of(text, "/reset-password?token="), "new_password": NEW_PW})
    assert r.status_code == 204, r.text


def test_refused_registrations_are_throttled_and_the_owner_told_once(start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink, CAREBASE_LOGIN_IP_MAX_FAILURES_HOUR="4",
                      CAREBASE_LOGIN_BACKOFF_AFTER="1000")
    owner = person(srv, "owner")
    other = person(srv, "other")
    for who in (owner, owner, other, owner):
        problem(register(srv, who["email"]), 409, "EMAIL_TAKEN")
    r = register(srv, owner["email"])
    problem(r, 429, "RATE_LIMITED")
    assert int(r.headers["Retry-After"]) >= 1
    # From that client, an address never seen is refused alike.
    problem(register(srv, "fresh@example.org"), 429, "RATE_LIMITED")
    msg = wait_mail(smtp_sink, "tried to sign up")
    assert to_of(msg) == owner["email"]
    check_links(msg[1], msg[2])
    no_link_that_acts(msg[1], msg[2])
    wait_mail(smtp_sink, "tried to sign up", n=2)       # other's, once
    time.sleep(0.5)
    told = [to_of(m) for m in mails(smtp_sink) if "tried to sign up" in m[0]]
    assert sorted(told) == sorted([owner["email"], other["email"]]), told
    assert srv.db.count("email_log", "template = 'register_attempt'") == 2


def test_taking_a_taken_address_is_throttled_and_the_owner_told_once(start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink, CAREBASE_LOGIN_ACCOUNT_MAX_FAILURES_HOUR="4",
                      CAREBASE_LOGIN_BACKOFF_AFTER="1000")
    owner = person(srv, "owner")
    prober = person(srv, "prober")
    base = srv.db.count("email_log", "template = 'register_attempt'")

    def take(email):
        return srv.request("PATCH", "/v1/me", headers=hdr(prober),
                           json={"email": email, "current_password": PASSWORD})
    # The address in other case and with spaces is the same address: it
    # counts in the same budget.
    for email in (owner["email"], owner["email"].upper(), f"  {owner['email']} ",
                  owner["email"]):
        r = take(email)
        if r.status_code != 409:    # a padded address may be refused as malformed
            assert r.status_code == 422, r.text
            r = take(owner["email"].title())
        problem(r, 409, "EMAIL_TAKEN")
    r = take(owner["email"])
    problem(r, 429, "RATE_LIMITED")
    assert int(r.headers["Retry-After"]) >= 1
    # Told once, at the stored address, with no link that acts.
    msg = wait_mail(smtp_sink, "tried to sign up")
    assert to_of(msg) == owner["email"]
    no_link_that_acts(msg[1], msg[2])
    time.sleep(0.5)
    assert srv.db.count("email_log", "template = 'register_attempt'") == base + 1
    # The budget is the address's: another is free to take.
    r = take("prober.new@example.org")
    assert r.status_code == 200, r.text


def test_the_register_notice_goes_to_the_stored_address_of_an_active_owner(
        start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink)
    boss = person(srv, "admin", "admin")
    owner = person(srv, "owner")
    gone = person(srv, "gone")
    r = srv.request("PATCH", f"/v1/users/{gone['id']}", headers=hdr(boss),
                    json={"is_active": False})
    assert r.status_code == 200, r.text
    # Typed in other case: the notice goes to the address as stored.
    problem(register(srv, owner["email"].upper()), 409, "EMAIL_TAKEN")
    problem(register(srv, gone["email"]), 409, "EMAIL_TAKEN")
    msg = wait_mail(smtp_sink, "tried to sign up")
    assert to_of(msg) == owner["email"]
    time.sleep(0.5)
    told = [to_of(m) for m in mails(smtp_sink) if "tried to sign up" in m[0]]
    assert told == [owner["email"]], told     # the deactivated owner: none


def test_registrations_that_succeed_use_no_budget(start_server, smtp_sink):
    srv = sink_server(start_server, smtp_sink, CAREBASE_LOGIN_IP_MAX_FAILURES_HOUR="2")
    for i in range(4):
        assert register(srv, f"new{i}@example.org").status_code == 201
