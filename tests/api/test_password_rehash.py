"""Passwords are rehashed on login when the argon2id parameters rise."""
from conftest import PASSWORD, register, sign_in


def stored_hash(db):
    return db.scalar("SELECT password_hash FROM users WHERE deleted_at IS NULL")


def test_login_rehashes_when_the_cost_rises(start_server, db):
    s = start_server(db=db)
    assert register(s, "rehash@example.org").status_code == 201
    s.stop()
    before = stored_hash(db)
    assert before.startswith("$argon2id$") and ",t=3," in before, before

    s = start_server(db=db, env={"CAREBASE_PASSWORD_OPSLIMIT": "4"})
    assert sign_in(s, "rehash@example.org").status_code == 200
    after = stored_hash(db)
    assert ",t=4," in after, after
    # the new hash verifies; the stored cost follows the configured one
    s.stop()
    s = start_server(db=db)
    assert sign_in(s, "rehash@example.org", password=PASSWORD + "x").status_code == 401
    assert sign_in(s, "rehash@example.org").status_code == 200
    assert ",t=3," in stored_hash(db)


def test_cost_below_owasp_minimum_is_refused(start_server):
    s = start_server(start=False)
    r = s.cli("config", env={"CAREBASE_PASSWORD_MEMLIMIT_KIB": "1024"})
    assert r.returncode != 0 and "password_memlimit_kib" in r.stderr
