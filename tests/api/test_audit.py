"""The audit log: hash-chained and append-only; `carebase audit verify` names the
first broken row; GET /v1/audit-log for admins with filters and paging; no
personal data in it."""

import datetime

import pytest

from conftest import AUDIT_CHANGES, PASSWORD, chain_hash, hdr, person, problem, tamper, wait_until


def member(server, name):
    """A member whose first name is name: the marker the log must not hold."""
    return person(server, name, first_name=name)


@pytest.mark.dialect
def test_the_database_refuses_changes_to_the_audit_log(server, admin):
    member(server, "trigger")
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception):
            server.db.execute(sql)
    assert server.db.count("audit_log") > 0


def verify(server):
    r = server.cli("audit", "verify")
    return r.returncode, r.stdout


def test_verify_on_an_empty_log(start_server):
    srv = start_server(start=False)
    rc, out = verify(srv)
    assert rc == 0 and out.splitlines()[0] == "audit: 0 rows, chain intact", out
    assert out.splitlines()[1] == "head: 0:" + "0" * 64, out


@pytest.mark.dialect
def test_chain_verifies_and_names_a_changed_row(server, admin):
    people = [member(server, f"Auditmarker{i}") for i in range(4)]
    n = server.db.count("audit_log")
    assert n >= 4
    rc, out = verify(server)
    assert rc == 0 and out.splitlines()[0] == f"audit: {n} rows, chain intact", out
    # Nothing personal in the log.
    text = " ".join(" ".join(str(v) for v in row)
                    for row in server.db.query("SELECT * FROM audit_log"))
    for p in people:
        assert p["email"] not in text and p["first_name"] not in text
    seq = server.db.count("audit_log") // 2 + 1
    tamper(server.db, f"UPDATE audit_log SET changes = '{{\"fields\":[]}}' WHERE seq = {seq}")
    rc, out = verify(server)
    assert rc != 0
    assert f"audit: chain broken at seq {seq}" in out, out


@pytest.mark.dialect
def test_verify_names_a_deleted_row(server, admin):
    for i in range(3):
        member(server, f"m{i}")
    seq = 2
    tamper(server.db, f"DELETE FROM audit_log WHERE seq = {seq}")
    rc, out = verify(server)
    assert rc != 0 and f"chain broken at seq {seq}" in out, out


@pytest.mark.dialect
def test_an_anchor_recorded_elsewhere_exposes_a_truncated_or_rewritten_log(server, admin):
    for i in range(3):
        member(server, f"a{i}")
    r = server.cli("audit", "head")
    assert r.returncode == 0, r.stderr
    anchor = r.stdout.strip()
    seq, digest = anchor.split(":")
    assert int(seq) == server.db.count("audit_log") and len(digest) == 64
    member(server, "later")
    r = server.cli("audit", "verify", f"--anchor={anchor}")
    assert r.returncode == 0 and f"anchor seq {seq} matches" in r.stdout, r.stdout + r.stderr
    # Malformed anchors are refused, not ignored.
    for bad in ("12", f"x:{digest}", f"{seq}:{digest[:-1]}", f"{seq}:{digest.upper()}"):
        r = server.cli("audit", "verify", f"--anchor={bad}")
        assert r.returncode != 0 and "usage" in r.stderr, bad
    # An anchor that does not match this log's row: a rewritten log.
    r = server.cli("audit", "verify", f"--anchor={seq}:{'ab' * 32}")
    assert r.returncode != 0 and "rewritten" in r.stdout, r.stdout
    # Cut the end off, anchor row included: the chain still holds together,
    # only the anchor shows it.
    tamper(server.db, f"DELETE FROM audit_log WHERE seq >= {int(seq)}")
    assert verify(server)[0] == 0
    r = server.cli("audit", "verify", f"--anchor={anchor}")
    assert r.returncode != 0 and "truncated" in r.stdout, r.stdout


