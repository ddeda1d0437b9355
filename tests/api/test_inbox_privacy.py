"""Privacy of the webhook inbox (issue 6 follow-up): erasing a person removes
the bodies of the inbox rows about them (tied by the user the booking webhook
resolved, or by the blind index of the address the body names) and keeps the
outcome; rows older than webhook_inbox_retention_days are deleted by the
webhooks.prune job (and `carebase webhooks prune`), failed ones too; `webhooks
replay` refuses a row processed already unless --force is given.
Runs on SQLite and PostgreSQL."""

import uuid

import pytest

from conftest import (SIMPLYBOOK_SECRET, booking_hook, booking_payload, grant, hdr, inbox_row,
                      make_partner, person, problem, wait_until)

DAY_MS = 24 * 3600 * 1000


def body_state(db, inbox_id):
    """(body is null, body_erased_at is set, email_index, user_id, outcome)."""
    r = db.query("SELECT body IS NULL, body_erased_at IS NOT NULL, email_index, user_id, "
                 f"outcome FROM webhook_inbox WHERE id = '{inbox_id}'")[0]
    truth = ("1", "t", "true")
    return (r[0] in truth, r[1] in truth, r[2], r[3], r[4])


@pytest.fixture
def server(start_server, db):
    return start_server(db=db, env={"CAREBASE_SIMPLYBOOK_WEBHOOK_SECRET": SIMPLYBOOK_SECRET})


@pytest.fixture
def world(server):
    w = {"admin": person(server, "admin", "admin")}
    w["p"] = make_partner(server, w["admin"], "Bumble")
    w["m"] = person(server, "member")
    w["acc"] = grant(server, w["admin"], w["p"], w["m"], sessions=6)
    w["other"] = person(server, "other")
    grant(server, w["admin"], w["p"], w["other"], sessions=6)
    return w


# -- erasure ---------------------------------------------------------------------

@pytest.mark.dialect
def test_erasure_removes_the_inbox_bodies_about_the_person(server, db, world):
    w = world
    m = w["m"]
    # Resolved to the user: a new booking, then its reschedule.
    body = booking_payload(m["email"])
    r = booking_hook(server, body)
    assert r.status_code == 200, r.text
    booked = r.json()["inbox_id"]
    moved = booking_payload(m["email"], code=body["booking_code"], action="UPDATED_BOOKING",
                            hours=2)
    r = booking_hook(server, moved)
    assert r.status_code == 200, r.text
    updated = r.json()["inbox_id"]
    # Refused before any user was resolved, but naming the address.
    refused = booking_payload(m["email"].upper(), client_timezone="Not a zone!")
    bad = problem(booking_hook(server, refused), 422, "VALIDATION_FAILED")["inbox_id"]
    # Someone else's booking stays as it is.
    r = booking_hook(server, booking_payload(w["other"]["email"]))
    assert r.status_code == 200, r.text
    theirs = r.json()["inbox_id"]

    s = body_state(db, booked)
    assert (s[0], s[1], s[3], s[4]) == (False, False, m["id"], "processed") and s[2]
    assert body_state(db, updated)[3] == m["id"]
    s = body_state(db, bad)
    assert s[0] is False and s[2] == body_state(db, booked)[2] and s[3] is None
    # The export lists the rows (without bodies).
    exp = server.get("/v1/me/export", headers=hdr(m))
    assert exp.status_code == 200, exp.text
    listed = {x["id"] for x in exp.json()["records"]["webhook_inbox"]}
    assert {booked, updated, bad} <= listed and theirs not in listed

    r = server.post(f"/v1/users/{m['id']}/erase", headers=hdr(w["admin"]))
    assert r.status_code in (200, 204), r.text

    for inbox_id, outcome in ((booked, "processed"), (updated, "processed"),
                              (bad, "refused")):
        gone, stamped, index, _, out = body_state(db, inbox_id)
        assert gone and stamped and index is None, inbox_id
        assert out == outcome                      # the outcome stays for operations
        row = inbox_row(db, inbox_id)
        assert row["attempts"] == 1 and row["http_status"] in (200, 422)
    s = body_state(db, theirs)
    assert s[0] is False and s[1] is False and s[2] is not None
    # Operations still work; the list says which bodies are gone.
    listed = server.cli_ok("webhooks", "list").stdout.splitlines()
    line = next(x for x in listed if x.startswith(booked))
    assert "\terased\t" in line
    assert "\tkept\t" in next(x for x in listed if x.startswith(theirs))
    r = server.cli("webhooks", "replay", booked, "--force")
    assert r.returncode != 0 and "erased" in r.stderr, r.stderr

    # A body about the erased person that arrives afterwards is refused
    # (nothing is written about an erased person) and not kept either.
    r = booking_hook(server, booking_payload(m["email"], code=body["booking_code"],
                                             action="CANCELLED_BOOKING"))
    late = problem(r, 404, "USER_NOT_FOUND")["inbox_id"]
    gone, stamped, index, user, out = body_state(db, late)
    assert (gone, stamped, index, user, out) == (True, True, None, m["id"], "refused")

    # A new booking naming the erased person by user_id (and an address
    # that is no longer anyone's): refused, tied to them, body dropped.
    r = booking_hook(server, booking_payload("someone.else@example.org", user_id=m["id"]))
    late = problem(r, 404, "USER_NOT_FOUND")["inbox_id"]
    gone, stamped, index, user, out = body_state(db, late)
    assert (gone, stamped, user, out) == (True, True, m["id"], "refused")


