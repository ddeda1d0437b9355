"""The job queue and mail: delivery, retries, failed jobs, separate workers."""

import collections
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (SUBJECT, email_log, free_port, metric_sum, queue_test_mail, smtp_env,
                      wait_log_status, wait_until)

# Recurring schedules may put other jobs in the queue; these tests count mail.
MAIL_JOBS = "kind = 'mail.send'"


def assert_no_plaintext(address, *texts):
    """Personal data is sealed at rest: the address appears nowhere in clear."""
    forms = (address, address.encode().hex())
    for t in texts:
        if t is None:
            continue
        for f in forms:
            assert f not in str(t), f"{address} readable in {str(t)[:300]!r}"


def recipients(msgs):
    return [str(m["To"]).strip() for m in msgs]


def test_mail_test_is_delivered_by_the_serving_process(start_server, smtp_sink):
    s = start_server(env=smtp_env(smtp_sink.port))
    log_id = queue_test_mail(s, "someone@example.org")
    row = email_log(s, log_id)
    assert row["status"] in ("queued", "sent")
    assert_no_plaintext("someone@example.org", row["recipient"],
                        *[r[0] for r in s.db.query("SELECT payload FROM jobs")])
    msgs = smtp_sink.wait_for(1, timeout=10)
    assert len(msgs) == 1
    assert recipients(msgs) == ["someone@example.org"]
    assert str(msgs[0]["Subject"]) == SUBJECT
    row = wait_log_status(s, log_id, "sent")
    assert row["sent_at"] is not None and int(row["sent_at"]) > 0
    wait_until(lambda: s.db.count("jobs", MAIL_JOBS) == 0, timeout=5, what="the jobs table to empty")
    assert s.db.count("failed_jobs") == 0
    assert "someone@example.org" not in s.log(), "the address was logged"


@pytest.mark.parametrize("to", ["not-an-address", "a@b@c", "", "x@example.org\r\nBcc: y@z"])
def test_mail_test_refuses_bad_addresses_and_queues_nothing(start_server, to):
    h = start_server(start=False)
    r = h.cli("mail", "test", f"--to={to}")
    assert r.returncode != 0
    assert h.db.count("jobs", MAIL_JOBS) == 0
    assert h.db.count("email_log") == 0


@pytest.mark.dialect
def test_failing_mail_job_ends_in_failed_jobs_and_retry_delivers_it(start_server, smtp_sink, db):
    closed = free_port()
    env = smtp_env(closed)
    env.update({
        "CAREBASE_JOB_MAX_ATTEMPTS": "3",
        "CAREBASE_JOB_BACKOFF_BASE_MS": "20",
        "CAREBASE_JOB_BACKOFF_MAX_MS": "100",
    })
    s = start_server(env=env, db=db)
    log_id = queue_test_mail(s, "retry@example.org")
    wait_until(lambda: s.db.count("failed_jobs") == 1, timeout=15,
               what="the mail job to reach failed_jobs")
    assert s.db.count("jobs", MAIL_JOBS) == 0
    fid, attempts, error, kind, payload = s.db.query(
        "SELECT id, attempts, error, kind, payload FROM failed_jobs")[0]
    assert int(attempts) == 3
    assert error and error.strip()
    assert kind == "mail.send"
    assert_no_plaintext("retry@example.org", error, payload)
    listed = s.cli_ok("jobs", "failed").stdout
    assert fid in listed and "mail.send" in listed, listed
    row = wait_log_status(s, log_id, "failed", timeout=5)
    assert row["error"] and row["error"].strip()
    assert_no_plaintext("retry@example.org", row["error"], row["recipient"])
    assert row["sent_at"] is None
    assert int(row["attempts"]) == 3
    assert metric_sum(s.metrics(), "carebase_jobs_failed") == 1
    assert len(smtp_sink.files()) == 0
    assert "retry@example.org" not in s.log(), "the address was logged"

    assert s.stop() == 0
    s2 = start_server(env=smtp_env(smtp_sink.port), db=db)
    r = s2.cli_ok("jobs", "retry", fid)
    assert fid in r.stdout
    msgs = smtp_sink.wait_for(1, timeout=10)
    assert recipients(msgs) == ["retry@example.org"]
    row = wait_log_status(s2, log_id, "sent")
    assert row["sent_at"] is not None
    # Sent: the template variables (a reset link, say) are gone.
    assert s2.db.count("email_log", f"id = '{log_id}' AND vars IS NULL") == 1
    assert s2.db.count("failed_jobs") == 0
    wait_until(lambda: s2.db.count("jobs", MAIL_JOBS) == 0, timeout=5, what="the jobs table to empty")
    assert metric_sum(s2.metrics(), "carebase_jobs_failed") == 0


