"""The admin console's operations over HTTP (issue 18, item 6): the webhook
inbox listed without bodies and a row replayed (a processed one only with
force), failed jobs listed and retried, the audit chain verified; admins
only, every action audited. The command line's `webhooks`, `jobs` and
`audit verify` do the same (test_learning, test_jobs, test_audit)."""

import json
import threading
import time
import uuid

import pytest

from conftest import CMS_TOKEN, FAIL_DROP, FAIL_TRIGGER, cms_webhook, course_story, \
    grow_audit_log, hdr, person, problem, tamper, wait_until

SECRET = "cms-webhook-secret-for-console-tests"


@pytest.fixture
def server(start_server, db, cms):
    return start_server(db=db, env={
        "CAREBASE_STORYBLOK_WEBHOOK_SECRET": SECRET,
        "CAREBASE_STORYBLOK_API_URL": cms.url,
        "CAREBASE_STORYBLOK_TOKEN": CMS_TOKEN,
        "CAREBASE_STORYBLOK_TIMEOUT_S": "3",
        "CAREBASE_SLOW_THREADS": "4"})


@pytest.fixture
def staff(server):
    return {"admin": person(server, "admin", "admin"), "ann": person(server, "ann")}


def audited(db, action, entity_id):
    return db.count("audit_log", f"action = '{action}' AND entity_id = '{entity_id}'")


def failed_job(db, kind="webhooks.prune"):
    """A failed_jobs row of kind, as the queue leaves one; its id."""
    fid = str(uuid.uuid4())
    db.execute(
        "INSERT INTO failed_jobs (id, job_id, queue, kind, payload, error, attempts, "
        f"failed_at) VALUES ('{fid}', '{uuid.uuid4()}', 'default', '{kind}', '{{}}', "
        f"'gave up for the test', 3, {int(time.time() * 1000)})")
    return fid


def at_once(n, call):
    """call() from n threads released together; the answers."""
    gate, out = threading.Barrier(n), [None] * n

    def run(i):
        gate.wait(timeout=10)
        out[i] = call()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return out


@pytest.mark.dialect
def test_a_failed_webhook_is_listed_and_replayed(server, staff, cms):
    admin = staff["admin"]
    course = course_story(cms, "Console replay")
    cms.down = True
    r = cms_webhook(server, course, SECRET)
    problem(r, 503, "CMS_UNAVAILABLE")
    rid = r.headers["X-Webhook-Inbox-Id"]

    page = server.get("/v1/webhook-inbox?outcome=failed", headers=hdr(admin)).json()
    row = next(x for x in page["data"] if x["id"] == rid)
    assert (row["source"], row["outcome"], row["attempts"], row["body"]) == \
        ("storyblok", "failed", 1, "kept")
    assert set(row) == {"id", "source", "received_at", "outcome", "http_status", "attempts",
                        "signature_ok", "body_bytes", "body", "error", "processed_at"}
    assert server.get("/v1/webhook-inbox?outcome=processed",
                      headers=hdr(admin)).json()["data"] == []
    assert server.get("/v1/webhook-inbox?source=booking",
                      headers=hdr(admin)).json()["data"] == []

    # Still down: the replay runs and says how it went.
    r = server.post(f"/v1/webhook-inbox/{rid}/replay", headers=hdr(admin))
    assert r.status_code == 200, r.text
    assert (r.json()["outcome"], r.json()["code"]) == ("failed", "CMS_UNAVAILABLE")
    cms.down = False
    r = server.post(f"/v1/webhook-inbox/{rid}/replay", json={}, headers=hdr(admin))
    assert r.status_code == 200, r.text
    assert r.json() == {"id": rid, "outcome": "processed", "http_status": 200,
                        "code": None, "error": None}
    assert server.db.count("courses", f"storyblok_uuid = '{course['uuid']}'") == 1

    # Processed: refused without force, as the command line refuses.
    p = problem(server.post(f"/v1/webhook-inbox/{rid}/replay", json={"force": False},
                            headers=hdr(admin)), 409, "WEBHOOK_ALREADY_PROCESSED")
    assert "force" in p["detail"]
    r = server.post(f"/v1/webhook-inbox/{rid}/replay", json={"force": True},
                    headers=hdr(admin))
    assert r.status_code == 200 and r.json()["outcome"] == "processed", r.text
    row = server.db.query(f"SELECT attempts FROM webhook_inbox WHERE id = '{rid}'")[0]
    assert int(row[0]) == 4

    # Each replay that ran is audited, by the admin who asked.
    actors = server.db.query("SELECT actor_ref, actor_role, changes FROM audit_log WHERE "
                             f"action = 'webhook_inbox.replay' AND entity_id = '{rid}' "
                             "ORDER BY seq")
    assert len(actors) == 3 and all(a[1] == "admin" and a[0] for a in actors), actors
    # ... with the outcome and whether it was forced.
    assert [(c["outcome"], c["force"]) for c in (json.loads(a[2]) for a in actors)] == \
        [("failed", False), ("processed", False), ("processed", True)], actors

    problem(server.post(f"/v1/webhook-inbox/{uuid.uuid4()}/replay", headers=hdr(admin)),
            404, "NOT_FOUND")
    problem(server.post(f"/v1/webhook-inbox/{rid}/replay", json={"force": "yes"},
                        headers=hdr(admin)), 422, "VALIDATION_FAILED")


