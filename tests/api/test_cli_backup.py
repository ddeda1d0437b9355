"""The command line and backups as a reviewer found them (issue 19, items 3
and 4, second review): a backup never written over the live database; an
encrypted backup stopped half-way leaves no plain copy; `config` masks every
password and token in a URL; a scheduled backup's folder and key checked at
start, a run counted once, the age of the last success kept; a wrong command
line does nothing; configuration the operator got wrong exits 2, a failure
at run time 1; and the smaller ones (a plain backup restores without the
key, pruning only the job's own files, a quiet wait for migrations, clearer
messages)."""

import os
import re
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import BIN, base_env, queue_job, wait_until

CLI_TIMEOUT = 30


def run(args, cwd, env=None, timeout=CLI_TIMEOUT):
    e = base_env()
    e.update(env or {})
    return subprocess.run([BIN, *args], env=e, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def backup_key(path):
    path.write_text(os.urandom(32).hex() + "\n")
    os.chmod(path, 0o600)
    return path


def metric(text, name):
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def integrity(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


# --------------------------------------------------------------------------
# 1. never over the live database


@pytest.mark.sqlite_only
def test_backup_refuses_the_live_database_and_its_files(start_server, tmp_path):
    """`backup DB --force` while serve wrote to it lost 876 of 877 writes."""
    s = start_server()
    db = str(s.db.path)
    users = s.db.count("users")
    other = os.path.join(os.path.dirname(db), "..", os.path.basename(os.path.dirname(db)))
    for target in (db, db + "-wal", db + "-shm", db + "-journal",
                   os.path.join(other, os.path.basename(db)),
                   os.path.join(other, os.path.basename(db) + "-journal")):
        r = s.cli("backup", target, "--force")
        assert r.returncode == 2, (target, r.returncode, r.stdout, r.stderr)
        assert "is the database itself" in r.stderr, r.stderr
    assert s.get("/readyz").status_code == 200
    assert s.db.count("users") == users
    assert integrity(db) == "ok"
    assert not [n for n in os.listdir(os.path.dirname(db)) if n.startswith(".")]


# --------------------------------------------------------------------------
# 2. an encrypted backup stopped half-way


@pytest.mark.sqlite_only
def test_an_encrypted_backup_stopped_by_sigterm_leaves_nothing_behind(start_server, tmp_path):
    """It left a full plain copy (.NAME.copy-XXXX) beside the encrypted
    target, and .enc-* and .tmp files, which pruning does not see."""
    s = start_server(start=False)
    con = sqlite3.connect(s.db.path)
    con.execute("CREATE TABLE pad (b BLOB)")
    con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                "WHERE i < 150) INSERT INTO pad SELECT randomblob(1000000) FROM n")
    con.commit()
    con.close()
    key = backup_key(tmp_path / "backup.key")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    s.cli_ok("migrate", "status")      # the master key made before
    db_dir = os.path.dirname(s.db.path)
    e = dict(s.env)
    p = subprocess.Popen([BIN, "backup", str(out_dir / "b.db.enc"), "--compress",
                          f"--key-file={key}"], env=e, cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def temps(folder):
        return [n for n in os.listdir(folder) if n.startswith(".")]

    try:
        # Stopped while it encrypts: the plain copy and the encrypted one
        # are both there then.
        wait_until(lambda: [n for n in temps(out_dir) if ".enc-" in n] or
                   p.poll() is not None, timeout=30, interval=0.005,
                   what="the backup encrypting")
        assert p.poll() is None, "the backup ended before it could be stopped"
        # Plain bytes never beside the encrypted backups.
        assert not [n for n in temps(out_dir) if ".copy-" in n], temps(out_dir)
        assert [n for n in temps(db_dir) if ".copy-" in n], temps(db_dir)
        p.send_signal(signal.SIGTERM)
        p.wait(20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == -signal.SIGTERM, p.returncode
    assert os.listdir(out_dir) == [], os.listdir(out_dir)
    assert temps(db_dir) == [], temps(db_dir)
    assert integrity(s.db.path) == "ok"


# --------------------------------------------------------------------------
# 3. config masks every URL's secrets


def test_config_masks_passwords_and_tokens_in_every_url(tmp_path):
    env = {
        "CAREBASE_SMTP_URL": "smtps://bob:Pw1SMTP@mail.example.org:465",
        "CAREBASE_SMS_URL": "https://u:Pw2SMS@sms.example.org/send?token=Tok3&to=x",
        "CAREBASE_BOOKING_CANCEL_URL": "https://book.example.org/c?key=Key4",
        "CAREBASE_BOOKING_CANCEL_SECRET": "s" * 32,
        "CAREBASE_STORYBLOK_API_URL": "https://api.example.org/v2?Signature=Sig5",
        "CAREBASE_STRIPE_API_URL": "https://sk:Pw6Stripe@stripe.example.org",
        "DATABASE_URL": "postgres://app:Pw7Db@db.example.org/carebase?sslmode=require",
    }
    r = run(["config"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    for secret in ("Pw1SMTP", "Pw2SMS", "Tok3", "Key4", "Sig5", "Pw6Stripe", "Pw7Db"):
        assert secret not in r.stdout, (secret, r.stdout)
    assert "smtps://bob:********@mail.example.org:465" in r.stdout, r.stdout
    assert "https://u:********@sms.example.org/send?token=********&to=x" in r.stdout
    assert "https://book.example.org/c?key=********" in r.stdout
    assert "sslmode=require" in r.stdout
    assert "public_url" in r.stdout and "http://127.0.0.1:8080" in r.stdout
    # help config: database_url's default is shown, not "(set)".
    r = run(["help", "config"], tmp_path)
    line = r.stdout[r.stdout.index("--database-url"):]
    line = line[:line.index("--", 3)]
    assert "sqlite:///" in line and "(set)" not in line, line


# --------------------------------------------------------------------------
# 4. the scheduled backup: checked at start, counted once, success kept


@pytest.mark.sqlite_only
def test_serve_checks_backup_dir_and_key_at_start(start_server, tmp_path):
    h = start_server(start=False)
    afile = tmp_path / "not-a-folder"
    afile.write_text("x")
    for env, says in (({"CAREBASE_BACKUP_DIR": str(afile)}, "is not a directory"),
                      ({"CAREBASE_BACKUP_DIR": str(tmp_path / "bk"),
                        "CAREBASE_BACKUP_KEY_FILE": str(tmp_path / "missing.key")},
                       "backup key")):
        env["CAREBASE_BACKUP_CRON"] = "30 2 * * *"
        r = h.cli("serve", env=env, timeout=15)
        assert r.returncode == 2, (env, r.returncode, r.stderr)
        assert says in r.stderr, r.stderr
        assert "carebase listening" not in r.stdout
    # A missing folder is made, private.
    r = h.cli("serve", env={"CAREBASE_BACKUP_CRON": "every night",
                            "CAREBASE_BACKUP_DIR": str(tmp_path / "made")}, timeout=15)
    assert r.returncode == 2 and "is not a schedule" in r.stderr, r
    s = start_server(env={"CAREBASE_BACKUP_CRON": "30 2 * * *",
                          "CAREBASE_BACKUP_DIR": str(tmp_path / "made" / "here")})
    assert os.path.isdir(tmp_path / "made" / "here")
    assert os.stat(tmp_path / "made" / "here").st_mode & 0o777 == 0o700
    s.stop()


def scheduled(start_server, folder, **env):
    folder.mkdir(parents=True, exist_ok=True)
    return start_server(env={"CAREBASE_BACKUP_CRON": "30 2 * * *",
                             "CAREBASE_BACKUP_DIR": str(folder),
                             "CAREBASE_JOB_BACKOFF_BASE_MS": "10",
                             "CAREBASE_JOB_BACKOFF_MAX_MS": "50", **env})


def run_backups(s, n):
    done = s.log().count("event=backup_done")
    for i in range(n):
        queue_job(s.db, "backup.run")
        wait_until(lambda: s.log().count("event=backup_done") == done + i + 1, timeout=30,
                   what=f"backup run {i + 1}")


@pytest.mark.sqlite_only
def test_pruning_deletes_only_the_jobs_own_backups(start_server, tmp_path):
    """Any carebase-*.db was pruned: a copy made by hand, the database."""
    folder = tmp_path / "nightly"
    folder.mkdir()
    mine = folder / "carebase-by-hand.db"
    mine.write_bytes(b"a copy an operator keeps")
    s = scheduled(start_server, folder, CAREBASE_BACKUP_KEEP="1")
    run_backups(s, 2)
    assert mine.read_bytes() == b"a copy an operator keeps"
    assert len([n for n in os.listdir(folder) if n != mine.name]) == 1, os.listdir(folder)


@pytest.mark.sqlite_only
def test_a_run_is_counted_once_and_the_last_success_outlives_a_failure(start_server, tmp_path):
    folder = tmp_path / "nightly"
    s = scheduled(start_server, folder)
    run_backups(s, 2)
    # backup_dir turned into a file: the run fails, is retried, gives up.
    os.rename(folder, tmp_path / "moved")
    folder.write_text("not a folder")
    queue_job(s.db, "backup.run")
    wait_until(lambda: s.db.count("failed_jobs", "kind = 'backup.run'") == 1, timeout=30,
               what="the failed run given up")
    assert s.log().count("event=backup_failed") == 3    # queue_job: 3 attempts
    m = s.metrics()
    assert metric(m, "carebase_backup_runs_total") == 3, m
    assert metric(m, "carebase_backup_failures_total") == 1, m
    age = metric(m, "carebase_backup_last_success_age_seconds")
    assert age is not None and 0 <= age < 120, m


# --------------------------------------------------------------------------
# 5, 6, 12. a wrong command line does nothing; exit 2 for configuration


@pytest.mark.parametrize("args,says", [
    (("backup",), "usage: carebase backup FILE"),
    (("backup", "a.db", "b.db"), "usage: carebase backup FILE"),
    (("restore",), "usage: carebase restore FILE"),
    (("migrate", "sideways"), "migrate takes up, down or status"),
    (("migrate", "extra", "extra"), "migrate takes up, down or status"),
    (("migrate", "status", "extra"), "migrate status takes no more arguments"),
    (("migrate", "down", "--to=1", "--batch"), "not both"),
    (("version", "extra"), "takes no arguments"),
    (("routes", "extra"), "takes no arguments"),
    (("schema", "extra"), "takes no arguments"),
])
def test_a_wrong_command_line_makes_nothing(tmp_path, args, says):
    """`backup` with no FILE made var/, var/master.key and var/carebase.db."""
    r = run(list(args), tmp_path)
    assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
    assert says in r.stderr, r.stderr
    assert os.listdir(tmp_path) == [], os.listdir(tmp_path)


@pytest.mark.parametrize("args,env,says", [
    (("serve", "--listen=999.1.1.1"), {}, "cannot serve on 999.1.1.1"),
    (("serve", "--listen=nosuchhost.invalid"), {}, "does not resolve"),
    (("migrate", "status", "--env=production"),
     {"CAREBASE_MASTER_KEY_FILE": "missing.key"}, "master key"),
])
def test_configuration_the_operator_got_wrong_exits_2(tmp_path, args, env, says):
    env = dict(env)
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    r = run(list(args), tmp_path, env, timeout=20)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    assert says in r.stderr, r.stderr


def test_an_unreachable_postgresql_exits_1_saying_why(tmp_path):
    r = run(["migrate", "status"], tmp_path,
            {"DATABASE_URL": "postgres://app:Sekr3tPw@127.0.0.1:1/carebase"})
    assert r.returncode == 1, r
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("carebase:")]
    assert line and "127.0.0.1" in line[0] and "port 1" in line[0], r.stderr
    assert "Sekr3tPw" not in r.stderr


# --------------------------------------------------------------------------
# 8, 11, 12. restore without the key; messages; nothing to back up


@pytest.mark.sqlite_only
def test_a_plain_backup_restores_with_backup_key_file_missing(start_server, make_db, tmp_path):
    s = start_server(start=False)
    s.cli_ok("backup", str(tmp_path / "plain.db"))
    fresh = start_server(db=make_db(), start=False, migrate=False,
                         env={"CAREBASE_BACKUP_KEY_FILE": str(tmp_path / "gone.key")})
    r = fresh.cli("restore", str(tmp_path / "plain.db"))
    assert r.returncode == 0, r.stderr
    assert "restore: wrote the database" in r.stdout


@pytest.mark.sqlite_only
def test_backup_messages_say_what_is_wrong(start_server, make_db, tmp_path):
    s = start_server(start=False)
    folder = tmp_path / "bk"
    folder.mkdir()
    r = s.cli("backup", str(folder))
    assert r.returncode == 2 and "is a directory" in r.stderr, r.stderr
    assert "--force" not in r.stderr
    # Bytes after an encrypted file's final record: not a gzip error.
    key = backup_key(tmp_path / "k.key")
    enc = tmp_path / "b.enc"
    s.cli_ok("backup", str(enc), f"--key-file={key}")
    enc.write_bytes(enc.read_bytes() + b"junk")
    fresh = start_server(db=make_db(), start=False, migrate=False)
    r = fresh.cli("restore", str(enc), f"--key-file={key}")
    assert r.returncode == 1 and "after its final record" in r.stderr, r.stderr
    assert "gzip" not in r.stderr
    # A database never migrated: nothing to back up.
    empty = start_server(db=make_db(), start=False, migrate=False)
    r = empty.cli("backup", str(tmp_path / "none.db"))
    assert r.returncode == 1 and "nothing to back up" in r.stderr, r.stderr
    assert "carebase migrate" in r.stderr
    assert not (tmp_path / "none.db").exists()


# --------------------------------------------------------------------------
# 10. serve on an unmigrated database waits quietly


def test_serve_before_migrate_waits_quietly_for_the_jobs_table(start_server):
    s = start_server(migrate=False)
    time.sleep(2.5)
    log = s.log()
    assert log.count("event=migrations_pending") == 1, log
    assert "no such table: jobs" not in log and 'relation "jobs"' not in log, log


# --------------------------------------------------------------------------
# 7. a full disk


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs, where root may mount one; skipped elsewhere."""
    where = tmp_path / "small"
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.strip()}")
    yield where
    subprocess.run(["umount", str(where)], capture_output=True)


@pytest.mark.sqlite_only
def test_a_backup_onto_a_full_disk_says_so_and_leaves_nothing(start_server, small_disk):
    s = start_server(start=False)
    assert os.path.getsize(s.db.path) > 256 * 1024
    for n in range(2):
        r = s.cli("backup", str(small_disk / "b.db"))
        assert r.returncode == 1, r
        assert "No space left on device" in r.stderr, r.stderr
        assert "INTERNAL" not in r.stderr
        assert os.listdir(small_disk) == [], os.listdir(small_disk)


# --------------------------------------------------------------------------
# 11. migrate down asks only where it can, and says which is not a terminal


@pytest.mark.sqlite_only
def test_migrate_down_names_stderr_when_only_stderr_is_redirected(start_server, tmp_path):
    import pty
    h = start_server(start=False)
    before = h.db.count("schema_migrations")
    master, slave = pty.openpty()
    errf = open(tmp_path / "down.err", "w")
    try:
        p = subprocess.Popen([BIN, "migrate", "down"], env=h.env, cwd=tmp_path,
                             stdin=slave, stdout=slave, stderr=errf)
        p.wait(CLI_TIMEOUT)
    finally:
        os.close(slave)
        os.close(master)
        errf.close()
    err = (tmp_path / "down.err").read_text()
    assert p.returncode == 2, err
    assert "standard error is not a terminal" in err, err
    assert h.db.count("schema_migrations") == before
