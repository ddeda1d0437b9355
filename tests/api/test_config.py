"""Configuration, the master key and the command line."""

import os
import re
import stat
import subprocess

import pytest

from conftest import BIN, base_env


@pytest.fixture
def cmd(start_server):
    """A handle for running carebase commands on a fresh (unmigrated) database."""
    return start_server(start=False, migrate=False)


@pytest.mark.dbless
@pytest.mark.parametrize("env,args,key", [
    ({"CAREBASE_PORT": "99999"}, (), "port"),
    ({"CAREBASE_PORT": "eighty"}, (), "port"),
    ({"CAREBASE_LOG_LEVEL": "loud"}, (), "log_level"),
    ({"CAREBASE_POOL_MAX": "0"}, (), "pool_max"),
    ({"DATABASE_URL": "mysql://x"}, (), "database_url"),
    ({"CAREBASE_DATABASE_URL": "mysql://x"}, (), "database_url"),
    ({"CAREBASE_ENV": "staging"}, (), "env"),
    ({"CAREBASE_BODY_LIMIT": "10"}, (), "body_limit"),
    # Rows wait audit_flush_ms to be written: an age bound at or below it
    # would answer every audited read 503.
    ({"CAREBASE_AUDIT_QUEUE_AGE_MS": "50", "CAREBASE_AUDIT_FLUSH_MS": "100"}, (),
     "audit_queue_age_ms"),
    ({"CAREBASE_AUDIT_QUEUE_AGE_MS": "100", "CAREBASE_AUDIT_FLUSH_MS": "100"}, (),
     "audit_queue_age_ms"),
    ({}, ("--port=99999",), "port"),
    ({}, ("--log-level=loud",), "log_level"),
])
def test_invalid_config_value_stops_serve_with_one_line_naming_the_key(cmd, env, args, key):
    r = cmd.cli("serve", *args, env=env, timeout=10)
    assert r.returncode != 0, r
    lines = r.stderr.splitlines()
    assert len(lines) == 1, f"want exactly one stderr line, got {lines}"
    assert key in lines[0], lines[0]
    assert "carebase listening" not in r.stdout


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize("env,setting,says", [
    ({"CAREBASE_PDF_FONT": "/nonexistent/DejaVuSans.ttf"}, "pdf_font",
     "cannot open the font file /nonexistent/DejaVuSans.ttf"),
    ({"CAREBASE_PDF_FONT_BOLD": "/etc/hostname"}, "pdf_font_bold",
     "/etc/hostname is not a TrueType font"),
])
def test_an_unusable_pdf_font_stops_serve_and_worker_naming_the_setting(cmd, command, env,
                                                                        setting, says):
    """The one pair of font settings (reports and certificates alike) is
    checked when serve and worker start, not when a PDF is first asked for;
    migrate, which makes no PDF, does not check it."""
    cmd.cli_ok("migrate", env=env)
    r = cmd.cli(command, env=env, timeout=10)
    assert r.returncode != 0, r
    # One line says why (the log lines of start-up may come before it).
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("carebase:")]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"carebase: {setting}: {says}"), lines[0]
    assert "carebase listening" not in r.stdout


@pytest.mark.dbless
def test_the_pdf_fonts_are_one_pair_of_settings():
    out = _run("help", "config").stdout
    assert "--pdf-font " in out and "--pdf-font-bold " in out, out
    assert "DejaVuSans.ttf" in out and "DejaVuSans-Bold.ttf" in out
    for gone in ("--pdf-font-path", "--certificate-font"):
        assert gone not in out, out


@pytest.mark.dbless
@pytest.mark.parametrize("args", [("--no-such=1",), ("--no-such",), ("--port",)])
def test_unknown_flag_stops_serve(cmd, args):
    r = cmd.cli("serve", *args, timeout=10)
    assert r.returncode != 0, r
    assert "carebase listening" not in r.stdout
    assert r.stderr.strip(), "an unknown flag must be explained on stderr"


@pytest.mark.dbless
@pytest.mark.production_password_cost       # production refuses the suite's cost first
def test_production_without_master_key_file_refuses_to_start(cmd, tmp_path):
    missing = tmp_path / "keys" / "missing.key"
    r = cmd.cli("serve", env={"CAREBASE_ENV": "production",
                              "CAREBASE_MASTER_KEY_FILE": str(missing)}, timeout=10)
    assert r.returncode != 0
    lines = r.stderr.splitlines()
    assert len(lines) == 1, lines
    assert "master key" in lines[0], lines[0]
    assert not missing.exists()


def test_development_generates_a_private_master_key(cmd, tmp_path):
    path = tmp_path / "fresh" / "master.key"
    r = cmd.cli("migrate", env={"CAREBASE_MASTER_KEY_FILE": str(path)})
    assert r.returncode == 0, r.stderr
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert re.fullmatch(r"[0-9a-f]{64}", path.read_text().strip()), path.read_text()
    # a second run reuses it
    key = path.read_text()
    assert cmd.cli("migrate", "status", env={"CAREBASE_MASTER_KEY_FILE": str(path)}).returncode == 0
    assert path.read_text() == key


def test_master_key_readable_by_others_is_refused(cmd, tmp_path):
    path = tmp_path / "open.key"
    path.write_text("ab" * 32 + "\n")
    os.chmod(path, 0o644)
    r = cmd.cli("migrate", env={"CAREBASE_MASTER_KEY_FILE": str(path)})
    assert r.returncode != 0
    assert "600" in r.stderr or "owner" in r.stderr, r.stderr


def _run(*args):
    return subprocess.run([BIN, *args], env=base_env(), capture_output=True, text=True,
                          timeout=10)


@pytest.mark.dbless
def test_help_lists_the_commands():
    r = _run("help")
    assert r.returncode == 0
    for c in ("serve", "migrate", "backup", "jobs", "worker", "mail", "schema"):
        assert re.search(rf"^\s+{c}\b", r.stdout, re.M), f"{c} missing from help:\n{r.stdout}"


@pytest.mark.dbless
@pytest.mark.parametrize("args", [("no-such-command",), ("--port=80",)])
def test_unknown_command_exits_2(args):
    r = _run(*args)
    assert r.returncode == 2, r
    assert r.stderr.strip()


@pytest.mark.dbless
def test_version_and_config_need_no_database():
    r = _run("version")
    assert r.returncode == 0 and r.stdout.startswith("carebase ")
    r = _run("config")
    assert r.returncode == 0
    for key in ("port", "database_url", "master_key_file", "job_workers"):
        assert re.search(rf"^{key}\s", r.stdout, re.M), r.stdout
    r = _run("help", "config")
    assert r.returncode == 0
    for key in ("--port", "--database-url", "--master-key-file", "--job-workers"):
        assert key in r.stdout
