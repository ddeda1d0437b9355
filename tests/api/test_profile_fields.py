"""A partner's brand colour and a person's time zone (issue 18): the
partner's public page takes its band and buttons from brand_colour
("#rrggbb"), and times are shown in the person's time_zone (an IANA name
of the tzdata compiled in). Accepted, refused with the field named, null
clears, the public branding and the GDPR export carry them, the OpenAPI
document shows their formats, and migration 0053 taken down and up keeps
the rows. With 0053 pending (undone: carebase serves with migrations
pending) the two fields are left out of answers and a write naming one is
503 FIELD_UNAVAILABLE (docs/ARCHITECTURE.md, "A field a later migration
adds"). Runs on SQLite and PostgreSQL."""

import threading
import time

import pytest

from conftest import (PASSWORD, ROOT, hdr, login, make_partner, person, problem, register,
                      undo_migration, wait_until)


def refused(r, field):
    body = problem(r, 422, "VALIDATION_FAILED")
    assert field in [e["field"] for e in body["errors"]], body
    return body


def test_partner_brand_colour_set_checked_cleared_and_public(server, admin):
    p = make_partner(server, admin, "Colour Co", brand_colour="#1A7f3c")
    assert p["brand_colour"] == "#1A7f3c"
    for bad in ("1a7f3c", "#1a7f3", "#1a7f3cc", "#1g7f3c", "red", "#fff", 7):
        refused(server.request("PATCH", f"/v1/partners/{p['id']}", headers=hdr(admin),
                               json={"brand_colour": bad}), "brand_colour")
    refused(server.post("/v1/partners", headers=hdr(admin),
                        json={"name": "Bad Colour", "brand_colour": "#12345z"}), "brand_colour")
    # The public branding, by name, to anyone.
    pub = server.get("/v1/partners/colour co").json()
    assert pub["brand_colour"] == "#1A7f3c"
    r = server.request("PATCH", f"/v1/partners/{p['id']}", headers=hdr(admin),
                       json={"brand_colour": None})
    assert r.status_code == 200, r.text
    assert r.json()["brand_colour"] is None
    assert server.get("/v1/partners/colour co").json()["brand_colour"] is None
    # A member may not set it.
    member = person(server, "mo")
    r = server.request("PATCH", f"/v1/partners/{p['id']}", headers=hdr(member),
                       json={"brand_colour": "#000000"})
    assert r.status_code in (403, 404), r.text


def test_time_zone_on_me_checked_cleared_and_exported(server, admin):
    pat = person(server, "pat")
    assert server.get("/v1/me", headers=hdr(pat)).json()["time_zone"] is None
    # Zones and the links a browser may name (Asia/Calcutta, UTC).
    for zone in ("Europe/Berlin", "America/Argentina/Buenos_Aires", "Asia/Calcutta",
                 "UTC", "Etc/GMT+5"):
        r = server.request("PATCH", "/v1/me", headers=hdr(pat), json={"time_zone": zone})
        assert r.status_code == 200, r.text
        assert r.json()["time_zone"] == zone
        assert server.get("/v1/me", headers=hdr(pat)).json()["time_zone"] == zone
    for bad in ("Europe/Atlantis", "europe/berlin", "Berlin", "", "../etc/passwd",
                "Europe/Berlin ", "A" * 300, 5):
        refused(server.request("PATCH", "/v1/me", headers=hdr(pat), json={"time_zone": bad}),
                "time_zone")
    assert server.get("/v1/me", headers=hdr(pat)).json()["time_zone"] == "Etc/GMT+5"
    # Staff set it through the users resource too.
    r = server.request("PATCH", f"/v1/users/{pat['id']}", headers=hdr(admin),
                       json={"time_zone": "Pacific/Auckland"})
    assert r.status_code == 200, r.text
    refused(server.request("PATCH", f"/v1/users/{pat['id']}", headers=hdr(admin),
                           json={"time_zone": "Mars/Olympus_Mons"}), "time_zone")
    doc = server.get("/v1/me/export", headers=hdr(pat)).json()
    assert doc["user"]["time_zone"] == "Pacific/Auckland"
    r = server.request("PATCH", "/v1/me", headers=hdr(pat), json={"time_zone": None})
    assert r.status_code == 200, r.text
    assert r.json()["time_zone"] is None
    assert server.get("/v1/me/export", headers=hdr(pat)).json()["user"]["time_zone"] is None