def failed_webhook(server, cms):
    """A CMS webhook that failed (the CMS down), the CMS up again; its id."""
    course = course_story(cms, "Console replay " + uuid.uuid4().hex[:8])
    cms.down = True
    r = cms_webhook(server, course, SECRET)
    problem(r, 503, "CMS_UNAVAILABLE")
    cms.down = False
    return r.headers["X-Webhook-Inbox-Id"], course


@pytest.mark.dialect
def test_two_replays_at_once_run_it_once(server, staff, cms):
    """Two admins replaying one failed row at once: both found it failed
    and both ran it. Now the row is read again, locked, in the transaction
    that runs it: the second finds it processed and answers 409. The CMS
    answers both fetches together, so both are past their first look."""
    admin = staff["admin"]
    rid, course = failed_webhook(server, cms)
    cms.gate = threading.Barrier(2)
    answers = at_once(2, lambda: server.post(f"/v1/webhook-inbox/{rid}/replay",
                                             headers=hdr(admin), timeout=30))
    cms.gate = None
    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 409], [(r.status_code, r.text[:300]) for r in answers]
    [ran] = [r for r in answers if r.status_code == 200]
    [refused] = [r for r in answers if r.status_code == 409]
    assert ran.json()["outcome"] == "processed", ran.text
    problem(refused, 409, "WEBHOOK_ALREADY_PROCESSED")
    row = server.db.query(f"SELECT attempts, outcome FROM webhook_inbox WHERE id = '{rid}'")[0]
    assert (int(row[0]), row[1]) == (2, "processed"), row
    assert audited(server.db, "webhook_inbox.replay", rid) == 1
    assert server.db.count("courses", f"storyblok_uuid = '{course['uuid']}'") == 1


@pytest.mark.dialect
def test_a_replay_failing_late_leaves_a_processed_row_processed(server, staff, cms):
    """Two replays at once; one's fetch fails a second late, after the
    other has run it and committed "processed". Its failure is written in
    a transaction of its own, after: it used to write "failed" over the
    processed row, and a replay without force would then run it again."""
    admin = staff["admin"]
    rid, course = failed_webhook(server, cms)
    cms.gate, cms.fail_slowly = threading.Barrier(2), 1
    answers = at_once(2, lambda: server.post(f"/v1/webhook-inbox/{rid}/replay",
                                             headers=hdr(admin), timeout=30))
    cms.gate = None
    assert [r.status_code for r in answers] == [200, 200], [r.text[:300] for r in answers]
    assert sorted(r.json()["outcome"] for r in answers) == ["failed", "processed"], \
        [r.text[:300] for r in answers]
    row = server.db.query(f"SELECT attempts, outcome FROM webhook_inbox WHERE id = '{rid}'")[0]
    assert (int(row[0]), row[1]) == (3, "processed"), row
    r = server.post(f"/v1/webhook-inbox/{rid}/replay", headers=hdr(admin))
    problem(r, 409, "WEBHOOK_ALREADY_PROCESSED")
    assert server.db.count("courses", f"storyblok_uuid = '{course['uuid']}'") == 1


OUTCOME_REFUSED = {
    "sqlite": ("CREATE TRIGGER outcome_refused BEFORE UPDATE ON webhook_inbox "
               "WHEN NEW.outcome = 'failed' "
               "BEGIN SELECT RAISE(ABORT, 'outcome refused by the test'); END;"),
    "postgres": ("CREATE FUNCTION outcome_refused() RETURNS trigger LANGUAGE plpgsql AS "
                 "$$ BEGIN RAISE EXCEPTION 'outcome refused by the test'; END $$; "
                 "CREATE TRIGGER outcome_refused BEFORE UPDATE ON webhook_inbox "
                 "FOR EACH ROW WHEN (NEW.outcome = 'failed') "
                 "EXECUTE FUNCTION outcome_refused();"),
}
OUTCOME_REFUSED_DROP = {
    "sqlite": "DROP TRIGGER outcome_refused;",
    "postgres": "DROP TRIGGER outcome_refused ON webhook_inbox; DROP FUNCTION outcome_refused();",
}


