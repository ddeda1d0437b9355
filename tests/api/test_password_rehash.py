"""Password hashing cost: passwords are rehashed on login when the argon2id
parameters rise; production refuses a cost below the OWASP minimums (2
passes, 19456 KiB), anything else accepts one down to libsodium's floor (1
pass, 8 KiB) with a warning at start-up."""
import pytest

from conftest import CHEAPEST_PASSWORDS, PASSWORD, register, sign_in

OWASP = {"CAREBASE_PASSWORD_OPSLIMIT": "2", "CAREBASE_PASSWORD_MEMLIMIT_KIB": "19456"}


def stored_hash(db):
    return db.scalar("SELECT password_hash FROM users WHERE deleted_at IS NULL")


@pytest.mark.production_password_cost
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


@pytest.mark.parametrize("env", [
    {"CAREBASE_PASSWORD_MEMLIMIT_KIB": "19455"},
    {"CAREBASE_PASSWORD_OPSLIMIT": "1"},
    CHEAPEST_PASSWORDS,
])
def test_cost_below_owasp_minimum_is_refused_in_production(start_server, env):
    s = start_server(start=False, migrate=False)
    for cmd in (("config",), ("serve",)):
        r = s.cli(*cmd, env={"CAREBASE_ENV": "production", **env}, timeout=10)
        assert r.returncode != 0, r
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and "OWASP" in lines[0], lines
        assert "password_opslimit" in lines[0] and "password_memlimit_kib" in lines[0]
        assert "carebase listening" not in r.stdout
    # The minimums themselves are production's floor.
    r = s.cli("config", env={"CAREBASE_ENV": "production", **OWASP})
    assert r.returncode == 0 and "password_cost_below_owasp" not in r.stderr, r.stderr


def test_cost_below_owasp_outside_production_starts_with_a_warning(start_server, db):
    s = start_server(db=db, env=CHEAPEST_PASSWORDS)
    assert "event=password_cost_below_owasp" in s.log()
    assert register(s, "cheap@example.org").status_code == 201
    assert ",t=1," in stored_hash(db) and "$m=8," in stored_hash(db), stored_hash(db)
    assert sign_in(s, "cheap@example.org").status_code == 200
    assert sign_in(s, "cheap@example.org", password=PASSWORD + "x").status_code == 401
    # At the OWASP minimums nothing is said.
    r = s.cli("config", env=OWASP)
    assert r.returncode == 0 and "password_cost_below_owasp" not in r.stderr, r.stderr


@pytest.mark.parametrize("env,key", [
    ({"CAREBASE_PASSWORD_OPSLIMIT": "0"}, "password_opslimit"),
    ({"CAREBASE_PASSWORD_MEMLIMIT_KIB": "7"}, "password_memlimit_kib"),
])
def test_cost_below_libsodiums_floor_is_refused_anywhere(start_server, env, key):
    s = start_server(start=False, migrate=False)
    r = s.cli("config", env=env)
    assert r.returncode != 0 and key in r.stderr, r.stderr