def test_openapi_shows_the_formats(server):
    doc = server.get("/v1/openapi.json").json()
    schemas = doc["components"]["schemas"]
    colour = schemas["partners"]["properties"]["brand_colour"]
    assert colour["format"] == "colour" and colour["pattern"] == "^#[0-9A-Fa-f]{6}$", colour
    zone = schemas["users"]["properties"]["time_zone"]
    assert zone["format"] == "time-zone" and "pattern" in zone, zone
    assert "null" in zone["type"] and "null" in colour["type"]
    public = doc["paths"]["/v1/partners/{id}"]["get"]["responses"]["200"]
    assert "brand_colour" in str(public)


@pytest.mark.dialect
def test_migration_0053_down_and_up_keeps_the_rows(start_server, db):
    server = start_server(db=db)
    boss = person(server, "boss", "admin")
    p = make_partner(server, boss, "Round Trip", brand_colour="#abcdef")
    pat = person(server, "pat")
    server.request("PATCH", "/v1/me", headers=hdr(pat), json={"time_zone": "Europe/Paris"})
    server.stop()
    undo_migration(db, "0053_brand_colour_time_zone")
    assert db.count("partners", f"id = '{p['id']}'") == 1
    server.cli_ok("migrate")  # 0053 again
    server.start(migrate=False)
    assert db.scalar(f"SELECT brand_colour FROM partners WHERE id = '{p['id']}'") is None
    tok = login(server, pat["email"], PASSWORD)
    me = server.get("/v1/me", headers=hdr(tok)).json()
    assert me["id"] == pat["id"] and me["time_zone"] is None
    r = server.request("PATCH", "/v1/me", headers=hdr(tok), json={"time_zone": "Europe/Paris"})
    assert r.status_code == 200 and r.json()["time_zone"] == "Europe/Paris", r.text


@pytest.mark.dialect
def test_with_0053_pending_the_fields_are_left_out_and_writes_say_why(start_server, db):
    """A database at 0052 (0053 undone, server stopped, as `carebase migrate
    down` would), served by this binary: the account, its export, the users
    and partners rows and the public branding answer 200 without
    time_zone and brand_colour; a write naming either is 503
    FIELD_UNAVAILABLE, one that does not is made; registration and erasure
    work. Once 0053 is applied by another process the fields come back
    without a restart."""
    server = start_server(db=db)
    boss = person(server, "boss", "admin")
    p = make_partner(server, boss, "Pending Co", brand_colour="#abcdef")
    pat, gone = person(server, "pat"), person(server, "gone")
    r = server.request("PATCH", "/v1/me", headers=hdr(pat), json={"time_zone": "Europe/Paris"})
    assert r.status_code == 200, r.text
    server.stop()
    undo_migration(db, "0053_brand_colour_time_zone")
    server.start(migrate=False)
    # What the account page reads (web/src/app/pages/me/account.jsx).
    for path in ("/v1/me", "/v1/me/sessions", "/v1/me/export"):
        r = server.get(path, headers=hdr(pat))
        assert r.status_code == 200, f"{path}: {r.text[:300]}"
    me = server.get("/v1/me", headers=hdr(pat)).json()
    assert me["id"] == pat["id"] and "time_zone" not in me, me
    doc = server.get("/v1/me/export", headers=hdr(pat)).json()
    assert doc["user"]["id"] == pat["id"] and "time_zone" not in doc["user"]
    r = server.get(f"/v1/users/{pat['id']}", headers=hdr(boss))
    assert r.status_code == 200 and "time_zone" not in r.json(), r.text
    r = server.get("/v1/users", headers=hdr(boss))
    assert r.status_code == 200, r.text
    assert all("time_zone" not in u for u in r.json()["data"])
    # The partner: the whole row (an admin, by id), the list, the branding.
    r = server.get(f"/v1/partners/{p['id']}", headers=hdr(boss))
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Pending Co" and "brand_colour" not in r.json()
    r = server.get("/v1/partners", headers=hdr(boss))
    assert r.status_code == 200 and all("brand_colour" not in x for x in r.json()["data"])
    for ref in (p["id"], "pending co"):
        r = server.get(f"/v1/partners/{ref}")
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "Pending Co" and "brand_colour" not in r.json()
    # Writes naming a pending field say why; the others are made.
    for r in (server.request("PATCH", "/v1/me", headers=hdr(pat),
                             json={"time_zone": "Europe/Berlin"}),
              server.request("PATCH", "/v1/me", headers=hdr(pat), json={"time_zone": None}),
              server.request("PATCH", f"/v1/users/{pat['id']}", headers=hdr(boss),
                             json={"time_zone": "Europe/Berlin", "last_name": "Kept"}),
              server.request("PATCH", f"/v1/partners/{p['id']}", headers=hdr(boss),
                             json={"brand_colour": "#000000"}),
              server.post("/v1/partners", headers=hdr(boss),
                          json={"name": "Colourless", "brand_colour": "#111111"})):
        problem(r, 503, "FIELD_UNAVAILABLE")
    # A 503's detail is not answered: the log names the migration to apply.
    assert "event=field_unavailable resource=users field=time_zone migration=0053" \
        in server.log()
    assert "resource=partners field=brand_colour migration=0053" in server.log()
    r = server.request("PATCH", "/v1/me", headers=hdr(pat), json={"first_name": "Zed"})
    assert r.status_code == 200 and r.json()["first_name"] == "Zed", r.text
    assert "time_zone" not in r.json()
    assert server.get(f"/v1/users/{pat['id']}", headers=hdr(boss)).json()["last_name"] != "Kept"
    make_partner(server, boss, "Plain Co")
    assert register(server, "new.pending@example.org").status_code == 201
    r = server.request("DELETE", "/v1/me", headers=hdr(gone), json={"password": PASSWORD})
    assert r.status_code in (200, 204), r.text
    # 0053 applied by another process: the fields are back, the rows kept
    # (their values went with the columns).
    server.cli_ok("migrate")
    wait_until(lambda: "time_zone" in server.get("/v1/me", headers=hdr(pat)).json(),
               what="time_zone answered again")
    r = server.request("PATCH", "/v1/me", headers=hdr(pat), json={"time_zone": "Europe/Berlin"})
    assert r.status_code == 200 and r.json()["time_zone"] == "Europe/Berlin", r.text
    assert server.get(f"/v1/partners/{p['id']}", headers=hdr(boss)).json()["brand_colour"] is None