@pytest.mark.dialect
def test_a_failed_replay_whose_outcome_is_not_recorded_says_so(start_server, db, cms):
    """A replay that fails, and whose outcome cannot be written, answers
    the failure (5xx), not 200 with an outcome that neither the row nor the
    audit log holds."""
    server = start_server(db=db, env={
        "CAREBASE_STORYBLOK_WEBHOOK_SECRET": SECRET,
        "CAREBASE_STORYBLOK_API_URL": cms.url,
        "CAREBASE_STORYBLOK_TOKEN": CMS_TOKEN,
        "CAREBASE_STORYBLOK_TIMEOUT_S": "3",
        "CAREBASE_DB_BUSY_TIMEOUT_MS": "300"})
    admin = person(server, "admin", "admin")
    rid, _ = failed_webhook(server, cms)
    cms.down = True
    server.db.execute(OUTCOME_REFUSED[server.db.kind])
    try:
        r = server.post(f"/v1/webhook-inbox/{rid}/replay", headers=hdr(admin), timeout=30)
    finally:
        server.db.execute(OUTCOME_REFUSED_DROP[server.db.kind])
    # The store's refusal as it comes (the test's trigger: a constraint on
    # SQLite, an error on PostgreSQL), a problem either way; a 5xx's detail
    # is the generic one.
    assert r.status_code in (409, 500, 503), r.text
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.text
    if server.db.kind == "sqlite":
        # A conflict of its own, not a bare one (rv20g).
        problem(r, 409, "WEBHOOK_OUTCOME_NOT_RECORDED")
    if r.status_code == 409:
        assert "could not be recorded" in r.json()["detail"], r.text
    row = server.db.query(f"SELECT attempts FROM webhook_inbox WHERE id = '{rid}'")[0]
    assert int(row[0]) == 1
    assert audited(server.db, "webhook_inbox.replay", rid) == 0


