"""Personal data is sealed at rest: values planted through the API (email,
names, phone, date of birth, location, and a mail to the person) appear
nowhere in clear in the raw SQLite files or in a PostgreSQL dump."""
import secrets
import shutil
import subprocess
from pathlib import Path

from conftest import DB_KIND

PW = "correct horse battery staple"


def pg_dump_text(db):
    exe = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    r = subprocess.run([exe, "--no-owner", "--data-only", db.url], capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr.decode()[:2000]
    return r.stdout


def raw_sqlite(path):
    data = b""
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(path) + suffix)
        if p.exists():
            data += p.read_bytes()
    return data


def test_planted_personal_values_are_not_in_the_database_in_clear(start_server, db):
    tag = secrets.token_hex(5)
    planted = {
        "email": f"plant{tag}@example.org",
        "first_name": f"Zyxfirst{tag}",
        "last_name": f"Zyxlast{tag}",
        "phone": f"+4477009{int(tag, 16) % 100000:05d}",
        "location": f"Plantville{tag}",
    }
    s = start_server(db=db, env={"CAREBASE_SMTP_URL": "smtp://127.0.0.1:9",
                                 "CAREBASE_SMTP_TLS": "none"})
    r = s.post("/v1/auth/register", json={
        "email": planted["email"], "password": PW, "accept_terms": True,
        "first_name": planted["first_name"], "last_name": planted["last_name"]})
    assert r.status_code in (200, 201), r.text
    tok = s.post("/v1/auth/login", json={"email": planted["email"], "password": PW}).json()["token"]
    auth = {"Authorization": f"Bearer {tok}"}
    r = s.request("PATCH", "/v1/me", json={"phone": planted["phone"],
                                           "location": planted["location"],
                                           "date_of_birth": "1987-06-05"}, headers=auth)
    assert r.status_code == 200, r.text
    # a mail to the person: recipient and variables land in email_log
    assert s.post("/v1/auth/password-reset", json={"email": planted["email"]}).status_code == 202
    s.stop()

    if DB_KIND == "sqlite":
        raw = raw_sqlite(db.path)
    else:
        raw = pg_dump_text(db)
    assert raw, "nothing was read"
    for name, value in planted.items():
        for form in (value.encode(), value.encode("utf-16-le"), value.encode().hex().encode()):
            assert form not in raw, f"{name} found in clear in the database"
    assert b"1987-06-05" not in raw