@pytest.mark.dialect
def test_erasure_right_after_0053_is_applied_clears_its_column(start_server, db):
    """Erasure does not go by the applied migrations the server read up to a
    second ago (the cache every other request uses): with 0053 applied by
    hand a moment after the server last read them as pending, and a time
    zone set in the new column, erasing the person clears it."""
    server = start_server(db=db)
    gone = person(server, "gone")
    server.stop()
    undo_migration(db, "0053_brand_colour_time_zone")
    server.start(migrate=False)
    assert "time_zone" not in server.get("/v1/me", headers=hdr(gone)).json()  # read: pending
    up = (ROOT / "migrations" / db.kind / "0053_brand_colour_time_zone.up.sql").read_text()
    if db.kind == "sqlite":
        up = f"BEGIN IMMEDIATE;\n{up}\nCOMMIT;"
    db.execute(up)
    db.execute("INSERT INTO schema_migrations (name, batch, applied_at) VALUES "
               "('0053_brand_colour_time_zone', 999, 0);"
               f"UPDATE users SET time_zone = 'Europe/Paris' WHERE id = '{gone['id']}'")
    r = server.request("DELETE", "/v1/me", headers=hdr(gone), json={"password": PASSWORD})
    assert r.status_code in (200, 204), r.text
    assert db.scalar(f"SELECT count(*) FROM users WHERE id = '{gone['id']}' "
                     "AND time_zone IS NOT NULL") == "0"