def test_erasure_leaves_rows_that_name_nobody(server, db, world):
    """A body that does not parse names no one: retention bounds it instead."""
    w = world
    r = booking_hook(server, None, raw='{"client_email": "' + w["m"]["email"])
    bad = problem(r, 400, "MALFORMED_REQUEST")["inbox_id"]
    assert body_state(db, bad)[2] is None
    r = server.post(f"/v1/users/{w['m']['id']}/erase", headers=hdr(w["admin"]))
    assert r.status_code in (200, 204), r.text
    assert body_state(db, bad)[:2] == (False, False)


# -- retention -------------------------------------------------------------------

def backdate(db, inbox_id, days):
    db.execute(f"UPDATE webhook_inbox SET received_at = received_at - {days * DAY_MS} "
               f"WHERE id = '{inbox_id}'")


def test_prune_deletes_rows_past_retention_failed_ones_too(server, db, world):
    w = world
    ids = []
    for who in ("m", "other", "m"):
        r = booking_hook(server, booking_payload(w[who]["email"]))
        assert r.status_code == 200, r.text
        ids.append(r.json()["inbox_id"])
    old, old_failed, recent = ids
    backdate(db, old, 31)
    backdate(db, old_failed, 31)
    db.execute(f"UPDATE webhook_inbox SET outcome = 'failed' WHERE id = '{old_failed}'")
    # A longer retention keeps them.
    r = server.cli_ok("webhooks", "prune", env={"CAREBASE_WEBHOOK_INBOX_RETENTION_DAYS": "60"})
    assert "0 deleted" in r.stdout
    assert db.count("webhook_inbox", f"id IN ('{old}', '{old_failed}')") == 2
    r = server.cli_ok("webhooks", "prune")            # the default: 30 days
    assert "2 deleted (1 failed" in r.stdout, r.stdout
    assert db.count("webhook_inbox", f"id IN ('{old}', '{old_failed}')") == 0
    assert db.count("webhook_inbox", f"id = '{recent}'") == 1
    assert db.count("therapy_bookings") == 3         # only the inbox is pruned


@pytest.mark.dialect
def test_prune_runs_as_a_scheduled_job(server, db, world):
    r = booking_hook(server, booking_payload(world["m"]["email"]))
    assert r.status_code == 200, r.text
    old = r.json()["inbox_id"]
    r = booking_hook(server, booking_payload(world["other"]["email"]))
    assert r.status_code == 200, r.text
    recent = r.json()["inbox_id"]
    backdate(db, old, 45)
    wait_until(lambda: db.count("job_schedules", "name = 'webhooks.prune'") == 1,
               timeout=15, what="the webhooks.prune schedule")
    assert db.scalar("SELECT cron FROM job_schedules WHERE name = 'webhooks.prune'") \
        == "41 * * * *"
    # Due now: queued by hand as the schedule would.
    db.execute("INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, "
               f"run_at, created_at, updated_at) VALUES ('{uuid.uuid4()}', "
               "'webhooks.prune', '{}', 'queued', 0, 3, 0, 0, 0)")
    wait_until(lambda: db.count("webhook_inbox", f"id = '{old}'") == 0, timeout=15,
               what="the old row pruned")
    assert db.count("webhook_inbox", f"id = '{recent}'") == 1
    assert db.count("failed_jobs", "kind = 'webhooks.prune'") == 0


def test_retention_setting_is_bounded(server):
    for bad in ("0", "366", "x"):
        r = server.cli("webhooks", "list", env={"CAREBASE_WEBHOOK_INBOX_RETENTION_DAYS": bad})
        assert r.returncode != 0
        assert "webhook_inbox_retention_days" in r.stderr, r.stderr


# -- replay ----------------------------------------------------------------------

