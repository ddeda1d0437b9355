"""Admins read what mail was sent: GET /v1/email-log (filters on status,
template, recipient, created_at and sent_at ranges; paged and sorted as
every declared list) and GET /v1/email-log/{id}, with status and error.
The recipient and subject are sealed: opened for staff only, never the
template's variables."""
import pytest

from conftest import (hdr, person, queue_test_mail, smtp_env, wait_log_status,
                      wait_until)

FAILING = "failing@example.org"
OUTSIDER = "Outsider@Example.org"
KEYS = {"id", "recipient", "subject", "template", "status", "attempts", "sent_at",
        "error", "created_at", "updated_at"}


@pytest.fixture
def mail(start_server, smtp_sink, db):
    """A server whose log holds: one test mail that failed (no SMTP server),
    then, through an SMTP sink, one test mail to OUTSIDER and alice's password
    reset, both sent. {"server", "admin", "alice", "failed", "outsider"}."""
    env = smtp_env(smtp_sink.port)
    closed = dict(env, CAREBASE_SMTP_URL="smtp://127.0.0.1:9", CAREBASE_JOB_MAX_ATTEMPTS="1")
    s = start_server(env=closed, db=db)
    failed = queue_test_mail(s, FAILING)
    wait_log_status(s, failed, "failed")
    assert s.stop() == 0
    s = start_server(env=env, db=db)
    admin = person(s, "admin", "admin")
    # Made on the command line: a member who signs up gets a verification
    # mail too (test_mail_templates.py); here alice's one mail is her reset.
    alice = person(s, "alice", "member")
    outsider = queue_test_mail(s, OUTSIDER)
    assert s.post("/v1/auth/password-reset", json={"email": alice["email"]}).status_code == 202
    wait_until(lambda: s.db.count("email_log", "status = 'sent'") == 2, timeout=15,
               what="both mails to be sent")
    return {"server": s, "admin": admin, "alice": alice, "failed": failed,
            "outsider": outsider}


def listing(s, who, query=""):
    r = s.get("/v1/email-log" + query, headers=hdr(who))
    assert r.status_code == 200, (query, r.text)
    return r.json()


def test_admins_read_the_log_with_recipients_opened(mail):
    s, admin = mail["server"], mail["admin"]
    rows = listing(s, admin)["data"]
    assert len(rows) == 3 and all(set(r) == KEYS for r in rows), rows
    by_id = {r["id"]: r for r in rows}
    failed, outsider = by_id[mail["failed"]], by_id[mail["outsider"]]
    assert failed["recipient"] == FAILING and failed["status"] == "failed"
    assert failed["error"] and failed["sent_at"] is None and failed["attempts"] == 1
    assert outsider["recipient"] == OUTSIDER and outsider["status"] == "sent"
    assert outsider["subject"] == "carebase test message" and outsider["error"] is None
    reset = next(r for r in rows if r["template"] == "password_reset")
    assert reset["recipient"] == mail["alice"]["email"]
    assert reset["subject"] == "Reset your React Fast Training password"
    # Newest first by default.
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows),
                                                     reverse=True)
    r = s.get(f"/v1/email-log/{mail['outsider']}", headers=hdr(admin))
    assert r.status_code == 200 and r.json() == outsider, r.text
    assert r.headers["ETag"]
    r = s.get("/v1/email-log/0190f2a4-1111-7000-8000-00000000000a", headers=hdr(admin))
    assert r.status_code == 404, r.text


