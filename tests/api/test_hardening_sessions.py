"""Issue 14, item 6: the idle timeout is kept to the precision that last
activity is stored with. Last activity is written at most once a step, the
idle timeout / 60 (1 s to a minute), so a session in use every few seconds
never reads as idle; before, it was written once a minute and a session
with session_idle_member_s=60 ended a minute after sign-in however busy.

Time is moved by shifting last_activity_at back in the database: moving
the stored time back by N seconds is the same as N seconds passing."""

import time

import pytest

from conftest import hdr, problem, register, sign_in

# Idle timeouts measured in seconds: run alone.
pytestmark = pytest.mark.serial


def member_with_idle(srv, email, idle_s):
    """The token of a member registered as email, whose sign-in reports
    idle_s as its idle timeout."""
    r = register(srv, email)
    assert r.status_code == 201, r.text
    r = sign_in(srv, email)
    assert r.status_code == 200, r.text
    assert r.json()["idle_timeout_s"] == idle_s
    return r.json()["token"]


def last_activity_age_ms(db):
    return int(time.time() * 1000) - int(db.scalar("SELECT last_activity_at FROM auth_sessions"))


def shift(db, ms):
    db.execute(f"UPDATE auth_sessions SET last_activity_at = last_activity_at - {ms}")


def test_a_session_in_use_does_not_idle_out_with_a_short_timeout(start_server):
    srv = start_server(env={"CAREBASE_SESSION_IDLE_MEMBER_S": "60"})
    tok = member_with_idle(srv, "idle.user@example.org", 60)

    # Used 30 s after the last write: still live, and the use is written
    # (the step for a 60 s timeout is 1 s), not left for a minute.
    shift(srv.db, 30000)
    assert srv.get("/v1/me", headers=hdr(tok)).status_code == 200
    assert last_activity_age_ms(srv.db) < 5000

    # 35 s more: 65 s after sign-in, 35 s after the last use. Live.
    shift(srv.db, 35000)
    assert srv.get("/v1/me", headers=hdr(tok)).status_code == 200
    assert last_activity_age_ms(srv.db) < 5000

    # Used every few seconds (real time): written each time a step passed.
    for _ in range(3):
        time.sleep(1.2)
        assert srv.get("/v1/me", headers=hdr(tok)).status_code == 200
        assert last_activity_age_ms(srv.db) < 1200

    # Really idle for the timeout: ended.
    shift(srv.db, 60500)
    problem(srv.get("/v1/me", headers=hdr(tok)), 401, "SESSION_EXPIRED")


def test_long_timeouts_still_write_at_most_once_a_minute(start_server):
    srv = start_server()
    tok = member_with_idle(srv, "week.user@example.org", 604800)
    shift(srv.db, 30000)
    assert srv.get("/v1/me", headers=hdr(tok)).status_code == 200
    # A week's timeout: the step is capped at a minute, so a read 30 s
    # after the last write stays a read.
    assert last_activity_age_ms(srv.db) >= 30000
    shift(srv.db, 31000)
    assert srv.get("/v1/me", headers=hdr(tok)).status_code == 200
    assert last_activity_age_ms(srv.db) < 5000