def test_the_anchor_job_logs_the_head(server, admin):
    """audit.anchor runs hourly (schedule "7 * * * *"); queued by hand here,
    it writes the head into the server's log, from where it is shipped."""
    member(server, "anchored")
    head = server.cli("audit", "head").stdout.strip()
    sql = ("INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, "
           "created_at, updated_at) VALUES ('00000000-0000-7000-8000-0000000a0c01', "
           "'audit.anchor', '{}', 'queued', 0, 3, 0, 0, 0)")
    server.db.execute(sql)
    wait_until(lambda: f"anchor={head}" in server.log(), timeout=15)
    assert server.db.count("job_schedules", "name = 'audit.anchor'") == 1


def test_audit_log_read_is_for_admins_only(server, admin):
    m = member(server, "reader")
    problem(server.get("/v1/audit-log"), 401, "UNAUTHORIZED")
    problem(server.get("/v1/audit-log", headers=hdr(m["token"])), 403, "FORBIDDEN")
    r = server.get("/v1/audit-log", headers=hdr(admin["token"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"data", "next_cursor"}
    row = body["data"][0]
    for key in ("seq", "id", "at", "actor_ref", "actor_role", "action", "entity_type",
                "entity_id", "changes", "ip", "user_agent", "request_id", "prev_hash",
                "hash"):
        assert key in row, key


def test_audit_log_has_no_write_routes(server, admin):
    h = hdr(admin["token"])
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        r = server.request(method, "/v1/audit-log", headers=h, json={})
        assert r.status_code in (400, 405), (method, r.status_code, r.text)
    for method in ("GET", "PATCH", "DELETE"):
        r = server.request(method, "/v1/audit-log/1", headers=h)
        assert r.status_code in (404, 405), (method, r.status_code)


@pytest.mark.dialect
def test_audit_log_filters_and_pages(server, admin):
    people = [member(server, f"p{i}") for i in range(5)]
    h = hdr(admin["token"])
    # Filters.
    target = people[2]["id"]
    r = server.get(f"/v1/audit-log?entity_type=users&entity_id={target}", headers=h)
    assert r.status_code == 200, r.text
    rows = r.json()["data"]
    assert rows and all(x["entity_id"] == target and x["entity_type"] == "users"
                        for x in rows)
    # Request details recorded for the registration.
    assert rows[-1]["ip"] == "127.0.0.1"
    assert rows[-1]["request_id"]
    assert rows[-1]["user_agent"].startswith("python-requests")
    # Paging: newest first, every row once.
    total = server.db.count("audit_log")
    seqs, cursor = [], None
    while True:
        url = "/v1/audit-log?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = server.get(url, headers=h)
        assert page.status_code == 200, page.text
        seqs += [x["seq"] for x in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == total
    assert len(set(seqs)) == total
    # Time window.
    future = (datetime.datetime.now(datetime.timezone.utc)
              + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = server.get(f"/v1/audit-log?from={future}", headers=h)
    assert r.status_code == 200 and r.json()["data"] == []
    r = server.get(f"/v1/audit-log?to={future}&limit=200", headers=h)
    assert len(r.json()["data"]) == min(total, 200)
    # Actor filter: the admin's own records.
    ref = r.json()["data"][0]["actor_ref"]
    if ref:
        r = server.get(f"/v1/audit-log?actor_ref={ref}", headers=h)
        assert all(x["actor_ref"] == ref for x in r.json()["data"])
    # Bad parameters: the standard 422, an entry per parameter.
    for bad in ("limit=0", "limit=201", "cursor=abc", "cursor=0", "from=yesterday",
                "to=soon", "entity_type=", "actor_ref=" + "x" * 129):
        p = problem(server.get(f"/v1/audit-log?{bad}", headers=h), 422, "VALIDATION_FAILED")
        assert [e["field"] for e in p["errors"]] == [bad.split("=")[0]], p
    p = problem(server.get("/v1/audit-log?limit=0&cursor=abc&from=x", headers=h), 422,
                "VALIDATION_FAILED")
    assert sorted(e["field"] for e in p["errors"]) == ["cursor", "from", "limit"], p


NEW_PASSWORD = "a brand new passphrase 2026"


def test_own_account_changes_never_link_pseudonym_and_id(server, admin):
    m = member(server, "selfmarker")
    h = hdr(m["token"])
    r = server.request("PATCH", "/v1/me", headers=h, json={"first_name": "Renamed"})
    assert r.status_code == 200, r.text
    r = server.post("/v1/me/password", headers=h,
                    json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    ref = server.db.scalar(f"SELECT audit_ref FROM users WHERE id = '{m['id']}'")
    assert ref
    r = server.request("DELETE", "/v1/me", headers=h, json={"password": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    # The acts were recorded, as "self" ...
    for action in ("users.update", "password_change", "users.erase"):
        rows = server.db.query("SELECT actor_ref, actor_role FROM audit_log WHERE "
                               f"action = '{action}' AND entity_id = '{m['id']}'")
        assert rows == [(None, "self")], (action, rows)
    # ... and no row carries both the old pseudonym and the id.
    assert server.db.count("audit_log", f"actor_ref = '{ref}' AND "
                           f"(entity_id = '{m['id']}' OR {AUDIT_CHANGES} LIKE '%{m['id']}%')") == 0
    rc, out = verify(server)
    assert rc == 0, out


def test_password_reset_is_recorded_without_actor(server, admin):
    import hashlib
    m = member(server, "resetmarker")
    assert server.post("/v1/auth/password-reset", json={"email": m["email"]}).status_code == 202
    # The reset is made by a job, so that the answer's timing tells nothing.
    wait_until(lambda: server.db.count("password_resets", f"user_id = '{m['id']}'") == 1,
               timeout=10, what="the reset job")
    tok = "R" * 43
    h = hashlib.sha256(tok.encode()).hexdigest()
    server.db.execute(f"UPDATE password_resets SET token_hash = '{h}'")
    r = server.post("/v1/auth/password-reset/confirm",
                    json={"token": tok, "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    rows = server.db.query("SELECT actor_ref, actor_role, changes FROM audit_log WHERE "
                           f"action = 'password_change' AND entity_id = '{m['id']}'")
    assert len(rows) == 1 and rows[0][:2] == (None, None), rows
    assert "password_reset" in rows[0][2]


def test_seeded_relationships_are_audited(start_server):
    srv = start_server(start=False)
    srv.cli_ok("seed")
    rows = srv.db.query("SELECT actor_ref, actor_role, entity_type FROM audit_log "
                        "WHERE action = 'relationships.create'")
    assert rows == [(None, None, "relationships")] * 2, rows
    # Seeding again links nothing new and records nothing new.
    srv.cli_ok("seed")
    assert srv.db.count("audit_log", "action = 'relationships.create'") == 2
    rc, out = verify(srv)
    assert rc == 0, out


def test_the_action_filter_reads_either_spelling_of_cancelled(server, practice, db):
    """Issue 15 review: ?action= filters the log, and "canceled" (the
    deprecated spelling, still read on input) finds the "cancelled" rows,
    as do the entries written before migration 0026, kept as they were."""
    from conftest import at, book
    p = practice
    t, c, admin = p["therapist"], p["client"], p["admin"]
    s = book(server, t, t, c, at(70), at(71)).json()
    r = server.post(f"/v1/therapy-sessions/{s['id']}/cancel", headers=hdr(c))
    assert r.status_code == 200, r.text
    s2 = book(server, t, t, c, at(72), at(73)).json()

    def actions(action, **extra):
        r = server.get("/v1/audit-log", headers=hdr(admin),
                       params={"action": action, "entity_type": "therapy_sessions", **extra})
        assert r.status_code == 200, r.text
        return [(x["action"], x["entity_id"]) for x in r.json()["data"]]

    assert actions("therapy_sessions.cancelled") == [("therapy_sessions.cancelled", s["id"])]
    assert actions("therapy_sessions.canceled") == [("therapy_sessions.cancelled", s["id"])]
    assert "event=deprecated_spelling field=action" in server.log()
    # The filter filters: another action, none of these.
    created = actions("therapy_sessions.create")
    assert {e for _, e in created} == {s["id"], s2["id"]}
    assert actions("therapy_sessions.no_such_thing") == []
    # An entry written before migration 0026, as it was written (the log
    # is append-only): either spelling finds it beside the new one.
    seq = int(db.scalar("SELECT max(seq) FROM audit_log")) + 1
    old = "00000000-0000-7000-8000-0000000a0c26"
    db.execute("INSERT INTO audit_log (seq, id, at, action, entity_type, entity_id, "
               f"prev_hash, hash) VALUES ({seq}, '{old}', 1, 'therapy_sessions.canceled', "
               f"'therapy_sessions', '{old}', 'x', 'y')")
    both = [("therapy_sessions.canceled", old), ("therapy_sessions.cancelled", s["id"])]
    assert actions("therapy_sessions.canceled") == both
    assert actions("therapy_sessions.cancelled") == both


@pytest.mark.dialect
def test_rows_written_in_clear_before_0035_keep_verifying_and_read_as_they_were(server, admin):
    """Rows from before migration 0035 hold the client's address and agent
    in clear, and the chain hashes them so: they keep verifying between
    rows written since (sealed or blind-indexed), and read as they were."""
    import uuid
    m = member(server, "before")
    seq, prev = server.db.query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    row = {"seq": int(seq) + 1, "id": str(uuid.uuid4()), "at": 1767225600000,
           "actor_ref": None, "actor_role": "self", "action": "password_change",
           "entity_type": "users", "entity_id": m["id"],
           "changes": '{"fields":["password"],"reason":"password_changed"}',
           "ip": "198.51.100.7", "user_agent": "Zyxoldbrowser/1.0", "request_id": "old-request"}
    cols = list(row) + ["prev_hash", "hash"]
    vals = list(row.values()) + [prev, chain_hash(prev, row)]
    server.db.execute(f"INSERT INTO audit_log ({', '.join(cols)}) VALUES (" + ", ".join(
        "NULL" if v is None else str(v) if isinstance(v, int) else f"'{v}'" for v in vals) + ")")
    after = member(server, "after")
    assert server.db.count("audit_log", f"seq > {row['seq']}") >= 1
    rc, out = verify(server)
    assert rc == 0, out
    [old] = server.get("/v1/audit-log?action=password_change",
                       headers=hdr(admin["token"])).json()["data"]
    assert (old["ip"], old["user_agent"]) == (row["ip"], row["user_agent"])
    assert old["ip_index"] is None and old["hash"] == vals[-1]
    # Rows written since keep neither in clear.
    new = server.db.query("SELECT ip, user_agent FROM audit_log WHERE action = 'create' "
                          f"AND entity_id = '{after['id']}'")
    assert new and all(v.startswith("sealed:") for v in new[0]), new


@pytest.mark.dialect
def test_the_action_filter_reads_by_an_index(server, admin):
    """?action= reads through audit_log (action, seq), made by 0035."""
    if server.db.kind == "sqlite":
        names = [r[0] for r in server.db.query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log'")]
        plan = " ".join(str(r) for r in server.db.query(
            "EXPLAIN QUERY PLAN SELECT seq FROM audit_log WHERE action = 'x' "
            "ORDER BY seq DESC LIMIT 50"))
        assert "audit_log_action" in plan, plan
    else:
        names = [r[0] for r in server.db.query(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'audit_log'")]
    assert "audit_log_action" in names, names