@pytest.mark.dialect
def test_erasure_waits_for_a_migration_being_applied(start_server, db):
    """Erasure goes by the migrations applied when it reads them: one
    committing after that read (PostgreSQL, READ COMMITTED) could add a
    column, and fill it, that the erasure does not clear. So erasure
    keeps migrations out while it runs: with a migrator holding the
    migration lock (PostgreSQL's advisory lock; SQLite's write lock), the
    erasure waits for it; 0053 applied meanwhile, a time zone set by its
    backfill, erasing clears it once the migration commits."""
    import sqlite3
    import threading

    server = start_server(db=db)
    gone = person(server, "gone")
    server.stop()
    undo_migration(db, "0053_brand_colour_time_zone")
    server.start(migrate=False)
    up = (ROOT / "migrations" / db.kind / "0053_brand_colour_time_zone.up.sql").read_text()
    up = "\n".join(line for line in up.splitlines() if not line.startswith("--"))
    steps = [x.strip() for x in up.split(";") if x.strip()]
    steps += ["INSERT INTO schema_migrations (name, batch, applied_at) VALUES "
              "('0053_brand_colour_time_zone', 999, 0)",
              f"UPDATE users SET time_zone = 'Europe/Paris' WHERE id = '{gone['id']}'"]
    if db.kind == "sqlite":
        con = sqlite3.connect(str(db.path), timeout=10, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
    else:
        import psycopg2
        con = psycopg2.connect(db.url, connect_timeout=10)
        con.cursor().execute("SELECT pg_advisory_xact_lock(7262917388)")
    answer = {}

    def erase():
        answer["r"] = server.request("DELETE", "/v1/me", headers=hdr(gone),
                                     json={"password": PASSWORD})

    eraser = threading.Thread(target=erase)
    try:
        eraser.start()
        eraser.join(1.5)
        assert eraser.is_alive(), answer["r"].text  # waiting for the migration
        cur = con.cursor()
        for sql in steps:
            cur.execute(sql)
        con.commit() if db.kind == "postgres" else con.execute("COMMIT")
    finally:
        con.close()
        eraser.join(30)
    assert answer["r"].status_code in (200, 204), answer["r"].text
    assert db.scalar(f"SELECT count(*) FROM users WHERE id = '{gone['id']}' "
                     "AND time_zone IS NOT NULL") == "0"
    assert db.count("users", f"id = '{gone['id']}' AND deleted_at IS NOT NULL") == 1


@pytest.mark.dialect
@pytest.mark.parametrize("route", ["me", "admin"])
def test_an_erasure_waiting_for_the_migrations_lock_holds_no_http_thread(
        start_server, db, route):
    """Erasure may wait up to 5 s for the migrations' lock: both routes
    that take it (DELETE /v1/me, POST /v1/users/{id}/erase) run on the
    slow pool, so on one HTTP thread the other requests are answered
    meanwhile (before: POST /v1/users/{id}/erase was not ROUTE_SLOW and
    /healthz waited the 5 s out behind it)."""
    if db.kind != "postgres":
        pytest.skip("SQLite: a migration holds the write lock; busy_timeout bounds the wait")
    import psycopg2

    server = start_server(db=db, env={"CAREBASE_THREADS": "1"})
    admin = person(server, "admin", "admin")
    gone = person(server, "gone")
    answer = {}

    def erase():
        if route == "me":
            answer["r"] = server.request("DELETE", "/v1/me", headers=hdr(gone),
                                         json={"password": PASSWORD}, timeout=60)
        else:
            answer["r"] = server.request("POST", f"/v1/users/{gone['id']}/erase",
                                         headers=hdr(admin), timeout=60)
    con = psycopg2.connect(db.url, connect_timeout=10)
    eraser = threading.Thread(target=erase)
    try:
        con.cursor().execute("SELECT pg_advisory_xact_lock(7262917388)")
        eraser.start()
        eraser.join(1.0)
        assert eraser.is_alive(), answer["r"].text  # waiting for the lock
        began = time.monotonic()
        assert server.get("/healthz", timeout=30).status_code == 200
        took = time.monotonic() - began
        assert eraser.is_alive()
        assert took < 2.0, took
        eraser.join(30)
        problem(answer["r"], 503, "MIGRATIONS_PENDING")
    finally:
        con.rollback()
        con.close()


@pytest.mark.dialect
def test_erasure_behind_a_long_migration_answers_503_soon_and_changes_nothing(
        start_server, db):
    """A migration holding the migrations' lock for longer than erasure
    waits for it (5 s, migrate.h's MIGRATE_LOCK_WAIT_MS; PostgreSQL):
    the erasure gives up well before statement_timeout (30 s, then a
    500) and answers 503 MIGRATIONS_PENDING with Retry-After; nothing is
    erased, and once the migration ends the erasure goes through."""
    if db.kind != "postgres":
        pytest.skip("SQLite: a migration holds the write lock; busy_timeout bounds the wait")
    import psycopg2

    server = start_server(db=db)
    gone = person(server, "gone")
    con = psycopg2.connect(db.url, connect_timeout=10)
    try:
        con.cursor().execute("SELECT pg_advisory_xact_lock(7262917388)")
        began = time.monotonic()
        r = server.request("DELETE", "/v1/me", headers=hdr(gone), json={"password": PASSWORD},
                           timeout=60)
        took = time.monotonic() - began
        problem(r, 503, "MIGRATIONS_PENDING")
        assert int(r.headers["Retry-After"]) >= 1, r.headers
        assert 4.5 <= took < 15, took
        assert db.count("users", f"id = '{gone['id']}' AND deleted_at IS NULL") == 1
    finally:
        con.rollback()
        con.close()
    r = server.request("DELETE", "/v1/me", headers=hdr(gone), json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    assert db.count("users", f"id = '{gone['id']}' AND deleted_at IS NOT NULL") == 1