def test_filters(mail):
    s, admin, alice = mail["server"], mail["admin"], mail["alice"]

    def ids(query):
        return {r["id"] for r in listing(s, admin, query)["data"]}

    assert ids("?status=failed") == {mail["failed"]}
    assert len(ids("?status=sent")) == 2 and ids("?status=queued") == set()
    assert len(ids("?template=password_reset")) == 1
    assert ids("?template=test") == {mail["failed"], mail["outsider"]}
    # By address, in any case, through the blind index.
    assert ids("?recipient=outsider@example.ORG") == {mail["outsider"]}
    assert ids(f"?recipient={alice['email']}") == ids("?template=password_reset")
    assert ids("?recipient=nobody@example.org") == set()
    assert ids("?status=sent&template=test") == {mail["outsider"]}
    rows = listing(s, admin)["data"]
    failed_at = next(r["created_at"] for r in rows if r["id"] == mail["failed"])
    assert ids(f"?created_at_to={failed_at}") == set()
    assert ids(f"?created_at_from={failed_at}") == {r["id"] for r in rows}
    later = min(r["created_at"] for r in rows if r["id"] != mail["failed"])
    assert ids(f"?created_at_to={later}") == {mail["failed"]}
    assert len(ids(f"?sent_at_from={failed_at}")) == 2
    for bad, code in [("?status=lost", "INVALID_PARAMETER"),
                      ("?created_at_from=yesterday", "INVALID_PARAMETER"),
                      ("?subject=hello", "UNKNOWN_PARAMETER"),
                      ("?vars=x", "UNKNOWN_PARAMETER"),
                      ("?user_id=" + alice["id"], "UNKNOWN_PARAMETER"),
                      ("?sort=recipient", "INVALID_PARAMETER")]:
        r = s.get("/v1/email-log" + bad, headers=hdr(admin))
        assert r.status_code == 400 and r.json()["code"] == code, (bad, r.text)


def test_pages_and_sorts_like_every_list(mail):
    s, admin = mail["server"], mail["admin"]
    seen, cursor = [], None
    while True:
        page = listing(s, admin, "?sort=created_at&limit=1" +
                       (f"&cursor={cursor}" if cursor else ""))
        assert len(page["data"]) <= 1
        seen += [r["id"] for r in page["data"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(seen) == 3 and seen[0] == mail["failed"]
    by_sent = [r["id"] for r in listing(s, admin, "?sort=-sent_at")["data"]]
    assert by_sent[-1] == mail["failed"]                  # never sent: last


def test_only_admins_read_it_and_nobody_writes_it(mail):
    s, admin, alice = mail["server"], mail["admin"], mail["alice"]
    therapist = person(s, "therapist", "therapist")
    for who in (alice, therapist):
        assert s.get("/v1/email-log", headers=hdr(who)).status_code == 403
        r = s.get(f"/v1/email-log/{mail['outsider']}", headers=hdr(who))
        assert r.status_code in (403, 404), r.text
    assert s.post("/v1/email-log", headers=hdr(admin), json={}).status_code == 405
    for method in ("PATCH", "DELETE"):
        r = s.request(method, f"/v1/email-log/{mail['outsider']}", headers=hdr(admin),
                      json={"status": "sent"})
        assert r.status_code == 405, (method, r.text)


def test_the_address_and_subject_are_for_staff_only(mail):
    """Should a role be granted its own mail (email_log:read:own), its people
    see their own rows' status, never the sealed address or subject, and
    cannot search by address."""
    s, admin, alice = mail["server"], mail["admin"], mail["alice"]
    perms = s.get("/v1/roles/member", headers=hdr(admin)).json()["permissions"]
    r = s.request("PUT", "/v1/roles/member/permissions", headers=hdr(admin),
                  json={"permissions": perms + ["email_log:read:own"]})
    assert r.status_code == 422 and r.json()["code"] == "UNKNOWN_PERMISSION"
    s.db.execute("INSERT INTO permissions (name, description) "
                 "VALUES ('email_log:read:own', 'the mail sent for you')")
    r = s.request("PUT", "/v1/roles/member/permissions", headers=hdr(admin),
                  json={"permissions": perms + ["email_log:read:own"]})
    assert r.status_code == 200, r.text
    rows = listing(s, alice)["data"]
    assert [r["template"] for r in rows] == ["password_reset"]
    assert set(rows[0]) == KEYS - {"recipient", "subject"}
    r = s.get(f"/v1/email-log?recipient={alice['email']}", headers=hdr(alice))
    assert r.status_code == 400, r.text
    assert s.get(f"/v1/email-log/{mail['outsider']}", headers=hdr(alice)).status_code == 404


def index_leads(db, table):
    """The first column of each index of table, from the catalog."""
    if db.kind == "sqlite":
        names = [r[0] for r in db.query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,))]
        return {db.query(f"PRAGMA index_info('{n}')")[0][2] for n in names}
    rows = db.query("SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
                    f"WHERE c.relname = '{table}'")
    return {r[0] for r in rows}


@pytest.mark.dialect
def test_the_log_is_indexed_for_its_filters_and_sorts(db):
    """status and sent_at filter the list and sent_at sorts it: each leads
    an index (migration 0027), as created_at and recipient_index do."""
    assert {"status", "sent_at", "created_at", "recipient_index"} <= index_leads(db, "email_log")