def test_replay_refuses_a_processed_row_without_force(server, db, world):
    w = world
    r = booking_hook(server, booking_payload(w["m"]["email"]))
    assert r.status_code == 200, r.text
    done = r.json()["inbox_id"]
    r = server.cli("webhooks", "replay", done)
    assert r.returncode != 0
    assert "processed already" in r.stderr and "--force" in r.stderr, r.stderr
    assert inbox_row(db, done)["attempts"] == 1
    assert db.count("audit_log", f"action = 'webhook_inbox.replay' AND "
                    f"entity_id = '{done}'") == 0
    for args in (("replay", done, "--force"), ("replay", "--force", done)):
        r = server.cli_ok("webhooks", *args)
        assert "processed" in r.stdout
    assert inbox_row(db, done)["attempts"] == 3
    remaining = int(db.scalar("SELECT therapy_sessions_remaining FROM partner_access "
                              f"WHERE id = '{w['acc']['id']}'"))
    assert remaining == 5                              # a duplicate spends nothing
    for args in (("replay", done, "--forced"), ("replay", done, "--force", "x"),
                 ("replay", "--force", "--force")):
        assert server.cli("webhooks", *args).returncode != 0


# -- sealed booking details --------------------------------------------------------

SEALED = ("client_timezone", "service_provider_name", "service_provider_email")


def booking_columns(db, booking_id):
    r = db.query("SELECT client_timezone, service_provider_name, service_provider_email, "
                 f"legacy_plain FROM therapy_bookings WHERE id = '{booking_id}'")[0]
    return dict(zip(SEALED + ("legacy_plain",), r))


@pytest.mark.dialect
def test_booking_details_are_sealed_and_erased_with_the_person(server, db, world):
    w = world
    body = booking_payload(w["m"]["email"], service_provider_name="Dr Grace Hopper",
                           service_provider_email="grace@therapists.example.org",
                           client_timezone="America/New_York")
    r = booking_hook(server, body)
    assert r.status_code == 200, r.text
    bk = r.json()["booking"]
    for k in SEALED:
        assert bk[k] == body[k], k                  # the booking system's answer
    cols = booking_columns(db, bk["id"])
    assert cols["legacy_plain"] == "0"
    for k in SEALED:
        assert cols[k] is not None
        assert body[k] not in cols[k] and body[k].encode().hex() not in cols[k], k
    # An update seals the new values too; every reader sees them opened.
    moved = booking_payload(w["m"]["email"], code=body["booking_code"], action="UPDATED_BOOKING",
                            service_provider_name="Dr Katherine Johnson",
                            client_timezone="Europe/Paris")
    r = booking_hook(server, moved)
    assert r.status_code == 200, r.text
    assert r.json()["booking"]["service_provider_name"] == "Dr Katherine Johnson"
    cols = booking_columns(db, bk["id"])
    assert "Katherine" not in cols["service_provider_name"]
    want = {"client_timezone": "Europe/Paris",
            "service_provider_name": "Dr Katherine Johnson",
            "service_provider_email": moved["service_provider_email"]}
    for who in (w["m"], w["admin"]):
        got = server.get(f"/v1/therapy-bookings/{bk['id']}", headers=hdr(who)).json()
        assert {k: got[k] for k in SEALED} == want
    # Erasure: the columns are emptied (and would not open: the key is gone).
    r = server.post(f"/v1/users/{w['m']['id']}/erase", headers=hdr(w["admin"]))
    assert r.status_code in (200, 204), r.text
    cols = booking_columns(db, bk["id"])
    assert [cols[k] for k in SEALED] == [None, None, None]
    got = server.get(f"/v1/therapy-bookings/{bk['id']}", headers=hdr(w["admin"])).json()
    assert [got[k] for k in SEALED] == [None, None, None]
    assert got["booking_code"] == body["booking_code"] and got["service_name"]


@pytest.mark.dialect
def test_rows_from_before_sealing_are_sealed_at_start_up(server, db, world):
    """Rows the migration carried over hold the text in clear (legacy_plain
    = 1) until the next start seals them under the user's key."""
    w = world
    r = booking_hook(server, booking_payload(w["m"]["email"]))
    assert r.status_code == 200, r.text
    bk = r.json()["booking"]
    old = {"client_timezone": "Asia/Tokyo", "service_provider_name": "Dr Old Style",
           "service_provider_email": "old.style@therapists.example.org"}
    server.stop()
    conv = ("CAST('{}' AS BLOB)" if db.kind == "sqlite" else "convert_to('{}', 'UTF8')")
    sets = ", ".join(f"{k} = {conv.format(v)}" for k, v in old.items())
    db.execute(f"UPDATE therapy_bookings SET {sets}, legacy_plain = 1 "
               f"WHERE id = '{bk['id']}'")
    server.start(migrate=False)
    cols = booking_columns(db, bk["id"])
    assert cols["legacy_plain"] == "0"
    for k, v in old.items():
        assert v not in cols[k] and v.encode().hex() not in cols[k], k
    got = server.get(f"/v1/therapy-bookings/{bk['id']}", headers=hdr(w["admin"])).json()
    assert {k: got[k] for k in SEALED} == old
    assert "event=bookings_sealed" in server.log()