@pytest.mark.parametrize("fid", ["00000000-0000-0000-0000-000000000000", "nope", "'; DROP"])
def test_retry_of_unknown_failed_job_fails(start_server, fid):
    h = start_server(start=False)
    r = h.cli("jobs", "retry", fid)
    assert r.returncode != 0
    assert r.stderr.strip()
    assert h.db.count("jobs", MAIL_JOBS) == 0


def test_jobs_stats_and_usage(start_server):
    h = start_server(start=False)
    r = h.cli_ok("jobs", "stats")
    assert re.search(r"^queued 0$", r.stdout, re.M), r.stdout
    assert re.search(r"^failed 0$", r.stdout, re.M), r.stdout
    assert h.cli("jobs").returncode != 0
    assert h.cli("jobs", "frobnicate").returncode != 0


@pytest.mark.dialect
def test_separate_worker_delivers_when_serve_runs_no_jobs(start_server, smtp_sink):
    env = smtp_env(smtp_sink.port)
    env["CAREBASE_JOB_WORKERS"] = "0"
    s = start_server(env=env)
    log_id = queue_test_mail(s, "worker@example.org")
    time.sleep(0.4)  # several poll intervals: nobody may take it
    assert len(smtp_sink.files()) == 0
    assert email_log(s, log_id)["status"] == "queued"
    assert s.db.count("jobs", MAIL_JOBS) == 1
    w = s.spawn("worker", env={"CAREBASE_JOB_WORKERS": "1"})
    msgs = smtp_sink.wait_for(1, timeout=10)
    assert recipients(msgs) == ["worker@example.org"]
    wait_log_status(s, log_id, "sent")
    w.send_signal(signal.SIGTERM)
    assert w.wait(10) == 0


@pytest.mark.dialect
def test_two_worker_processes_deliver_each_message_exactly_once(start_server, smtp_sink):
    n = 30
    env = smtp_env(smtp_sink.port)
    env["CAREBASE_JOB_WORKERS"] = "0"
    s = start_server(env=env)
    addrs = [f"user{i:02d}@example.org" for i in range(n)]
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda a: queue_test_mail(s, a), addrs))
    assert s.db.count("jobs", MAIL_JOBS) == n
    workers = [s.spawn("worker", env={"CAREBASE_JOB_WORKERS": "2"}) for _ in range(2)]
    smtp_sink.wait_for(n, timeout=30)
    wait_until(lambda: s.db.count("jobs", MAIL_JOBS) == 0, timeout=10, what="the jobs table to empty")
    time.sleep(0.3)  # a duplicate delivery would show up by now
    got = collections.Counter(recipients(smtp_sink.messages()))
    dupes = {a: c for a, c in got.items() if c != 1}
    assert not dupes, f"delivered more than once: {dupes}"
    assert sorted(got) == sorted(addrs)
    assert s.db.count("email_log", "status = 'sent'") == n
    assert s.db.count("failed_jobs") == 0
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        assert w.wait(10) == 0, w.stderr_path.read_text()[-2000:]
