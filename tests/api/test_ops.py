"""Operational endpoints: /healthz, /readyz, /metrics."""

import pytest

from conftest import metric_samples, metric_sum, problem, wait_until


def test_healthz_answers_ok(server):
    r = server.get("/healthz")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"status": "ok"}


def test_readyz_is_200_when_migrated(server):
    r = server.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json().get("status") == "ready"


@pytest.mark.dialect
def test_readyz_is_503_migrations_pending_on_unmigrated_database(start_server):
    s = start_server(migrate=False)
    r = s.get("/readyz")
    problem(r, 503, "MIGRATIONS_PENDING")
    # liveness does not depend on the schema
    assert s.get("/healthz").status_code == 200
    assert "migrations_pending" in s.log()


@pytest.mark.dialect
def test_readyz_follows_migrations_made_by_another_process(server):
    """No process may assume it owns the database: readyz reflects the schema now."""
    assert server.get("/readyz").status_code == 200
    server.cli_ok("migrate", "down", "--yes")
    problem(server.get("/readyz"), 503, "MIGRATIONS_PENDING")
    server.cli_ok("migrate")
    assert server.get("/readyz").status_code == 200


@pytest.mark.parametrize("name", [
    "carebase_http_requests_total",
    "carebase_http_request_duration_seconds_bucket",
    "carebase_db_pool_connections",
    "carebase_jobs_queue_depth",
    "carebase_jobs_failed",
])
def test_metrics_exposes_metric(server, name):
    server.get("/healthz")
    r = server.get("/metrics", headers=server.metrics_headers())
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers["Content-Type"]
    assert metric_samples(r.text, name), f"{name} missing from /metrics:\n{r.text}"


def test_metrics_requests_total_for_healthz_rises_after_requests(server):
    before = metric_sum(server.metrics(), "carebase_http_requests_total", route="/healthz")
    for _ in range(5):
        assert server.get("/healthz").status_code == 200
    # the counter may be updated when the response completes: allow a moment
    after = wait_until(
        lambda: (v := metric_sum(server.metrics(), "carebase_http_requests_total",
                                 route="/healthz")) >= before + 5 and v,
        timeout=3, what="requests_total{route=/healthz} to rise by 5")
    assert after >= before + 5


def test_metrics_jobs_failed_starts_at_zero(server):
    assert metric_sum(server.metrics(), "carebase_jobs_failed") == 0
