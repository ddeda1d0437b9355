"""GET /metrics: who may scrape it (the scrape token, a staff token with
metrics:read:all, the metrics listener, metrics_public) and the families an
operator alerts on, each seen to move after the events that move it; the
text passes `promtool check metrics` (Debian's prometheus package)."""

import concurrent.futures
import re
import shutil
import subprocess
import time

import pytest

from conftest import (DB_KIND, METRICS_TOKEN, SIMPLYBOOK_SECRET, hdr, metric_samples,
                      metric_sum, person, post_booking, problem, queue_job,
                      queue_test_mail, register, sign_in, smtp_env, wait_until, booking_hook)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def scrape(s, **headers):
    return s.get("/metrics", headers=headers)


def families(text):
    """{name: type} of every # TYPE line."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def promtool(text):
    exe = shutil.which("promtool")
    assert exe, "promtool not found: scripts/install-deps installs Debian's prometheus"
    return subprocess.run([exe, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30)


def metrics_listener_url(s):
    for line in s.stdout_lines:
        m = re.match(r"carebase metrics listening on (\S+)", line)
        if m:
            return m.group(1)
    pytest.fail(f"no metrics listener line in {s.stdout_lines!r}")


# --------------------------------------------------------------------------
# who may scrape


def test_metrics_without_a_token_is_401(server):
    r = scrape(server)
    problem(r, 401, "UNAUTHORIZED")
    assert r.headers.get("WWW-Authenticate") == "Bearer"
    assert "carebase_" not in r.text


@pytest.mark.parametrize("token", ["wrong", METRICS_TOKEN + "x", METRICS_TOKEN[:-1], "a" * 43])
def test_metrics_with_a_token_not_accepted_is_401(server, token):
    problem(scrape(server, Authorization=f"Bearer {token}"), 401, "UNAUTHORIZED")


def test_metrics_with_the_scrape_token_is_200_in_the_text_format(server):
    r = scrape(server, Authorization=f"Bearer {METRICS_TOKEN}")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == CONTENT_TYPE
    assert "carebase_build_info" in r.text


def test_metrics_with_an_admins_token_is_200(server):
    admin = person(server, "admin", "admin")
    r = scrape(server, **hdr(admin))
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == CONTENT_TYPE


def test_metrics_for_a_member_is_403(server):
    member = person(server, "member")
    problem(scrape(server, **hdr(member)), 403, "FORBIDDEN")


def test_metrics_follow_the_permission_when_it_is_granted_to_another_role(server):
    """metrics:read:all is a permission like any other: a staff role granted
    it may scrape, and the admin who loses it may not."""
    admin = person(server, "admin", "admin")
    roles = server.get("/v1/roles", headers=hdr(admin)).json()["data"]
    staff = next(r["name"] for r in roles if r["is_staff"] and r["name"] != "admin")
    other = person(server, "other", staff)
    problem(scrape(server, **hdr(other)), 403, "FORBIDDEN")
    have = next(r for r in roles if r["name"] == staff)["permissions"]
    r = server.request("PUT", f"/v1/roles/{staff}/permissions", headers=hdr(admin),
                       json={"permissions": have + ["metrics:read:all"]})
    assert r.status_code == 200, r.text
    assert scrape(server, **hdr(other)).status_code == 200


def test_metrics_without_a_scrape_token_configured_takes_no_empty_token(start_server):
    s = start_server(env={"CAREBASE_METRICS_TOKEN": None})
    problem(scrape(s, Authorization="Bearer "), 401, "UNAUTHORIZED")
    problem(scrape(s), 401, "UNAUTHORIZED")


def test_metrics_public_serves_anyone(start_server):
    s = start_server(env={"CAREBASE_METRICS_PUBLIC": "true"})
    r = scrape(s)
    assert r.status_code == 200, r.text
    assert "carebase_build_info" in r.text


def test_the_metrics_listener_serves_metrics_without_a_token_and_nothing_else(start_server):
    s = start_server(env={"CAREBASE_METRICS_LISTEN": "127.0.0.1:0"})
    url = metrics_listener_url(s)
    assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics"), url
    assert int(url.rsplit(":", 1)[1].split("/")[0]) != s.port
    r = s.session.get(url, timeout=5)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == CONTENT_TYPE
    assert "carebase_build_info" in r.text
    base = url[:-len("/metrics")]
    for path in ("/healthz", "/v1/me", "/v1/openapi.json", "/metrics/x"):
        problem(s.session.get(base + path, timeout=5), 404, "NOT_FOUND")
    # The main address still asks for a token.
    problem(scrape(s), 401, "UNAUTHORIZED")


def test_config_masks_the_scrape_token_and_refuses_bad_values(start_server):
    h = start_server(start=False)
    out = h.cli_ok("config").stdout
    line = next(l for l in out.splitlines() if l.startswith("metrics_token "))
    assert METRICS_TOKEN not in out and "(set)" in line, line
    r = h.cli("config", env={"CAREBASE_METRICS_TOKEN": "short"})
    assert r.returncode != 0 and "metrics_token" in r.stderr, r.stderr
    for bad in ("127.0.0.1", "::1:9464", "127.0.0.1:70000", "a b:1"):
        r = h.cli("config", env={"CAREBASE_METRICS_LISTEN": bad})
        assert r.returncode != 0 and "metrics_listen" in r.stderr, (bad, r.stderr)
    r = h.cli_ok("config", env={"CAREBASE_METRICS_LISTEN": "[::1]:9464"})


# --------------------------------------------------------------------------
# the families


def test_the_process_and_build_families(server):
    text = server.metrics()
    one = lambda n: metric_samples(text, n)[0][1]  # noqa: E731
    assert one("process_cpu_seconds_total") >= 0
    assert one("process_resident_memory_bytes") > 1 << 20
    assert one("process_virtual_memory_bytes") >= one("process_resident_memory_bytes")
    assert 0 < one("process_open_fds") <= one("process_max_fds")
    assert abs(one("process_start_time_seconds") - time.time()) < 600
    kinds = families(text)
    for name, kind in [("process_cpu_seconds_total", "counter"),
                       ("process_resident_memory_bytes", "gauge"),
                       ("process_open_fds", "gauge"), ("process_max_fds", "gauge"),
                       ("carebase_build_info", "gauge")]:
        assert kinds.get(name) == kind, (name, kinds.get(name))
    (labels, v), = metric_samples(text, "carebase_build_info")
    assert v == 1
    assert labels["database"] == DB_KIND
    assert labels["version"] and re.fullmatch(r"[0-9A-Za-z._-]+", labels["commit"]), labels
    promtool_ok(text)


def promtool_ok(text):
    r = promtool(text)
    assert r.returncode == 0, f"promtool check metrics:\n{r.stdout}{r.stderr}"


@pytest.mark.dialect
def test_jobs_mail_and_webhooks_move_their_families(start_server, smtp_sink):
    env = smtp_env(smtp_sink.port)
    env.update({"CAREBASE_JOB_BACKOFF_BASE_MS": "20", "CAREBASE_JOB_BACKOFF_MAX_MS": "50",
                "CAREBASE_SIMPLYBOOK_WEBHOOK_SECRET": SIMPLYBOOK_SECRET})
    s = start_server(env=env)
    before = s.metrics()
    for name in ("carebase_mail_sent_total", "carebase_mail_send_failures_total",
                 "carebase_jobs_runs_total", "carebase_webhooks_received_total",
                 "carebase_jobs_oldest_due_age_seconds"):
        assert metric_samples(before, name), f"{name} missing"
    assert metric_sum(before, "carebase_mail_sent_total") == 0

    # A mail sent: the job ran and the message left.
    queue_test_mail(s, "metrics@example.org")
    smtp_sink.wait_for(1, timeout=10)
    wait_until(lambda: metric_sum(s.metrics(), "carebase_jobs_runs_total", kind="mail.send",
                                  outcome="succeeded") == 1, what="the mail job counted")
    m = s.metrics()
    assert metric_sum(m, "carebase_mail_sent_total") == 1
    assert metric_sum(m, "carebase_mail_send_failures_total") == 0

    # A job that fails each of its 3 attempts: two retries, then failed.
    queue_job(s.db, "mail.send")             # payload {}: malformed
    wait_until(lambda: metric_sum(s.metrics(), "carebase_jobs_runs_total", kind="mail.send",
                                  outcome="failed") == 1, timeout=15, what="the job failed")
    m = s.metrics()
    assert metric_sum(m, "carebase_jobs_runs_total", kind="mail.send", outcome="retried") == 2
    assert metric_sum(m, "carebase_jobs_failed") == 1

    # A mail the SMTP server is gone for: a failed send, retried.
    smtp_sink.stop()
    queue_test_mail(s, "nobody-home@example.org")
    wait_until(lambda: metric_sum(s.metrics(), "carebase_mail_send_failures_total") >= 1,
               timeout=15, what="the failed send counted")

    # Webhooks: one processed or refused for its body, one refused for its token.
    r = post_booking(s, "hooked@example.org")
    assert r.status_code < 500, r.text
    r2 = booking_hook(s, {}, token="not-the-token")
    assert r2.status_code == 401, r2.text
    m = s.metrics()
    got = {o: metric_sum(m, "carebase_webhooks_received_total", source="simplybook", outcome=o)
           for o in ("processed", "refused", "failed")}
    assert sum(got.values()) == 2, got
    assert got["refused"] >= 1, got
    assert got[r.json().get("outcome", "processed")] >= 1, (got, r.text)
    promtool_ok(m)


@pytest.mark.dialect
def test_the_oldest_due_job_age(start_server):
    """No worker runs: a job due a minute ago is a minute old; one due
    later is not counted."""
    s = start_server(env={"CAREBASE_JOB_WORKERS": "0"})
    assert metric_sum(s.metrics(), "carebase_jobs_oldest_due_age_seconds") == 0
    now = int(time.time() * 1000)
    s.db.execute("INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, "
                 "run_at, created_at, updated_at) VALUES ("
                 f"'0190f2a4-1111-7000-8000-000000000001', 'mail.send', '{{}}', 'queued', "
                 f"0, 3, {now + 3600_000}, {now}, {now})")
    assert metric_sum(s.metrics(), "carebase_jobs_oldest_due_age_seconds") == 0
    s.db.execute("INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, "
                 "run_at, created_at, updated_at) VALUES ("
                 f"'0190f2a4-1111-7000-8000-000000000002', 'mail.send', '{{}}', 'queued', "
                 f"0, 3, {now - 60_000}, {now}, {now})")
    age = metric_sum(s.metrics(), "carebase_jobs_oldest_due_age_seconds")
    assert 60 <= age < 120, age


@pytest.mark.serial
@pytest.mark.production_password_cost
def test_slow_pool_refusals_are_counted(start_server):
    s = start_server(env={"CAREBASE_SLOW_THREADS": "1", "CAREBASE_SLOW_QUEUE": "1"})
    assert register(s, "slow@example.org").status_code == 201
    m = s.metrics()
    assert metric_sum(m, "carebase_http_slow_refused_total", reason="full") == 0
    assert metric_sum(m, "carebase_http_slow_queue_length") == 0
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        rs = list(ex.map(lambda _: sign_in(s, "slow@example.org"), range(10)))
    busy = sum(1 for r in rs if r.status_code == 503)
    assert busy >= 1, [r.status_code for r in rs]
    m = s.metrics()
    assert metric_sum(m, "carebase_http_slow_refused_total", reason="full") == busy
    assert metric_sum(m, "carebase_http_slow_queue_length") == 0
    assert metric_sum(m, "carebase_http_slow_running") == 0
    promtool_ok(m)


@pytest.mark.sqlite_only
def test_backup_age_is_absent_until_a_backup_is_made(start_server, tmp_path):
    s = start_server(env={"CAREBASE_BACKUP_CRON": "30 2 * * *",
                          "CAREBASE_BACKUP_DIR": str(tmp_path / "backups")})
    assert not metric_samples(s.metrics(), "carebase_backup_last_success_age_seconds")
    wait_until(lambda: s.db.count("job_schedules", "name = 'backup'") == 1, timeout=15,
               what="the backup schedule")
    queue_job(s.db, "backup.run")
    wait_until(lambda: metric_sum(s.metrics(), "carebase_jobs_runs_total", kind="backup.run",
                                  outcome="succeeded") == 1, timeout=30, what="the backup")
    m = s.metrics()
    assert 0 <= metric_sum(m, "carebase_backup_last_success_age_seconds") < 120
    assert metric_sum(m, "carebase_backup_runs_total") == 1
    promtool_ok(m)


def test_promtool_refuses_a_bad_exposition():
    """The check is real: a counter without _total and a sample with no
    TYPE of its own are refused."""
    r = promtool("# HELP x_seconds a thing\n# TYPE x_seconds counter\nx_seconds 1\n")
    assert r.returncode != 0, r.stdout


def test_pages_of_the_web_application_are_counted_as_their_own_route(server):
    """A page the web application answers (what no route matches, asked
    for as HTML) is counted as route="page", not with the unknown paths
    (route="unmatched")."""
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for path in ("/courses", "/account/settings", "/courses"):
        r = server.get(path, headers=html)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), r.text
    assert server.get("/no/such/thing").status_code == 404
    text = server.metrics()
    assert metric_sum(text, "carebase_http_requests_total", route="page", method="GET",
                      status="200") == 3, [s for s in metric_samples(
                          text, "carebase_http_requests_total") if s[0].get("route") in
                          ("page", "unmatched")]
    assert metric_sum(text, "carebase_http_requests_total", route="unmatched", status="200") == 0
    assert metric_sum(text, "carebase_http_requests_total", route="unmatched", status="404") == 1
    assert metric_sum(text, "carebase_http_request_duration_seconds_count", route="page") == 3