def test_inbox_pages_and_bad_parameters(server, staff, cms):
    admin = staff["admin"]
    ids = set()
    for i in range(3):
        r = cms_webhook(server, course_story(cms, f"Paged {i}"), SECRET)
        assert r.status_code == 200, r.text
        ids.add(r.headers["X-Webhook-Inbox-Id"])
    seen, cursor = [], None
    while True:
        q = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = server.get(f"/v1/webhook-inbox?{q}", headers=hdr(admin)).json()
        seen += [x["id"] for x in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert ids <= set(seen) and len(seen) == len(set(seen))
    assert seen == sorted(seen, reverse=True)
    for q in ("outcome=nope", "limit=0", "source=" + "x" * 65):
        problem(server.get(f"/v1/webhook-inbox?{q}", headers=hdr(admin)), 422,
                "VALIDATION_FAILED")


@pytest.mark.dialect
def test_a_failed_job_is_listed_retried_and_runs(server, staff):
    admin = staff["admin"]
    fid, job_id = str(uuid.uuid4()), str(uuid.uuid4())
    server.db.execute(
        "INSERT INTO failed_jobs (id, job_id, queue, kind, payload, error, attempts, "
        f"failed_at) VALUES ('{fid}', '{job_id}', 'default', 'webhooks.prune', '{{}}', "
        f"'gave up for the test', 3, {int(time.time() * 1000)})")
    page = server.get("/v1/failed-jobs?kind=webhooks.prune", headers=hdr(admin)).json()
    assert [(x["id"], x["job_id"], x["attempts"], x["error"]) for x in page["data"]] == \
        [(fid, job_id, 3, "gave up for the test")]
    assert "payload" not in page["data"][0]
    assert server.get("/v1/failed-jobs?kind=mail.send", headers=hdr(admin)).json()["data"] == []

    r = server.post(f"/v1/failed-jobs/{fid}/retry", headers=hdr(admin))
    assert r.status_code == 202, r.text
    new = r.json()["job_id"]
    assert r.json()["id"] == fid and new != job_id
    assert server.db.count("failed_jobs") == 0
    # It runs: the queue takes it and it succeeds (done jobs leave the table).
    wait_until(lambda: server.db.count("jobs", f"id = '{new}'") == 0, timeout=15,
               what="the retried job to run")
    assert server.db.count("failed_jobs") == 0
    assert audited(server.db, "failed_jobs.retry", fid) == 1
    problem(server.post(f"/v1/failed-jobs/{fid}/retry", headers=hdr(admin)), 404, "NOT_FOUND")
    problem(server.post("/v1/failed-jobs/nope/retry", headers=hdr(admin)), 404, "NOT_FOUND")


@pytest.mark.dialect
def test_retries_of_one_failed_job_at_once_queue_it_once(start_server, db):
    """Two admins (or a double click) retrying one failed job: one retry
    queues it, the others find it gone (404), where each used to read the
    row and queue the job again (a mail sent twice). No job runs here, so
    every job queued stays to be counted."""
    server = start_server(db=db, env={"CAREBASE_JOB_WORKERS": "0", "CAREBASE_THREADS": "8"})
    admin = person(server, "admin", "admin")
    for _ in range(3):
        fid = failed_job(server.db)
        queued = server.db.count("jobs", "kind = 'webhooks.prune'")
        answers = at_once(10, lambda: server.post(f"/v1/failed-jobs/{fid}/retry",
                                                  headers=hdr(admin)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [202] + [404] * 9, [(r.status_code, r.text[:200]) for r in answers]
        for r in answers:
            if r.status_code == 404:
                problem(r, 404, "NOT_FOUND")
        [won] = [r.json() for r in answers if r.status_code == 202]
        assert server.db.count("jobs", "kind = 'webhooks.prune'") == queued + 1
        assert server.db.count("jobs", f"id = '{won['job_id']}'") == 1
        assert server.db.count("failed_jobs", f"id = '{fid}'") == 0
        assert audited(server.db, "failed_jobs.retry", fid) == 1


@pytest.mark.dialect
def test_a_retry_the_audit_log_cannot_record_queues_nothing(start_server, db):
    """The retry and its audit row commit together: when the row cannot be
    written the job is not queued and the failed row stays, to retry later
    (it used to be queued first, then answered 500, unaudited). A refused
    audit row is retried as a chain conflict for db_busy_timeout_ms."""
    server = start_server(db=db, env={"CAREBASE_DB_BUSY_TIMEOUT_MS": "300"})
    admin = person(server, "admin", "admin")
    fid = failed_job(server.db)
    jobs = server.db.count("jobs")
    server.db.execute(FAIL_TRIGGER[server.db.kind])
    try:
        r = server.post(f"/v1/failed-jobs/{fid}/retry", headers=hdr(admin))
    finally:
        server.db.execute(FAIL_DROP[server.db.kind])
    assert r.status_code >= 500, r.text
    assert server.db.count("failed_jobs", f"id = '{fid}'") == 1
    assert server.db.count("jobs") == jobs
    r = server.post(f"/v1/failed-jobs/{fid}/retry", headers=hdr(admin))
    assert r.status_code == 202, r.text
    [changes] = server.db.query("SELECT changes FROM audit_log WHERE action = "
                                f"'failed_jobs.retry' AND entity_id = '{fid}'")[0]
    assert r.json()["job_id"] in changes


@pytest.mark.dialect
def test_audit_verify_then_a_tampered_row(server, staff):
    admin = staff["admin"]
    r = server.post("/v1/audit-log/verify", headers=hdr(admin))
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["ok"] is True and v["first_broken_seq"] is None and v["rows"] >= 1, v
    assert v["head"].startswith(f"{v['rows']}:") and "chain intact" in v["detail"], v
    assert server.db.count("audit_log", "action = 'audit_log.verify'") == 1
    # Its head is an anchor for the next check.
    r = server.post("/v1/audit-log/verify", json={"anchor": v["head"]}, headers=hdr(admin))
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    # Its audit row says what was checked: the rows, how far, the anchor.
    [changes] = server.db.query("SELECT changes FROM audit_log WHERE action = "
                                "'audit_log.verify' ORDER BY seq DESC LIMIT 1")[0]
    row, w = json.loads(changes), r.json()
    assert (row["ok"], row["complete"], row["rows"], row["checked_to"], row["anchor"]) == \
        (True, True, w["rows"], w["checked_to"], v["head"]), row
    problem(server.post("/v1/audit-log/verify", json={"anchor": "7:zz"}, headers=hdr(admin)),
            422, "VALIDATION_FAILED")

    # An anchor whose row differs: the log was rewritten. The chain itself
    # holds, so every row walked counts (it answered the anchor's seq - 1).
    first = int(server.db.scalar("SELECT min(seq) FROM audit_log"))
    rows = server.db.count("audit_log")
    r = server.post("/v1/audit-log/verify", json={"anchor": f"{first + 1}:{'0' * 64}"},
                    headers=hdr(admin))
    assert r.status_code == 200, r.text
    v = r.json()
    assert (v["ok"], v["complete"], v["first_broken_seq"], v["rows"], v["head"]) == \
        (False, True, first + 1, rows, None), v
    assert "rewritten" in v["detail"], v

    seq = int(server.db.scalar("SELECT min(seq) FROM audit_log")) + 1
    tamper(server.db, f"UPDATE audit_log SET changes = '{{\"fields\":[]}}' WHERE seq = {seq}")
    r = server.post("/v1/audit-log/verify", headers=hdr(admin))
    assert r.status_code == 200, r.text
    v = r.json()
    assert (v["ok"], v["first_broken_seq"], v["rows"], v["head"]) == \
        (False, seq, seq - 1, None), v
    assert f"seq {seq}" in v["detail"], v
    assert server.db.count("audit_log", "action = 'audit_log.verify'") == 4


@pytest.mark.dialect
def test_one_audit_walk_at_a_time_and_each_bounded(start_server, db):
    """The walk holds a slow-pool thread (the one sign-ins hash passwords
    on) for as long as the log takes to read: one at a time in a process,
    another meanwhile answered 409 VERIFY_IN_PROGRESS, told to come back
    once the running walk's time limit has passed at the latest
    (Retry-After: its seconds left, not a fixed 1); and past
    audit_verify_max_ms it stops and answers what it checked, its audit
    row saying so."""
    server = start_server(db=db, env={"CAREBASE_SLOW_THREADS": "4",
                                      "CAREBASE_AUDIT_VERIFY_MAX_MS": "120000"})
    admin = person(server, "admin", "admin")
    last = grow_audit_log(server.db, 40000)  # a walk of some 0.2 s
    answers = at_once(4, lambda: server.post("/v1/audit-log/verify", headers=hdr(admin),
                                             timeout=120))
    # On a loaded machine a request may arrive after the walk has ended
    # and walk again: at least one is refused, every one walked is whole.
    codes = sorted(r.status_code for r in answers)
    assert 409 in codes and set(codes) == {200, 409}, \
        [(r.status_code, r.text[:300]) for r in answers]
    for r in answers:
        if r.status_code == 409:
            problem(r, 409, "VERIFY_IN_PROGRESS")
            # The 120 s limit less the little the walk has taken so far.
            assert 60 < int(r.headers["Retry-After"]) <= 120, r.headers
        else:
            done = r.json()
            assert (done["ok"], done["complete"], done["rows"]) == (True, True, last), done
    assert server.db.count("audit_log", "action = 'audit_log.verify'") == codes.count(200)
    # Free again once it has answered.
    r = server.post("/v1/audit-log/verify", headers=hdr(admin), timeout=120)
    assert r.status_code == 200 and r.json()["complete"] is True, r.text

    # A limit far shorter than the walk: it stops between pages with the
    # chain intact so far, not ok (not all checked), its head an anchor.
    quick = start_server(db=server.db, env={"CAREBASE_AUDIT_VERIFY_MAX_MS": "1"})
    r = quick.post("/v1/audit-log/verify", headers=hdr(admin), timeout=120)
    assert r.status_code == 200, r.text
    v = r.json()
    assert (v["ok"], v["complete"], v["first_broken_seq"]) == (False, False, None), v
    # Not an anchor (it could be behind one given): how far it got.
    assert 500 <= v["rows"] < last and v["head"] is None, v
    assert v["checked_to"].startswith(f"{v['rows']}:"), v
    assert "time limit" in v["detail"], v
    [changes] = quick.db.query("SELECT changes FROM audit_log WHERE action = "
                               "'audit_log.verify' ORDER BY seq DESC LIMIT 1")[0]
    # What was checked, as answered: how many rows, how far, no anchor.
    row = json.loads(changes)
    assert (row["complete"], row["rows"], row["checked_to"], row["anchor"]) == \
        (False, v["rows"], v["checked_to"], None), row


def test_members_may_not(server, staff):
    ann = staff["ann"]
    rid = str(uuid.uuid4())
    for method, path in (("GET", "/v1/webhook-inbox"),
                         ("POST", f"/v1/webhook-inbox/{rid}/replay"),
                         ("GET", "/v1/failed-jobs"),
                         ("POST", f"/v1/failed-jobs/{rid}/retry"),
                         ("POST", "/v1/audit-log/verify")):
        problem(server.request(method, path, headers=hdr(ann)), 403, "FORBIDDEN")
        assert server.request(method, path).status_code == 401
